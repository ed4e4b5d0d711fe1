"""A benchmark's own charts (report.json's `charts`: a heatmap of scores, requested against produced lengths) drawn
two ways from the same data: SVG shapes for the offline HTML report, and a PNG beside report.json (matplotlib)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PNG_EXTRA = "pip install 'evalscope[charts]'"


def heatmap(name: str, title: str, xs: list[Any], ys: list[Any], cells: list[list[float | None]],
            x_label: str, y_label: str, value_label: str, vmax: float = 1.0) -> dict[str, Any]:
    """A heatmap chart's data: `cells[row][column]` is the score at (ys[row], xs[column]), None where nothing
    scored."""
    return {"kind": "heatmap", "name": name, "title": title, "x": xs, "y": ys, "cells": cells, "x_label": x_label,
            "y_label": y_label, "value_label": value_label, "vmax": vmax}


def scatter(name: str, title: str, points: list[tuple[float, float]], x_label: str, y_label: str) -> dict[str, Any]:
    """Points on log-log axes with the diagonal y = x (output length against the length asked for)."""
    return {"kind": "scatter", "name": name, "title": title, "points": [list(p) for p in points],
            "x_label": x_label, "y_label": y_label}


def colour(value: float | None, vmax: float) -> str:
    """Red (0) through yellow to green (vmax); grey where nothing scored."""
    if value is None:
        return "#d0d7de"
    t = min(1.0, max(0.0, value / vmax))
    red, green = (220, int(60 + 300 * t)) if t < 0.5 else (int(220 - 330 * (t - 0.5)), 190)
    return f"#{min(red, 255):02x}{min(green, 255):02x}50"


@dataclass(frozen=True)
class Shape:
    """One SVG element of a chart: a cell (rect) or a point (circle), with its tooltip."""

    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str
    text: str = ""


@dataclass(frozen=True)
class Svg:
    """A chart laid out for the HTML template."""

    name: str
    kind: str
    title: str
    width: float
    height: float
    shapes: tuple[Shape, ...]
    labels: tuple[tuple[float, float, str, str], ...]
    """(x, y, text, anchor) of axis labels and ticks."""
    png: str | None


def svg(chart: Mapping[str, Any], cell: float = 56, left: float = 90, top: float = 30) -> Svg:
    """The chart's shapes in SVG coordinates."""
    labels: list[tuple[float, float, str, str]] = []
    shapes: list[Shape] = []
    if chart["kind"] == "heatmap":
        xs, ys = chart["x"], chart["y"]
        for r, y in enumerate(ys):
            labels.append((left - 8, top + r * cell + cell / 2 + 4, str(y), "end"))
            for c, x in enumerate(xs):
                value = chart["cells"][r][c]
                shown = "" if value is None else f"{value:.2f}"
                shapes.append(Shape(left + c * cell, top + r * cell, cell - 2, cell - 2, colour(value, chart["vmax"]),
                                    f"{chart['x_label']} {x}, {chart['y_label']} {y}: {chart['value_label']} "
                                    f"{shown or 'none'}", shown))
        for c, x in enumerate(xs):
            labels.append((left + c * cell + cell / 2, top + len(ys) * cell + 16, str(x), "middle"))
        width, height = left + len(xs) * cell + 20, top + len(ys) * cell + 44
        labels += [(left + len(xs) * cell / 2, height - 6, chart["x_label"], "middle"),
                   (8, top - 10, chart["y_label"], "start")]
    else:
        size, pad = 360.0, 50.0
        values = [v for p in chart["points"] for v in p if v > 0] or [1.0]
        low, high = math.log10(min(values)) - 0.1, math.log10(max(values)) + 0.1

        def at(v: float) -> float:
            return (math.log10(max(v, 10 ** low)) - low) / (high - low) * size

        for x, y in chart["points"]:
            shapes.append(Shape(pad + at(x), pad + size - at(y), 4, 4, "#0969da", f"asked {x:g}, produced {y:g}"))
        labels += [(pad + size / 2, pad + size + 30, chart["x_label"], "middle"), (4, pad - 14, chart["y_label"],
                                                                                  "start")]
        labels += [(pad + at(10 ** e), pad + size + 14, f"{10 ** e:g}", "middle")
                   for e in range(math.ceil(low), math.floor(high) + 1)]
        width, height = pad + size + 20, pad + size + 40
    return Svg(chart["name"], chart["kind"], chart["title"], width, height, tuple(shapes), tuple(labels),
               chart.get("png"))


def with_png(chart: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """The chart with `png` naming the image written beside report.json (None, and why, where it could not be)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: files only
        import matplotlib.pyplot as plt
    except ImportError:
        return {**chart, "png": None, "png_error": f"matplotlib is not installed ({PNG_EXTRA})"}
    name = f"{chart['name']}.png"
    fig, ax = plt.subplots(figsize=(6.5, 5))
    try:
        if chart["kind"] == "heatmap":
            import numpy as np

            data = np.array([[np.nan if v is None else v for v in row] for row in chart["cells"]], dtype=float)
            image = ax.imshow(data, cmap="RdYlGn", vmin=0, vmax=chart["vmax"], aspect="auto")
            ax.set_xticks(range(len(chart["x"])), [str(x) for x in chart["x"]])
            ax.set_yticks(range(len(chart["y"])), [str(y) for y in chart["y"]])
            for (r, c), value in np.ndenumerate(data):
                if not np.isnan(value):
                    ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=8)
            fig.colorbar(image, ax=ax, label=chart["value_label"])
        else:
            xs, ys = zip(*chart["points"], strict=True) if chart["points"] else ((), ())
            ax.scatter(xs, ys, alpha=0.5)
            top = max([*xs, *ys, 10])
            ax.plot([1, top], [1, top], "k--", linewidth=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(chart["x_label"])
        ax.set_ylabel(chart["y_label"])
        ax.set_title(chart["title"])
        fig.tight_layout()
        fig.savefig(folder / name, dpi=100)
    except OSError as exc:
        return {**chart, "png": None, "png_error": f"cannot write {folder / name} ({exc.strerror})"}
    finally:
        plt.close(fig)
    return {**chart, "png": name}
