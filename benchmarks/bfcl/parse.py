"""Reading a model's calls: prompt-mode text (`[f(a=1), g(b='x')]`, read with `ast`, never `eval`) and native
tool calls (OpenAI `tool_calls`)."""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .checker import Call


class Unparseable(ValueError):
    """A reply that is not a list of calls."""


_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
               ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


def _arithmetic(node: ast.expr) -> Any:
    """A constant arithmetic expression (`3*60`), computed without `eval`; anything else is unparseable."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_arithmetic(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise Unparseable("exponent too large")
        return _ARITHMETIC[type(node.op)](left, right)
    raise Unparseable(f"unsupported expression {ast.unparse(node)!r}")


def _value(node: ast.expr) -> Any:
    """An argument's value as BFCL's decoder reads it: literals as themselves, a bare name or a call without
    keywords as its source text, a call with keywords as a nested call."""
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        try:  # BFCL negates any constant; a negated string is no value
            return -node.operand.value  # type: ignore[operator]
        except TypeError:
            raise Unparseable(f"cannot negate {node.operand.value!r}") from None
    if isinstance(node, ast.List):
        return [_value(v) for v in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_value(v) for v in node.elts)
    if isinstance(node, ast.Dict):
        return {_value(k) if k is not None else None: _value(v) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.BinOp):
        return _arithmetic(node)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _call(node) if node.keywords else ast.unparse(node)
    if isinstance(node, ast.Subscript):
        return ast.unparse(node)
    raise Unparseable(f"unsupported value {type(node).__name__}")


def _name(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _call(node: ast.Call) -> dict[str, dict[str, Any]]:
    return {_name(node.func): {str(k.arg): _value(k.value) for k in node.keywords}}


def _bracketed(text: str) -> str:
    text = text.strip("`\n ")
    return ("" if text.startswith("[") else "[") + text + ("" if text.endswith("]") else "]")


def python_calls(text: str) -> list[Call]:
    """`[f(a=1), g(b='x')]` (brackets optional) -> [{"f": {"a": 1}}, {"g": {"b": "x"}}]; Unparseable else."""
    source = _bracketed(text).strip().strip("'")
    try:
        tree = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, RecursionError) as exc:
        raise Unparseable(f"not Python: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if isinstance(tree, ast.Call):
        return [_call(tree)]
    if not isinstance(tree, ast.List | ast.Tuple | ast.Set):
        raise Unparseable("not a list of calls")
    if not all(isinstance(e, ast.Call) for e in tree.elts):
        raise Unparseable("an element is not a call")
    return [_call(e) for e in tree.elts if isinstance(e, ast.Call)]


def _split_top(text: str) -> list[str]:
    """`text` cut at the commas outside brackets and quotes."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise Unparseable("unbalanced brackets")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quote or depth:
        raise Unparseable("unbalanced brackets or quotes")
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def source_calls(text: str) -> list[Call]:
    """Java / JavaScript prompt-mode replies, as BFCL reads them: the first call `f(a=<source>, ...)` of the text
    inside the outer brackets, each value as its source text (quotes of a string literal taken off)."""
    body = _bracketed(text)[1:-1].strip()
    open_at = body.find("(")
    if open_at <= 0 or not body.rstrip().endswith(")"):
        raise Unparseable("no call")
    name = body[:open_at].strip()
    if not name.replace(".", "").replace("_", "").isalnum():
        raise Unparseable(f"not a function name: {name!r}")
    depth_end = _matching(body, open_at)
    args: dict[str, Any] = {}
    for part in _split_top(body[open_at + 1:depth_end]):
        key, eq, value = part.partition("=")
        if not eq or not key.strip().isidentifier():
            raise Unparseable(f"not a keyword argument: {part!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if key.strip() in args:
            raise Unparseable(f"parameter {key.strip()!r} given twice")
        args[key.strip()] = value
    return [{name: args}]


def _matching(text: str, open_at: int) -> int:
    depth, quote = 0, ""
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
    raise Unparseable("unbalanced brackets")


def text_calls(text: str, language: str) -> list[Call]:
    """A prompt-mode reply's calls in the category's language."""
    return python_calls(text) if language == "python" else source_calls(text)


def tool_calls(calls: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> list[Call]:
    """Native tool calls ({"name", "arguments": JSON text}) -> decoded calls, tool names mapped back to the
    documents' (`names`: the name sent -> the document's; OpenAI names cannot hold dots)."""
    out: list[Call] = []
    for call in calls:
        try:
            arguments = call.get("arguments") or "{}"
            args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
        except (TypeError, ValueError) as exc:
            raise Unparseable(f"tool call arguments are not JSON: {exc}") from None
        if not isinstance(args, dict):
            raise Unparseable("tool call arguments are not an object")
        name = str(call.get("name", ""))
        out.append({names.get(name, name): args})
    return out


_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def text_tool_calls(text: str) -> list[dict[str, Any]]:
    """Tool calls a local model wrote as text in its chat template's format (`<tool_call>{"name": ...,
    "arguments": {...}}</tool_call>`, Hermes / Qwen / SmolLM), as native tool calls; none found: []."""
    out = []
    for block in _TAGGED.findall(text):
        try:
            call = json.loads(block)
        except ValueError:
            raise Unparseable(f"a <tool_call> that is not JSON: {block[:80]!r}") from None
        if not isinstance(call, dict) or "name" not in call:
            raise Unparseable("a <tool_call> without a name")
        out.append({"name": call["name"], "arguments": call.get("arguments") or call.get("parameters") or {}})
    return out


def native_calls(sent: Sequence[Mapping[str, Any]], text: str, names: Mapping[str, str]) -> list[Call]:
    """A native-mode reply's calls: the server's tool calls; else, for a local model whose chat template teaches
    a text format, `<tool_call>` blocks or a Python list of calls (the `pythonic` format); else none."""
    if sent:
        return tool_calls(sent, names)
    tagged = text_tool_calls(text)
    if tagged:
        return tool_calls(tagged, names)
    try:
        return [{names.get(n, n): a for n, a in c.items()} for c in python_calls(text)]
    except Unparseable:
        return []


def is_call_list(calls: Sequence[Any]) -> bool:
    """BFCL's test that decoding gave calls: every item one {name: {args}} (empty lists pass)."""
    return all(isinstance(c, dict) and len(c) == 1 and all(isinstance(v, dict) for v in c.values()) for c in calls)


def has_calls(calls: Sequence[Any]) -> bool:
    """Whether decoded output holds a call at all (BFCL's relevance test: [], [{}] and non-calls do not)."""
    return is_call_list(calls) and bool(calls) and not (len(calls) == 1 and not calls[0])


def execution_string(call: Call) -> str:
    """A decoded call as the text BFCL's multi-turn records show: `f(a='x', b=1)`."""
    (name, args), = call.items()
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
