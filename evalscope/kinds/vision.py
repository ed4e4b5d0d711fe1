"""Benchmarks whose questions show images: a row's image columns read into a Sample, and `<image N>` placeholders
of the prompt text replaced by the images themselves (EvalScope's and MMMU's convention)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from evalscope import images
from evalscope.images import Image
from evalscope.schema import GenerationRequest, RowError, Sample

PLACEHOLDER = re.compile(r"<image[_ ](\d+)>")
"""`<image 1>`, `<image_1>`: where a question's N-th image goes."""
MAX_IMAGES = 100
NUMBERS = "image_numbers"
"""`Sample.metadata` key: the number (1, 2, ...) each of `Sample.images` answers to in `<image N>`."""


def row_images(row: Mapping[str, Any], base: Path | None = None, encoded: bool = False) -> dict[int, Image]:
    """A row's images by number: `image_1` .. `image_N` columns, else an `images` list, else one `image` column.
    A cell is a path (relative to `base`), a data URI, a hub `{"bytes": ...}` cell, or with `encoded` (VLMEvalKit's
    TSV) base64 text. A cell that is not an image raises RowError naming its column."""
    found: dict[int, Any] = {n: row[f"image_{n}"] for n in range(1, MAX_IMAGES + 1) if row.get(f"image_{n}")}
    if not found and row.get("images"):
        listed = row["images"]
        if isinstance(listed, str) and listed.startswith("["):  # a TSV cell holding a JSON list
            listed = json.loads(listed)
        if not isinstance(listed, list):
            raise RowError("field 'images' is not a list")
        found = {n: cell for n, cell in enumerate(listed, 1) if cell}
    if not found and row.get("image"):
        found = {1: row["image"]}
    out = {}
    for number, cell in found.items():
        try:
            if encoded and isinstance(cell, str) and not cell.startswith("data:"):
                out[number] = images.from_base64(cell, f"image_{number}")
            else:
                out[number] = images.load(cell, cell if isinstance(cell, str) and len(cell) < 512 else
                                          f"image_{number}", base)
        except images.ImageError as exc:
            raise RowError(str(exc)) from None
    return out


def with_images(sample: Sample, numbered: Mapping[int, Image]) -> Sample:
    """The sample carrying `numbered`'s images in number order."""
    from dataclasses import replace

    order = sorted(numbered)
    return replace(sample, images=tuple(numbered[n] for n in order),
                   metadata={**sample.metadata, NUMBERS: order})


def placed(prompt: str, sample: Sample, **request: Any) -> GenerationRequest:
    """`prompt` with each `<image N>` replaced by the sample's image N in place; images it never names go before
    the text (VLMEvalKit's order: the image, then the question). A placeholder without an image is dropped."""
    by_number = dict(zip(sample.metadata.get(NUMBERS, range(1, len(sample.images) + 1)), sample.images, strict=True))
    text, shown, at = "", [], []
    last = 0
    for match in PLACEHOLDER.finditer(prompt):
        text += prompt[last : match.start()]
        last = match.end()
        image = by_number.get(int(match.group(1)))
        if image is not None:
            shown.append(image)
            at.append(len(text))
    text += prompt[last:]
    named = {id(i) for i in shown}
    first = [i for i in sample.images if id(i) not in named]
    return GenerationRequest(text, images=(*first, *shown), image_at=(*[0] * len(first), *at), **request)


def read_parquet(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`file:row`, row) of a hub parquet file, image cells left as `{"bytes", "path"}` (not decoded: the bytes
    are the image, as the hub stores it)."""
    import pyarrow.parquet as pq

    for number, row in enumerate(pq.read_table(path).to_pylist(), 1):
        yield f"{path}:{number}", row
