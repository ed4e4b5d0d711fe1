"""How far judges agree with each other, and a judge with itself across repeats: Krippendorff's alpha (the
`krippendorff` package), which takes any number of raters, missing verdicts, labels or scores."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from evalscope.judging.metric import Verdict


def alpha(ratings: Sequence[Mapping[str, Verdict | None]], level: Literal["nominal", "interval"]) -> dict[str, Any]:
    """Krippendorff's alpha over raters (one mapping per rater: unit -> verdict, None or absent when unreadable).
    `alpha` is None where it is undefined (fewer than two raters, no unit rated twice, a single value seen)."""
    units = sorted({u for rater in ratings for u, v in rater.items() if v is not None})
    labels: dict[Verdict, int] = {}
    data = np.full((len(ratings), len(units)), np.nan)
    for r, rater in enumerate(ratings):
        for c, unit in enumerate(units):
            verdict = rater.get(unit)
            if verdict is None:
                continue
            data[r, c] = labels.setdefault(verdict, len(labels)) if level == "nominal" else float(verdict)
    pairable = int((np.sum(~np.isnan(data), axis=0) >= 2).sum()) if len(units) else 0
    out: dict[str, Any] = {"alpha": None, "level": level, "raters": len(ratings), "units": pairable}
    if len(ratings) < 2 or pairable == 0 or len(np.unique(data[~np.isnan(data)])) < 2:
        out["why"] = ("fewer than two raters" if len(ratings) < 2 else "no answer rated twice" if pairable == 0
                      else "every verdict is the same (alpha is undefined)")
        return out
    import krippendorff

    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    out["alpha"] = None if math.isnan(value) else value
    return out
