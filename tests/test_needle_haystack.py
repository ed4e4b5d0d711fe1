"""Needle in a haystack: contexts cut to the model's token count with the needle at its depth, grid points past the
window refused at collection, and the heatmap in report.json, beside it as a PNG and in `evalscope report`'s HTML
as headless Chromium draws it."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from evalscope.config import DatasetArgs, RunConfig
from evalscope.registry import get
from evalscope.report.command import main
from evalscope.suite import Suite
from tests.test_report_command import _browse, _chromium

SENTENCES = [f"Sentence number {i} tells of a {w} that walked to the {p} and back again." for i, (w, p) in
             enumerate((w, p) for w in ("fox", "cat", "heron", "mule", "otter") for p in ("mill", "sea", "hill"))]


@pytest.fixture
def haystack_file(tmp_path: Path) -> Path:
    path = tmp_path / "hay.txt"
    path.write_text(" ".join(SENTENCES * 30), encoding="utf-8")
    return path


def test_contexts_have_the_length_and_the_needle_at_its_depth(haystack_file: Path, default_model_folder: Path) -> None:
    module = type(get("needle_haystack"))
    build, tokenizer, count = (getattr(__import__(module.__module__, fromlist=["x"]), n)
                               for n in ("build", "tokenizer", "count"))
    needles = __import__(module.__module__, fromlist=["x"]).NEEDLES
    tok = tokenizer(str(default_model_folder))
    hay = haystack_file.read_text()
    for length in (300, 1000):
        for depth in (0, 25, 50, 100):
            context = build(hay, needles[:1], length, depth, tok)
            assert length - 20 <= context.tokens == count(tok, context.text) <= length  # cut at a sentence end
            assert abs(context.depths[0] - depth) < 100 * 20 / len(context.text) + 3  # within a sentence of it
            at = context.text.index(needles[0].text)
            assert at == 0 or context.text[:at].rstrip().endswith(".")  # the needle starts a sentence
    three = build(hay, needles, 1000, 25, tok)
    assert [three.text.index(n.text) for n in needles] == sorted(three.text.index(n.text) for n in needles)


def test_lengths_past_the_window_are_refused_at_collection(tiny_model: Path, haystack_file: Path) -> None:
    extra = {"lengths": [1000, 5000], "haystack": str(haystack_file)}
    config = RunConfig(model=str(tiny_model), dataset_args={"needle_haystack": DatasetArgs(extra=extra)})
    with pytest.raises(ValueError, match=r"^needle_haystack: lengths \[5000\] do not fit the model's window of 4096 "
                                         r"tokens \(each adds about \d+ tokens"):
        Suite.load("needle_haystack", config)
    with pytest.raises(ValueError, match=r"depths within 0\.\.100"):
        Suite.load("needle_haystack", replace(config, dataset_args={"needle_haystack": DatasetArgs(
            extra={"depths": [50, 120], "haystack": str(haystack_file)})}))


def test_heatmap_in_report_png_and_html_in_chromium(run_suite, haystack_file: Path, tmp_path: Path) -> None:
    _chromium()  # skips without a browser
    args = json.dumps({"needle_haystack": {"lengths": [300, 400], "depths": [0, 50, 100],
                                           "haystack": str(haystack_file)}})
    run = run_suite("--dataset-args", args, bench="needle_haystack")
    assert run.result.ret == 0, run.result.stdout.str()
    (bench,) = run.report["benchmarks"]
    (chart,) = bench["charts"]
    assert (chart["x"], chart["y"]) == ([300, 400], ["0", "50", "100"])
    for record in run.records:  # each cell is its sample's acc (one sample per cell)
        row = chart["y"].index(f"{record['details']['depth']:g}")
        assert chart["cells"][row][chart["x"].index(record["details"]["length"])] == record["metrics"]["acc"]
    folder = Path(run.report["run"]["work_dir"])
    assert (folder / chart["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page = tmp_path / "report.html"
    assert main([str(folder), "-o", str(page)]) == 0
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.read_text())  # offline
    dom = _browse(page, "", tmp_path / "profile", "--dump-dom").stdout
    svg = re.search(r'<svg class="figure heatmap".*?</svg>', dom, re.S)
    assert svg is not None
    cells = re.findall(r'<g class="cell"><title>([^<]*)</title><rect [^>]*fill="(#[0-9a-f]{6})"', svg.group(0))
    assert len(cells) == 6
    assert any("context length (tokens) 400, needle depth (%) 100: acc" in title for title, _ in cells)
    assert "needle_haystack-heatmap.png" in dom  # the page names the PNG beside report.json
