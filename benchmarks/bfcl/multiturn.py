"""BFCL's multi-turn categories: the simulated APIs (bfcl-eval's classes), executing calls against them, and the
state- and response-based check of each turn."""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .checker import Call, Verdict

API_MODULES = {"GorillaFileSystem": "gorilla_file_system", "MathAPI": "math_api", "MessageAPI": "message_api",
               "TwitterAPI": "posting_api", "TicketAPI": "ticket_api", "TradingBot": "trading_bot",
               "TravelAPI": "travel_booking", "VehicleControlAPI": "vehicle_control"}
"""The simulated API classes -> their module in bfcl-eval (and their documents' file in multi_turn_func_doc/)."""
_PACKAGE = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"
_STATELESS = {"MathAPI"}
_FORBIDDEN = {"kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run"}
"""Names BFCL refuses to execute, whatever class defines them."""
INSTALL = "pip install --no-deps bfcl-eval==2026.3.23 (or `make bfcl`)"
MAX_STEPS = 20
"""BFCL's step limit per turn: a turn that needs more ends the conversation (the sample is then wrong)."""


class MissingApis(RuntimeError):
    """bfcl-eval (its simulated API classes) is not installed."""


def api_class(name: str) -> type:
    if name not in API_MODULES:
        raise ValueError(f"unknown simulated API {name!r}")
    try:
        module = importlib.import_module(f"{_PACKAGE}.{API_MODULES[name]}")
    except ImportError as exc:
        raise MissingApis(f"the multi-turn categories run bfcl-eval's simulated APIs: {INSTALL} ({exc})") from None
    cls: type = getattr(module, name)
    return cls


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


class World:
    """Fresh instances of a sample's simulated APIs, loaded with its initial configuration."""

    def __init__(self, involved: Sequence[str], initial: Mapping[str, Any], long_context: bool) -> None:
        self.instances: dict[str, Any] = {}
        self.methods: dict[str, Callable[..., Any]] = {}
        for name in involved:
            instance = api_class(name)()
            if name not in _STATELESS:
                instance._load_scenario(copy.deepcopy(initial.get(name, {})), long_context=long_context)
            self.instances[name] = instance
            # A later class's method of the same name wins, as in BFCL.
            self.methods.update({m: f for m, f in inspect.getmembers(instance, inspect.ismethod)
                                 if not m.startswith("_")})

    def execute(self, name: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> str:
        """The call's result as the text the model is shown; a call that raises (or names no method) gives
        `Error during execution: ...`, as BFCL returns it to the model."""
        if name.split(".")[-1] in _FORBIDDEN:
            return f"Error during execution: Function call {name.split('.')[-1]} is not allowed."
        method = self.methods.get(name)
        try:
            if method is None:
                raise NameError(f"name '{name}' is not defined")
            result = method(*args, **dict(kwargs or {}))
        except Exception as exc:  # the simulated API's own failure is the model's tool error, not ours
            return f"Error during execution: {exc}"
        if type(result) is str:
            return result
        if type(result) is dict:
            try:
                return json.dumps(result)
            except (TypeError, ValueError):
                return str(result)
        return str(result)

    def run(self, call: Call) -> str:
        (name, kwargs), = call.items()
        return self.execute(name, (), kwargs)

    def state(self) -> dict[str, dict[str, Any]]:
        """Each stateful instance's public attributes (what the state check compares), JSON-safe."""
        return {name: _jsonable({k: v for k, v in vars(inst).items() if not k.startswith("_")})
                for name, inst in self.instances.items() if name not in _STATELESS}


def state_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes a step changed: {class: {attribute: new value}}."""
    out: dict[str, Any] = {}
    for cls, attrs in after.items():
        changed = {k: v for k, v in attrs.items() if before.get(cls, {}).get(k) != v}
        if changed:
            out[cls] = changed
    return out


def ground_truth_call(text: str) -> tuple[str, list[Any], dict[str, Any]]:
    """A ground-truth call string (`cd(folder='x')`, `sort('a.txt')`) as (name, args, kwargs), read with `ast`."""
    node = ast.parse(text.strip(), mode="eval").body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"not a call: {text!r}")
    return (node.func.id, [ast.literal_eval(a) for a in node.args],
            {str(k.arg): ast.literal_eval(k.value) for k in node.keywords})


def _missing(expected: Sequence[str], got: Sequence[str]) -> list[str]:
    """The expected results not found in `got`, each found one used once (order free)."""
    pool, missing = list(got), []
    for item in expected:
        if item in pool:
            pool.remove(item)
        else:
            missing.append(item)
    return missing


def check(turns: Sequence[Sequence[Sequence[Call]]], answers: Sequence[Sequence[str]], involved: Sequence[str],
          initial: Mapping[str, Any], long_context: bool) -> Verdict:
    """BFCL's multi-turn check. `turns`: per turn, the model's steps that decoded to calls. The model's calls and
    the ground truth run on fresh worlds; after every turn with expected calls, the model's instances must equal
    the ground truth's (state), and every result the ground truth's calls gave must be among the model's results
    so far (response)."""
    if len(turns) != len(answers):
        return Verdict(False, "multi_turn:force_terminated", f"{len(turns)} turns of {len(answers)}")
    mine, truth = World(involved, initial, long_context), World(involved, initial, long_context)
    results: list[str] = []
    for index, (steps, expected) in enumerate(zip(turns, answers, strict=True)):
        results += [mine.run(call) for step in steps for call in step]
        expected_results = [truth.execute(*ground_truth_call(c)) for c in expected]
        if not expected:
            continue
        if not steps:
            return Verdict(False, "multi_turn:empty_turn_model_response", f"turn {index}: no calls")
        for cls, gt_instance in truth.instances.items():
            model_instance = mine.instances[cls]
            differs = [k for k in vars(gt_instance) if not k.startswith("_")
                       and getattr(model_instance, k) != getattr(gt_instance, k)]
            if differs:
                return Verdict(False, "multi_turn:instance_state_mismatch", f"turn {index}: {cls} differs in "
                               f"{', '.join(differs)}")
        missing = _missing(expected_results, results)
        if missing:
            return Verdict(False, "multi_turn:execution_response_mismatch",
                           f"turn {index}: {len(missing)} expected results missing, e.g. {missing[0][:200]!r}")
    return Verdict(True)
