"""Data files as rows: JSON lines (also gzipped) and CSV line by line, json/csv/parquet through `datasets`; each row
with its `file:line`, a row that cannot be read yielded as a RowError in its place."""

from __future__ import annotations

import csv
import glob
import gzip
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.schema import DataError, RowError

Rows = Iterator[tuple[str, Mapping[str, Any] | RowError]]
"""(`file:line`, row) pairs; a row that cannot be read is a RowError in its place."""

_FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}

_SHARD = re.compile(r"^(?P<stem>.+)-\d{5}-of-(?P<count>\d{5})(?P<ext>\.\w+)$")


def shards(path: Path) -> list[Path]:
    """Every shard of a hub dataset split (`test-00000-of-00003.parquet` and its siblings), else the file alone."""
    found = _SHARD.match(path.name)
    if found is None:
        return [path]
    pattern = f"{glob.escape(found['stem'])}-*-of-{found['count']}{found['ext']}"
    return sorted(path.parent.glob(pattern)) or [path]


def read_rows(path: Path) -> Rows:
    """Yield (`file:line`, row) for every record of a data file: JSON lines (also gzipped) line by line, so a bad
    line errors only its own item; json/csv/parquet through `datasets`."""
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        yield from read_jsonl(path)
        return
    import datasets

    fmt = _FORMATS.get(path.suffix)
    if fmt is None:
        raise DataError(f"{path}: unsupported data format {path.suffix!r}")
    datasets.disable_progress_bars()
    parts = shards(path)
    try:
        table = datasets.load_dataset(fmt, data_files=[str(p) for p in parts], split="train")
    except Exception as exc:  # datasets wraps parse errors in several exception types
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    # jsonl lines and csv rows are 1-based line numbers (csv: after the header line).
    offset = 2 if fmt == "csv" else 1
    where = path if len(parts) == 1 else path.parent / f"{_SHARD.match(path.name)['stem']}-*"  # type: ignore[index]
    for i, row in enumerate(table):
        yield f"{where}:{i + offset}", dict(row)


def csv_rows(lines: Iterable[str], where: str | Path, columns: Sequence[str] | None = None) -> Rows:
    """Yield (`where:line`, row) for CSV text (a file, or one read from an archive); `columns` names the fields
    of a text without a header row."""
    reader = csv.reader(lines)
    header = list(columns) if columns is not None else next(reader, [])
    line = reader.line_num + 1
    for record in reader:
        if not record:  # a blank line (a trailing one, say) is no row
            pass
        elif len(record) != len(header):
            yield f"{where}:{line}", RowError(f"{len(record)} columns, expected {len(header)}")
        else:
            yield f"{where}:{line}", dict(zip(header, record, strict=True))
        line = reader.line_num + 1


def read_csv(path: Path, columns: Sequence[str] | None = None) -> Rows:
    """Yield (`file:line`, row) for a CSV file; `columns` names the fields of a file without a header row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            yield from csv_rows(fh, path, columns)
    except UnicodeDecodeError:
        raise DataError(not_utf8(path)) from None
    except (OSError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def read_jsonl(path: Path) -> Rows:
    """Yield (`file:line`, row) per JSON line (of a `.jsonl` or `.jsonl.gz` file); a line that is not a JSON
    object is yielded as a RowError."""
    try:
        with (gzip.open(path, "rt", encoding="utf-8-sig") if path.suffix == ".gz"
              else open(path, encoding="utf-8-sig")) as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line.strip())
                except json.JSONDecodeError as exc:
                    what = exc.msg.removesuffix(" at")  # "Unterminated string starting at"
                    yield f"{path}:{number}", RowError(f"invalid JSON ({what} at column {exc.colno})")
                    continue
                yield f"{path}:{number}", row if isinstance(row, dict) else RowError("not a JSON object")
    except UnicodeDecodeError:
        raise DataError(not_utf8(path)) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def not_utf8(path: Path) -> str:
    """`file:line: not UTF-8 ...`, naming where the first undecodable byte is."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); save it as UTF-8"
    return f"{path}: not UTF-8 text"
