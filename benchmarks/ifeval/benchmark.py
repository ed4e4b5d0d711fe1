"""IFEval (Zhou et al. 2023): 541 prompts with verifiable instructions ("answer in under 100 words", "no
commas"); each instruction checked by our own implementation of the reference's 25 checkers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalscope.api import (
    Benchmark,
    Completion,
    GenerationRequest,
    RowError,
    Sample,
    Scored,
    Setup,
    fields,
    instructions,
)

METRICS = ("prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc")


def as_asked(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    return GenerationRequest(sample.input)


def instructions_followed(sample: Sample, completion: Completion) -> Scored:
    """Prompt level: every instruction followed; instruction level: the share followed, weighed by the number of
    instructions (a micro average, as the reference reports it); `strict:<id>` / `loose:<id>`: a row per
    instruction type."""
    ids, kwargs = sample.metadata["instruction_id_list"], sample.metadata["kwargs"]
    strict, loose = instructions.evaluate(sample.input, ids, kwargs, completion.text)
    metrics, units = {}, {}
    for level, verdicts in (("strict", strict), ("loose", loose)):
        metrics[f"prompt_level_{level}_acc"] = float(all(verdicts))
        metrics[f"inst_level_{level}_acc"] = sum(verdicts) / len(verdicts)
        units[f"inst_level_{level}_acc"] = len(verdicts)
    for level, verdicts in (("strict", strict), ("loose", loose)):  # after the four, so they lead the report
        for kind in dict.fromkeys(ids):
            mine = [v for i, v in zip(ids, verdicts, strict=True) if i == kind]
            metrics[f"{level}:{kind}"], units[f"{level}:{kind}"] = sum(mine) / len(mine), len(mine)
    summary = " ".join(f"{i}={'+' if s else '-'}{'+' if lo else '-'}" for i, s, lo in zip(ids, strict, loose,
                                                                                         strict=True))
    return Scored(metrics, dict.fromkeys(metrics, summary),
                  {"instructions": [{"id": i, "kwargs": k, "strict": s, "loose": lo}
                                    for i, k, s, lo in zip(ids, kwargs, strict, loose, strict=True)]},
                  units={m: n for m, n in units.items() if n != 1})


class IFEval(Benchmark):
    splits = {"test": "input_data.jsonl"}
    hub = {"huggingface": "google/IFEval"}
    hub_splits = {"test": "ifeval_input_data.jsonl"}
    setups = (
        Setup("evalscope", "EvalScope 1.x ifeval: the prompt as the user's turn of the chat template, greedy; the four "
              "metrics of the reference (prompt/instruction level, strict/loose)", metrics=METRICS,
              prompt=as_asked, score=instructions_followed, aliases=("chat",)),
        Setup("lm-eval", "lm-eval ifeval: the prompt as raw text (no chat template unless --apply_chat_template), "
              "greedy; the same four metrics", metrics=METRICS, chat_template=False, prompt=as_asked,
              score=instructions_followed),
    )

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        key, prompt, ids, kwargs = fields(row, "key", "prompt", "instruction_id_list", "kwargs")
        if not isinstance(ids, list) or not isinstance(kwargs, list) or len(ids) != len(kwargs) or not ids:
            raise RowError("instruction_id_list and kwargs must be lists of the same, non-zero length")
        unknown = [i for i in ids if i not in instructions.INSTRUCTION_IDS]
        if unknown:
            raise RowError(f"unknown instruction {unknown[0]!r}")
        if not all(isinstance(a, dict) for a in kwargs):
            raise RowError("every kwargs entry must be an object")
        for instruction, arguments in zip(ids, kwargs, strict=True):
            try:
                instructions.validate(instruction, arguments)  # drops an argument left empty (None), as the reference
            except ValueError as exc:
                raise RowError(str(exc)) from None
        return Sample(str(prompt), "", metadata={"key": key, "instruction_id_list": list(ids), "kwargs": kwargs})
