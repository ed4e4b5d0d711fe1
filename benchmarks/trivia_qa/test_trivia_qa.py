"""TriviaQA as a pytest suite: one item per question, predicted in batches by the evalscope plugin."""

import pytest

pytestmark = pytest.mark.evalscope("trivia_qa")


def test_trivia_qa(sample, scored):
    """Passes when the answer is one of the aliases; a wrong answer reports as INCORRECT, not as a failure.
    Add your own per-sample checks here (see benchmarks/README.md): a failed assert errors the item."""
    judged = scored.details.get("judge")  # every judge's verdict unreadable: unscored (and counted), never a 0
    assert scored.primary_metric in scored.metrics or (judged and judged["unreadable"] == len(judged["entries"])), \
        f"the scorer gave no {scored.primary_metric}"
    assert all(0.0 <= v <= 1.0 for v in scored.metrics.values()), f"scores outside [0, 1]: {scored.metrics}"
