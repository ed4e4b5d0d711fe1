"""pytest-html integration (`--html`): scores and gate verdicts atop the report, each sample's details in its row."""

from __future__ import annotations

import html

import pytest

from evalscope import images
from evalscope.report.recorder import RESULT_PROPERTY, Recorder
from evalscope.report.templating import render, score_rows
from evalscope.schema import SampleResult


def _result(report: pytest.TestReport) -> SampleResult | None:
    for key, value in report.user_properties:
        if key == RESULT_PROPERTY and report.when == "call" and isinstance(value, dict):
            return SampleResult.from_json(value)
    return None


class HtmlReport:
    """Registered on the controller only (pytest-html writes there; rows arrive from xdist workers as reports)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str],
                                    session: pytest.Session) -> None:
        data = self.recorder.data
        if not data:
            return
        prefix.append(render("pytest_html_summary.html.j2", rows=score_rows(data), gates=data.get("gates"),
                             report_path=str(self.recorder.report_path)))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, '<th class="sortable" data-column-type="score">Score</th>')
        cells.insert(3, '<th data-column-type="answer">Answer</th>')
        cells.insert(4, '<th data-column-type="target">Target</th>')

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        result = _result(report)
        score = "" if result is None else f"{result.metrics.get(result.primary_metric, 0.0):g}"
        answer = "" if result is None else str(result.extracted.get(result.primary_metric))
        target = "" if result is None else result.target
        cells.insert(2, f'<td class="col-score">{html.escape(score)}</td>')
        # the question's images beside the answer, inlined: the report stays one offline file
        shown = "" if result is None else "".join(
            f'<img class="thumb" src="{src}" title="{html.escape(str(ref.get("name", "")))}" '
            'style="max-height:64px;margin-right:4px">'
            for ref in result.images if (src := images.thumbnail_src(self.recorder.run_dir, ref)))
        cells.insert(3, f'<td class="col-answer">{shown}{html.escape(answer)}</td>')
        cells.insert(4, f'<td class="col-target">{html.escape(target)}</td>')

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        result = _result(report)
        if result is None:
            return
        metrics = ", ".join(f"{k} = {v:g}" for k, v in result.metrics.items())
        extracted = ", ".join(f"{k}: {v!r}" for k, v in result.extracted.items())
        text = "\n".join([
            f"{' evalscope sample ':-^80}",
            f"{result.benchmark} / {result.subset} / {result.sample_id}   score: {metrics}",
            f"target: {result.target}", f"extracted answer: {extracted}",
            f"{' prompt (as fed to the model) ':-^80}", result.prompt,
            f"{' raw output ':-^80}", result.output, ""])
        data.insert(0, html.escape(text))


def register(config: pytest.Config, recorder: Recorder) -> None:
    """Hook in when pytest-html is installed and `--html` was given."""
    if config.pluginmanager.hasplugin("html") and getattr(config.option, "htmlpath", None):
        config.pluginmanager.register(HtmlReport(recorder), "evalscope-html")
