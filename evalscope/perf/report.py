"""Perf reports: report.json (the source of truth), the terminal table, and a self-contained HTML view."""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

import evalscope
from evalscope.perf.metrics import knee

COLUMNS = [("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2e", "E2E")]


def frame(points: Sequence[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for p in points:
        s = p["summary"]
        row: dict[str, Any] = {
            "point": p["point"]["parallel"] if p["point"]["rate"] is None else f"{p['point']['parallel']}"
            f"@{p['point']['rate']:g}/s",
            "requests": s["requests"], "ok": s["successes"], "errors": sum(s["errors"].values()),
            "req/s": s["request_throughput"], "out tok/s": s["output_throughput"], "goodput": s["goodput"],
        }
        for key, name in COLUMNS:
            for stat in ("p50", "p99"):
                value = s["latency"][key][stat]
                row[f"{name} {stat} ms"] = math.nan if value is None else value * 1e3
        if s.get("lateness"):
            row["late p99 ms"] = s["lateness"]["p99"] * 1e3
        rows.append(row)
    return pd.DataFrame(rows)


def table(points: Sequence[dict[str, Any]]) -> str:
    """The terminal view: one row per sweep point (latencies in ms, numpy linear-interpolated percentiles)."""
    return frame(points).to_string(index=False, float_format=lambda v: f"{v:.2f}")


def _git_sha() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(evalscope.__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_reports(run_dir: Path, points: Sequence[dict[str, Any]]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    data = {"harness": "evalscope", "version": evalscope.__version__, "git_sha": _git_sha(),
            "percentiles": "numpy linear interpolation", "points": list(points)}
    path = run_dir / "report.json"
    path.write_text(json.dumps(data, indent=2))
    (run_dir / "report.html").write_text(html(data))
    return path


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _latencies(point: dict[str, Any]) -> dict[str, np.ndarray]:
    from evalscope.perf.metrics import request_metrics
    from evalscope.perf.records import read_jsonl

    per = [request_metrics(r) for r in read_jsonl(Path(point["records"])) if r.ok and not r.warmup]
    return {
        "ttft": np.array([m.ttft for m in per]) * 1e3, "tpot": np.array([m.tpot for m in per]) * 1e3,
        "itl": (np.concatenate([m.itl for m in per]) if per else np.array([])) * 1e3,
        "e2e": np.array([m.e2e for m in per]) * 1e3,
    }


def figures(data: dict[str, Any]) -> dict[str, str]:
    """Base64 PNGs: latency CDFs, throughput vs concurrency (knee marked), TTFT vs throughput."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = data["points"]
    out: dict[str, str] = {}
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for ax, (key, name) in zip(axes, COLUMNS, strict=True):
        for p in points:
            values = np.sort(_latencies(p)[key])
            values = values[~np.isnan(values)]
            if values.size:
                ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", label=_label(p))
        ax.set_title(f"{name} CDF")
        ax.set_xlabel("ms")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of requests (ITL: of chunks)")
    axes[-1].legend(fontsize=7)
    out["cdf"] = _png(fig)
    plt.close(fig)

    closed = [p for p in points if p["point"]["rate"] is None]
    if closed:
        closed.sort(key=lambda p: p["point"]["parallel"])
        x = [p["point"]["parallel"] for p in closed]
        tok = [p["summary"]["output_throughput"] for p in closed]
        req = [p["summary"]["request_throughput"] for p in closed]
        fig, ax = plt.subplots(figsize=(6, 3.6))
        ax.plot(x, tok, "o-", label="output tok/s")
        k = knee(x, tok)
        if k is not None:
            ax.axvline(x[k], color="red", ls="--", lw=1)
            ax.annotate(f"knee: {x[k]}", (x[k], tok[k]), textcoords="offset points", xytext=(5, -15), color="red")
        ax.set_xlabel("concurrency (users)")
        ax.set_ylabel("output tokens/s")
        ax2 = ax.twinx()
        ax2.plot(x, req, "s:", color="gray", label="req/s")
        ax2.set_ylabel("requests/s")
        ax.set_title("Throughput vs concurrency")
        ax.grid(alpha=0.3)
        out["throughput"] = _png(fig)
        plt.close(fig)
        data["knee"] = None if k is None else x[k]

    fig, ax = plt.subplots(figsize=(6, 3.6))
    tput = [p["summary"]["output_throughput"] for p in points]
    for stat, style in (("p50", "o-"), ("p99", "s--")):
        ttft = [(p["summary"]["latency"]["ttft"][stat] or math.nan) * 1e3 for p in points]
        ax.plot(tput, ttft, style, label=f"TTFT {stat}")
    for p, t in zip(points, tput, strict=True):
        ax.annotate(_label(p), (t, (p["summary"]["latency"]["ttft"]["p50"] or 0) * 1e3), fontsize=7)
    ax.set_xlabel("output tokens/s")
    ax.set_ylabel("TTFT (ms)")
    ax.set_title("TTFT vs throughput")
    ax.legend()
    ax.grid(alpha=0.3)
    out["ttft_tput"] = _png(fig)
    plt.close(fig)
    return out


def _label(p: dict[str, Any]) -> str:
    pt = p["point"]
    return f"c{pt['parallel']}" + ("" if pt["rate"] is None else f"@{pt['rate']:g}/s")


TEMPLATE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html><head><meta charset="utf-8"><title>evalscope perf report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}img{max-width:100%}</style></head><body>
<h1>evalscope perf report</h1>
<p>model <b>{{ model }}</b> at {{ url }} ({{ api }}, stream={{ stream }}, max_tokens={{ max_tokens }},
dataset {{ dataset }}); evalscope {{ version }} {{ git_sha or "" }}. Percentiles: numpy linear interpolation.
{% if knee %}Knee of the throughput curve at concurrency <b>{{ knee }}</b>.{% endif %}</p>
{{ table|safe }}
<h2>Latency CDFs</h2><img alt="latency CDFs" src="data:image/png;base64,{{ figs.cdf }}">
{% if figs.throughput %}<h2>Throughput vs concurrency</h2>
<img alt="throughput vs concurrency" src="data:image/png;base64,{{ figs.throughput }}">{% endif %}
<h2>TTFT vs throughput</h2><img alt="TTFT vs throughput" src="data:image/png;base64,{{ figs.ttft_tput }}">
{% if violations %}<h2>SLO violations</h2><ul>{% for v in violations %}<li>{{ v }}</li>{% endfor %}</ul>{% endif %}
</body></html>
""")


def html(data: dict[str, Any]) -> str:
    figs = figures(data)
    first = data["points"][0]
    violations = [f"{_label(p)}: {v}" for p in data["points"] for v in p["violations"]]
    return TEMPLATE.render(
        model=first["model"], url=first["url"], api=first["api"], stream=first["stream"],
        max_tokens=first["max_tokens"], dataset=first["dataset"], version=data["version"],
        git_sha=data["git_sha"], knee=data.get("knee"), figs=figs, violations=violations,
        table=frame(data["points"]).to_html(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))
