"""ToolBench-Static as a pytest suite: one item per conversation; the model's next step is scored."""

import pytest

from evalscope.api import SampleResult

pytestmark = pytest.mark.evalscope("tool_bench")


def test_tool_bench(sample: object, scored: SampleResult) -> None:
    """Passes when the next step's arguments match (F1 = 1); scores are EvalScope's five metrics."""
    assert set(scored.metrics) == {"F1", "Act.EM", "Plan.EM", "HalluRate", "Rouge-L"}, scored.metrics
