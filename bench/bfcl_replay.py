"""Replay BFCL's multi-turn ground truth through our agent loop (a perfect model): every sample must pass."""

from __future__ import annotations

import inspect
import json
import sys
from collections import Counter
from pathlib import Path

from benchmarks.bfcl import multiturn
from benchmarks.bfcl.agent import Conversation, replies_to_turns
from benchmarks.bfcl.benchmark import BFCL, MULTI_TURN
from evalscope.api import Completion, Sample, Setup


def keyword_form(world: multiturn.World, text: str) -> str:
    """A ground-truth call with positional arguments named (a model writes keywords)."""
    name, args, kwargs = multiturn.ground_truth_call(text)
    bound = inspect.signature(world.methods[name]).bind_partial(*args, **kwargs).arguments
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in bound.items())})"


def replay(bench: BFCL, sample: Sample) -> multiturn.Verdict:
    setup = Setup("prompt", "")
    conversation = bench.episode(sample, setup, bench.request(sample, setup, ()))
    assert isinstance(conversation, Conversation)
    answers = sample.metadata["ground_truth"]
    pending = [list(turn) for turn in answers]
    while conversation.next_request() is not None:
        turn = pending[conversation.turn]
        text = "[" + ", ".join(keyword_form(conversation.world, c) for c in turn) + "]" if turn else "Done."
        pending[conversation.turn] = []
        conversation.observe(Completion(text, 0, 0, "stop", ""))
    record = json.loads(conversation.outcome().text)
    meta = sample.metadata
    return multiturn.check(replies_to_turns(record), answers, meta["involved_classes"],
                           meta.get("initial_config") or {}, "long_context" in meta["category"])


def main(data: Path) -> int:
    bench, failed = BFCL(), 0
    for category in MULTI_TURN:
        outcomes: Counter[str] = Counter()
        for _, row in bench.rows(data, "test", category):
            assert isinstance(row, dict)
            verdict = replay(bench, bench.to_sample(row))
            outcomes["pass" if verdict.valid else verdict.error_type] += 1
            if not verdict.valid and failed < 5:
                print(f"  {row['id']}: {verdict.error}")
            failed += not verdict.valid
        print(f"{category}: {outcomes['pass']}/{sum(outcomes.values())} pass  {dict(outcomes)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/bfcl")))
