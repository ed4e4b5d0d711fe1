"""MBPP: basic Python problems (test = task_id 11-510), 3-shot from task_ids 2-4, run against their asserts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import (
    CodeBenchmark,
    CodeSetup,
    DataError,
    GenerationRequest,
    RowError,
    Rows,
    Sample,
    extract_code,
    fields,
    read_jsonl,
)

# The paper's (and lm-eval's `mbpp`) prompt: the task, its three tests, then the code between [BEGIN] and [DONE].
TASK = "You are an expert Python programmer, and here is your task: {text} Your code should pass these tests:\n\n"
TEST_IDS = range(11, 511)
SHOT_IDS = (2, 3, 4)


def block(sample: Sample, tests: int | None = 3) -> str:
    return TASK.format(text=sample.input) + "\n".join(sample.metadata["tests"][:tests]) + "\n[BEGIN]\n"


def three_shot(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    shots = "".join(f"{block(s)}{s.target}\n[DONE]\n\n" for s in few_shot)
    return GenerationRequest(shots + block(sample), stop=("[DONE]",))


def evalscope_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    # EvalScope 1.14.1: the same blocks, one newline apart, every test listed; its exemplars are a fixed text
    # whose lines lost their trailing blanks (task 2's code ends "return (res) "). No stop string: its
    # extraction cuts at [DONE].
    shots = "".join(TASK.format(text=s.input) + "\n".join(t.rstrip() for t in s.metadata["tests"]) +
                    f"\n[BEGIN]\n{s.target.rstrip()}\n[DONE]\n" for s in few_shot)
    return GenerationRequest(shots + block(sample, None))


def evalscope_code(text: str) -> str:
    """EvalScope 1.14.1's reading of an MBPP reply: up to [DONE], the first code block, cut before a stray
    `assert` or docstring line and before `if __name__ ==`."""
    code = extract_code(text.split("[DONE]", 1)[0])
    for stop in ("\nassert", '\n"""', "if __name__ =="):
        code = code.split(stop, 1)[0]
    return code


class MBPP(CodeBenchmark):
    splits = {"test": "mbpp.jsonl", "prompt": "mbpp.jsonl", "sanitized": "sanitized-mbpp.json"}
    few_shot_split = "prompt"
    setups = (
        CodeSetup("lm-eval", "the paper's 3-shot prompt (task, 3 tests, [BEGIN] code [DONE]), exemplars task_ids "
                  "2-4, stop at [DONE]; as lm-eval's mbpp", few_shot_num=3, few_shot_random=False,
                  chat_template=False, prompt=three_shot),
        CodeSetup("sanitized", "the same prompt on the hand-verified set: its problems in the test range (task_id "
                  "11-510)", few_shot_num=3, few_shot_random=False, chat_template=False, split="sanitized",
                  prompt=three_shot),
        CodeSetup("evalscope", "EvalScope 1.14.1 mbpp: the same 3-shot prompt through the chat template, no stop "
                  "string, code read up to [DONE]", few_shot_num=3, few_shot_random=False, answer="reply",
                  prompt=evalscope_prompt),
    )

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        if split != "sanitized":
            wanted = TEST_IDS if split == "test" else SHOT_IDS
            yield from ((loc, row) for loc, row in read_jsonl(path)
                        if isinstance(row, RowError) or row.get("task_id") in wanted)
            return
        try:
            problems = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: cannot read ({exc})") from None
        for i, row in enumerate(problems):
            if not isinstance(row, dict):
                yield f"{path}:item {i}", RowError("not a JSON object")
            elif row.get("task_id") in TEST_IDS:
                yield f"{path}:item {i}", row

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        text = row.get("text") or row.get("prompt")  # the full set says `text`, the sanitized one `prompt`
        if not text:
            raise RowError("missing field 'text'")
        code, tests = fields(row, "code", "test_list")
        setup = row.get("test_setup_code") or "\n".join(row.get("test_imports") or [])
        return Sample(str(text), str(code), metadata={"task_id": row.get("task_id"), "tests": list(tests),
                                                      "setup": setup})

    def program(self, sample: Sample, text: str, setup: CodeSetup) -> tuple[str, str]:
        code = evalscope_code(text) if setup.answer == "reply" else \
            extract_code(text.replace("[BEGIN]", "").replace("[DONE]", ""))
        return code, f"{sample.metadata['setup']}\n" + "\n".join(sample.metadata["tests"]) + "\n"
