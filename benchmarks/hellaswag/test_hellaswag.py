"""HellaSwag as a pytest suite: one item per context; a wrong pick reports as INCORRECT."""

import pytest

pytestmark = pytest.mark.evalscope("hellaswag")


def test_hellaswag(sample, scored):
    assert scored.sample_id == sample.id
    assert scored.metrics, "the scorer returned no metric"
