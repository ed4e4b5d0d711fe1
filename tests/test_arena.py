"""The arena end to end on real models: paired-fixture items, outcomes, batching and caching, xdist, the judge's
two orders, gates, the report; and its settings' one-line errors."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from evalscope.report.command import main as report_main
from tests.conftest import REPO, TEST_DATA
from tests.openai_stub import MODEL
from tests.planted import KEY, assert_nowhere

ARC = '{"arc": {"subset_list": ["ARC-Easy"]}}'


def spec(name: str, **table: Any) -> str:
    """`--candidate NAME=SPEC` with SPEC a JSON table."""
    return f"{name}={json.dumps(table)}"


@dataclass
class ArenaRun:
    result: pytest.RunResult
    work: Path
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def arena(self) -> dict[str, Any]:
        return self.report["arena"]

    def records(self) -> dict[tuple[str, ...], dict[str, Any]]:
        return {(r["question"], r.get("model_a", r.get("model")), r.get("model_b", "")): r
                for r in self.arena["records"]}


@pytest.fixture
def run_arena(pytester: pytest.Pytester, tiny_model: Path):
    """`pytest benchmarks/arena` in a subprocess: `tiny` (a random 2-layer model) and `hot` (it, sampled at
    temperature 1.5) on the test data's ARC-Easy questions, judged by the rule, unless the arguments say more."""

    def run(*args: str, candidates: tuple[str, ...] | None = None, data: Path = TEST_DATA,
            work: Path | None = None, tokens: int = 6) -> ArenaRun:
        work = work or pytester.path / f"out-{len(list(pytester.path.glob('out-*')))}"
        if candidates is None:
            candidates = (f"tiny={tiny_model}", spec("hot", model=str(tiny_model),
                                                     generation_config={"do_sample": True, "temperature": 1.5}))
        argv = [str(REPO / "benchmarks" / "arena"), "--dataset-dir", str(data), "--work-dir", str(work),
                "--generation-config", f"max_new_tokens={tokens}", "-p", "no:cacheprovider",
                *(f"--candidate={c}" for c in candidates)]
        result = pytester.runpytest_subprocess(*argv, *args)
        found = sorted(work.glob("*/report.json"))
        return ArenaRun(result, work, json.loads(found[-1].read_text()) if found else {})

    return run


def test_pairs_are_items_with_outcomes_and_a_rated_report(run_arena, tiny_model: Path) -> None:
    # default: the embedded model, which gets some of ARC-Easy right where the random model gets none
    run = run_arena("--questions", "arc", "--dataset-args", ARC, "--arena-mode", "pairwise-all", "--baseline", "tiny",
                    "--limit", "3",
                    candidates=(f"tiny={tiny_model}", "default=default",
                                spec("hot", model=str(tiny_model), generation_config={"do_sample": True,
                                                                                      "temperature": 1.5})),
                    tokens=24)
    assert run.result.ret == 0, run.result.stdout.str()
    run.result.stdout.fnmatch_lines(["*pairwise-all, 3 models, 3 questions (arc), 9 items; judge: rule*",
                                     "*evalscope arena*", "*model*rating*95% CI*", "report: *report.json"])
    ids = [line.split("::")[-1].split()[0] for line in run.result.outlines if "::test_pair[" in line]
    assert not ids or all("-vs-" in i for i in ids)
    outcomes = run.result.parseoutcomes()
    arena = run.arena
    assert sum(outcomes.get(k, 0) for k in ("win", "loss", "tie")) == 9 == arena["items"]
    # each item's status follows from the rule: a right answer beats a wrong one, from model_a's side
    for record in arena["records"]:
        (turn,) = record["turns"]
        right_a, right_b = ("first right" in turn["first"]["text"]), ("second right" in turn["first"]["text"])
        assert record["status"] == ("tie" if right_a == right_b else "win" if right_a else "loss"), record
        assert not turn["disagree"] and set(record["answers"]) == {record["model_a"], record["model_b"]}
    board = {row["model"]: row for row in arena["leaderboard"]}
    assert set(board) == {"tiny", "default", "hot"} and board["tiny"]["rating"]["rating"] == 1000.0
    rates = arena["win_rates"]
    assert rates["default"]["tiny"]["win"] == rates["tiny"]["default"]["loss"]
    # every answer computed once: 3 models x 3 questions, although each model plays in two pairs
    assert sum(e["predicted"] for e in arena["engines"].values()) == 9
    # the offline page: a heatmap cell per ordered pair, a browser row per battle with both answers
    page = run.work / "arena.html"
    assert report_main([str(next(run.work.glob("*/report.json")).parent), "-o", str(page)]) == 0
    html = page.read_text()
    heatmap = re.search(r'<svg id="heatmap".*?</svg>', html, re.S)
    assert heatmap is not None and len(re.findall(r"<rect ", heatmap.group(0))) == 9
    assert len(re.findall(r'<tr class="battle" data-pair="[\w-]+-vs-[\w-]+"', html)) == 9
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched from the net


def test_the_same_under_xdist_and_a_bad_row_errors_its_items(run_arena) -> None:
    alone = run_arena("--questions", "arc", "--dataset-args", ARC, "--eval-batch-size", "2")
    spread = run_arena("--questions", "arc", "--dataset-args", ARC, "--eval-batch-size", "2", "-n", "2")
    assert alone.result.ret == spread.result.ret == 1, spread.result.stdout.str()
    spread.result.stdout.fnmatch_lines(["*ERROR at setup of test_pair[ARC-Easy-0003-hot-vs-tiny]*",
                                        "*ARC-Easy-Test.jsonl:4: answer 'E' is not one of the choice labels*"])
    assert [k.split("::")[-1] for k in alone.arena["failed"]] == [f"test_pair[ARC-Easy-000{i}-hot-vs-tiny]"
                                                                  for i in (3, 4, 5)]
    assert "evalscope scores" not in spread.result.stdout.str()  # the arena's items are not a benchmark's
    assert alone.records() == spread.records()
    assert alone.arena["leaderboard"] == spread.arena["leaderboard"]
    assert sum(e["predicted"] for e in spread.arena["engines"].values()) == 8  # 2 models x 4, none twice
    assert sum(e["processes"] for e in spread.arena["engines"].values()) == 4


def test_a_new_model_asks_only_its_answers_and_its_pairs(run_arena, tiny_model: Path, pytester: pytest.Pytester,
                                                          ) -> None:
    cache = pytester.path / "cache"
    two = (f"tiny={tiny_model}", spec("long", model=str(tiny_model), generation_config={"max_new_tokens": 9}))
    first = run_arena("--questions", "arc", "--dataset-args", ARC, f"--use-cache={cache}", "--arena-mode",
                      "pairwise-all", "--limit", "3", candidates=two)
    third = run_arena("--questions", "arc", "--dataset-args", ARC, f"--use-cache={cache}", "--limit", "3",
                      "--arena-mode",
                      "pairwise-all", candidates=(*two, spec("sys", model=str(tiny_model), system_prompt="Be brief.")))
    assert first.result.ret == third.result.ret == 0, third.result.stdout.str()
    engines = third.arena["engines"]
    assert engines["sys"]["predicted"] == 3 and engines["tiny"]["predicted"] == engines["long"]["predicted"] == 0
    assert engines["tiny"]["cache"]["hits"] == 3
    before, after = first.records(), third.records()
    assert all(after[key] == record for key, record in before.items())  # the old pair, straight from the cache
    assert len(after) == 3 * 3


def test_model_judge_both_orders_two_turns_and_unreadable_verdicts_are_errors(
        run_arena, tiny_model: Path, shared_data: Path) -> None:
    # A random model as the judge writes no [[A]]/[[B]]/[[C]]: every turn must be ERROR with its text, not a tie.
    run = run_arena("--questions", "mt_bench", "--limit", "2", "--judge", str(tiny_model), data=shared_data)
    assert run.result.ret == 0, run.result.stdout.str()
    assert run.result.parseoutcomes().get("unjudged") == 2
    for record in run.arena["records"]:
        assert record["status"] == "error" and len(record["turns"]) == 2
        for turn in record["turns"]:
            assert turn["score_a"] is None and turn["first"]["score"] is None
            assert turn["first"]["text"] and turn["swapped"]["text"]
    assert run.arena["position_bias"][next(iter(run.arena["position_bias"]))]["unreadable"] == 4
    assert run.arena["leaderboard"] == [] and run.arena["error_turns"] == 4
    # 2 questions x 2 turns x 2 orders judged; the second turn was asked after the model's own first answer
    assert run.arena["engines"]["judge"]["predicted"] == 8
    store = sqlite3.connect(next(run.work.glob("*/responses.sqlite")))
    prompts = [json.loads(r)["rendered_prompt"] for (r,) in store.execute("SELECT response FROM responses")]
    for record in run.arena["records"]:
        for model in (record["model_a"], record["model_b"]):
            first_answer = record["answers"][model][0]
            assert any(record["turns_asked"][1] in p and first_answer in p and p.index(first_answer) <
                       p.index(record["turns_asked"][1]) for p in prompts), (model, record["question"])


def test_single_mode_grades_each_model(run_arena, pytester: pytest.Pytester) -> None:
    html = pytester.path / "rows.html"
    run = run_arena("--questions", "arc", "--dataset-args", ARC, "--arena-mode", "single", "--limit", "3",
                    f"--html={html}")
    assert run.result.ret == 0, run.result.stdout.str()
    rows = html.read_text()
    assert rows.count("evalscope arena") == 6 and "grade: 0.0" in rows  # each row: its answer and its grade
    assert run.result.parseoutcomes().get("rated") == 6
    scores = run.arena["scores"]
    assert set(scores) == {"tiny", "hot"} and scores["tiny"]["OVERALL"]["n"] == 3
    assert 0.0 <= scores["tiny"]["OVERALL"]["mean"] <= 1.0


def test_keyword_selects_a_pair(run_arena) -> None:
    run = run_arena("--questions", "arc", "--dataset-args", ARC, "-k", "0001")
    assert run.result.ret == 0
    assert run.arena["items"] == 1 and sum(e["predicted"] for e in run.arena["engines"].values()) == 2


def test_gates_fail_with_6_and_pass_with_0(run_arena, tiny_model: Path) -> None:
    # two identical greedy models: every battle a tie, so neither is better, and neither is worse
    same = (f"a={tiny_model}", f"b={tiny_model}")
    passed = run_arena("--questions", "arc", "--dataset-args", ARC, "--limit", "3", "--gate", "arena.a>=arena.b",
                       "--gate", "arena.b:win_rate<=0", candidates=same)
    assert passed.result.ret == 0, passed.result.stdout.str()
    passed.result.stdout.fnmatch_lines(["*PASS arena.a>=arena.b: a vs b: 0 wins, 0 losses, 3 ties*"])
    failed = run_arena("--questions", "arc", "--dataset-args", ARC, "--limit", "3", "--gate", "arena.a>arena.b",
                       "--gate",
                       "arena.a:rating>arena.b", candidates=same)
    assert failed.result.ret == 6
    failed.result.stdout.fnmatch_lines(["*FAIL arena.a>arena.b*", "*FAIL arena.a:rating>arena.b*"])
    assert failed.report["arena_gates"]["passed"] is False


@pytest.mark.parametrize(("args", "message"), [
    (("--arena-mode", "round-robin"), "*--arena-mode: 'round-robin' (choose from single*"),
    (("--baseline", "nobody"), "*--baseline 'nobody' is not an arena candidate*"),
    (("--candidate", "x=/no/such/model"), "*arena x: model path not found: /no/such/model*"),
    (("--candidate", "y={bad json"), "*--candidate y: invalid JSON*"),
    (("--candidate", 'z={"temperature": 1}'), "*arena candidate 'z': unknown key 'temperature'*"),
    (("--gate", "arena.nobody:rating>900"), "*'nobody' is not an arena candidate*"),
    (("--judge-prompts", "gpt"), "*--judge-prompts: 'gpt'*"),
    (("--arena-rounds", "0"), "*--arena-rounds: '0' is not a positive integer*"),
    (("--candidate", "a b=default"), "*arena candidate 'a b': names are letters*"),
])
def test_bad_settings_are_one_line_usage_errors(run_arena, args: tuple[str, ...], message: str) -> None:
    run = run_arena("--questions", "arc", *args)
    assert run.result.ret == 4
    run.result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_bad_questions_fail_collection_in_one_line(run_arena, pytester: pytest.Pytester, shared_data: Path) -> None:
    rule = run_arena("--questions", "mt_bench", data=shared_data)  # open questions need a model judge
    assert rule.result.ret != 0
    rule.result.stdout.fnmatch_lines(["*the rule judge needs questions with exact answers*"])
    bad = pytester.path / "q.jsonl"
    bad.write_text('{"turns": ["hi"]}\n{"category": "x"}\n')
    broken = run_arena("--questions", str(bad), "--judge", "default")
    broken.result.stdout.fnmatch_lines([f"*{bad}:2: needs `turns`*"])
    assert broken.result.ret != 0


def test_config_file_names_the_arena(run_arena, tiny_model: Path, pytester: pytest.Pytester) -> None:
    config = pytester.path / "arena.toml"
    config.write_text(f'mode = "single"\nquestions = "arc"\n[candidates.solo]\nmodel = "{tiny_model}"\n')
    run = run_arena("--arena-config", str(config), "--dataset-args", ARC, "--limit", "3", candidates=())
    assert run.result.ret == 0, run.result.stdout.str()
    assert run.arena["mode"] == "single" and list(run.arena["scores"]) == ["solo"]
    config.write_text('mode = "single"\nquetsions = "arc"\n')
    typo = run_arena("--arena-config", str(config), candidates=())
    typo.result.stderr.fnmatch_lines(["*unknown key 'quetsions'*"])


def test_without_contestants_the_arena_says_what_it_needs(run_arena) -> None:
    run = run_arena("--questions", "arc", candidates=())
    assert run.result.ret != 0
    run.result.stdout.fnmatch_lines(["*benchmarks/arena needs contestants: --candidate NAME=SPEC*"])


def test_a_run_of_all_benchmarks_leaves_the_arena_out(pytester: pytest.Pytester, tiny_model: Path) -> None:
    result = pytester.runpytest_subprocess(str(REPO / "benchmarks"), "--dataset-dir", str(TEST_DATA), "--co", "-q",
                                           "-p", "no:cacheprovider", "--model", str(tiny_model))
    assert "arena" not in result.stdout.str().replace("deselected", "")
    assert "::test_gsm8k[main-0000]" in result.stdout.str()


def test_a_planted_key_is_in_no_arena_file_and_no_output(run_arena, openai_stub, pytester: pytest.Pytester,
                                                          shared_data: Path) -> None:
    """The key in `--candidate`/`--judge` JSON specs and in a URL's userinfo is sent, and is nowhere in the run's
    folder (report.json, the response store, the HTML, the junit XML, the log), the terminal, or an error line."""
    stub = openai_stub("--key", KEY)
    # userinfo becomes HTTP basic auth (no Bearer token): that candidate has a server of its own that asks for none
    with_user = openai_stub().base.replace("http://", f"http://alice:{KEY}@")
    table = {"api_url": stub.base, "api_key": KEY, "model": MODEL}
    work = pytester.path / "arena-out"
    run = run_arena("--questions", "mt_bench", "--limit", "1", "--judge", json.dumps(table),
                    f"--html={work / 'rows.html'}", f"--junitxml={work / 'junit.xml'}",
                    f"--log-file={work / 'run.log'}", "--log-file-level=DEBUG", "--use-cache", str(work / "cache"),
                    candidates=(spec("a", **table), spec("b", **{**table, "api_url": with_user},
                                                         generation_config={"temperature": 0.5})), work=work,
                    data=shared_data)
    assert run.report, run.result.stdout.str()
    assert run.arena["engines"]["judge"]["predicted"] > 0  # the judge and both candidates answered with the key
    assert any('"api_key": "***"' in arg for arg in run.report["run"]["argv"])
    assert_nowhere(KEY, work, run.result.stdout.str(), run.result.stderr.str())
    bad = run_arena("--questions", "arc", candidates=(f'{{"api_key": "{KEY}"}}', "b=default"))
    assert bad.result.ret == pytest.ExitCode.USAGE_ERROR
    assert """--candidate '{"api_key": "***"}': expected NAME=SPEC""" in bad.result.stderr.str()
    assert_nowhere(KEY, bad.result.stdout.str(), bad.result.stderr.str())
