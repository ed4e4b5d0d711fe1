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
