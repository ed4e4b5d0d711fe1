"""Data files read to the last readable row: a gzip copy cut short, CSV fields over the csv module's limit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evalscope.benchmark import RowError
from evalscope.rows import read_csv, read_jsonl
from evalscope.schema import DataError

ROWS = [{"task_id": f"t/{i}", "prompt": f"def f{i}():\n    ...\n" + "x" * 300} for i in range(60)]


def jsonl_gz(path: Path, rows: list[dict], cut: int = 0) -> Path:
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    path.write_bytes(data[:-cut] if cut else data)
    return path


def test_a_truncated_gzip_yields_the_rows_before_the_cut_then_one_error_naming_file_and_line(tmp_path: Path) -> None:
    whole = jsonl_gz(tmp_path / "whole.jsonl.gz", ROWS)
    assert [row for _, row in read_jsonl(whole)] == ROWS
    cut = jsonl_gz(tmp_path / "cut.jsonl.gz", ROWS, cut=len(whole.read_bytes()) // 3)
    read = list(read_jsonl(cut))  # no EOFError
    rows, (where, error) = read[:-1], read[-1]
    assert 10 < len(rows) < 60 and [row for _, row in rows] == ROWS[: len(rows)]  # every line before the cut
    assert where == f"{cut}:{len(rows) + 1}" and isinstance(error, RowError)
    assert str(error) == "the gzip file ends inside this line (a truncated copy: compressed data ended early); the " \
                         "rows before it are read"
    trailer = jsonl_gz(tmp_path / "trailer.jsonl.gz", ROWS, cut=4)  # all data, the size check lost
    (*rows, (where, error)) = read_jsonl(trailer)
    assert len(rows) == 60 and where == f"{trailer}:61" and "ends after line 60" in str(error)
    two = tmp_path / "two.jsonl.gz"  # a multi-member file (`cat a.gz b.gz`) is whole
    two.write_bytes(gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n'))
    assert [row for _, row in read_jsonl(two)] == [{"a": 1}, {"a": 2}]
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text('{"a": 1}\n')
    with pytest.raises(DataError, match=r"plain\.jsonl\.gz: not a readable gzip file"):
        list(read_jsonl(plain))


def test_a_csv_field_over_the_csv_modules_limit_is_read(tmp_path: Path) -> None:
    long = "word " * 60_000  # 300000 characters: over csv's default 131072
    path = tmp_path / "exam.csv"
    path.write_text(f'id,question,answer\n1,"{long}",A\n2,short,B\n', encoding="utf-8")
    rows = list(read_csv(path))
    assert [where for where, _ in rows] == [f"{path}:2", f"{path}:3"]
    assert rows[0][1]["question"] == long and rows[1][1] == {"id": "2", "question": "short", "answer": "B"}
