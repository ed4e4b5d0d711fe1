"""GSM8K as a pytest suite: one item per problem, predicted in batches by the evalscope plugin."""

import pytest

pytestmark = pytest.mark.evalscope("gsm8k")


def test_gsm8k(sample, scored):
    """A correct final answer passes; a wrong one reports as INCORRECT; a backend failure is an error."""
    assert scored.sample_id == sample.id
    assert scored.metrics, "the scorer returned no metric"
