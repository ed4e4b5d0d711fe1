"""Images in requests: one value from every source, their place in the prompt, cache keys and sample digests by
content, chat messages for processors and APIs, and a text-only model refusing them in one line."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from evalscope import images
from evalscope.cache import request_key
from evalscope.config import RunConfig
from evalscope.kinds.vision import placed, row_images, with_images
from evalscope.models import CapabilityError, refuse_images, rendering
from evalscope.schema import GenerationRequest, Sample, interleaved
from tests.image_data import picture


def test_an_image_is_the_same_from_bytes_path_data_uri_and_pil(tmp_path: Path) -> None:
    from PIL import Image

    data = picture("red")
    (tmp_path / "red.png").write_bytes(data)
    uri = f"data:image/png;base64,{base64.b64encode(data).decode()}"
    pil = Image.open(io.BytesIO(data))
    found = [images.load(data), images.load("red.png", base=tmp_path), images.load(uri),
             images.load({"bytes": data, "path": "x.png"}), images.from_base64(base64.b64encode(data).decode())]
    assert {i.sha256 for i in found} == {images.load(data).sha256}
    assert (found[0].width, found[0].height, found[0].mime) == (48, 32, "image/png")
    assert images.load(pil).pil().getpixel((40, 20)) == (220, 30, 30)  # a PIL image is kept losslessly
    assert found[1].name == "red.png"
    ref = found[0].ref()
    assert set(ref) == {"name", "sha256", "mime", "width", "height", "bytes"} and ref["bytes"] == len(data)


def test_a_bad_image_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(images.ImageError, match=r"^image pics/x.png: not a readable image"):
        images.load(b"not a png", "pics/x.png")
    with pytest.raises(images.ImageError, match=r"missing.png: cannot read it"):
        images.load("missing.png", base=tmp_path)


def test_parts_keep_text_and_images_in_order() -> None:
    red, blue = images.load(picture("red")), images.load(picture("blue"))
    prompt, shown, at = interleaved("Compare ", red, " with ", blue, "?")
    request = GenerationRequest(prompt, images=shown, image_at=at)
    assert request.parts() == ["Compare ", red, " with ", blue, "?"]
    assert GenerationRequest("Q?", images=(red, blue)).parts() == [red, blue, "Q?"]  # no place given: first
    assert GenerationRequest("Q?").parts() == ["Q?"]


def test_placeholders_put_each_image_where_the_text_names_it() -> None:
    red, blue, green = (images.load(picture(c)) for c in ("red", "blue", "green"))
    sample = with_images(Sample("q", "A"), {1: red, 2: blue, 3: green})
    request = placed("Is <image 2> darker than <image_1>? <image 9>", sample)
    # image 3 is never named: it goes first; image 9 does not exist: its placeholder is dropped
    assert request.parts() == [green, "Is ", blue, " darker than ", red, "? "]


def test_row_images_read_numbered_columns_lists_and_vlmevalkit_base64(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(picture("red"))
    encoded = base64.b64encode(picture("blue")).decode()
    assert [i.name for i in row_images({"image_1": "a.png", "image_3": "a.png"}, tmp_path).values()] == \
        ["a.png", "a.png"]
    assert list(row_images({"images": json.dumps(["a.png", "a.png"])}, tmp_path)) == [1, 2]
    assert row_images({"image": encoded}, encoded=True)[1].sha256 == images.load(picture("blue")).sha256
    with pytest.raises(ValueError, match="image_1"):
        row_images({"image": "bm90IGFuIGltYWdl"}, encoded=True)


def test_cache_key_follows_image_content_not_its_name() -> None:
    config = RunConfig()
    red, blue = images.load(picture("red"), "a.png"), images.load(picture("blue"), "a.png")

    def key(request: GenerationRequest) -> str:
        return request_key("model", "transformers", request, config)

    text = GenerationRequest("What colour?")
    assert key(GenerationRequest("What colour?", images=(red,))) != key(GenerationRequest("What colour?",
                                                                                          images=(blue,)))
    assert key(GenerationRequest("What colour?", images=(red,))) == \
        key(GenerationRequest("What colour?", images=(replace(red, name="elsewhere.png"),)))
    assert key(GenerationRequest("What colour?", images=(red,))) != key(text)
    # a text request's key is what it was before images existed: the fields it lacks are not in it
    assert key(text) == key(GenerationRequest("What colour?", images=(), image_at=()))


def test_sample_digest_covers_image_content_and_text_samples_keep_theirs() -> None:
    plain = Sample("q", "A", ("x", "y"))
    import hashlib

    before = hashlib.sha256(json.dumps(["q", "A", ["x", "y"]]).encode()).hexdigest()[:16]
    assert plain.digest == before  # runs made before images existed still pair with new ones
    red = with_images(plain, {1: images.load(picture("red"))})
    blue = with_images(plain, {1: images.load(picture("blue"))})
    assert len({plain.digest, red.digest, blue.digest}) == 3


def test_chat_messages_for_a_processor_and_for_an_api() -> None:
    red = images.load(picture("red"), "red.png")
    request = GenerationRequest("What colour?", images=(red,), system="Be brief.")
    assert rendering.messages(request) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour?"}]}]
    api = rendering.messages(request, lambda i: {"type": "image_url", "image_url": {"url": i.data_uri()}})
    assert api[1]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    assert rendering.messages(GenerationRequest("text"))[-1] == {"role": "user", "content": "text"}


def test_a_text_only_model_refuses_images_in_one_line() -> None:
    request = GenerationRequest("What colour?", images=(images.load(picture("red")),))
    with pytest.raises(CapabilityError, match=r"^model 'tiny' is text-only: it cannot see the images") as info:
        refuse_images([GenerationRequest("fine"), request], "tiny")
    assert "\n" not in str(info.value)
    refuse_images([GenerationRequest("fine")], "tiny")  # text alone goes through


def test_thumbnails_are_written_once_per_image(tmp_path: Path) -> None:
    red = images.load(picture("red", size=(400, 200)), "big.png")
    refs = images.with_thumbnails((red, red), tmp_path)
    assert refs[0]["thumbnail"] == refs[1]["thumbnail"] == f"images/{red.sha256}.png"
    from PIL import Image

    with Image.open(tmp_path / refs[0]["thumbnail"]) as thumb:
        assert max(thumb.size) == images.THUMBNAIL_SIDE
