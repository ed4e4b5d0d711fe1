"""Parameter types of BFCL's function documents, and Java / JavaScript values read from their source text."""

from __future__ import annotations

import re
from typing import Any

PYTHON_TYPES: dict[str, type] = {"string": str, "integer": int, "float": float, "boolean": bool, "array": list,
                                 "tuple": list, "dict": dict, "any": str}
JAVA_TYPES: dict[str, type] = {"byte": int, "short": int, "integer": int, "float": float, "double": float,
                               "long": int, "boolean": bool, "char": str, "Array": list, "ArrayList": list,
                               "Set": set, "HashMap": dict, "Hashtable": dict, "Queue": list, "Stack": list,
                               "String": str, "any": str}
JS_TYPES: dict[str, type] = {"String": str, "integer": int, "float": float, "Bigint": int, "Boolean": bool,
                             "dict": dict, "array": list, "any": str}

# A scalar's source text -> (pattern it must match whole, how to read it); text that does not match stays text,
# as BFCL keeps it (and then compares it as a string, which fails against a number).
_INT = r"-?\d+"
_JAVA_SCALARS: dict[str, tuple[str, Any]] = {
    "byte": (_INT, int), "short": (_INT, int), "integer": (_INT, int),
    "float": (r"-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]", lambda t: float(t[:-1])),
    "double": (r"-?\d+(\.\d+)?([eE][+-]?\d+)?", float),
    "long": (r"-?\d+[lL]", lambda t: int(t[:-1])),
    "boolean": ("true|false", lambda t: t == "true"),
}
_JS_SCALARS: dict[str, tuple[str, Any]] = {
    "integer": (_INT, int), "float": (r"-?\d+(\.\d+)?", float), "Bigint": (r"-?\d+n", lambda t: int(t[:-1])),
    "Boolean": ("true|false", lambda t: t == "true"),
}


def _scalar(text: str, rule: tuple[str, Any]) -> Any:
    pattern, read = rule
    return read(text) if re.fullmatch(pattern, text) else text


def _number_or_text(text: str) -> Any:
    for read in (int, float):
        try:
            return read(text)
        except ValueError:
            pass
    return text


def java_literal(text: str) -> Any:
    """A Java literal of unknown type: boolean, string, long, float, int, double, else the text."""
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    for kind in ("long", "float"):
        if re.fullmatch(_JAVA_SCALARS[kind][0], text):
            return _JAVA_SCALARS[kind][1](text)
    return _number_or_text(text)


def js_literal(text: str) -> Any:
    """A JavaScript literal of unknown type: boolean, quoted string, int, float, else the text."""
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return _number_or_text(text)


def _java_items(items: list[str], item_type: str | None, quoted_strip: bool) -> list[Any]:
    out = []
    for item in items:
        if quoted_strip and item_type in ("char", "String"):
            out.append(item[1:-1])
        else:
            out.append(from_java(item, item_type) if item_type else java_literal(item))
    return out


def from_java(text: str, declared: str, item_type: str | None = None) -> Any:
    """The value a Java argument's source text stands for, read as BFCL reads it (`new int[]{1, 2}` -> [1, 2],
    `5L` as a long -> 5, anything it cannot read -> the text itself)."""
    if declared not in JAVA_TYPES:
        raise ValueError(f"unsupported Java type {declared!r}")
    if declared in _JAVA_SCALARS:
        return _scalar(text, _JAVA_SCALARS[declared])
    if declared == "Array":
        found = re.search(r"new\s+\w+\[\]\s*\{(.*?)\}", text)
        if not found:
            return text
        return _java_items([x.strip() for x in found.group(1).split(",") if x.strip()], item_type, False)
    if declared == "ArrayList":
        as_list = re.search(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)", text)
        if as_list:
            return _java_items([x.strip() for x in as_list.group(1).split(",")], item_type, True)
        adds = re.search(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", text, re.DOTALL)
        if adds:
            return _java_items([x.strip() for x in re.findall(r"add\((.+?)\)", adds.group(1))], item_type, True)
        return [] if re.search(r"new\s+ArrayList<\w*>\(\)", text) else text
    if declared == "HashMap":
        body = re.search(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", text, re.DOTALL)
        if body:
            return {k: java_literal(v.strip()) for k, v in re.findall(r"put\(\"(.*?)\",\s*(.*?)\)", body.group(1))}
        return {} if re.search(r"new\s+HashMap<.*?>\s*\(\)", text) else text
    if declared in ("String", "any", "char"):  # BFCL's char pattern never matches: chars stay text
        return text
    raise ValueError(f"Java type {declared!r} cannot be read (as in BFCL)")


def _js_array(text: str, item_type: str | None) -> Any:
    nested = re.match(r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)", text)
    if nested:
        rows = re.findall(r"\[(.*?)\]", nested.group(0))
        return [[js_literal(x) for x in (row.strip()[1:] if i == 0 and row.strip().startswith("[")
                                         else row.strip()).split(",")] for i, row in enumerate(rows)]
    flat = re.match(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)", text)
    if not flat:
        return text
    inside = flat.group(1) if flat.group(1) is not None else flat.group(2)
    items = inside.strip().split(",") if inside is not None and inside.strip() else []
    if item_type:
        return [from_js(x.strip(), "String" if x.strip()[:1] in ("'", '"') else item_type) for x in items]
    return [js_literal(x) for x in items]


def _js_dict(text: str) -> Any:
    if text == "{}":
        return {}
    found = re.match(r"\{(.*?)\}", text)
    if not found:
        return text
    out: dict[str, Any] = {}
    for key, value in re.findall(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)", found.group(1)):
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            out[key.strip().strip("'\"")] = _js_array(value, None)
        elif value.startswith("{") and value.endswith("}"):
            out[key.strip().strip("'\"")] = _js_dict(value)
        else:
            out[key.strip().strip("'\"")] = js_literal(value.strip("'\""))
    return out


def from_js(text: str, declared: str, item_type: str | None = None) -> Any:
    """The value a JavaScript argument's source text stands for, read as BFCL reads it."""
    if declared not in JS_TYPES:
        raise ValueError(f"unsupported JavaScript type {declared!r}")
    if declared == "String":
        quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"
        return text[1:-1] if quoted else text
    if declared in _JS_SCALARS:
        return _scalar(text, _JS_SCALARS[declared])
    if declared == "array":
        try:
            return _js_array(text.strip(), item_type)
        except (ValueError, KeyError):
            return text
    if declared == "dict":
        return _js_dict(text.strip())
    return text
