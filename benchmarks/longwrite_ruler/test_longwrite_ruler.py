"""longwrite_ruler as a pytest suite: one item per writing request."""

import pytest

pytestmark = pytest.mark.evalscope("longwrite_ruler")


def test_longwrite_ruler(sample, scored):
    """Scores the reply's length against the length asked (S_l, 0-100); with --judge also its quality (S_q) and S.
    A reply cut by max_new_tokens is marked finish_reason 'length' and counted in report.json."""
    assert 0.0 <= scored.metrics["S_l"] <= 100.0, f"S_l outside [0, 100]: {scored.metrics}"
    assert scored.details["required"] == sample.metadata["length"]
