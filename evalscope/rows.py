"""Data files as rows: JSON lines (also gzipped) and CSV line by line, json/csv/parquet through `datasets`; each row
with its `file:line`, a row that cannot be read yielded as a RowError in its place."""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import re
import zlib
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


CSV_FIELD_LIMIT = 2**31 - 1
"""The csv module stops at fields over 131072 characters (long contexts are longer); files are read whole anyway.
(2**31 - 1 rather than sys.maxsize: the limit is a C long, 32 bits on Windows.)"""


def csv_rows(lines: Iterable[str], where: str | Path, columns: Sequence[str] | None = None,
             delimiter: str = ",") -> Rows:
    """Yield (`where:line`, row) for CSV text (a file, or one read from an archive); `columns` names the fields
    of a text without a header row; `delimiter` "\t" reads TSV. Text the csv module cannot parse stops with a
    DataError naming its line."""
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    reader = csv.reader(lines, delimiter=delimiter)
    try:
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
    except csv.Error as exc:
        raise DataError(f"{where}:{reader.line_num}: cannot read this CSV row ({exc})") from None


def read_csv(path: Path, columns: Sequence[str] | None = None, delimiter: str = ",") -> Rows:
    """Yield (`file:line`, row) for a CSV file (a TSV one with `delimiter="\t"`); `columns` names the fields of a
    file without a header row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            yield from csv_rows(fh, path, columns, delimiter)
    except UnicodeDecodeError:
        raise DataError(not_utf8(path)) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


class _Truncated(Exception):
    """A gzip stream that ends before its end marker; `partial` when a line was cut short."""

    def __init__(self, partial: bool) -> None:
        super().__init__()
        self.partial = partial


def _gunzip(path: Path) -> Iterator[bytes]:
    """The decompressed bytes of a .gz file (every member), block by block, as far as they go; _Truncated if the
    file ends early (a copy cut short), rather than gzip's EOFError after losing the block it was reading."""
    stream = zlib.decompressobj(wbits=31)
    fed = False
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            while block:
                fed = True
                try:
                    yield stream.decompress(block)
                except zlib.error as exc:
                    raise DataError(f"{path}: not a readable gzip file ({exc})") from None
                block = b""
                if stream.eof and stream.unused_data:  # the next member of a multi-member file
                    block = stream.unused_data
                    stream = zlib.decompressobj(wbits=31)
    if fed and not stream.eof:
        raise _Truncated(False)


def _gz_lines(path: Path) -> Iterator[str]:
    """The lines (split on \\n only, as the writer wrote them) of a gzipped UTF-8 text file."""
    pending: list[bytes] = []  # the start of a line that goes on in the next block (joined once it ends)
    first = True
    try:
        for data in _gunzip(path):
            *whole, rest = data.split(b"\n")
            for raw in whole:
                line = b"".join([*pending, raw]) if pending else raw
                pending = []
                yield line.decode("utf-8-sig" if first else "utf-8") + "\n"
                first = False
            if rest:
                pending.append(rest)
    except _Truncated:
        raise _Truncated(bool(b"".join(pending).strip())) from None
    if pending:
        yield b"".join(pending).decode("utf-8-sig" if first else "utf-8")


def read_jsonl(path: Path) -> Rows:
    """Yield (`file:line`, row) per JSON line (of a `.jsonl` or `.jsonl.gz` file); a line that is not a JSON
    object is yielded as a RowError, and so is the end of a gzip file cut short (after the rows before it)."""
    number = 0
    try:
        with (contextlib.nullcontext(_gz_lines(path)) if path.suffix == ".gz"
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
    except _Truncated as cut:
        where = "inside this line" if cut.partial else f"after line {number}"
        yield f"{path}:{number + 1}", RowError(f"the gzip file ends {where} (a truncated copy: compressed data "
                                               "ended early); the rows before it are read")
    except UnicodeDecodeError:
        raise DataError(not_utf8(path)) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def not_utf8(path: Path) -> str:
    """`file:line: not UTF-8 ...`, naming where the first undecodable byte is."""
    # a decompressor object, not gzip.decompress: a truncated file gives what it has instead of EOFError
    data = zlib.decompressobj(wbits=31).decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); save it as UTF-8"
    return f"{path}: not UTF-8 text"
