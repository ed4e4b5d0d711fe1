"""A planted API key, and the check that it is nowhere in what a run leaves: its files and its terminal output."""

from __future__ import annotations

from pathlib import Path

KEY = "sk-test-PLANTED-0123456789"
"""The key a secret test gives (as --api-key, in a URL's userinfo, in JSON specs, in --headers)."""


def assert_nowhere(key: str, *places: Path | str) -> None:
    """No file under the folders (every byte of every file: JSON, JSONL, HTML, logs, SQLite) and no text holds
    `key`; the message names the file (or the text's first line with it)."""
    needle = key.encode()
    for place in places:
        if isinstance(place, Path):
            files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
            assert files, f"{place}: no files to check"
            for path in files:
                assert needle not in path.read_bytes(), f"{path} holds the planted key"
        else:
            lines = [line for line in place.splitlines() if key in line]
            assert not lines, f"output holds the planted key: {lines[0][:300]}"
