"""The multi-turn agent loop: the model calls, the calls run against the simulated APIs, the results go back,
until the model stops calling (next turn) or BFCL's step limit; every step is recorded."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from evalscope.api import Completion, GenerationRequest

from . import prompts
from .checker import Call
from .multiturn import MAX_STEPS, World, state_diff
from .parse import (
    Unparseable,
    execution_string,
    has_calls,
    is_call_list,
    native_calls,
    python_calls,
)


class Conversation:
    """One multi-turn sample's conversation (an `Episode`): fresh simulated APIs, BFCL's turns and held-out
    functions, the model's steps and what each did."""

    def __init__(self, meta: Mapping[str, Any], first: GenerationRequest, native: bool) -> None:
        self.meta, self.native, self.request = meta, native, first
        self.world = World(meta["involved_classes"], meta.get("initial_config") or {},
                           "long_context" in meta["category"])
        self.turn, self.steps, self.done, self.forced = 0, 0, False, False
        self.messages: list[dict[str, Any]] = list(map(dict, first.messages))
        self.tools = list(first.tools)
        self.turns: list[list[dict[str, Any]]] = [[]]
        self.tokens = [0, 0]
        self.names = {prompts.tool_name(d["name"]): d["name"] for d in meta["function"]}

    def next_request(self) -> GenerationRequest | None:
        if self.done:
            return None
        return replace(self.request, messages=tuple(self.messages), tools=tuple(self.tools))

    def _decode(self, completion: Completion) -> list[Call]:
        if self.native:
            return native_calls(completion.tool_calls, completion.text, self.names)
        return python_calls(completion.text)

    def observe(self, completion: Completion) -> None:
        self.tokens[0] += completion.prompt_tokens
        self.tokens[1] += completion.completion_tokens
        step: dict[str, Any] = {"reply": completion.text, "tool_calls": [dict(c) for c in completion.tool_calls]}
        self.turns[-1].append(step)
        try:
            calls = self._decode(completion)
            if not is_call_list(calls):
                raise Unparseable("not a list of calls")
        except Unparseable as exc:
            step["error"] = str(exc)
            calls = []
        if not has_calls(calls):  # no calls: the turn is over
            self.messages.append({"role": "assistant", "content": completion.text})
            self._next_turn()
            return
        step["calls"] = [execution_string(c) for c in calls]
        step["decoded"] = json.loads(json.dumps(calls, default=repr))
        before = self.world.state()
        results = [self.world.run(c) for c in calls]
        step["results"] = results
        step["state_diff"] = state_diff(before, self.world.state())
        if self.native:
            self._tool_messages(completion, calls, results)
        else:  # BFCL's prompting format: the results as one user message, a repr of tool messages
            self.messages.append({"role": "assistant", "content": completion.text})
            shown = [{"role": "tool", "name": execution_string(c), "content": r} for c, r in zip(calls, results,
                                                                                               strict=True)]
            self.messages.append({"role": "user", "content": repr(shown)})
        self.steps += 1
        if self.steps > MAX_STEPS:  # BFCL forces the model to quit: the remaining turns never run
            self.forced, self.done = True, True

    def _tool_messages(self, completion: Completion, calls: list[Call], results: list[str]) -> None:
        """The assistant's tool calls and one `tool` message per result, as an OpenAI conversation holds them
        (calls a local model wrote as text get ids of ours)."""
        sent = [dict(c) for c in completion.tool_calls] or [
            {"name": prompts.tool_name(next(iter(c))), "arguments": next(iter(c.values()))} for c in calls]
        ids = [str(c.get("id") or f"call_{self.steps}_{k}") for k, c in enumerate(sent)]
        wire = [{"id": i, "type": "function", "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(
            c["arguments"], str) else json.dumps(c["arguments"])}} for i, c in zip(ids, sent, strict=True)]
        self.messages.append({"role": "assistant", "content": completion.text or None, "tool_calls": wire})
        self.messages += [{"role": "tool", "tool_call_id": i, "content": r}
                          for i, r in zip(ids, results, strict=True)]

    def _next_turn(self) -> None:
        self.turn += 1
        self.steps = 0
        question = self.meta["question"]
        if self.turn >= len(question):
            self.done = True
            return
        self.turns.append([])
        held = (self.meta.get("missed_function") or {}).get(str(self.turn))
        if held:  # miss_func: the held-out documents arrive now
            docs = [d for d in self.meta["function"] if d["name"] in held]
            if self.native:
                self.tools += prompts.tools(docs)
                self.messages.append({"role": "user", "content": prompts.MORE_FUNCTIONS})
            else:
                self.messages.append({"role": "user", "content": f"{docs}\n{prompts.MORE_FUNCTIONS}"})
            return
        self.messages += [dict(m) for m in question[self.turn]]

    def outcome(self) -> Completion:
        record = {"turns": self.turns, "forced_quit": self.forced, "final_state": self.world.state()}
        # indented: the HTML sample view shows it as is, one step per block
        text = json.dumps(record, ensure_ascii=False, default=repr, indent=1)
        return Completion(text, self.tokens[0], self.tokens[1], "length" if self.forced else "stop",
                          json.dumps(self.messages[:2], ensure_ascii=False))


def replies_to_turns(record: Mapping[str, Any]) -> list[list[list[Call]]]:
    """Per turn, the steps that decoded to calls (what BFCL's checker runs); a forced quit leaves turns out."""
    return [[step["decoded"] for step in turn if step.get("decoded")] for turn in record["turns"]]
