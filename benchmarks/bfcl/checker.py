"""BFCL's AST check of decoded calls against the possible answers: names, parameters, types, acceptable values."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from .values import JAVA_TYPES, JS_TYPES, PYTHON_TYPES, from_java, from_js

Call = Mapping[str, Mapping[str, Any]]
"""One decoded call: {function name: {parameter: value}}."""

# The punctuation BFCL ignores in strings ("April 1, 2024" == "april 1 2024"), with case.
_IGNORED = re.compile(r"[ ,./\-_*^]")


@dataclass(frozen=True)
class Verdict:
    """Whether the calls pass, and if not, BFCL's error type and a readable reason."""

    valid: bool
    error_type: str = ""
    error: str = ""


OK = Verdict(True)


def _norm(text: str) -> str:
    return _IGNORED.sub("", text).lower().replace("'", '"')


def _answer_type(accepted: Sequence[Any]) -> type | None:
    """The type of the first non-optional acceptable value (a string there where the doc says otherwise marks
    a value given by variable name)."""
    return next((type(a) for a in accepted if a != ""), None)


def _types_ok(value: Any, accepted: Sequence[Any], expected: type, inner: type | None) -> tuple[bool, bool]:
    """(type is acceptable, value is a variable name): BFCL checks one level of nesting, and takes a value of
    the answers' own type where that differs from the doc's (a variable)."""
    answer_type = _answer_type(accepted)
    variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if inner is None:
            return True, variable
        items = cast("list[Any]", value)  # a list: `expected` is list whenever there is an inner type
        for option in accepted:
            if isinstance(option, list) and all(_types_ok(v, option, inner, None)[0] for v in items):
                return True, variable
            if type(option) is not list:
                return True, variable  # a non-list option (e.g. the optional "") is not checked item by item
        return False, variable  # BFCL fails a nested mismatch whatever the answers' type
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, variable


def _dict_ok(value: Mapping[str, Any], accepted: Sequence[Any]) -> bool:
    for option in accepted:
        if option == "":
            continue
        extra = any(k not in option or _std(v) not in [_std(a) for a in option[k]] for k, v in value.items())
        missing = any(k not in value and "" not in allowed for k, allowed in option.items())
        if not extra and not missing:
            return True
    return False


def _std(value: Any) -> Any:
    return _norm(value) if type(value) is str else value


def _list_ok(value: Sequence[Any], accepted: Sequence[Any]) -> bool:
    mine = [_std(v) for v in value]
    return any(mine == [_std(a) for a in option] for option in accepted if isinstance(option, list))


def _list_of_dicts_ok(value: Sequence[Any], accepted: Sequence[Any]) -> bool:
    return any(len(value) == len(option) and all(_dict_ok(v, [o]) for v, o in zip(value, option, strict=True))
               for option in accepted)


def check_call(doc: Mapping[str, Any], call: Call, answer: Call, language: str) -> Verdict:
    """One call against one possible answer ({name: {param: [acceptable values]}}), by `doc`'s parameters."""
    accepted_params: Mapping[str, list[Any]] = next(iter(answer.values()))
    name = doc["name"]
    if name not in call:
        return Verdict(False, "simple_function_checker:wrong_func_name", f"function {name!r} not called")
    args = call[name]
    properties, required = doc["parameters"]["properties"], doc["parameters"].get("required", [])
    for param in required:
        if param not in args:
            return Verdict(False, "simple_function_checker:missing_required", f"missing required {param!r}")
    for param, value in args.items():
        if param not in properties or param not in accepted_params:
            return Verdict(False, "simple_function_checker:unexpected_param", f"unexpected parameter {param!r}")
        declared = properties[param]["type"]
        inner: type | None = None
        if language == "java":
            expected = JAVA_TYPES[declared]
            if type(value) is not str:  # Java and JavaScript values come as their source text
                return Verdict(False, "type_error:java", f"{param!r}: expected the value as a string")
            item_type = properties[param].get("items", {}).get("type") if declared in ("Array", "ArrayList") \
                else None
            inner = JAVA_TYPES[item_type] if item_type else None
            value = from_java(value, declared, item_type)
        elif language == "javascript":
            expected = JS_TYPES[declared]
            if type(value) is not str:
                return Verdict(False, "type_error:js", f"{param!r}: expected the value as a string")
            item_type = properties[param]["items"]["type"] if declared == "array" else None
            inner = JS_TYPES[item_type] if item_type else None
            value = from_js(value, declared, item_type)
        else:
            expected = PYTHON_TYPES[declared]
            if declared in ("array", "tuple"):
                inner = PYTHON_TYPES[properties[param]["items"]["type"]]
        if declared == "tuple" and type(value) is tuple:
            value = list(value)  # answers went through JSON, where tuples are lists
        if language == "python" and declared == "float" and type(value) is int:
            value = float(value)  # Python's own int -> float promotion
        typed, variable = _types_ok(value, accepted_params[param], expected, inner)
        if not typed:
            error_type = "type_error:nested" if type(value) is expected else "type_error:simple"
            return Verdict(False, error_type, f"{param!r}: wrong type {type(value).__name__} for {declared}")
        accepted = accepted_params[param]
        if not variable:
            if expected is dict:
                if not _dict_ok(value, accepted):
                    return Verdict(False, "value_error:dict_value", f"{param!r}: {value!r} not accepted")
                continue
            if expected is list and inner is dict:
                if not _list_of_dicts_ok(value, accepted):
                    return Verdict(False, "value_error:list_dict", f"{param!r}: {value!r} not accepted")
                continue
            if expected is str:
                if _norm(value) not in [_norm(a) for a in accepted if type(a) is str]:
                    return Verdict(False, "value_error:string", f"{param!r}: {value!r} not accepted")
                continue
            if expected is list:
                if not _list_ok(value, accepted):
                    return Verdict(False, "value_error:list/tuple", f"{param!r}: {value!r} not accepted")
                continue
        if value not in accepted:
            return Verdict(False, "value_error:others", f"{param!r}: {value!r} not accepted")
    for param, allowed in accepted_params.items():
        if param not in args and "" not in allowed:
            return Verdict(False, "simple_function_checker:missing_optional", f"{param!r} is not optional")
    return OK


def _doc(docs: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    return next((d for d in docs if d["name"] == name), None)


def check(docs: Sequence[Mapping[str, Any]], calls: Sequence[Call], answers: Sequence[Call], category: str,
          language: str) -> Verdict:
    """BFCL's checker for an AST category: one call (simple, multiple), or every answer matched by a distinct
    call in any order (parallel)."""
    if len(calls) != len(answers):
        kind = "parallel" if "parallel" in category else "multiple" if "multiple" in category else "simple"
        return Verdict(False, f"{kind}:wrong_count", f"{len(calls)} calls, {len(answers)} expected")
    if "parallel" not in category:
        doc = docs[0] if "multiple" not in category else _doc(docs, next(iter(answers[0])))
        if doc is None:
            return Verdict(False, "simple_function_checker:wrong_func_name", "no document for the answer")
        return check_call(doc, calls[0], answers[0], language)
    used: set[int] = set()
    for answer in answers:
        doc = _doc(docs, next(iter(answer)))
        if doc is None:
            return Verdict(False, "parallel:cannot_find_match", "no document for the answer")
        match = next((i for i, call in enumerate(calls)
                      if i not in used and check_call(doc, call, answer, language).valid), None)
        if match is None:
            return Verdict(False, "parallel:cannot_find_match", f"no call matches {next(iter(answer))!r}")
        used.add(match)
    return OK
