"""IFEval as a pytest suite: one item per prompt, predicted in batches by the evalscope plugin."""

import pytest

pytestmark = pytest.mark.evalscope("ifeval")


def test_ifeval(sample, scored):
    """Passes when every instruction of the prompt is followed (strict); otherwise INCORRECT, not a failure.
    Add your own per-sample checks here (see benchmarks/README.md): a failed assert errors the item."""
    broken = [i["id"] for i in scored.details["instructions"] if i["strict"] and not i["loose"]]
    assert not broken, f"followed strictly but not loosely (the reply itself is a loose variant): {broken}"
