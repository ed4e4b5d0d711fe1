"""Long-output writing (LongBench-Write, LongWrite-Ruler): LongWriter's length and S_l checked by hand on made-up
replies, the judge's six-dimension reader, and a run that counts replies cut by max_new_tokens and draws the chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalscope.kinds.writing import length_score, output_length, overall, read_quality
from tests.conftest import SHARED_DATA


@pytest.mark.parametrize(("text", "length"), [
    ("one two three", 3),
    ("Hello 世界, it's 2024!", 5),  # Hello, it, s (an apostrophe splits), 世, 界; digits and punctuation never count
    ("雷锋精神，永远闪光。", 8),  # Chinese: characters, punctuation not
    ("naïve café", 0),  # as the paper's regex reads them (Unicode word boundaries): words with ï or é are not counted
    ("", 0),
])
def test_output_length_counts_words_and_chinese_characters(text: str, length: int) -> None:
    assert output_length(text) == length


@pytest.mark.parametrize(("required", "reply", "expected"), [
    (100, "word " * 100, 100.0),
    (100, "word " * 150, 100 * (1 - 0.5 / 3)),  # 50% too long: loses a sixth
    (100, "word " * 50, 50.0),  # half as long: 1 - (2 - 1) / 2
    (100, "word " * 400, 0.0),  # four times as long: 1 - 3 / 3
    (100, "word " * 25, 0.0),  # a quarter: 1 - 3 / 2, floored at 0
    (200, "好" * 100 + "，。", 50.0),  # Chinese characters against a length in characters
    (1000, "", 0.0),
])
def test_length_score_by_hand(required: int, reply: str, expected: float) -> None:
    assert length_score(required, output_length(reply)) == pytest.approx(expected)


DIMS = ("Relevance", "Accuracy", "Coherence", "Clarity", "Breadth and Depth", "Reading Experience")


@pytest.mark.parametrize(("reply", "expected"), [
    ('{"Analysis": "fine", ' + ", ".join(f'"{d}": 5' for d in DIMS) + "}", 100.0),
    ("Some words first.\n```json\n{\"Analysis\": \"x\",\n" + ",\n".join(f'"{d}": {s}' for d, s in
                                                                       zip(DIMS, (5, 4, 3, 2, 1, 3), strict=True))
     + "}\n```", (100 + 75 + 50 + 25 + 0 + 50) / 6),
    ('{"Analysis": "x", ' + ", ".join(f'"{d}": "4"' for d in DIMS) + "}", 75.0),  # digits as strings
    ('{"Analysis": "x", ' + ", ".join(f'"{d}": 4' for d in DIMS[:5]) + "}", None),  # a dimension missing
    ('{"Analysis": "x", ' + ", ".join(f'"{d}": 6' for d in DIMS) + "}", None),  # off the 1-5 scale
    ('{"Analysis": "x", ' + ", ".join(f'"{d}": 4.5' for d in DIMS) + "}", None),  # not an integer
    ("The response is good. Relevance: 5", None),
])
def test_quality_reader(reply: str, expected: float | None) -> None:
    got = read_quality(reply)
    assert got == (None if expected is None else pytest.approx(expected))


def test_s_is_the_mean_of_length_and_quality() -> None:
    assert overall({"S_l": 80.0, "S_q": 60.0}) == {"S": 70.0}
    assert overall({"S_l": 80.0}) == {}  # no judge, no S: never a silent S_q of 0


def test_ruler_counts_cut_replies_and_draws_the_chart(run_suite) -> None:
    if not (SHARED_DATA / "longbench_write" / "longwrite_ruler.jsonl").is_file():
        pytest.skip(f"no longbench_write data under {SHARED_DATA}")
    run = run_suite("--limit", "2", bench="longwrite_ruler", data=SHARED_DATA, max_new_tokens=4)
    assert run.result.ret == 0, run.result.stdout.str()
    run.result.stdout.fnmatch_lines(["*longwrite_ruler*judge metric S_q: not scored (no --judge)*",
                                     "*longwrite_ruler: 2 of 2 replies cut by max_new_tokens (finish_reason length)"])
    (bench,) = run.report["benchmarks"]
    assert bench["setup"]["metrics"] == ["S_l", "length_ratio"] and "no --judge" in bench["judge"]["note"]
    assert bench["cut_by_max_new_tokens"] == 2 == sum(r["finish_reason"] == "length" for r in run.records)
    for record in run.records:  # 4 tokens against 1000 words: S_l is 0, the ratio tiny but counted
        assert record["metrics"]["S_l"] == 0.0 and record["details"]["produced"] == output_length(record["output"])
    (chart,) = bench["charts"]
    assert chart["kind"] == "scatter" and sorted(p[0] for p in chart["points"]) == [1000.0, 1000.0]
    png = Path(run.report["run"]["work_dir"]) / chart["png"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
