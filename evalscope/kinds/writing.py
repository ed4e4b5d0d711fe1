"""Long-output writing (LongWriter, Bai et al. 2024, arXiv:2408.07055): a prompt asks for a length, the reply's
length is scored against it (S_l), optionally its quality by a judge with the paper's prompt (S_q, six dimensions),
and a chart shows the length produced against the length asked."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from evalscope.benchmark import Benchmark, Scored, Setup, fields
from evalscope.config import RunConfig
from evalscope.judging.metric import JudgeMetric, rubric
from evalscope.report.charts import scatter
from evalscope.schema import Completion, GenerationRequest, RowError, Sample

_HAN = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"\b[a-zA-Z]+\b")
DIMENSIONS = ("Relevance", "Accuracy", "Coherence", "Clarity", "Breadth and Depth", "Reading Experience")
"""The six quality dimensions of the paper's judge prompt, each scored 1-5."""


def output_length(text: str) -> int:
    """LongWriter's length: Chinese characters (U+4E00..U+9FFF) plus English words (runs of ASCII letters)."""
    return len(_HAN.findall(text)) + len(_WORD.findall(text))


def length_score(required: int, produced: int) -> float:
    """The paper's S_l (0-100): full marks at the length asked; a longer reply loses a third of a point per 1% of
    overshoot ratio ((produced/required - 1) / 3), a shorter one half of (required/produced - 1); never below 0.
    An empty reply scores 0 (the limit as the produced length goes to 0)."""
    if produced > required:
        return 100 * max(0.0, 1 - (produced / required - 1) / 3)
    if produced == 0:
        return 0.0
    return 100 * max(0.0, 1 - (required / produced - 1) / 2)


def read_quality(reply: str) -> float | None:
    """S_q of one judge reply (0-100): its JSON's six dimension scores, each an integer 1-5, mapped to (s - 1) * 25
    and averaged as the paper does; None when the JSON or a dimension is missing or off the scale."""
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", reply, re.S)
    found = fenced.group(1) if fenced else next(iter(re.findall(r"\{.*\}", reply.replace("\n", " "), re.S)), None)
    if found is None:
        return None
    try:
        data = json.loads(found.replace("\n", " "))
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    scores = []
    for dim in DIMENSIONS:
        value = data.get(dim)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            return None
        scores.append((value - 1) * 25)
    return sum(scores) / len(scores)


@cache
def _judge_prompt(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def judge_prompt(sample: Sample, answer: str) -> str:
    """The paper's judge prompt (`judge.txt` beside the data) with the request and the reply filled in."""
    return _judge_prompt(sample.metadata["judge_prompt"]).replace("$INST$", sample.input).replace("$RESPONSE$", answer)


def overall(metrics: Mapping[str, float]) -> dict[str, float]:
    """S, the mean of S_l and S_q (the paper's headline score)."""
    return {"S": (metrics["S_l"] + metrics["S_q"]) / 2} if {"S_l", "S_q"} <= set(metrics) else {}


QUALITY: JudgeMetric = rubric("S_q", judge_prompt, read_quality, required=False, combine=overall)
"""S_q by a judge, when `--judge` is given; without one the setup scores S_l alone and says so."""


def request(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    return GenerationRequest(sample.input)


def score(sample: Sample, completion: Completion) -> Scored:
    required, produced = int(sample.metadata["length"]), output_length(completion.text)
    return Scored({"S_l": length_score(required, produced), "length_ratio": produced / required},
                  {"S_l": str(produced), "length_ratio": str(produced)},
                  {"required": required, "produced": produced, "finish_reason": completion.finish_reason})


class LongWriting(Benchmark):
    """Rows `{"prompt", "length", "type"}`; the prompt as the user turn, scored by S_l (and S_q with a judge)."""

    setups: ClassVar[tuple[Setup, ...]] = (
        Setup("default", "the prompt as a user turn; S_l (LongWriter's length score: Chinese characters plus "
              "English words against the length asked), and with --judge S_q (the paper's judge prompt, six "
              "dimensions) and S = (S_l + S_q) / 2", prompt=request, score=score,
              metrics=("S", "S_l", "S_q", "length_ratio"), judge=QUALITY),
    )

    def adapt(self, setup: Setup, config: RunConfig) -> Setup:
        from dataclasses import replace

        # Without a judge there is no S_q, so no S: S_l is the score, said in the header and report.json.
        judged = ("S", "S_l", "S_q", "length_ratio") if config.judges else ("S_l", "length_ratio")
        return replace(setup, metrics=judged)

    def rows(self, path: Path, split: str, subset: str) -> Any:
        from evalscope.rows import read_jsonl

        for location, row in read_jsonl(path):
            yield location, row if isinstance(row, RowError) else {**row, "_judge": str(path.parent / "judge.txt")}

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        prompt, length = fields(row, "prompt", "length")
        if not isinstance(length, int) or length < 1:
            raise RowError(f"field 'length' is not a positive integer: {length!r}")
        return Sample(str(prompt), str(length), metadata={"length": length, "type": str(row.get("type", "")),
                                                          "judge_prompt": row["_judge"]})

    def summary(self, results: Sequence[Any]) -> dict[str, Any]:
        """The length produced against the length asked (log-log, with y = x), as the paper plots it."""
        points = [(float(r.details["required"]), float(r.details["produced"])) for r in results
                  if "required" in r.details]
        return {"charts": [scatter(f"{self.name}-lengths", f"{self.name}: output length against the length asked",
                                   points, "length asked (words / characters)", "length produced")]}
