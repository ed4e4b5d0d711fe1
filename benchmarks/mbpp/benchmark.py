"""MBPP: basic Python problems (test = task_id 11-510), 3-shot from task_ids 2-4, run against their asserts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import DataError, GenerationRequest, RowError, Rows, Sample, fields, read_jsonl
from evalscope.code import CodeBenchmark, CodeSetup, extract_code

# The paper's (and lm-eval's `mbpp`) prompt: the task, its three tests, then the code between [BEGIN] and [DONE].
TASK = "You are an expert Python programmer, and here is your task: {text} Your code should pass these tests:\n\n"
TEST_IDS = range(11, 511)
SHOT_IDS = (2, 3, 4)


def block(sample: Sample) -> str:
    return TASK.format(text=sample.input) + "\n".join(sample.metadata["tests"][:3]) + "\n[BEGIN]\n"


def three_shot(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    shots = "".join(f"{block(s)}{s.target}\n[DONE]\n\n" for s in few_shot)
    return GenerationRequest(shots + block(sample), stop=("[DONE]",))


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
        code = extract_code(text.replace("[BEGIN]", "").replace("[DONE]", ""))
        return code, f"{sample.metadata['setup']}\n" + "\n".join(sample.metadata["tests"]) + "\n"
