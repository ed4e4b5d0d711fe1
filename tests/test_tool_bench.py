"""ToolBench-Static: EvalScope's step reading and five metrics on hand-made steps, and a run on files in its
published layout (written here: the data is only on ModelScope's hub)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.tool_bench.benchmark import messages
from benchmarks.tool_bench.steps import metrics, not_scored, read_step

TOOLS = ["get_weather", "Finish"]
CALL = 'Thought: I need the weather.\nAction: get_weather\nAction Input: {"city": "Paris", "unit": "C"}'
FINISH = 'Thought: done.\nAction: Finish\nAction Input: {"return_type": "give_answer", "final_answer": "It is sunny ' \
         'in Paris."}'


def test_call_steps_score_action_and_arguments() -> None:
    assert metrics(CALL, CALL, TOOLS) == {"Plan.EM": 1.0, "HalluRate": 0.0, "Act.EM": 1.0, "F1": 1.0, "Rouge-L": 0.0}
    half = metrics('Action: get_weather\nAction Input: {"city": "Rome", "unit": "C"}', CALL, TOOLS)
    assert half["Act.EM"] == 1.0 and half["F1"] == pytest.approx(0.75)  # one key right, one half right
    other = metrics('Action: get_news\nAction Input: {"city": "Paris"}', CALL, TOOLS)
    assert (other["Act.EM"], other["F1"], other["HalluRate"], other["Plan.EM"]) == (0.0, 0.0, 1.0, 1.0)
    broken = metrics("Action: get_weather\nAction Input: {city: Paris", CALL, TOOLS)
    assert (broken["Act.EM"], broken["F1"]) == (1.0, 0.0)
    prose = metrics("I do not know.", CALL, TOOLS)  # no Action: the action is 'none', not a hallucination
    assert (prose["Plan.EM"], prose["Act.EM"], prose["HalluRate"]) == (1.0, 0.0, 0.0)


def test_finish_steps_score_the_answer_by_rouge_l() -> None:
    same = metrics(FINISH, FINISH, TOOLS)
    assert same["Rouge-L"] == pytest.approx(1.0) and same["Plan.EM"] == 1.0 and same["Act.EM"] == 0.0
    part = metrics('Action: Finish\nAction Input: {"return_type": "give_answer", "final_answer": "sunny"}', FINISH,
                   TOOLS)
    assert 0.0 < part["Rouge-L"] < 1.0
    gave_up = metrics('Action: Finish\nAction Input: {"return_type": "give_up_and_restart"}', FINISH, TOOLS)
    assert (gave_up["Plan.EM"], gave_up["Rouge-L"]) == (0.0, 0.0)  # 'none' against the answer
    assert read_step(FINISH).answer == "It is sunny in Paris."
    assert read_step('Action: Finish\nAction Input: {"return_type": "give_answer", "final_answer": " ."}').answer == \
        "None"


def test_references_evalscope_leaves_out_and_function_messages() -> None:
    assert not_scored("Action: invalid_hallucination_function_name\nAction Input: {}", TOOLS)
    assert not_scored("Action: get_news\nAction Input: {}", TOOLS)
    assert not_scored(CALL, TOOLS) is None
    sent = messages([{"role": "system", "content": "s", "name": "x"},
                     {"role": "function", "name": "get_weather", "content": "sunny"}])
    assert sent == [{"role": "system", "content": "s"},
                    {"role": "user", "content": json.dumps({"role": "function", "content": "sunny"})}]


def _row(target: str, **extra: object) -> dict:
    return {"messages": [{"role": "system", "content": "You can use tools."},
                         {"role": "user", "content": "Weather in Paris?"}],
            "target": target, "tools": [{"name": n} for n in TOOLS], **extra}


def test_runs_on_files_in_evalscopes_layout(run_suite, tmp_path: Path) -> None:
    folder = tmp_path / "tool_bench"
    folder.mkdir()
    rows = [_row(CALL), _row(FINISH), {"messages": [], "target": CALL, "tools": []},
            _row("Action: get_news\nAction Input: {}")]
    (folder / "in_domain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "out_of_domain.jsonl").write_text(json.dumps(_row(CALL)) + "\n")
    run = run_suite("--limit", "4", bench="tool_bench", data=tmp_path)
    errors = {r["sample_id"]: r["error"] for r in run.records if "error" in r}
    path = folder / "in_domain.jsonl"
    assert errors == {
        "in_domain-0002": f"{path}:3: 'messages' must be a non-empty list of {{role, content}} messages",
        "in_domain-0003": f"{path}:4: not scored (as in EvalScope): the reference calls 'get_news', which is not "
                          "among the tools"}
    scored = [r for r in run.records if "metrics" in r]
    assert len(scored) == 3 and all(set(r["metrics"]) == {"F1", "Act.EM", "Plan.EM", "HalluRate", "Rouge-L"}
                                    for r in scored)
    assert {b["name"] for b in run.report["benchmarks"]} == {"tool_bench"}
    assert run.report["benchmarks"][0]["primary_metric"] == "F1"
