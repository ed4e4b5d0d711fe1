"""Prompts for load tests: `random` (controlled token length), `openqa` (a local open_qa.jsonl) or a JSONL path."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Common English words that BPE vocabularies (GPT-2, Llama, SmolLM, Qwen) keep as one token each with their
# leading space, so a prompt of n of them is about n tokens. The server's `usage.prompt_tokens` is recorded.
WORDS = (
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are", "as", "with", "his",
    "they", "at", "be", "this", "have", "from", "or", "one", "had", "by", "but", "not", "what", "all", "were", "we",
    "when", "your", "can", "said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if", "will",
    "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like",
    "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number", "no", "way", "could",
    "people", "my", "than", "first", "water", "been", "call", "who", "oil", "its", "now", "find", "long", "down",
    "day", "did", "get", "come", "made", "may", "part", "over", "new", "sound", "take", "only", "little", "work",
    "know", "place", "year", "live", "me", "back", "give", "most", "very", "after", "thing", "our", "just", "name",
    "good", "sentence", "man", "think", "say", "great", "where", "help", "through", "much", "before", "line",
    "right", "too", "mean", "old", "any", "same", "tell", "boy", "follow", "came", "want", "show", "also", "around",
    "form", "three", "small", "set", "put", "end", "does", "another", "well", "large", "must", "big", "even", "such",
    "because", "turn", "here", "why", "ask", "went", "men", "read", "need", "land", "different", "home", "us",
    "move", "try", "kind", "hand", "picture", "again", "change", "off", "play", "spell", "air", "away", "animal",
    "house", "point", "page", "letter", "mother", "answer", "found", "study", "still", "learn", "should", "world",
    "high", "every", "near", "add", "food", "between", "own", "below", "country", "plant", "last", "school",
    "father", "keep", "tree", "never", "start", "city", "earth", "eye", "light",
)
_APPROX = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|\w+|[^\w\s]")


class DatasetError(ValueError):
    """A missing or malformed prompt source; the message names the file or flag."""


@dataclass(frozen=True)
class Prompt:
    """One request's input."""

    text: str
    tokens: int
    """Its length by the model's tokenizer, or by `approx_tokens` when none is given."""


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: list[int]) -> str: ...
    @property
    def vocab_size(self) -> int: ...


class _HfTokenizer:
    """A `tokenizer.json` read with the `tokenizers` library (no transformers import)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer as RawTokenizer

        self._tok = RawTokenizer.from_file(str(path))
        special = {t.content for t in self._tok.get_added_tokens_decoder().values()}
        vocab = self._tok.get_vocab()
        self._ids = np.array(sorted(i for s, i in vocab.items() if s not in special), dtype=np.int64)

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: list[int]) -> str:
        return str(self._tok.decode(ids, skip_special_tokens=True))

    @property
    def vocab_size(self) -> int:
        return int(self._ids.size)

    def sample_ids(self, rng: np.random.Generator, n: int) -> list[int]:
        return [int(i) for i in rng.choice(self._ids, size=n)]


def load_tokenizer(path: str | Path | None) -> _HfTokenizer | None:
    """The tokenizer of a local HF model folder (or a tokenizer.json); None when there is none."""
    if path is None:
        return None
    p = Path(path).expanduser()
    file = p / "tokenizer.json" if p.is_dir() else p
    if not file.is_file() or file.name != "tokenizer.json":
        return None
    return _HfTokenizer(file)


def approx_tokens(text: str) -> int:
    """Without a tokenizer: words, punctuation marks and CJK characters each count as one token."""
    return len(_APPROX.findall(text))


def _count(text: str, tokenizer: _HfTokenizer | None) -> int:
    return len(tokenizer.encode(text)) if tokenizer is not None else approx_tokens(text)


def random_prompts(n: int, min_len: int, max_len: int, seed: int, tokenizer: _HfTokenizer | None) -> list[Prompt]:
    """n prompts whose lengths are uniform in [min_len, max_len] tokens."""
    if min_len < 1 or max_len < min_len:
        raise DatasetError(f"--min-prompt-length {min_len} / --max-prompt-length {max_len}: need 1 <= min <= max")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=n)
    prompts = []
    for length in lengths:
        if tokenizer is None:
            text = " ".join(rng.choice(WORDS, size=int(length)))
        else:
            ids = tokenizer.sample_ids(rng, int(length))
            # Decoding random ids and encoding again can merge or split tokens: trim and top up until stable.
            for _ in range(8):
                text = tokenizer.decode(ids)
                ids = tokenizer.encode(text)
                if len(ids) == length:
                    break
                ids = ids[:length] if len(ids) > length else ids + tokenizer.sample_ids(rng, int(length) - len(ids))
        prompts.append(Prompt(text, _count(text, tokenizer)))
    return prompts


def _text_of(row: Any, where: str) -> str:
    if isinstance(row, str):
        return row
    if isinstance(row, dict):
        for key in ("prompt", "question", "text", "input"):
            if isinstance(row.get(key), str):
                return str(row[key])
    raise DatasetError(f"{where}: expected a JSON string or an object with a 'prompt', 'question' or 'text' field")


def file_prompts(path: Path, n: int, min_len: int | None, max_len: int | None, seed: int,
                 tokenizer: _HfTokenizer | None) -> list[Prompt]:
    """n prompts from a JSONL file (one object per line), filtered by token length, shuffled and cycled."""
    if not path.is_file():
        raise DatasetError(f"prompt file not found: {path}")
    pool = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (an undecodable byte at offset {exc.start}); save it as "
                           "UTF-8") from None
    # \n only, not splitlines(): U+2028 and U+2029 (or \x1c-\x1e, \x85) are valid inside a JSON string
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        text = _text_of(row, f"{path}:{lineno}")
        tokens = _count(text, tokenizer)
        if (min_len is None or tokens >= min_len) and (max_len is None or tokens <= max_len):
            pool.append(Prompt(text, tokens))
    if not pool:
        raise DatasetError(f"{path}: no prompt within --min-prompt-length {min_len} / --max-prompt-length {max_len}")
    order = np.random.default_rng(seed).permutation(len(pool))
    return [pool[int(order[i % len(pool)])] for i in range(n)]


def openqa_file(dataset_path: str | None, dataset_dir: Path | None) -> Path:
    """EvalScope's `openqa` data (HC3 open_qa.jsonl, `{"question": ...}` lines), read from a local file."""
    if dataset_path:
        return Path(dataset_path).expanduser()
    if dataset_dir is not None:
        return dataset_dir / "openqa" / "open_qa.jsonl"
    raise DatasetError("--dataset openqa needs --dataset-path FILE or --dataset-dir holding openqa/open_qa.jsonl")


def load(dataset: str, n: int, *, min_len: int | None, max_len: int | None, seed: int,
         tokenizer: _HfTokenizer | None, dataset_path: str | None = None,
         dataset_dir: Path | None = None) -> list[Prompt]:
    """The prompts of `--dataset random|openqa|PATH`."""
    if dataset == "random":
        lo = min_len or max_len or 128
        return random_prompts(n, lo, max_len or lo, seed, tokenizer)
    path = openqa_file(dataset_path, dataset_dir) if dataset == "openqa" else Path(dataset).expanduser()
    return file_prompts(path, n, min_len, max_len, seed, tokenizer)
