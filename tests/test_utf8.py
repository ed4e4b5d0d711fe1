"""Text written as UTF-8 whatever it holds: JSON that escapes lone surrogates only when it must; scrubbed replies."""

from __future__ import annotations

import json
from pathlib import Path

from evalscope import utf8
from evalscope.report.tables import write_json


def test_json_round_trips_a_lone_surrogate_and_keeps_other_text_as_itself(tmp_path: Path) -> None:
    record = {"output": "4 \udc80 é", "n": 1}
    text = utf8.dumps(record)
    assert text.encode("utf-8") and json.loads(text) == record and "\\udc80" in text
    assert utf8.dumps({"output": "4 é 😀"}) == '{"output": "4 é 😀"}'
    write_json(tmp_path / "report.json", {"records": [record]})  # the arena's report holds answers
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8")) == {"records": [record]}


def test_scrub_replaces_lone_surrogates_only() -> None:
    assert utf8.scrub("a\udc80b\ud800") == "a\ufffdb\ufffd"
    assert utf8.scrub("é 😀") == "é 😀"
