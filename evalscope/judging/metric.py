"""What a judge is asked about one answer and how its reply becomes a verdict: reference grading (CORRECT /
INCORRECT / NOT_ATTEMPTED) and rubric scores on a benchmark's own scale."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from evalscope.schema import GenerationRequest, Sample

Verdict = str | float
"""A judge's reading of one answer: a label (nominal) or a number (interval)."""


@dataclass(frozen=True)
class JudgeMetric:
    """A metric a judge model scores; a setup names it (`Setup.judge`). The judge sees `ask(sample, answer)`; its
    reply is `read` into a verdict (None: unreadable, excluded from the score and counted, never a 0)."""

    name: str
    """The metric's name in the report (e.g. `judge_correct`, `S_q`)."""
    ask: Callable[[Sample, str], GenerationRequest] = lambda sample, answer: GenerationRequest(answer)
    read: Callable[[str], Verdict | None] = lambda reply: None
    value: Callable[[Verdict], float] = float
    """A verdict's score (a label's, e.g. CORRECT -> 1)."""
    level: Literal["nominal", "interval"] = "interval"
    """How verdicts are compared for agreement (Krippendorff's alpha): labels are nominal, scores interval."""
    required: bool = True
    """Whether the setup needs `--judge` (False: without one it scores what it can alone and says so)."""
    combine: Callable[[Mapping[str, float]], dict[str, float]] | None = None
    """Metrics derived once the judge's is in (LongBench-Write's S, the mean of S_l and S_q)."""


REFERENCE_LABELS = ("CORRECT", "INCORRECT", "NOT_ATTEMPTED")

# Our own wording of a SimpleQA-style grader: judge the answer against the reference, do not solve the question.
REFERENCE_PROMPT = """You are grading one answer to a question against its reference answer. Do not answer the \
question yourself: decide only whether the answer agrees with the reference.

- CORRECT: the answer states what the reference states (wording, order, extra detail or a hedge do not matter, \
as long as nothing it says contradicts the reference).
- INCORRECT: the answer states something that contradicts the reference, or gives several candidates of which \
one is wrong.
- NOT_ATTEMPTED: the answer gives no claim on the point (it declines, says it does not know, or talks around it) \
without contradicting the reference.

Question: {question}
Reference answer: {target}
Answer to grade: {answer}

Reply with exactly one word: CORRECT, INCORRECT or NOT_ATTEMPTED."""

_LABEL = re.compile(r"\b(NOT[_ ]ATTEMPTED|INCORRECT|CORRECT)\b")


def read_label(reply: str) -> str | None:
    """The judge's last label in its reply (its conclusion, after any reasoning); None when it gives none."""
    found = _LABEL.findall(reply.upper())
    return found[-1].replace(" ", "_") if found else None


def reference_grader(name: str = "judge_correct", aliases: str | None = None) -> JudgeMetric:
    """Grade an open answer against the sample's target (and `metadata[aliases]`, other accepted answers)."""

    def ask(sample: Sample, answer: str) -> GenerationRequest:
        target = sample.target
        if aliases and sample.metadata.get(aliases):
            target = " / ".join(dict.fromkeys([sample.target, *map(str, sample.metadata[aliases])]))
        question = str(sample.metadata.get("question", sample.input))  # a long context's question, not its context
        return GenerationRequest(REFERENCE_PROMPT.format(question=question, target=target, answer=answer.strip()))

    return JudgeMetric(name, ask, read_label, lambda label: float(label == "CORRECT"), "nominal")


def rubric(name: str, template: Callable[[Sample, str], str], read: Callable[[str], float | None],
           required: bool = True,
           combine: Callable[[Mapping[str, float]], dict[str, float]] | None = None) -> JudgeMetric:
    """A score on the benchmark's own scale from its own prompt (`template(sample, answer)`) and reader."""
    return JudgeMetric(name, lambda s, a: GenerationRequest(template(s, a)), read, float, "interval", required,
                       combine)
