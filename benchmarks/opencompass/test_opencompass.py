"""OpenCompass's datasets as a pytest suite: one item per sample of each dataset in `--opencompass-config`;
OpenCompass runs once per batch group and judges each sample, as its own evaluator does."""

import pytest

pytestmark = pytest.mark.evalscope("opencompass")


def test_opencompass(sample, scored):
    """Passes when OpenCompass judged the sample; a wrong answer reports as INCORRECT, not as a failure."""
    assert scored.subset == sample.subset, "OpenCompass answered another dataset's sample"
    assert scored.metrics["acc"] in (0.0, 1.0), f"not a verdict: {scored.metrics}"
