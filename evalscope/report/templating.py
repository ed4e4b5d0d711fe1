"""The package's jinja2 templates (autoescaped HTML) and the score rows they display."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("evalscope.report", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "html.j2", "j2"]),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def score_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """report.json's per-benchmark score lists, flattened to one dict per (benchmark, subset, metric)."""
    return [{"benchmark": bench["name"], **score} for bench in report.get("benchmarks", [])
            for score in bench.get("scores", [])]
