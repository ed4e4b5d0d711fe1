"""MMLU as a pytest suite: one item per question; a wrong pick reports as INCORRECT."""

import pytest

pytestmark = pytest.mark.evalscope("mmlu")


def test_mmlu(sample, scored):
    assert scored.sample_id == sample.id
    assert scored.metrics, "the scorer returned no metric"
