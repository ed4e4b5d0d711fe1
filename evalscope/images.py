"""Images in requests: one typed value made from a PIL image, a path, bytes or a data URI, known by its sha256."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

THUMBNAIL_SIDE = 128
"""Longest side of the thumbnails reports show."""


class ImageError(ValueError):
    """An image that cannot be read; the message names it."""


@dataclass(frozen=True)
class Image:
    """An encoded image (PNG, JPEG, ...) as a request carries it. Records keep `ref()`, never the bytes; cache keys
    hash the bytes (see `cache.request_key`)."""

    data: bytes = field(repr=False)
    """The encoded file, as read or as PIL wrote it."""
    mime: str
    """`image/png`, `image/jpeg`, ..."""
    width: int
    height: int
    sha256: str
    name: str = ""
    """Where it came from (a path, `row image`), for records and messages."""

    def ref(self) -> dict[str, Any]:
        """What a record keeps of the image: its name, content hash, size in pixels and bytes."""
        return {"name": self.name, "sha256": self.sha256, "mime": self.mime, "width": self.width,
                "height": self.height, "bytes": len(self.data)}

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def pil(self) -> Any:
        """The decoded image in RGB, as processors take it."""
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(self.data)) as img:
            return img.convert("RGB")

    def thumbnail(self, side: int = THUMBNAIL_SIDE) -> bytes:
        """A PNG no larger than `side` on its longest edge."""
        img = self.pil()
        img.thumbnail((side, side))
        out = io.BytesIO()
        img.save(out, format="PNG")
        return out.getvalue()


def from_bytes(data: bytes, name: str = "") -> Image:
    """An image from its encoded bytes; ImageError (naming it) when PIL cannot read them."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as img:
            width, height, kind = img.width, img.height, (img.format or "png").lower()
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"image {name or '(bytes)'}: not a readable image ({exc})".splitlines()[0]) from None
    return Image(data, PILImage.MIME.get(kind.upper(), f"image/{kind}"), width, height,
                 hashlib.sha256(data).hexdigest(), name)


def from_base64(text: str, name: str = "") -> Image:
    """An image from base64 text (VLMEvalKit's TSV column) or a `data:image/...;base64,` URI."""
    payload = text.split(",", 1)[1] if text.startswith("data:") else text
    try:
        data = base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"image {name or '(base64)'}: not base64 ({exc})") from None
    return from_bytes(data, name)


def load(source: Any, name: str = "", base: Path | None = None) -> Image:
    """An image from whatever a dataset row holds: an `Image`, a PIL image, bytes, a `{"bytes": ..., "path": ...}`
    dict (a hub parquet's image column), a data URI, or a path (relative to `base`)."""
    if isinstance(source, Image):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return from_bytes(bytes(source), name)
    if isinstance(source, Mapping):
        if source.get("bytes"):
            return from_bytes(bytes(source["bytes"]), name or str(source.get("path") or ""))
        if source.get("path"):
            return load(str(source["path"]), name, base)
        raise ImageError(f"image {name}: neither bytes nor a path in {sorted(source)}")
    if isinstance(source, (str, Path)):
        text = str(source)
        if text.startswith("data:"):
            return from_base64(text, name or "data URI")
        path = Path(text) if base is None or Path(text).is_absolute() else base / text
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"image {path}: cannot read it ({exc.strerror or exc})") from None
        return from_bytes(data, name or text)
    if hasattr(source, "save") and hasattr(source, "mode"):  # a PIL image: stored as PNG, losslessly
        out = io.BytesIO()
        source.save(out, format="PNG")
        return from_bytes(out.getvalue(), name or "PIL image")
    raise ImageError(f"image {name}: cannot read a {type(source).__name__}")


THUMBNAILS = "images"
"""The run folder's folder of thumbnails, one `<sha256>.png` per distinct image."""


def with_thumbnails(images: tuple[Image, ...], run_dir: Path) -> tuple[dict[str, Any], ...]:
    """Each image's `ref()` with its thumbnail's path relative to `run_dir` (written once; xdist workers may race
    on the same image, so it is written aside and renamed)."""
    folder = run_dir / THUMBNAILS
    folder.mkdir(parents=True, exist_ok=True)
    refs = []
    for image in images:
        path = folder / f"{image.sha256}.png"
        if not path.is_file():
            aside = path.with_name(f"{path.name}.{os.getpid()}")
            aside.write_bytes(image.thumbnail())
            os.replace(aside, path)
        refs.append({**image.ref(), "thumbnail": f"{THUMBNAILS}/{path.name}"})
    return tuple(refs)


def thumbnail_src(run_dir: Path, ref: Mapping[str, Any]) -> str:
    """A record's image as an HTML page shows it: its thumbnail inlined as a data URI (the page stays one file);
    "" when the run wrote none (or it is gone)."""
    path = run_dir / str(ref.get("thumbnail") or "")
    if not ref.get("thumbnail") or not path.is_file():
        return ""
    return f"data:image/png;base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
