"""What BFCL shows the model: function documents with its language notes, its prompt-mode system prompt, and
the same documents as OpenAI tools for native function calling."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

Doc = dict[str, Any]

# BFCL's default prompt-mode system prompt (ret_fmt=python, no tool-call tag, json docs, plaintext, classic
# style); our prompts must equal bfcl-eval's, so this text is its text.
SYSTEM_PROMPT = (
    "You are an expert in composing functions.You are given a question and a set of possible functions. Based on "
    "the question, you will need to make one or more function/tool calls to achieve the purpose. If none of the "
    "functions can be used, point it out. If the given question lacks the parameters required by the function, "
    "also point it out.\n\nYou should only return the function calls in your response.\n\nIf you decide to invoke "
    "any of the function(s), you MUST put it in the format of [func_name1(params_name1=params_value1, "
    "params_name2=params_value2...), func_name2(params)].  You SHOULD NOT include any other text in the response."
    "\n\nAt each turn, you should try your best to complete the tasks requested by the user within the current "
    "turn. Continue to output functions to call until you have fulfilled the user's request to the best of your "
    "ability. Once you have no more functions to call, the system will consider the current turn complete and "
    "proceed to the next turn or task.\n\nHere is a list of functions in json format that you can invoke."
    "\n{functions}\n"
)
MORE_FUNCTIONS = "I have updated some more functions you can choose from. What about now?"
"""The user's message when held-out functions arrive (miss_func); prompt mode puts the documents before it."""

_OPENAI_TYPES = {"integer": "integer", "number": "number", "float": "number", "string": "string",
                 "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array", "dict": "object",
                 "object": "object", "tuple": "array", "any": "string", "byte": "integer", "short": "integer",
                 "long": "integer", "double": "number", "char": "string", "ArrayList": "array", "Array": "array",
                 "HashMap": "object", "Hashtable": "object", "Queue": "array", "Stack": "array", "Any": "string",
                 "String": "string", "Bigint": "integer"}
"""BFCL's parameter types -> JSON Schema's, for tools."""


def language_of(category: str) -> str:
    return "java" if "java" in category and "javascript" not in category else \
        "javascript" if "javascript" in category else "python"


def with_language_notes(docs: Sequence[Mapping[str, Any]], language: str) -> list[Doc]:
    """The documents as BFCL shows them: a note on the language in each description; Java and JavaScript
    parameters become strings whose descriptions name the real type (values are written as source text)."""
    out = copy.deepcopy([dict(d) for d in docs])
    lang = {"java": "Java", "javascript": "JavaScript"}.get(language)
    syntax = {"java": "Java 8 SDK", "javascript": "JavaScript"}.get(language, "Python 3")
    for doc in out:
        doc["description"] = doc["description"] + f" Note that the provided function is in {syntax} syntax."
        if lang is None:
            continue
        for spec in doc["parameters"]["properties"].values():
            kind = spec["type"]
            spec["description"] += (f" This parameter can be of any type of {lang} object in string representation."
                                    if kind == "any" else f" This is {lang} {kind} type parameter in string "
                                    "representation.")
            if kind in (("ArrayList", "Array") if lang == "Java" else ("array",)):
                spec["description"] += (f" The list elements are of type {spec['items']['type']}; they are not in "
                                        "string representation.")
                del spec["items"]
            if lang == "JavaScript" and kind == "dict" and "properties" in spec:
                spec["description"] += (" The dictionary entries have the following schema; they are not in string "
                                        f"representation. {json.dumps(spec['properties'])}")
                del spec["properties"]
            spec["type"] = "string"
    return out


def system_prompt(docs: Sequence[Mapping[str, Any]]) -> str:
    return SYSTEM_PROMPT.format(functions=json.dumps(list(docs), indent=4))


def with_system_prompt(messages: Sequence[Mapping[str, Any]], docs: Sequence[Mapping[str, Any]]) -> list[Doc]:
    """The first turn's messages with BFCL's system prompt first (before the question's own system text)."""
    out = [dict(m) for m in messages]
    prompt = system_prompt(docs)
    if out and out[0]["role"] == "system":
        out[0]["content"] = prompt + "\n\n" + out[0]["content"]
    else:
        out.insert(0, {"role": "system", "content": prompt})
    return out


def tool_name(name: str) -> str:
    return name.replace(".", "_")


def _schema_types(properties: dict[str, Any]) -> dict[str, Any]:
    for spec in properties.values():
        kind = spec.get("type")
        if kind == "float":
            spec["format"] = "float"
            spec["description"] += " This is a float type value."
        spec["type"] = _OPENAI_TYPES.get(kind, "string") if kind is not None else "string"
        if spec["type"] in ("array", "object"):
            if "properties" in spec:
                spec["properties"] = _schema_types(spec["properties"])
            elif "items" in spec:
                items = spec["items"]
                items["type"] = _OPENAI_TYPES[items["type"]]
                if items["type"] == "array" and "items" in items:
                    items["items"]["type"] = _OPENAI_TYPES[items["items"]["type"]]
                elif items["type"] == "object" and "properties" in items:
                    items["properties"] = _schema_types(items["properties"])
    return properties


def tools(docs: Sequence[Mapping[str, Any]]) -> list[Doc]:
    """The documents as OpenAI chat-completions tools, as BFCL sends them (dots in names become `_`)."""
    out = []
    for doc in copy.deepcopy([dict(d) for d in docs]):
        doc["name"] = tool_name(doc["name"])
        doc["parameters"]["type"] = "object"
        doc["parameters"]["properties"] = _schema_types(doc["parameters"]["properties"])
        out.append({"type": "function", "function": doc})
    return out
