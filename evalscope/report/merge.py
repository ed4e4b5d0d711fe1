"""`evalscope merge SHARD_DIR... -o MERGED`: the run folders of a sharded run (`--shard K/N`) joined into one run
folder, every per-sample record once, scores and intervals recomputed from the samples; gates and `--baseline`
work on it as on any run."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from array import array
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalscope import shards
from evalscope.report import rundir, tables


class MergeError(ValueError):
    """Shards that cannot be joined; one line naming them."""


def _shard_of(folder: Path, report: dict[str, Any]) -> tuple[int, int]:
    mark = report.get("shard")
    if not isinstance(mark, dict):
        raise MergeError(f"{folder}: not a shard (a run made without --shard K/N)")
    return int(mark["index"]), int(mark["count"])


def _check(runs: list[tuple[Path, dict[str, Any]]], allow_partial: bool) -> tuple[int, list[int], list[str]]:
    """The shard count, the missing shard indices and notes; MergeError for shards that do not belong together."""
    first_dir, first = runs[0]
    count = _shard_of(first_dir, first)[1]
    seen: dict[int, Path] = {}
    notes: list[str] = []
    for folder, report in runs:
        index, n = _shard_of(folder, report)
        if n != count:
            raise MergeError(f"{folder}: shard {index}/{n} of another split than {first_dir} ({count} shards)")
        if index in seen:
            raise MergeError(f"shard {index}/{count} given twice: {seen[index]} and {folder}")
        differ = shards.differences(first, report)
        if differ:
            raise MergeError(f"{folder}: settings differ from {first_dir}'s ({', '.join(differ[:3])}): not shards "
                             "of one run")
        if not report.get("complete", False):
            if not allow_partial:
                raise MergeError(f"{folder}: shard {index}/{count} did not finish (resume it: --resume {folder} "
                                 f"--shard {index}/{count}), or merge what exists with --allow-partial")
            notes.append(f"shard {index}/{count} did not finish ({folder})")
        seen[index] = folder
    missing = [k for k in range(count) if k not in seen]
    if missing and not allow_partial:
        raise MergeError(f"missing shard{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(f'{k}/{count}' for k in missing)} (or merge what exists with --allow-partial)")
    return count, missing, notes


def merge(folders: Sequence[Path], out: Path, allow_partial: bool = False) -> dict[str, Any]:
    """Join the shards' run folders into `out` (a new folder); returns the merged report. Records are streamed
    from file to file; what is kept in memory is one row of numbers per scored sample and metric."""
    if out.exists():
        raise MergeError(f"-o {out}: exists already (merge into a new folder)")
    runs = []
    for folder in folders:
        report_file = folder / "report.json" if folder.is_dir() else folder
        try:
            runs.append((report_file.parent, rundir._read_json(report_file)))
        except rundir.RunError as exc:
            raise MergeError(str(exc)) from None
    runs.sort(key=lambda run: _shard_of(*run)[0])
    count, missing, notes = _check(runs, allow_partial)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "predictions").mkdir(parents=True)
    columns = Columns()
    owner: dict[tuple[str, str], int] = {}
    errors: Counter[str] = Counter()
    names = sorted({str(b["name"]) for _, report in runs for b in report["benchmarks"]})
    try:
        for name in names:
            with open(tmp / "predictions" / f"{name}.jsonl", "w", encoding="utf-8") as sink:
                for folder, report in runs:
                    entry = next((b for b in report["benchmarks"] if b.get("name") == name), None)
                    if entry is None:
                        continue
                    index = _shard_of(folder, report)[0]
                    _copy(rundir.predictions_path(folder, report, entry), sink, name, index, owner, columns, errors)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    frame = columns.frame()
    frame = frame.sort_values(["benchmark", "subset", "index"], kind="stable").drop(columns="index")
    table = tables.score_table(frame)
    first = runs[0][1]
    info = {}
    for name in names:
        entries = [b for _, report in runs for b in report["benchmarks"] if b.get("name") == name]
        scored = int(frame[frame["benchmark"] == name]["sample_id"].nunique())
        selected = sum(int(b.get("selected", 0)) for b in entries)
        before = {int((r.get("shard") or {}).get("selected_before", {}).get(name, -1)) for _, r in runs}
        base = {k: v for k, v in entries[0].items() if k != "scores"}
        info[name] = {**base, "n_scored": scored, "n_errors": errors[name], "scored": scored, "errors": errors[name],
                      "selected": max(before) if len(before) == 1 and -1 not in before else selected,
                      "complete": not missing and all(b.get("complete") for b in entries),
                      "predictions": f"predictions/{name}.jsonl"}
    run_meta = dict(first.get("run") or {})
    run_meta.update({
        "started": min(str((r.get("run") or {}).get("started")) for _, r in runs),
        "finished": max(str((r.get("run") or {}).get("finished")) for _, r in runs),
        "work_dir": str(out),
        "scored": int(sum(i["scored"] for i in info.values())), "errors": int(sum(errors.values())),
        **{key: sum(int((r.get("run") or {}).get(key) or 0) for _, r in runs)
           for key in ("predicted", "batches", "workers")},
        "merged_from": [str(folder) for folder, _ in runs]})
    complete = not missing and not notes and all(i["complete"] for i in info.values())
    meta = {key: value for key, value in first.items() if key not in ("benchmarks", "shard", "run", "complete")}
    meta.update({"run": run_meta, "complete": complete,
                 "shards": {"count": count, "merged": [_shard_of(*r)[0] for r in runs], "missing": missing,
                            "settings": shards.digest(first), "notes": notes}})
    if missing or notes:
        meta["incomplete"] = {"missing_shards": [f"{k}/{count}" for k in missing], "notes": notes}
    data = tables.build_report(table, info, meta)
    tables.write_json(tmp / "report.json", data)
    tmp.rename(out)
    return data


class Columns:
    """The score table's inputs, one row per scored sample and metric, kept small: numbers in typed arrays, the
    few distinct names shared, a sample by its number (the table only counts and clusters samples)."""

    def __init__(self) -> None:
        self.names: dict[Any, Any] = {}
        self.text: dict[str, list[Any]] = {c: [] for c in ("benchmark", "subset", "category", "metric", "cluster")}
        self.numbers: dict[str, array[Any]] = {"sample_id": array("q"), "value": array("d"), "units": array("q"),
                                               "index": array("q")}
        self.samples = 0

    def add(self, name: str, record: dict[str, Any]) -> None:
        self.samples += 1
        units = record.get("units") or {}
        for metric, value in record["metrics"].items():
            for column, item in (("benchmark", name), ("subset", record["subset"]),
                                 ("category", record.get("category")), ("metric", metric),
                                 ("cluster", record.get("cluster"))):
                self.text[column].append(self.names.setdefault(item, item))
            for column, number in (("sample_id", self.samples), ("value", value), ("units", units.get(metric, 1)),
                                   ("index", record["index"])):
                self.numbers[column].append(number)

    def frame(self) -> pd.DataFrame:
        data: dict[str, Any] = {**self.text, **{k: np.frombuffer(v, dtype=v.typecode) for k, v in self.numbers.items()}}
        return pd.DataFrame(data)[[*tables.FRAME_COLUMNS, "index"]]


def _copy(source: Path, sink: Any, name: str, shard: int, owner: dict[tuple[str, str], int],
          columns: Columns, errors: Counter[str]) -> None:
    """One shard's records of one benchmark: written through, checked against the other shards' items, and the
    numbers of the scored ones kept for the score table."""
    scored_here: set[str] = set()
    errored_here: set[str] = set()
    with open(source, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):  # iterating a file splits on \n only: U+2028 ends no record
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MergeError(f"{source}:{number}: not valid JSON ({exc.msg})") from None
            sample_id = str(record.get("sample_id"))
            other = owner.setdefault((name, sample_id), shard)
            if other != shard:
                raise MergeError(f"{name} {sample_id} is in shard {other} and shard {shard}: the shards overlap "
                                 "(run with different selections?)")
            sink.write(line if line.endswith("\n") else line + "\n")
            if "metrics" not in record:
                errored_here.add(sample_id)
                continue
            if sample_id in scored_here:
                continue
            scored_here.add(sample_id)
            columns.add(name, record)
    errors[name] += len(errored_here - scored_here)  # an error answered later in the same shard is no error


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evalscope merge", description=(
        "Join the run folders of a sharded run (--shard K/N) into one run folder; scores are recomputed from "
        "the samples. Gates and --baseline judge the merged run as they would an unsharded one."))
    p.add_argument("runs", nargs="+", type=Path, help="the shards' run folders (or their report.json)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the merged run folder (must not exist)")
    p.add_argument("--allow-partial", action="store_true",
                   help="merge the shards that exist; the report is marked incomplete and names the missing ones")
    p.add_argument("--gate", action="append", default=[], help="as for a run: 'gsm8k>=0.40' (repeatable)")
    p.add_argument("--baseline", default=None, help="a previous run: fail on a significant paired drop")
    p.add_argument("--max-drop", type=float, default=0.02)
    p.add_argument("--pair-by", default="id", choices=("id", "content"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from evalscope import gates

    args = parser().parse_args(argv)
    try:
        keeper = gates.GateKeeper(tuple(gates.Threshold.parse(g) for g in args.gate),
                                  rundir.load(args.baseline) if args.baseline else None, args.max_drop, args.pair_by)
        data = merge(args.runs, args.output, args.allow_partial)
    except (MergeError, gates.GateError, rundir.RunError) as exc:
        print(f"evalscope merge: error: {exc}", file=sys.stderr)
        return 4
    gone = data.get("incomplete") or {}
    missing = [*(f"missing {s}" for s in gone.get("missing_shards", [])), *gone.get("notes", [])]
    print(f"merged {len(data['run']['merged_from'])} of {data['shards']['count']} shards into {args.output}"
          + (f" (incomplete: {'; '.join(missing)})" if missing else ""))
    table = pd.DataFrame([{"benchmark": b["name"], **row} for b in data["benchmarks"] for row in b["scores"]],
                         columns=tables.SCORE_COLUMNS)
    print(tables.format_table(table, {b["name"]: b["n_errors"] for b in data["benchmarks"]}))
    if not keeper.active:
        return 0
    merged = rundir.load(args.output)  # the samples, for paired comparisons with --baseline
    names = [b["name"] for b in data["benchmarks"]]
    try:
        verdicts = keeper.judge(table, {n: merged.scores(n) for n in names},
                                {n: str(merged.primary_metric(n)) for n in names},
                                {n: merged.hashes(n) for n in names}, {b["name"]: b for b in data["benchmarks"]})
        outcome = gates.Outcome(tuple(verdicts))
    except gates.GateError as exc:
        outcome = gates.Outcome(error=exc)
    for line, _ in outcome.lines():
        print(line)
    status = gates.exit_status(0, outcome.verdicts, outcome.error)
    tables.write_json(args.output / "report.json", {**data, "gates": outcome.section(),
                                                     "run": {**data["run"], "exit_status": status}})
    return status
