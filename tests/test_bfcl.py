"""BFCL: the AST checker's rules, reading replies, the multi-turn loop on ground truth, the aggregate rows, bad rows,
and a real run (prompt mode, tiny model) alike under xdist."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.bfcl import checker, prompts
from benchmarks.bfcl.leaderboard import summarize
from benchmarks.bfcl.parse import Unparseable, python_calls, source_calls, text_tool_calls, tool_calls
from benchmarks.bfcl.values import from_java, from_js
from evalscope.schema import Completion, SampleResult
from tests.conftest import SHARED_DATA
from tests.servers import serving

BFCL_DATA = SHARED_DATA / "bfcl"
DOC = {"name": "area", "description": "Area of a shape.", "parameters": {"type": "dict", "properties": {
    "base": {"type": "integer", "description": "b"}, "height": {"type": "float", "description": "h"},
    "unit": {"type": "string", "description": "u"}, "tags": {"type": "array", "items": {"type": "string"},
                                                               "description": "t"}},
    "required": ["base", "height"]}}
ANSWER = {"area": {"base": [10], "height": [5.0], "unit": ["cm", "centimeters", ""], "tags": [["a", "b"], ""]}}


def verdict(reply: str, category: str = "simple_python") -> checker.Verdict:
    return checker.check([DOC], python_calls(reply), [ANSWER], category, "python")


@pytest.mark.parametrize(("reply", "valid", "error_type"), [
    ("[area(base=10, height=5.0)]", True, ""),
    ("area(base=10, height=5, unit='Centi-meters')", True, ""),  # int -> float; case and punctuation ignored
    ("[area(base=10, height=5.0, tags=('a', 'b'))]", False, "type_error:simple"),  # a tuple is not an array
    ("[area(base=10.0, height=5.0)]", False, "type_error:simple"),  # no float -> int
    ("[area(base='10', height=5.0)]", False, "type_error:simple"),
    ("[area(base=10)]", False, "simple_function_checker:missing_required"),
    ("[area(base=10, height=5.0, color='red')]", False, "simple_function_checker:unexpected_param"),
    ("[area(base=11, height=5.0)]", False, "value_error:others"),
    ("[area(base=10, height=5.0, unit='inch')]", False, "value_error:string"),
    ("[area(base=10, height=5.0, tags=['b', 'a'])]", False, "value_error:list/tuple"),
    ("[volume(base=10, height=5.0)]", False, "simple_function_checker:wrong_func_name"),
    ("[area(base=10, height=5.0), area(base=10, height=5.0)]", False, "simple:wrong_count"),
])
def test_ast_rules(reply: str, valid: bool, error_type: str) -> None:
    got = verdict(reply)
    assert (got.valid, got.error_type) == (valid, error_type), got.error


def test_parallel_calls_match_in_any_order_each_call_once() -> None:
    other = {"area": {"base": [3], "height": [1.0], "unit": [""], "tags": [""]}}
    calls = python_calls("[area(base=3, height=1.0), area(base=10, height=5.0)]")
    assert checker.check([DOC], calls, [ANSWER, other], "parallel", "python").valid
    twice = python_calls("[area(base=3, height=1.0), area(base=3, height=1.0)]")
    assert checker.check([DOC], twice, [ANSWER, other], "parallel", "python").error_type == \
        "parallel:cannot_find_match"


def test_java_and_javascript_values_are_read_from_source_text() -> None:
    assert from_java("new int[]{1, 2}", "Array", "integer") == [1, 2]
    assert from_java("5L", "long") == 5 and from_java("5", "long") == "5"  # a long needs its L, as in BFCL
    assert from_java('new HashMap<String, String>() {{ put("k", "v"); }}', "HashMap") == {"k": "v"}
    assert from_java('new ArrayList<>(Arrays.asList("a", "b"))', "ArrayList", "String") == ["a", "b"]
    assert from_js("[1, 'two']", "array") == [1, "two"] and from_js("{key: 3}", "dict") == {"key": 3}
    assert from_js("12n", "Bigint") == 12 and from_js("'x'", "String") == "x"
    java = {"name": "f", "description": "", "parameters": {"properties": {
        "n": {"type": "long", "description": ""}}, "required": ["n"]}}
    answer = {"f": {"n": [7]}}  # answers hold the values, the reply their source text
    for reply, ok in (('[f(n="7L")]', True), ("[f(n=7)]", False), ('[f(n="8L")]', False)):
        assert checker.check([java], source_calls(reply), [answer], "simple_java", "java").valid is ok, reply


def test_replies_that_are_not_calls_are_unparseable_and_nothing_is_evaluated() -> None:
    for text in ("Sure, I can help.", "[area(base=]", "[1, 2]", "[f(x=lambda: 1)]", "[f(x=2**10000)]"):
        with pytest.raises(Unparseable):
            python_calls(text)
    # a computed callee is only a name: nothing runs, and a call of a name not offered is a wrong call
    assert python_calls("[__import__('os').system('x')]") == [{"system": {}}]
    assert python_calls("[f(x=3*60, y=-2, z=g(1))]") == [{"f": {"x": 180, "y": -2, "z": "g(1)"}}]
    assert tool_calls([{"name": "math_add", "arguments": '{"a": 1}'}], {"math_add": "math.add"}) == \
        [{"math.add": {"a": 1}}]
    assert text_tool_calls('<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>') == \
        [{"name": "f", "arguments": {"a": 1}}]


def test_native_tools_keep_bfcl_types_and_names() -> None:
    (tool,) = prompts.tools([{**DOC, "name": "geo.area"}])
    schema = tool["function"]["parameters"]
    assert tool["function"]["name"] == "geo_area" and schema["type"] == "object"
    assert schema["properties"]["height"] == {"type": "number", "format": "float",
                                              "description": "h This is a float type value."}


def test_prompt_mode_system_prompt_holds_the_documents() -> None:
    messages = prompts.with_system_prompt([{"role": "user", "content": "q"}],
                                          prompts.with_language_notes([DOC], "python"))
    assert messages[0]["role"] == "system" and messages[1] == {"role": "user", "content": "q"}
    assert "Note that the provided function is in Python 3 syntax." in messages[0]["content"]
    assert messages[0]["content"].startswith("You are an expert in composing functions.You are given")


def _result(subset: str, i: int, acc: float, cause: str | None = None) -> SampleResult:
    return SampleResult("bfcl", subset, f"{subset}-{i}", i, {"acc": acc}, "acc", {}, "", "", "", 0, 0, "stop",
                        cause=cause)


def test_aggregate_rows_follow_bfcl_weighting() -> None:
    results = [_result("simple_python", 0, 1.0), _result("simple_python", 1, 0.0, "unparseable"),
               _result("simple_java", 0, 1.0), _result("multiple", 0, 0.0),
               _result("live_simple", 0, 1.0), _result("live_simple", 1, 1.0), _result("live_multiple", 0, 0.0),
               _result("irrelevance", 0, 1.0), _result("live_irrelevance", 0, 0.0)]
    out = summarize(results)
    assert out["groups"]["non_live_simple"]["acc"] == pytest.approx(0.75)  # mean of 0.5 and 1.0
    assert out["groups"]["non_live"]["acc"] == pytest.approx(0.375)  # mean of 0.75 and 0.0 (categories present)
    assert out["groups"]["live"]["acc"] == pytest.approx(2 / 3)  # pooled by count
    assert out["groups"]["irrelevance_detection"]["acc"] == pytest.approx(0.5)
    assert out["overall"]["acc"] == pytest.approx((0.375 + 2 / 3 + 0.5) / 3)
    assert out["unparseable"] == 1 and out["categories"]["simple_python"]["unparseable"] == 1


@pytest.fixture
def bfcl_data() -> Path:
    if not (BFCL_DATA / "BFCL_v4_simple_python.json").is_file():
        pytest.skip(f"BFCL data not found at {BFCL_DATA}")
    pytest.importorskip("bfcl_eval", reason="bfcl-eval's simulated APIs (make install) run the multi-turn loop")
    return BFCL_DATA


def test_ground_truth_replayed_through_the_loop_passes(bfcl_data: Path) -> None:
    from bench.bfcl_replay import replay
    from benchmarks.bfcl.benchmark import BFCL, MULTI_TURN

    bench = BFCL()
    for category in MULTI_TURN:  # the bench replays all 800; a few of each here
        for _, row in list(bench.rows(bfcl_data, "test", category))[:4]:
            assert isinstance(row, dict)
            assert replay(bench, bench.to_sample(row)).valid, row["id"]


def test_a_tool_that_raises_is_an_error_shown_to_the_model(bfcl_data: Path) -> None:
    from benchmarks.bfcl.agent import Conversation
    from benchmarks.bfcl.benchmark import BFCL

    bench = BFCL()
    _, row = next(iter(bench.rows(bfcl_data, "test", "multi_turn_base")))
    sample = bench.to_sample(row)
    setup = bench.setup("prompt")
    talk = bench.episode(sample, setup, bench.request(sample, setup, ()))
    assert isinstance(talk, Conversation)
    talk.observe(Completion("[cd(folder='no_such_folder'), cd(), not_offered(x=1)]", 0, 0, "stop", ""))
    step = json.loads(talk.outcome().text)["turns"][0][0]
    assert json.loads(step["results"][0]) == {"error": "cd: 'no_such_folder': No such file or directory"}
    assert step["results"][1].startswith("Error during execution: ") and "folder" in step["results"][1]  # raised
    assert step["results"][2] == "Error during execution: name 'not_offered' is not defined"
    assert "[{'role': 'tool'" in talk.messages[-1]["content"]  # results go back, BFCL's prompting way


def _tiny_bfcl(folder: Path) -> Path:
    """A data folder with the first question of four categories, a malformed document and a malformed answer."""
    data = folder / "bfcl"
    (data / "possible_answer").mkdir(parents=True)
    shutil.copytree(BFCL_DATA / "multi_turn_func_doc", data / "multi_turn_func_doc")
    for category in ("simple_python", "parallel", "irrelevance", "multi_turn_base"):
        questions = (BFCL_DATA / f"BFCL_v4_{category}.json").read_text().splitlines()[:2]
        answers_file = BFCL_DATA / "possible_answer" / f"BFCL_v4_{category}.json"
        answers = answers_file.read_text().splitlines()[:2] if answers_file.is_file() else []
        if category == "simple_python":
            broken = json.loads(questions[1])
            broken["function"][0].pop("parameters")
            questions[1] = json.dumps(broken)
        if category == "parallel":
            answers[1] = json.dumps({"id": json.loads(answers[1])["id"], "ground_truth": {"not": "a list"}})
        (data / f"BFCL_v4_{category}.json").write_text("\n".join(questions) + "\n")
        if answers:
            (data / "possible_answer" / f"BFCL_v4_{category}.json").write_text("\n".join(answers) + "\n")
    return folder


def test_runs_every_kind_of_category_with_bad_rows_apart(run_suite, bfcl_data: Path, tmp_path: Path) -> None:
    # One run in one process (CI time): the same records alone and with -n 2 (whose controller, having collected
    # nothing, finds the benchmark by name for its aggregate rows) are checked on the real data, every category
    # (see the benchmark's README).
    folder = _tiny_bfcl(tmp_path)
    subsets = '{"bfcl": {"subset_list": ["simple_python", "parallel", "irrelevance", "multi_turn_base"]}}'
    alone = run_suite("--dataset-args", subsets, bench="bfcl", data=folder)
    errors = {r["sample_id"]: r["error"] for r in alone.records if "error" in r}
    data = folder / "bfcl"
    assert errors == {
        "simple_python-0001": f"{data / 'BFCL_v4_simple_python.json'}:2: malformed function document (each needs "
                              "name, description, parameters.properties)",
        "parallel-0001": f"{data / 'BFCL_v4_parallel.json'}:2: {data / 'possible_answer' / 'BFCL_v4_parallel.json'}"
                         ":2: malformed answer row (want [{function: {param: [values]}}])"}
    scored = alone.by_id()
    turns = json.loads(scored["multi_turn_base-0000"]["output"])["turns"]
    assert len(turns) >= 1 and all("reply" in step for turn in turns for step in turn)
    summary = alone.report["benchmarks"][0].get("summary")
    assert summary is not None and set(summary["categories"]) == {"simple_python", "parallel", "irrelevance",
                                                                  "multi_turn_base"}
    assert summary["unparseable"] == sum(r.get("cause") == "unparseable" for r in alone.records)


@pytest.mark.serial
def test_native_calls_through_a_vllm_server_with_a_tool_parser(run_suite, bfcl_data: Path, default_model_folder: Path,
                                                              tmp_path: Path) -> None:
    template = Path(__file__).resolve().parent.parent / "benchmarks" / "bfcl" / "smollm2_tools.jinja"
    with serving(default_model_folder, tmp_path, "--enable-auto-tool-choice", "--tool-call-parser", "pythonic",
                     "--chat-template", str(template)) as server:
        run = run_suite("--api-url", server.base, "--limit", "3", "--dataset-args",
                        '{"bfcl": {"setup": "native", "subset_list": ["simple_python"]}}', bench="bfcl",
                        model=server.model, data=bfcl_data.parent, max_new_tokens=48)
    assert run.result.ret in (0, 1), run.result.stdout.str()  # 1: an incorrect answer, not an error
    records = [r for r in run.records if "metrics" in r]
    assert len(records) == 3 and not any("error" in r for r in run.records)
    assert run.report["benchmarks"][0]["setup"]["name"] == "native"
    for record in records:  # the server read calls (tool_calls), or the reply was text: both are scored
        assert record["metrics"]["acc"] in (0.0, 1.0)


def test_local_native_mode_renders_tools_and_reads_text_calls(default_model_folder: Path) -> None:
    from transformers import AutoTokenizer

    from benchmarks.bfcl.parse import native_calls
    from evalscope.models.rendering import render
    from evalscope.schema import GenerationRequest

    template = (Path(__file__).resolve().parent.parent / "benchmarks" / "bfcl" / "smollm2_tools.jinja").read_text()
    tools = prompts.tools([{**DOC, "name": "geo.area"}])
    request = GenerationRequest("q", messages=({"role": "user", "content": "Area of 10 by 5?"},), tools=tuple(tools))
    text = render(AutoTokenizer.from_pretrained(default_model_folder), template, request)
    assert json.dumps(tools[0]) in text and text.endswith("<|im_start|>assistant\n")
    names = {"geo_area": "geo.area"}
    assert native_calls((), "[geo_area(base=10, height=5.0)]", names) == [{"geo.area": {"base": 10, "height": 5.0}}]
    assert native_calls((), "I cannot.", names) == []
