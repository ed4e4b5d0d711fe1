"""Response cache size and lookup time for all of MMLU's loglikelihood answers: rows as earlier versions wrote them
(each with its whole rendered prompt) against rows that keep a frame id (see `evalscope/cache.py`).

    python bench/cache_size.py [--limit N] [--setup lm-eval] [--rounds 3]

Every MMLU test question (or `limit` per subject) gets its real request (the setup's 5-shot context and choices)
and its real key, and a response with the shape the transformers backend gives (four loglikelihoods, the raw
prompt rendered as the context itself). Both files are written in full, checkpointed (no WAL left) and measured;
then every item is looked up through `ResponseCache.get` in the engine's order, best of `rounds`, on each file.
The earlier layout's rows are read by the same `get` (old caches keep working), which does for them what the
earlier `get` did. Printed: bytes per item, the size ratio, microseconds per lookup and their ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lmeval import REPO

from evalscope import utf8
from evalscope.cache import ResponseCache, request_key
from evalscope.config import DatasetArgs, RunConfig
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Sample
from evalscope.suite import Suite


def items(data: Path, limit: int | None, setup: str) -> list[tuple[str, ChoiceRequest, ChoiceLoglikelihoods]]:
    config = RunConfig(dataset_dir=data, limit=limit, dataset_args={"mmlu": DatasetArgs(setup=setup)})
    suite = Suite.load("mmlu", config)
    out: dict[str, tuple[str, ChoiceRequest, ChoiceLoglikelihoods]] = {}  # a question asked twice is one row
    for n, sample in enumerate(s for s in suite.samples if isinstance(s, Sample)):
        request = suite.request(sample)
        assert isinstance(request, ChoiceRequest)
        response = ChoiceLoglikelihoods(tuple(-1.0 - k / 7 - n / 1e5 for k in range(4)), (False, True, False, False),
                                        (1, 1, 1, 1), len(request.context) // 4, request.context)
        key = request_key("sha256:" + "0" * 64, "transformers", request, config)
        out.setdefault(key, (key, request, response))
    return list(out.values())


def size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def lookups(path: Path, rows: list[tuple[str, ChoiceRequest, ChoiceLoglikelihoods]], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        cache = ResponseCache(path)
        start = time.perf_counter()
        for key, request, response in rows:
            assert cache.get(key, request) == response
        best = min(best, time.perf_counter() - start)
        cache.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="questions per subject (default: all)")
    parser.add_argument("--setup", default="lm-eval")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dataset-dir", type=Path,
                        default=Path(os.environ.get("EVALSCOPE_DATASET_DIR", REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    rows = items(args.dataset_dir, args.limit, args.setup)
    with tempfile.TemporaryDirectory() as tmp_name:
        before, now = Path(tmp_name) / "before" / "responses.sqlite", Path(tmp_name) / "now" / "responses.sqlite"
        ResponseCache(before).close()  # the same schema; rows written as earlier versions wrote them
        with sqlite3.connect(before) as db:
            db.executemany("INSERT INTO responses VALUES (?, 'transformers', ?, 'loglikelihood', ?, ?)",
                           [(key, "sha256:" + "0" * 64,
                             utf8.dumps({"type": "ChoiceLoglikelihoods", **dataclasses.asdict(response)}),
                             time.time()) for key, _, response in rows])
        cache = ResponseCache(now)
        for key, request, response in rows:
            cache.put(key, "transformers", "sha256:" + "0" * 64, request, response)
        cache.close()
        sizes = size(before), size(now)
        times = lookups(before, rows, args.rounds), lookups(now, rows, args.rounds)
    n = len(rows)
    print(f"MMLU {args.setup}: {n} loglikelihood answers")
    print(f"whole prompt in each row (before): {sizes[0] / 1e6:6.1f} MB, {sizes[0] / n:6.0f} bytes per item, "
          f"lookup {1e6 * times[0] / n:5.1f} us")
    print(f"frame id in each row (now):        {sizes[1] / 1e6:6.1f} MB, {sizes[1] / n:6.0f} bytes per item, "
          f"lookup {1e6 * times[1] / n:5.1f} us")
    print(f"ratio size before / now: {sizes[0] / sizes[1]:.2f}x; lookup time now / before: {times[1] / times[0]:.2f}")


if __name__ == "__main__":
    main()
