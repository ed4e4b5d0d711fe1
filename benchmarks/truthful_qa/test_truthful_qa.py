"""TruthfulQA as a pytest suite: one item per question; a wrong pick reports as INCORRECT."""

import pytest

pytestmark = pytest.mark.evalscope("truthful_qa")


def test_truthful_qa(sample, scored):
    assert scored.sample_id == sample.id
    assert scored.metrics, "the scorer returned no metric"
