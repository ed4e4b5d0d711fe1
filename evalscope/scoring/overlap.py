"""Free-text answers against references: SQuAD's normalised tokens, exact match and token F1."""

from __future__ import annotations

import re
import string
from collections import Counter

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """SQuAD's normalisation (lower case, no punctuation or articles), then words and single CJK characters."""
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    return [t for t in TOKEN.findall(text) if t not in ("a", "an", "the")]


def f1(prediction: str, reference: str) -> float:
    """Token F1 of two answers (SQuAD's); 1.0 when both normalise to nothing."""
    pred, ref = tokens(prediction), tokens(reference)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or common == 0:
        return float(pred == ref)
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)
