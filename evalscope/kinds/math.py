"""Benchmarks of MATH problems (MATH, MATH-500): subjects as subsets, levels as categories, a \\boxed{} answer
scored by Math-Verify (`acc`, as EvalScope 1.14.1) and by MATH's own string match (`acc_strict`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalscope.benchmark import Benchmark, Scored, Setup, fields
from evalscope.deadline import bounded
from evalscope.rows import Rows, read_jsonl
from evalscope.schema import Completion, GenerationRequest, RowError, Sample
from evalscope.scoring.extract import last_boxed
from evalscope.scoring.math import evalscope05 as math05
from evalscope.scoring.math import minerva
from evalscope.scoring.math.hendrycks import is_equiv
from evalscope.scoring.math.mathverify import math_answer, math_equal

SUBJECTS = {"algebra": "Algebra", "counting_and_probability": "Counting & Probability", "geometry": "Geometry",
            "intermediate_algebra": "Intermediate Algebra", "number_theory": "Number Theory",
            "prealgebra": "Prealgebra", "precalculus": "Precalculus"}
LEVELS = tuple(f"Level {n}" for n in range(1, 6))


def _wrong(*metrics: str) -> Callable[[Sample, Completion], Scored]:
    """The verdict on a reply whose check ran out of time: every metric wrong, no answer read."""
    return lambda sample, completion: Scored(dict.fromkeys(metrics, 0.0), dict.fromkeys(metrics))


# Each scorer runs whole under one checker deadline (one round trip to the checker process per reply).
@bounded(_wrong("acc", "acc_strict"), warm=("math_verify",))
def math_score(sample: Sample, completion: Completion) -> Scored:
    """`acc`: Math-Verify's first answer in the reply equals the target (EvalScope 1.14.1's reading); `acc_strict`:
    the reply's last \\boxed{} equals it after MATH's normalisation."""
    answer, boxed = math_answer(completion.text), last_boxed(completion.text)
    return Scored({"acc": float(math_equal(answer, sample.target)),
                   "acc_strict": float(boxed is not None and is_equiv(boxed, sample.target))},
                  {"acc": answer, "acc_strict": boxed})


def minerva_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    shots = [(s.input, s.metadata["solution"]) for s in few_shot]
    return GenerationRequest(minerva.prompt(sample.input, shots), stop=("Problem:",))


@bounded(_wrong("acc", "acc_strict"), warm=("math_verify", "sympy"))
def minerva_score(sample: Sample, completion: Completion) -> Scored:
    """lm-eval minerva_math's two metrics: `acc` its `math_verify` (Math-Verify's default reading of the whole
    reference solution and the whole reply), `acc_strict` its `exact_match` (the answer after "Final Answer: The
    final answer is", normalised, against the solution's normalised \\boxed{})."""
    solution = str(sample.metadata["solution"])
    answer, target = minerva.normalize_final_answer(minerva.final_answer(completion.text)), \
        minerva.target_answer(solution)
    return Scored({"acc": float(minerva.lm_eval_verify(solution, completion.text)),
                   "acc_strict": float(minerva.equivalent(answer, target))},
                  {"acc": None, "acc_strict": answer}, {"minerva_target": target})


MINERVA = Setup(
    "minerva", "lm-eval 0.4.13 minerva_math: the Minerva paper's 4 fixed exemplars, 'Problem:\\n...\\n\\n"
    "Solution:', raw text, stop at 'Problem:'; acc = its math_verify, acc_strict = its exact_match (the answer "
    "after 'Final Answer: The final answer is', Minerva's normalisation, symbolic equality)",
    few_shot_num=4, few_shot_random=False, chat_template=False,
    exemplars=tuple(Sample(p, minerva.target_answer(s), metadata={"solution": s}) for p, s in minerva.EXEMPLARS),
    metrics=("acc", "acc_strict"), prompt=minerva_prompt, score=minerva_score)
"""A setup of every MATH-problem benchmark (MATH, MATH-500), as lm-eval runs both."""


def evalscope05_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    # no stop string: EvalScope 0.5 generates to EOS or its token budget
    return GenerationRequest(math05.prompt(sample.input, shots=bool(few_shot)))


@bounded(_wrong("acc"))
def evalscope05_score(sample: Sample, completion: Completion) -> Scored:
    """EvalScope 0.5.5's reading: the reply's "final answer" sentence (else its first), normalised as OpenCompass
    does, equal to the solution's last \\boxed{} after MATH's normalisation."""
    answer, solution = math05.answer(completion.text), str(sample.metadata["solution"])
    return Scored({"acc": float(math05.correct(completion.text, solution))}, {"acc": answer})


EVALSCOPE_05 = Setup(
    "evalscope-0.5", "EvalScope 0.5.5 competition_math: its 4 fixed exemplars byte for byte (doubled braces "
    "included), 'Problem:\\n...\\nSolution:\\n', its final-answer reading and MATH's string match",
    few_shot_num=4, few_shot_random=False, exemplars=MINERVA.exemplars, prompt=evalscope05_prompt,
    score=evalscope05_score)
"""EvalScope 0.5's setup (all-or-nothing shots: its exemplars are one block of text; few_shot_num 0 drops them)."""


class MathProblems(Benchmark):
    """One JSON-lines file of problems, each with its subject (`subject_field`) and level; a subclass says how a
    row gives its answer (`answer`) and its level."""

    splits: ClassVar[Mapping[str, str]] = {"test": "test.jsonl"}
    subsets = tuple(SUBJECTS)
    subject_field = "type"

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        first = subset == self.subsets[0]
        for location, row in read_jsonl(path):
            if isinstance(row, RowError) or row.get(self.subject_field) not in SUBJECTS.values():
                if first:  # a row without a known subject errors once, under the first subject
                    yield location, row if isinstance(row, RowError) else RowError(
                        f"unknown {self.subject_field} {row.get(self.subject_field)!r}")
            elif row[self.subject_field] == SUBJECTS[subset]:
                yield location, row

    def answer(self, row: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def level(self, row: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        problem, solution = fields(row, "problem", "solution")  # the minerva and evalscope-0.5 targets need it
        level = self.level(row)
        if level not in LEVELS:
            raise RowError(f"level {row.get('level')!r} is not 1-5")
        return Sample(str(problem), self.answer(row), metadata={"level": level, "solution": str(solution)})

    def category(self, sample: Sample) -> str | None:
        return str(sample.metadata["level"])
