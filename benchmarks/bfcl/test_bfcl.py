"""BFCL as a pytest suite: one item per question (a multi-turn question is one conversation)."""

import pytest

from evalscope.api import SampleResult

pytestmark = pytest.mark.evalscope("bfcl")


def test_bfcl(sample: object, scored: SampleResult) -> None:
    """Passes when the calls are BFCL-correct; a wrong or unparseable reply reports as INCORRECT."""
    assert scored.metrics["acc"] in (0.0, 1.0), f"accuracy is 0 or 1: {scored.metrics}"
