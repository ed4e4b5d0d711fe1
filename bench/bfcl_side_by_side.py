"""Our BFCL verdicts against bfcl-eval 2026.3.23's own checker, on made-up replies for every single-turn category
and on perturbed multi-turn call sequences; and our prompt-mode prompts and tools against its rendering.

Run with the venv that holds bfcl-eval (`make bfcl-eval` makes `.venv-bfcl`):
    PYTHONPATH=$PWD .venv-bfcl/bin/python bench/bfcl_side_by_side.py [--per-category 40] [--data DIR]
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import sys
import types
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

# bfcl-eval's AST checker imports its table of hosted models (and through it every provider SDK) only to ask
# whether a model's tool names had dots replaced; none of ours do, so that table is stood in for.
_config = types.ModuleType("bfcl_eval.constants.model_config")
_config.MODEL_CONFIG_MAPPING = defaultdict(lambda: types.SimpleNamespace(underscore_to_dot=False))  # type: ignore
sys.modules["bfcl_eval.constants.model_config"] = _config

from bfcl_eval.constants.enums import (  # noqa: E402
    Language,
    ModelStyle,
    ReturnFormat,
)
from bfcl_eval.constants.type_mappings import GORILLA_TO_OPENAPI  # noqa: E402
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker  # noqa: E402
from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker  # noqa: E402
from bfcl_eval.model_handler.utils import (  # noqa: E402
    convert_to_tool,
    default_decode_ast_prompting,
    system_prompt_pre_processing_chat_model,
)
from bfcl_eval.utils import (  # noqa: E402
    _func_doc_language_specific_pre_processing,
    is_empty_output,
    is_function_calling_format_output,
)

from benchmarks.bfcl import checker, multiturn, prompts  # noqa: E402
from benchmarks.bfcl.benchmark import AST, BFCL, MULTI_TURN, RELEVANCE  # noqa: E402
from benchmarks.bfcl.parse import Unparseable, has_calls, is_call_list, text_calls  # noqa: E402


def source(value: Any, language: str) -> str:
    return json.dumps(value) if language != "python" and isinstance(value, str) else repr(value)


def call_text(name: str, args: dict[str, Any], language: str) -> str:
    return f"{name}({', '.join(f'{k}={source(v, language)}' for k, v in args.items())})"


def reply(calls: list[tuple[str, dict[str, Any]]], language: str) -> str:
    return "[" + ", ".join(call_text(n, a, language) for n, a in calls) + "]"


def variants(row: dict[str, Any], language: str) -> dict[str, str]:
    """Made-up replies: the answer in several spellings, and the usual ways to get it wrong."""
    docs = {d["name"]: d for d in row["function"]}
    if row["category"] in RELEVANCE:
        out = {"no call": "I cannot help with that.", "empty list": "[]", "unparseable": "[f(x=]",
               "a bare name": "[get_weather]", "empty call": "[{}]"}
        for doc in row["function"][:1]:
            some = {p: "x" for p in doc["parameters"].get("required", [])}
            out["a call"] = reply([(doc["name"], some)], language)
        return out
    truth = row["ground_truth"]
    first = [(n, {p: v[0] for p, v in a.items() if v and v[0] != ""}) for c in truth for n, a in c.items()]
    last = [(n, {p: v[-1] for p, v in a.items() if v and v[-1] != ""}) for c in truth for n, a in c.items()]
    every = [(n, {p: next((x for x in v if x != ""), "") for p, v in a.items()}) for c in truth for n, a in c.items()]
    out = {"answer (first values)": reply(first, language), "answer (last values)": reply(last, language),
           "answer (optional given)": reply(every, language),
           "reordered": reply(list(reversed(first)), language),
           "unparseable": "Sure! I would call the function for you.", "no call": "[]",
           "unknown function": reply([("not_offered", {"x": 1}), *first[1:]], language),
           "extra parameter": reply([(first[0][0], {**first[0][1], "zz_extra": 1}), *first[1:]], language),
           "bare call": call_text(*first[0], language) if len(first) == 1 else reply(first, language),
           "markdown fence": "```\n" + reply(first, language) + "\n```"}
    name, args = first[0]

    def changed(param: str, value: Any, lang: str = language) -> str:
        return reply([(name, {**args, param: value}), *first[1:]], lang)

    required = docs.get(name, {}).get("parameters", {}).get("required", [])
    if required:
        out["missing required"] = reply([(name, {k: v for k, v in args.items() if k != required[0]}), *first[1:]],
                                         language)
    for param, value in args.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            out["int as string"] = changed(param, str(value))
            out["wrong number"] = changed(param, value + 1000)
            out["int as float"] = changed(param, float(value))
        if isinstance(value, float) and value.is_integer():
            out["float as int"] = changed(param, int(value))
        if isinstance(value, str):
            out["wrong string"] = changed(param, value + " zzz")
            out["string respelled"] = changed(param, value.upper().replace(" ", "-"))
        if isinstance(value, list):
            out["list as tuple"] = changed(param, tuple(value))
            out["list reversed"] = changed(param, list(reversed(value)))
    if language != "python":
        for param, value in args.items():
            if isinstance(value, str) and value:
                out["source text trimmed"] = changed(param, value[:-1])
                out["source text spaced"] = changed(param, value.replace(",", " ,"))
            if isinstance(value, bool | int | float | list):
                out["value not as source text"] = changed(param, value, "python")
    if len(first) > 1:
        out["a call missing"] = reply(first[:-1], language)
        out["a call twice"] = reply([*first, first[0]], language)
    return out


def ours(row: dict[str, Any], text: str) -> bool:
    category = row["category"]
    language = prompts.language_of(category) if category in AST else "python"
    try:
        calls = text_calls(text, language)
        if not is_call_list(calls):
            raise Unparseable("not calls")
    except Unparseable:
        return category in ("irrelevance", "live_irrelevance")
    if category in RELEVANCE:
        return has_calls(calls) == (category == "live_relevance")
    return checker.check(row["function"], calls, row["ground_truth"], category, language).valid


def theirs(row: dict[str, Any], text: str) -> bool:
    category = row["category"]
    if category in RELEVANCE:
        try:
            called = not is_empty_output(default_decode_ast_prompting(text, ReturnFormat.PYTHON, False))
        except Exception:
            called = False
        return called == (category == "live_relevance")
    language = prompts.language_of(category)
    fmt = {"java": ReturnFormat.JAVA, "javascript": ReturnFormat.JAVASCRIPT}.get(language, ReturnFormat.PYTHON)
    lang = {"java": Language.JAVA, "javascript": Language.JAVASCRIPT}.get(language, Language.PYTHON)
    try:
        decoded = default_decode_ast_prompting(text, fmt, False)
    except Exception:
        return False
    if not is_function_calling_format_output(decoded):
        return False
    try:
        return bool(ast_checker(row["function"], decoded, row["ground_truth"], lang, category, "bench")["valid"])
    except Exception:  # bfcl-eval's checker crashing on a reply counts as a wrong call
        return False


def single_turn(data: Path, per_category: int) -> int:
    bench, disagreements, table = BFCL(), [], []
    for category in AST + RELEVANCE:
        agree = total = valid = 0
        for _, row in list(bench.rows(data, "test", category))[:per_category]:
            assert isinstance(row, dict)
            for what, text in variants(row, prompts.language_of(category) if category in AST else "python").items():
                a, b = ours(row, text), theirs(row, text)
                total += 1
                agree += a == b
                valid += b
                if a != b:
                    disagreements.append(f"{row['id']} [{what}] ours={a} bfcl-eval={b}: {text[:160]}")
        table.append((category, agree, total, valid))
    print(f"{'category':26} {'agree':>7} {'replies':>8} {'agree %':>8} {'correct per bfcl-eval':>22}")
    for category, agree, total, valid in table:
        print(f"{category:26} {agree:7d} {total:8d}  {100 * agree / max(total, 1):6.2f}% {valid:22d}")
    agree, total, valid = (sum(t[i] for t in table) for i in (1, 2, 3))
    print(f"{'all single-turn':26} {agree:7d} {total:8d}  {100 * agree / total:6.2f}% {valid:22d}")
    for line in disagreements:
        print("  DISAGREE", line)
    return len(disagreements)


def prompt_equality(data: Path, per_category: int) -> int:
    bench, same = BFCL(), Counter()
    for category in AST + RELEVANCE:
        for _, row in list(bench.rows(data, "test", category))[:per_category]:
            assert isinstance(row, dict)
            language = prompts.language_of(category)
            mine = prompts.with_system_prompt(row["question"][0], prompts.with_language_notes(row["function"],
                                                                                             language))
            docs = _func_doc_language_specific_pre_processing(copy.deepcopy(row["function"]), category)
            theirs_ = system_prompt_pre_processing_chat_model(copy.deepcopy(row["question"][0]), docs, row["id"])
            same["prompt", mine == theirs_] += 1
            tools = convert_to_tool(docs, GORILLA_TO_OPENAPI, ModelStyle.OPENAI_COMPLETIONS)
            same["tools", prompts.tools(prompts.with_language_notes(row["function"], language)) == tools] += 1
    for kind in ("prompt", "tools"):
        print(f"{kind} equal to bfcl-eval's: {same[kind, True]}/{same[kind, True] + same[kind, False]}")
    return same["prompt", False] + same["tools", False]


def perturbations(answers: list[list[str]]) -> dict[str, list[list[str]]]:
    out = {"ground truth": answers}
    busy = [i for i, t in enumerate(answers) if t]
    if busy:
        i = busy[-1]
        out["last call of a turn dropped"] = [t if j != i else t[:-1] for j, t in enumerate(answers)]
        out["a turn left empty"] = [t if j != busy[0] else [] for j, t in enumerate(answers)]
        out["a call repeated"] = [t if j != i else t + t[-1:] for j, t in enumerate(answers)]
        out["calls of a turn reversed"] = [t if j != i else t[::-1] for j, t in enumerate(answers)]
        out["a call moved a turn later"] = [t if j != busy[0] else t[1:] for j, t in enumerate(answers)]
        if busy[0] + 1 < len(answers):
            out["a call moved a turn later"][busy[0] + 1] = answers[busy[0]][:1] + answers[busy[0] + 1]
    return out


def multi_turn(data: Path, per_category: int) -> int:
    bench, disagreements, n = BFCL(), 0, 0
    for category in MULTI_TURN:
        agree = total = 0
        for _, row in list(bench.rows(data, "test", category))[:per_category]:
            assert isinstance(row, dict)
            for what, turns in perturbations(row["ground_truth"]).items():
                n += 1
                steps = [[[c] for c in turn] for turn in turns]
                entry = {k: copy.deepcopy(row[k]) for k in ("id", "initial_config", "involved_classes")}
                b = multi_turn_checker(steps, row["ground_truth"], entry, category, f"bench{n}")["valid"]
                mine = [[[_keyword(c)] for c in turn] for turn in turns]
                a = multiturn.check(mine, row["ground_truth"], row["involved_classes"], row["initial_config"],
                                    "long_context" in category).valid
                agree += a == b
                total += 1
                if a != b:
                    disagreements += 1
                    print(f"  DISAGREE {row['id']} [{what}] ours={a} bfcl-eval={b}")
        print(f"{category:26} {agree:7d} {total:8d}  {100 * agree / max(total, 1):6.2f}%")
    return disagreements


def _keyword(text: str) -> dict[str, Any]:
    """A ground-truth call as a model would write it: positional arguments named from the method's signature
    (bfcl-eval's checker gets the ground truth's own text)."""
    name, args, kwargs = multiturn.ground_truth_call(text)
    if args:
        for cls in multiturn.API_MODULES:
            method = getattr(multiturn.api_class(cls), name, None)
            if method is not None:
                kwargs = dict(inspect.signature(method).bind_partial(None, *args, **kwargs).arguments)
                kwargs.pop("self", None)
                break
    return {name: kwargs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/bfcl"))
    parser.add_argument("--per-category", type=int, default=40)
    parser.add_argument("--multi-turn-per-category", type=int, default=25)
    args = parser.parse_args()
    bad = single_turn(args.data, args.per_category)
    bad += prompt_equality(args.data, args.per_category)
    print("multi-turn: perturbed ground truth, our verdict vs bfcl-eval's multi_turn_checker")
    bad += multi_turn(args.data, args.multi_turn_per_category)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
