"""MMMU as a pytest suite: one item per validation question."""

import pytest

pytestmark = pytest.mark.evalscope("mmmu")


def test_mmmu(sample, scored):
    """Passes when the model answers right; a wrong answer reports as INCORRECT, not as a failure."""
    assert scored.primary_metric in scored.metrics, f"the scorer gave no {scored.primary_metric}"
