"""BIG-Bench Hard: 27 hard BIG-bench tasks (6511 examples), chain of thought after each task's own 3 exemplars."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from evalscope.api import (
    Benchmark,
    Completion,
    DataError,
    GenerationRequest,
    RowError,
    Rows,
    Sample,
    Scored,
    Setup,
    fields,
)

_MULTIPLE_CHOICE = (
    "date_understanding disambiguation_qa geometric_shapes hyperbaton logical_deduction_five_objects "
    "logical_deduction_seven_objects logical_deduction_three_objects movie_recommendation penguins_in_a_table "
    "reasoning_about_colored_objects ruin_names salient_translation_error_detection snarks temporal_sequences "
    "tracking_shuffled_objects_five_objects tracking_shuffled_objects_seven_objects "
    "tracking_shuffled_objects_three_objects")
_FREE_FORM = (
    "boolean_expressions causal_judgement dyck_languages formal_fallacies multistep_arithmetic_two navigate "
    "object_counting sports_understanding web_of_lies word_sorting")
MULTIPLE_CHOICE, FREE_FORM = frozenset(_MULTIPLE_CHOICE.split()), frozenset(_FREE_FORM.split())
# EvalScope 1.14.1's bbh question, after the task's chain-of-thought exemplars
ASK = ("Q: {question}\nA: Let's think step by step. Put your final answer in the format of \"So the answer is "
       "[ANSWER]\" (without quotes and markdown) where [ANSWER] is the answer to the problem.\n")


@cache
def exemplars(path: Path) -> str:
    """A task's chain-of-thought prompt file without its canary header (`... -----`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return text.split("-----\n", 1)[-1].strip()


def evalscope_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    return GenerationRequest(f"{sample.metadata['exemplars']}\n\n" + ASK.format(question=sample.input))


def lm_eval_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    # lm-eval's task files hold the same exemplars with "step by step." always followed by a newline (one of
    # the shipped files, sports_understanding, has a space there)
    shots = str(sample.metadata["exemplars"]).replace("A: Let's think step by step. ", "A: Let's think step by step.\n")
    return GenerationRequest(f"{shots}\n\nQ: {sample.input}\nA: Let's think step by step.\n",
                             stop=("</s>", "Q", "\n\n"))


LM_EVAL_ANSWER = re.compile(r"(?<=the answer is )(.*)(?=.)")
"""lm-eval's filter: after the first 'the answer is ', the rest of that line but its last character."""


def lm_eval_score(sample: Sample, completion: Completion) -> Scored:
    found = LM_EVAL_ANSWER.findall(completion.text)
    answer = found[0].strip() if found else "[invalid]"
    return Scored({"exact_match": float(answer == sample.metadata["raw_target"])}, {"exact_match": answer})


def final_answer(text: str, multiple_choice: bool) -> str:
    """EvalScope 1.14.1's reading: the first line after the last 'So the answer is ', without a final period;
    then the letter of '(B)' (or a lone capital) for multiple choice, the **bold** part for free form."""
    answer = text.strip().split("So the answer is ")[-1].strip().split("\n")[0].strip()
    answer = answer[:-1].strip() if answer.endswith(".") else answer
    if multiple_choice:
        found = re.search(r"\(([A-Z])\)", answer) or re.search(r"\b([A-Z])\b", answer)
    else:
        found = re.search(r"\*\*(.*?)\*\*", answer)
    return found.group(1).strip() if found else answer


def evalscope_score(sample: Sample, completion: Completion) -> Scored:
    answer = final_answer(completion.text, bool(sample.metadata["multiple_choice"]))
    return Scored({"acc": float(answer.strip().lower() == sample.target.strip().lower())}, {"acc": answer})


class BBH(Benchmark):
    splits = {"test": "bbh"}  # bbh/<task>.json; the exemplars in cot-prompts/<task>.txt beside it
    subsets = tuple(sorted(MULTIPLE_CHOICE | FREE_FORM))
    setups = (
        Setup("evalscope", "EvalScope 1.14.1 bbh: the task's 3 chain-of-thought exemplars, 'Q: ... A: Let's think "
              "step by step.' and the 'So the answer is [ANSWER]' format; its answer reading and exact match",
              prompt=evalscope_prompt, score=evalscope_score),
        Setup("lm-eval", "lm-eval 0.4.13 bbh_cot_fewshot: the same 3 exemplars, raw text, stop at 'Q' or a blank "
              "line; the text after the first 'the answer is ' but its last character, compared exactly with the "
              "target ('(B)', 'False')", chat_template=False, metrics=("exact_match",), prompt=lm_eval_prompt,
              score=lm_eval_score),
    )

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        file = path / f"{subset}.json"
        try:
            examples = json.loads(file.read_text(encoding="utf-8"))["examples"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{file}: cannot read its examples ({type(exc).__name__}: {exc})") from None
        shots = exemplars(path.parent / "cot-prompts" / f"{subset}.txt")
        for i, row in enumerate(examples):
            location = f"{file}:examples[{i}]"
            yield location, ({**row, "exemplars": shots, "task": subset} if isinstance(row, dict)
                             else RowError("not a JSON object"))

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question, target = map(str, fields(row, "input", "target"))
        raw_target = target
        multiple_choice = row.get("task") in MULTIPLE_CHOICE
        if multiple_choice:  # "(B)" -> "B"; free-form targets keep their brackets (dyck_languages answers are them)
            target = target.replace("(", "").replace(")", "")
        return Sample(question, target.strip(), metadata={"exemplars": row["exemplars"], "raw_target": raw_target,
                                                          "multiple_choice": multiple_choice})
