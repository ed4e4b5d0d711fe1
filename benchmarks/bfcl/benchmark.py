"""BFCL v4 (Berkeley Function Calling Leaderboard; Patil et al., gorilla.cs.berkeley.edu): single-turn AST,
relevance, live and multi-turn (an agent loop against BFCL's simulated APIs) categories, scored as bfcl-eval
2026.3.23's checker scores them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import Benchmark, Completion, GenerationRequest, RowError, Sample, Scored, Setup

from . import checker, multiturn, prompts
from .agent import Conversation, replies_to_turns
from .leaderboard import summarize
from .parse import Unparseable, has_calls, is_call_list, native_calls, text_calls

AST = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
       "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
RELEVANCE = ("irrelevance", "live_irrelevance", "live_relevance")
MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
# memory, web_search and format_sensitivity are left out: they need services or state that do not exist offline.


def _lines(path: Path) -> Iterator[tuple[str, dict[str, Any] | RowError]]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                yield f"{path}:{number}", json.loads(line)
            except ValueError as exc:
                yield f"{path}:{number}", RowError(f"not JSON: {exc}")


def _doc_ok(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("name"), str) and isinstance(doc.get("description"), str) \
        and isinstance(doc.get("parameters"), dict) and isinstance(doc["parameters"].get("properties"), dict)


class BFCL(Benchmark):
    version = "1"
    splits = {"test": "."}  # the bfcl-eval data folder: BFCL_v4_<category>.json, possible_answer/, multi_turn_func_doc/
    subsets = AST + RELEVANCE + MULTI_TURN
    categories = {**dict.fromkeys(AST[:6], "non_live"), **dict.fromkeys(AST[6:], "live"),
                  **dict.fromkeys(RELEVANCE, "relevance"), **dict.fromkeys(MULTI_TURN, "multi_turn")}
    setups = (
        Setup("prompt", "BFCL's prompting mode: the documents in its system prompt, the model answers "
              "[func(arg=value), ...], read with ast", metrics=("acc",)),
        Setup("native", "native function calling: the documents as OpenAI tools (the chat template's tools=, or "
              "the server's tool-call parser)", metrics=("acc",)),
    )

    def rows(self, path: Path, split: str, subset: str) -> Iterator[tuple[str, Mapping[str, Any] | RowError]]:
        answers: dict[str, Any] = {}
        bad: list[str] = []
        answer_file = path / "possible_answer" / f"BFCL_v4_{subset}.json"
        if answer_file.is_file():
            for location, row in _lines(answer_file):
                if isinstance(row, dict) and "id" in row and "ground_truth" in row:
                    answers[row["id"]] = (location, row["ground_truth"])
                else:
                    bad.append(location)
        for location, row in _lines(path / f"BFCL_v4_{subset}.json"):
            if isinstance(row, RowError):
                yield location, row
                continue
            try:
                if subset in MULTI_TURN:
                    row = {**row, "function": self._api_docs(path, row)}
            except (RowError, OSError, ValueError) as exc:
                yield location, RowError(f"function documents: {exc}")
                continue
            if subset not in RELEVANCE:
                if row.get("id") not in answers:
                    # the answer row that was to match it, when one is malformed
                    why = f" (malformed answer rows: {', '.join(bad)})" if bad else ""
                    yield location, RowError(f"no possible answer for id {row.get('id')!r} in {answer_file}{why}")
                    continue
                row = {**row, "answer_location": answers[row["id"]][0], "ground_truth": answers[row["id"]][1]}
            yield location, {**row, "category": subset}

    @staticmethod
    def _api_docs(path: Path, row: Mapping[str, Any]) -> list[Any]:
        """The multi-turn sample's documents: its classes' (multi_turn_func_doc/), held-out ones taken out."""
        docs: list[Any] = []
        for cls in row.get("involved_classes") or []:
            if cls not in multiturn.API_MODULES:
                raise RowError(f"unknown simulated API {cls!r}")
            lines = (path / "multi_turn_func_doc" / f"{multiturn.API_MODULES[cls]}.json").read_text(encoding="utf-8")
            docs += [json.loads(line) for line in lines.splitlines() if line.strip()]
        return docs

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question, docs = row.get("question"), row.get("function")
        if not isinstance(question, list) or not question or not all(isinstance(t, list) for t in question):
            raise RowError("'question' is not a list of turns")
        if not isinstance(docs, list) or not all(_doc_ok(d) for d in docs):
            raise RowError("malformed function document (each needs name, description, parameters.properties)")
        truth = row.get("ground_truth", [])
        if row["category"] in AST and not (isinstance(truth, list) and truth and all(
                isinstance(c, dict) and len(c) == 1 and all(isinstance(a, dict) for a in c.values()) for c in truth)):
            raise RowError(f"{row.get('answer_location')}: malformed answer row (want [{{function: {{param: "
                           "[values]}}])")
        first = [m for m in question[0] if isinstance(m, dict) and m.get("role") == "user"]
        keep = ("id", "category", "question", "function", "ground_truth", "initial_config", "involved_classes",
                "missed_function")
        return Sample(str(first[-1]["content"]) if first else "", json.dumps(truth, ensure_ascii=False),
                      metadata={k: row[k] for k in keep if k in row})

    def request(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> GenerationRequest:
        meta = sample.metadata
        held = {n for names in (meta.get("missed_function") or {}).values() for n in names}
        docs = prompts.with_language_notes([d for d in meta["function"] if d["name"] not in held],
                                           prompts.language_of(meta["category"]))
        turn = [dict(m) for m in meta["question"][0]]
        if setup.name == "native":
            return GenerationRequest(sample.input, messages=tuple(turn), tools=tuple(prompts.tools(docs)))
        return GenerationRequest(sample.input, messages=tuple(prompts.with_system_prompt(turn, docs)))

    def episode(self, sample: Sample, setup: Setup, request: Any) -> Conversation | None:
        if sample.metadata["category"] not in MULTI_TURN:
            return None
        return Conversation(sample.metadata, request, native=setup.name == "native")

    def score(self, sample: Sample, response: Any, setup: Setup) -> Scored:
        meta, category = sample.metadata, sample.metadata["category"]
        assert isinstance(response, Completion)
        if category in MULTI_TURN:
            record = json.loads(response.text)
            verdict = multiturn.check(replies_to_turns(record), meta["ground_truth"], meta["involved_classes"],
                                      meta.get("initial_config") or {}, "long_context" in category)
            made = sum(len(step.get("calls", [])) for turn in record["turns"] for step in turn)
            what = f"{len(record['turns'])} turns, {made} calls" + (f"; {verdict.error}" if verdict.error else "")
            return Scored({"acc": float(verdict.valid)}, {"acc": what},
                          {"error_type": verdict.error_type, "error": verdict.error})
        names = {prompts.tool_name(d["name"]): d["name"] for d in meta["function"]}
        try:
            if setup.name == "native":
                calls = native_calls(response.tool_calls, response.text, names)
            else:
                calls = text_calls(response.text, prompts.language_of(category) if category in AST else "python")
            if not is_call_list(calls):
                raise Unparseable("not a list of calls")
        except Unparseable as exc:
            if category in RELEVANCE:  # no call at all is the answer irrelevance wants
                return Scored({"acc": float(category != "live_relevance")}, {"acc": None}, {"decoded": None})
            return Scored({"acc": 0.0}, {"acc": None}, {"error_type": "unparseable", "error": str(exc)},
                          cause="unparseable")
        shown = json.dumps(calls, ensure_ascii=False, default=repr)
        if category in RELEVANCE:
            called = has_calls(calls)
            return Scored({"acc": float(called == (category == "live_relevance"))}, {"acc": shown},
                          {"decoded": json.loads(shown)})
        verdict = checker.check(meta["function"], calls, meta["ground_truth"], category,
                                prompts.language_of(category))
        return Scored({"acc": float(verdict.valid)}, {"acc": shown},
                      {"error_type": verdict.error_type, "error": verdict.error})

    def summary(self, results: Sequence[Any]) -> dict[str, Any]:
        return {"summary": summarize(results)}
