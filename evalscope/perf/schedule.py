"""Open-loop arrival times: precomputed Poisson (burstiness 1) or gamma-burst dispatch offsets."""

from __future__ import annotations

import numpy as np


def arrival_offsets(n: int, rate: float, burstiness: float = 1.0, seed: int = 0) -> list[float]:
    """Seconds from the start at which each of n requests is due; the first at 0.

    Inter-arrival gaps are gamma-distributed with mean 1/rate and shape `burstiness` (vLLM's convention):
    1 is a Poisson process, below 1 burstier, above 1 more regular.
    """
    if rate <= 0 or not np.isfinite(rate):
        raise ValueError(f"--rate must be a positive number of requests per second, got {rate}")
    if burstiness <= 0:
        raise ValueError(f"--burstiness must be positive, got {burstiness}")
    gaps = np.random.default_rng(seed).gamma(shape=burstiness, scale=1.0 / (rate * burstiness), size=n)
    offsets = np.cumsum(gaps) - gaps[0] if n else gaps
    return [float(x) for x in offsets]
