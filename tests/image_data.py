"""Small image datasets written by tests, in the layouts the image benchmarks read (VLMEvalKit's TSV, JSONL with
paths, MMMU's and ChartQA's hub parquet); the pictures are drawn with PIL."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "yellow": (230, 220, 20)}


def picture(colour: str, size: tuple[int, int] = (48, 32), mark: int = 0) -> bytes:
    """A PNG of one colour with a white square at a place set by `mark` (so pictures of one colour differ)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, COLOURS[colour])
    ImageDraw.Draw(img).rectangle([mark * 4, 2, mark * 4 + 6, 8], fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


QUESTIONS = [(colour, mark) for mark in range(2) for colour in COLOURS]
"""(colour, mark) of each question: 'What colour is the picture?', answered by the colour's letter."""


def vmcq_tsv(folder: Path, subset: str = "colours", n: int = len(QUESTIONS)) -> Path:
    """VLMEvalKit's MCQ TSV: index, image (base64 PNG), question, A..D, answer."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{subset}.tsv"
    names = list(COLOURS)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t")
        writer.writerow(["index", "image", "question", "A", "B", "C", "D", "answer"])
        for i, (colour, mark) in enumerate(QUESTIONS[:n]):
            writer.writerow([i, base64.b64encode(picture(colour, mark=mark)).decode(), "What colour is the picture?",
                             *names, "ABCD"[names.index(colour)]])
    return path


def vqa_tsv(folder: Path, subset: str = "colours") -> Path:
    """VLMEvalKit's VQA TSV: index, image (base64 PNG), question, answer."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{subset}.tsv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t")
        writer.writerow(["index", "image", "question", "answer"])
        for i, colour in enumerate(["red", "blue"]):
            writer.writerow([i, base64.b64encode(picture(colour)).decode(), "Which colour is it?", colour])
    return path


def vmcq_jsonl(folder: Path, subset: str = "pairs") -> Path:
    """JSONL with image paths relative to the file; the second question places two images with `<image N>`."""
    (folder / "pics").mkdir(parents=True, exist_ok=True)
    for colour in COLOURS:
        (folder / "pics" / f"{colour}.png").write_bytes(picture(colour))
    rows = [
        {"question": "What colour is it?", "options": list(COLOURS), "answer": "B", "image": "pics/green.png"},
        {"question": "Is <image 1> the same colour as <image 2>?", "options": ["yes", "no"], "answer": "B",
         "images": ["pics/red.png", "pics/blue.png"]},
    ]
    path = folder / f"{subset}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _parquet(path: Path, rows: list[dict[str, object]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def mmmu(folder: Path, subjects: tuple[str, ...] = ("Art", "Math")) -> Path:
    """MMMU's hub layout: `<Subject>/validation-00000-of-00001.parquet`, image cells `{"bytes", "path"}`; per
    subject a multiple-choice question with images as options and an open one with a list of gold answers."""
    for subject in subjects:
        cell = {"bytes": picture("red"), "path": "a.png"}
        rows: list[dict[str, object]] = [
            {"id": f"validation_{subject}_1", "question": "Which picture is red?",
             "options": "['<image 1>', '<image 2>']", "answer": "A", "question_type": "multiple-choice",
             "image_1": cell, "image_2": {"bytes": picture("blue"), "path": "b.png"}, "subfield": subject},
            {"id": f"validation_{subject}_2", "question": "How many squares are in <image 1>?", "options": "[]",
             "answer": "['1', '1.0']", "question_type": "open", "image_1": cell, "image_2": None,
             "subfield": subject},
        ]
        _parquet(folder / subject / "validation-00000-of-00001.parquet", rows)
    return folder


def chartqa(folder: Path) -> Path:
    """ChartQA's hub layout (`lmms-lab/ChartQA`): `data/test-00000-of-00001.parquet` with `type`, `question`,
    `answer` and `image` `{"bytes", "path"}`."""
    rows = [{"type": kind, "question": f"What is the value of bar {i}?", "answer": str(10 * (i + 1)),
             "image": {"bytes": picture(colour, mark=i), "path": None}}
            for i, (kind, colour) in enumerate([("human_test", "red"), ("augmented_test", "blue"),
                                                 ("human_test", "green")])]
    _parquet(folder / "data" / "test-00000-of-00001.parquet", rows)
    return folder
