"""Your open questions about images as a pytest suite: one item per question."""

import pytest

pytestmark = pytest.mark.evalscope("general_vqa")


def test_general_vqa(sample, scored):
    """Passes when the answer matches the reference; a wrong answer reports as INCORRECT, not as a failure."""
    assert scored.primary_metric in scored.metrics, f"the scorer gave no {scored.primary_metric}"
    assert all(0.0 <= v <= 1.0 for v in scored.metrics.values()), f"scores outside [0, 1]: {scored.metrics}"
