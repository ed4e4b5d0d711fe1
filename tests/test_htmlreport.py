"""pytest-html (`--html`): the score table and gate verdicts at the top, each sample's details in its row."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest


def _tests(page: str) -> list[dict]:
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob is not None
    return [row for rows in json.loads(html.unescape(blob.group(1)))["tests"].values() for row in rows]


def test_html_report_shows_scores_gates_and_samples_under_xdist(run_suite, tmp_path: Path) -> None:
    pytest.importorskip("pytest_html")
    out = tmp_path / "report.html"
    run = run_suite("--limit", "3", "-n", "2", "--html", str(out), "--gate", "gsm8k>=0.5")
    assert run.result.ret == 6
    page = out.read_text()
    summary = page[page.index('<div id="evalscope-summary">'):]
    summary = summary[: summary.index("</div>")]
    score = run.report["benchmarks"][0]["scores"][0]
    assert re.search(rf"<td>gsm8k</td><td>main</td><td>acc</td><td>{score['score']:.4f}</td>\s*"
                     rf"<td>\[{score['ci_low']:.4f}, {score['ci_high']:.4f}\]</td>\s*<td>3</td>", summary), summary
    assert '<li class="gate fail"><strong>FAIL</strong>' in summary and "<code>gsm8k&gt;=0.5</code>" in summary

    rows = _tests(page)
    assert len(rows) == 3
    for row in rows:
        record = run.by_id()[row["testId"].split("[")[1].rstrip("]")]
        cells = "".join(row["resultsTableRow"])
        assert f'<td class="col-target">{html.escape(record["target"])}</td>' in cells
        assert f'<td class="col-score">{record["metrics"]["acc"]:g}</td>' in cells
        assert f'<td class="col-answer">{html.escape(str(record["extracted"]["acc"]))}</td>' in cells
        log = html.unescape(row["log"])
        assert record["prompt"] in log.split(" raw output ")[0]
        assert record["output"] in log.split(" raw output ")[1]
