"""ToolBench-Static (EvalScope's `tool_bench`; Shen et al. 2024, "Small LLMs Are Weak Tool Learners", arXiv
2401.07324, from ToolBench, Qin et al. 2023): the next step of a tool-use conversation, scored by EvalScope's five
metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import Benchmark, Completion, GenerationRequest, RowError, Sample, Scored, Setup, read_jsonl

from .steps import metrics, not_scored, tool_names

METRICS = ("F1", "Act.EM", "Plan.EM", "HalluRate", "Rouge-L")
# Where a subset's rows lie: the unzipped data.zip (`<subset>.jsonl`), or a hub snapshot's split files.
LAYOUTS = ("{subset}.jsonl", "{subset}/test.jsonl", "{subset}/test-*.jsonl", "{subset}/*.jsonl")


def messages(raw: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as EvalScope sends it: `name` fields dropped, a `function` message becomes a user
    message whose content is that message as JSON."""
    out = []
    for message in raw:
        message = {k: v for k, v in message.items() if k != "name"}
        if message.get("role") == "function":
            message = {"role": "user", "content": json.dumps(message, ensure_ascii=False)}
        out.append(message)
    return out


class ToolBench(Benchmark):
    version = "1"
    splits = {"test": "."}
    hub = {"modelscope": "AI-ModelScope/ToolBench-Static"}
    subsets = ("in_domain", "out_of_domain")
    setups = (Setup("evalscope", "EvalScope 1.x tool_bench: the conversation's messages as they are, 0-shot; the "
                    "reply's last Action / Action Input against the reference step", metrics=METRICS),)

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        return tuple(s for s in self.subsets if self._file(files["test"], s) is not None)

    @staticmethod
    def _file(folder: Path, subset: str) -> Path | None:
        for pattern in LAYOUTS:
            found = sorted(folder.glob(pattern.format(subset=subset)))
            if found:
                return found[0]
        return None

    def rows(self, path: Path, split: str, subset: str) -> Iterator[tuple[str, Mapping[str, Any] | RowError]]:
        found = self._file(path, subset)
        if found is not None:
            yield from read_jsonl(found)

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        raw, target, tools = row.get("messages"), row.get("target"), row.get("tools")
        if not isinstance(raw, list) or not raw or not all(isinstance(m, dict) and "role" in m for m in raw):
            raise RowError("'messages' must be a non-empty list of {role, content} messages")
        if not isinstance(target, str) or not isinstance(tools, list):
            raise RowError("'target' must be a string and 'tools' a list of {name, ...}")
        names = tool_names(tools)
        why = not_scored(target, names)
        if why is not None:  # EvalScope drops such a sample from every metric; here its item says so
            raise RowError(f"not scored (as in EvalScope): {why}")
        last = next((str(m.get("content") or "") for m in reversed(raw) if m.get("role") == "user"), "")
        return Sample(last, target, metadata={"messages": messages(raw), "tools": names})

    def request(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> GenerationRequest:
        return GenerationRequest(sample.input, messages=tuple(sample.metadata["messages"]))

    def score(self, sample: Sample, response: Any, setup: Setup) -> Scored:
        assert isinstance(response, Completion)
        values = metrics(response.text, sample.target, sample.metadata["tools"])
        return Scored(values, dict.fromkeys(values, None))
