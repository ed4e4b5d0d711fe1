"""HumanEval as a pytest suite: one item per problem, its programs run in the sandbox."""

import pytest

pytestmark = pytest.mark.evalscope("humaneval")


def test_humaneval(sample, scored):
    """Passes when every test of the problem passes (pass@1 = 1); otherwise INCORRECT, with each program's
    tests, exit cause and output in the JSONL. Add your own per-sample checks here (see benchmarks/README.md)."""
    assert scored.primary_metric in scored.metrics, f"the scorer gave no {scored.primary_metric}"
    assert all(0.0 <= v <= 1.0 for v in scored.metrics.values()), f"scores outside [0, 1]: {scored.metrics}"
