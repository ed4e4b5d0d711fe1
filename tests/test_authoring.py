"""The authoring guide works as written: the benchmark in benchmarks/README.md, copied out of it, runs under -n 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

FILE_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<body>.*?)```", re.DOTALL)


def write_guide_files(root: Path) -> list[str]:
    """Every file the guide shows (`<!-- file: PATH -->` before a fenced block), written under `root`."""
    written = []
    for match in FILE_BLOCK.finditer((REPO / "benchmarks" / "README.md").read_text()):
        path = root / match["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(match["body"])
        written.append(match["path"])
    return written


def records(work: Path) -> dict[str, dict]:
    lines = [json.loads(line) for path in work.glob("*/predictions/capitals.jsonl") for line in path.open()]
    return {r["sample_id"]: r for r in lines}


def test_the_guides_benchmark_runs_with_and_without_xdist(pytester: pytest.Pytester, tiny_model: Path) -> None:
    files = write_guide_files(pytester.path)
    assert {"benchmarks/capitals/benchmark.py", "benchmarks/capitals/test_capitals.py",
            "data/capitals/test.jsonl", "data/capitals/train.jsonl"} <= set(files)
    args = [str(pytester.path / "benchmarks" / "capitals"), "--model", str(tiny_model), "--dataset-dir",
            str(pytester.path / "data"), "--generation-config", "max_new_tokens=4", "-p", "no:cacheprovider"]
    alone = pytester.runpytest_subprocess(*args, "--work-dir", "alone")
    spread = pytester.runpytest_subprocess(*args, "--work-dir", "spread", "-n", "2")
    for result in (alone, spread):
        assert result.ret == 0, result.stdout.str()
        outcomes = result.parseoutcomes()
        assert outcomes.get("passed", 0) + outcomes.get("incorrect", 0) == 4
    alone.stdout.fnmatch_lines(["*capitals (setup 3-shot, 3-shot): 4 of 4 samples selected*"])
    first, second = records(pytester.path / "alone"), records(pytester.path / "spread")
    assert sorted(first) == ["default-0000", "default-0001", "default-0002", "default-0003"]
    for sample_id, record in first.items():
        assert record["prompt"].count("Q: ") == 4  # 3 exemplars + the question
        assert (record["output"], record["metrics"]) == (second[sample_id]["output"], second[sample_id]["metrics"])
    (report,) = (pytester.path / "spread").glob("*/report.json")
    bench = json.loads(report.read_text())["benchmarks"][0]
    assert bench["name"] == "capitals" and bench["setup"]["name"] == "3-shot"
    assert bench["scores"][0]["metric"] == "exact_match" and bench["scores"][0]["n"] == 4
    assert len(bench["dataset_sha256"]["test"]) == 64  # the workers' suites, reported to the controller


def test_a_definition_with_two_benchmarks_is_one_line(pytester: pytest.Pytester, tiny_model: Path) -> None:
    write_guide_files(pytester.path)
    definition = pytester.path / "benchmarks" / "capitals" / "benchmark.py"
    definition.write_text(definition.read_text() + "\n\nclass Other(Capitals):\n    pass\n")
    result = pytester.runpytest_subprocess(str(definition.parent), "--model", str(tiny_model), "--dataset-dir",
                                           str(pytester.path / "data"), "-p", "no:cacheprovider")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*benchmark.py: defines 2 Benchmark subclasses (Capitals, Other); define exactly "
                                 "one, or name the one to use: BENCHMARK = MyBenchmark()"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_misspelt_setup_field_is_one_line_at_collection(pytester: pytest.Pytester) -> None:
    write_guide_files(pytester.path)
    definition = pytester.path / "benchmarks" / "capitals" / "benchmark.py"
    definition.write_text(definition.read_text().replace('few_shot_num=3,', 'fewshot_num=3,'))
    result = pytester.runpytest_subprocess(str(definition.parent), "--dataset-dir", str(pytester.path / "data"),
                                           "--co", "-p", "no:cacheprovider")
    assert result.ret == 2
    lines = definition.read_text().splitlines()
    start = next(n for n, text in enumerate(lines, 1) if "setups = (" in text)
    typo = next(n for n, text in enumerate(lines, 1) if "fewshot_num" in text)
    found = re.search(rf"{re.escape(str(definition))}:(\d+): TypeError: .*unexpected keyword argument 'fewshot_num'",
                      result.stdout.str())
    assert found is not None and start <= int(found[1]) <= typo, result.stdout.str()  # the statement, not a frame
    result.stdout.no_fnmatch_line("*Traceback*")
