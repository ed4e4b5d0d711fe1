"""ChartQA as a pytest suite: one item per test question."""

import pytest

pytestmark = pytest.mark.evalscope("chartqa")


def test_chartqa(sample, scored):
    """Passes when the answer is right within the tolerance; a wrong answer reports as INCORRECT."""
    assert scored.primary_metric in scored.metrics, f"the scorer gave no {scored.primary_metric}"
