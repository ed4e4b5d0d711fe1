"""Text that can always be written as UTF-8: JSON that escapes lone surrogates, replies with them replaced."""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(value: Any, **kwargs: Any) -> str:
    """`json.dumps` with non-ASCII text as itself, unless a lone surrogate (`\\udc80`, which has no UTF-8 form)
    is in it: then all as ASCII escapes, which `json.loads` turns back into the same string."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, **kwargs)
    return text


def scrub(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, as a UTF-8 decoder does with bytes it cannot read: a
    server's `\\udc80` escape decodes to one, and neither xdist's channel nor a UTF-8 file can carry it."""
    return _SURROGATE.sub("\ufffd", text)
