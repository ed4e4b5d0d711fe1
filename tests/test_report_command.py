"""`evalscope report`: Markdown and a self-contained HTML file, checked in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats as sst

from evalscope.paired import compare
from evalscope.report.command import main
from evalscope.report.rundir import load
from evalscope.report.tables import sample_frame, score_table
from evalscope.schema import SampleResult
from tests.conftest import REPO


def _improved_copy(source: Path, target: Path, correct: set[str]) -> Path:
    """A copy of a real run in which `correct` samples were answered right; its scores recomputed from them."""
    shutil.copytree(source, target)
    path = target / "predictions" / "gsm8k.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record["metrics"] = {"acc": float(record["sample_id"] in correct)}
        record["extracted"] = {"acc": record["target"] if record["sample_id"] in correct else None}
        record["correct"] = record["sample_id"] in correct
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = json.loads((target / "report.json").read_text())
    results = [SampleResult.from_json({k: v for k, v in r.items() if k != "correct"}) for r in records]
    report["benchmarks"][0]["scores"] = [{k: v for k, v in row.items() if k != "benchmark"}
                                         for row in score_table(sample_frame(results)).to_dict("records")]
    report["run"]["work_dir"] = str(target)
    (target / "report.json").write_text(json.dumps(report))
    return target


@pytest.fixture
def two_runs(run_suite, tmp_path: Path) -> tuple[Path, Path]:
    """A real run of 8 samples (the random model gets all wrong) and a copy that got 5 of them right."""
    run = run_suite("--limit", "8")
    assert run.result.ret == 0
    real = Path(run.report["run"]["work_dir"])
    better = _improved_copy(real, tmp_path / "better", {f"main-{i:04d}" for i in (0, 2, 3, 5, 7)})
    return better, real


def test_markdown_tables_and_paired_differences(two_runs: tuple[Path, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    better, real = two_runs
    assert main([str(better), str(real / "report.json"), "--format", "md"]) == 0
    out = capsys.readouterr().out
    ci = sst.binomtest(5, 8).proportion_ci(method="wilson")
    assert f"| 1 | gsm8k | main | acc | 0.6250 | [{ci.low:.4f}, {ci.high:.4f}] | 8 |" in out
    assert "| 2 | gsm8k | main | acc | 0.0000 | [0.0000, 0.3244] | 8 |" in out
    # run 2 against run 1: five pairs lost, none won
    p = sst.binomtest(5, 5, 0.5, alternative="greater").pvalue
    expected = compare(load(real).scores("gsm8k"), load(better).scores("gsm8k"))
    assert expected.p_value == pytest.approx(p)
    assert (f"| 2 | gsm8k | acc | -0.6250 | [{expected.ci_low:+.4f}, {expected.ci_high:+.4f}] | {p:.4g} | "
            f"mcnemar-exact | 8 |") in out


@pytest.mark.parametrize("problem", ["missing", "bad-json", "no-predictions"])
def test_bad_input_is_a_one_line_error(tmp_path: Path, problem: str) -> None:
    folder = tmp_path / "run"
    if problem != "missing":
        folder.mkdir()
        (folder / "report.json").write_text("{not json" if problem == "bad-json" else
                                            json.dumps({"benchmarks": [{"name": "gsm8k", "scores": []}]}))
    result = subprocess.run([sys.executable, "-m", "evalscope.cli", "report", str(folder), "-o",
                             str(tmp_path / "r.html")], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evalscope report: error: "), result.stderr
    assert {"missing": "not found", "bad-json": "not valid JSON", "no-predictions": "predictions of gsm8k"}[
        problem] in lines[0]
    assert not (tmp_path / "r.html").exists()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")


def _browse(page: Path, fragment: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--virtual-time-budget=3000", *extra, page.as_uri() + fragment]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def test_html_report_renders_offline_in_chromium(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    browser = _chromium()
    better, real = two_runs
    page = tmp_path / "report.html"
    assert main([str(better), str(real), "-o", str(page)]) == 0
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched from the net

    dom = _browse(page, "#filter=incorrect", tmp_path / "profile-1", "--dump-dom").stdout
    # the chart drew: one bar per run, whiskers for both intervals
    svg = re.search(r'<svg id="score-chart".*?</svg>', dom, re.S)
    assert svg is not None
    assert len(re.findall(r"<rect ", svg.group(0))) == 2 and len(re.findall(r"<line ", svg.group(0))) >= 6
    # the score table has one row per run; the paired row shows the drop
    assert len(re.findall(r'<tr class="score-row"', dom)) == 2
    assert re.search(r'<tr class="diff-row">.*?-0\.6250', dom, re.S)
    # the filter read the hash: only the 3 samples the first run got wrong are visible
    rows = re.findall(r'<tr class="sample" data-status="(\w+)"[^>]*?( hidden="")?>', dom)
    assert len(rows) == 8
    assert sorted(status for status, hidden in rows if not hidden) == ["incorrect"] * 3
    assert '<b id="shown">3</b>' in dom and 'data-filter="incorrect"' in dom

    changed = _browse(page, "#filter=changed", tmp_path / "profile-2", "--dump-dom").stdout
    assert '<b id="shown">5</b>' in changed

    folder = Path(os.environ["EVALSCOPE_ARTIFACTS"]) if os.environ.get("EVALSCOPE_ARTIFACTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "evalscope-report.png"
    _browse(page, "", tmp_path / "profile-3", f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    print(f"screenshot: {shot} ({browser})")
