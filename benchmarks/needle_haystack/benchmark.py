"""Needle in a haystack (Kamradt 2023; NeedleBench, Li et al. 2024, arXiv:2407.11963): a fact hidden at a stated
depth of a long context, over a grid of context lengths x depths; the report shows the length x depth heatmap."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from evalscope.api import (
    Benchmark,
    Completion,
    GenerationRequest,
    Rows,
    RunConfig,
    Sample,
    Scored,
    Setup,
    heatmap,
    local_weights,
    reference_grader,
)

# --- the haystack: long natural text cut at sentence ends, needles placed at a depth ---------------------------------

SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+")


@dataclass(frozen=True)
class Needle:
    """A fact hidden in the haystack, and the words an answer must contain to have found it."""

    text: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Context:
    """One haystack with its needles in, and where they landed."""

    text: str
    tokens: int
    """Tokens of the whole context (haystack and needles), by the model's tokenizer."""
    depths: tuple[float, ...]
    """Where each needle went: the share of the haystack's characters before it, in percent."""


@cache
def tokenizer(folder: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def count(tok: Any, text: str) -> int:
    return len(tok(text, add_special_tokens=False)["input_ids"])


def texts(path: Path) -> Iterable[str]:
    """A haystack file's texts: a .txt file whole, or a JSONL file's `article` / `text` / `context` fields (each
    distinct text once, so RACE's article shared by several questions counts once)."""
    if path.suffix == ".txt":
        yield path.read_text(encoding="utf-8")
        return
    seen: set[str] = set()
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise ValueError(f"{path}:{number}: not a JSON line") from None
            text = next((row[k] for k in ("article", "text", "context") if isinstance(row.get(k), str)), None)
            if text is None:
                raise ValueError(f"{path}:{number}: no 'article', 'text' or 'context' field")
            if text not in seen:
                seen.add(text)
                yield text


def haystack(path: Path, seed: int, tok: Any, tokens: int) -> str:
    """At least `tokens` tokens of text: the file's texts in a seeded order, joined by blank lines."""
    pool = list(texts(path))
    random.Random(seed).shuffle(pool)
    chosen: list[str] = []
    have = 0
    for text in pool:
        chosen.append(" ".join(text.split()))
        have += count(tok, text)
        if have >= tokens * 1.05 + 50:  # a margin: tokens of joined texts are not quite the sum of their parts
            return "\n\n".join(chosen)
    raise ValueError(f"{path}: {have} tokens of text, fewer than the {tokens} the longest context needs")


def sentence_starts(text: str) -> list[int]:
    """Offsets where a sentence begins (0 included)."""
    return [0, *(m.end() for m in SENTENCE_END.finditer(text))]


def build(hay: str, needles: Sequence[Needle], length: int, depth: float, tok: Any) -> Context:
    """A context of at most `length` tokens: the haystack cut at the last sentence end that leaves room for the
    needles, the first needle inserted at the sentence start nearest `depth` percent of it, the others spread evenly
    between it and the end."""
    room = length - sum(count(tok, n.text) + 1 for n in needles)
    encoded = tok(hay, add_special_tokens=False, return_offsets_mapping=True)
    if len(encoded["input_ids"]) < room:
        raise ValueError(f"the haystack has {len(encoded['input_ids'])} tokens, fewer than {room}")
    limit = encoded["offset_mapping"][room - 1][1] if room > 0 else 0
    starts = [s for s in sentence_starts(hay) if s <= limit]
    cut = hay[: starts[-1]].rstrip() if starts[-1] > 0 else hay[:limit]
    points = sorted(depth + (100 - depth) * i / len(needles) for i in range(len(needles)))
    candidates = [*sentence_starts(cut), len(cut)]
    places = sorted({min(candidates, key=lambda s: abs(s - len(cut) * p / 100)) for p in points})
    while len(places) < len(needles):  # two needles at one sentence start: the later goes to the end
        places.append(len(cut))
    text, at = "", 0
    for place, needle in zip(places, needles, strict=True):
        text += cut[at:place]
        if text and not text.endswith((" ", "\n")):
            text += " "
        text += needle.text + " "
        at = place
    text = (text + cut[at:].lstrip()).strip()
    return Context(text, count(tok, text), tuple(round(100 * p / max(1, len(cut)), 1) for p in places))


# --- the benchmark -----------------------------------------------------------------------------------------------

NEEDLES = (  # facts of our own, absent from any haystack text
    Needle("The secret ingredient in Grandma Rosa's lemon cake is a spoonful of lavender honey.", ("lavender",)),
    Needle("Grandma Rosa also folds crushed pistachios into the lemon cake batter.", ("pistachio",)),
    Needle("Finally, Grandma Rosa brushes the warm lemon cake with elderflower syrup.", ("elderflower",)),
)
QUESTIONS = {1: "What is the secret ingredient in Grandma Rosa's lemon cake?",
             3: "Which three special ingredients does Grandma Rosa put in her lemon cake?"}
INSTRUCTION = ("Below is a long document. Read it, then answer the question after it using only the document.\n\n"
               "<document>\n{context}\n</document>\n\nQuestion: {question}\nAnswer in one sentence.")
TEMPLATE_MARGIN = 48
"""Tokens a chat template may add around the user turn (the default model's adds about 30)."""


def prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    question = QUESTIONS[len(sample.metadata["keys"])]
    return GenerationRequest(INSTRUCTION.format(context=sample.input, question=question))


def score(sample: Sample, completion: Completion) -> Scored:
    """`acc`: every needle's key words are in the answer (case ignored); `recall`: the share that are."""
    answer = completion.text.lower()
    found = [all(k in answer for k in keys) for keys in sample.metadata["keys"]]
    place = {k: sample.metadata[k] for k in ("length", "depth", "tokens", "landed")}
    return Scored({"acc": float(all(found)), "recall": sum(found) / len(found)},
                  {"acc": completion.text.strip(), "recall": completion.text.strip()}, place)


class NeedleHaystack(Benchmark):
    data_dir = "race"  # the default haystack: RACE's articles, in a seeded order
    splits = {"test": "test_middle.jsonl"}
    options = {"lengths": "context lengths in tokens of the model's tokenizer (default 1000, 2000, 4000, 8000)",
               "depths": "needle depths in percent (default 0, 25, 50, 75, 100)",
               "haystack": "a .txt or .jsonl file (article/text/context fields) to build the haystack from",
               "tokenizer": "a folder whose tokenizer counts the tokens (default: the model's)",
               "window": "the model's context window in tokens (default: its config's max_position_embeddings, "
                         "or --model-args max_model_len)"}
    setups = (
        Setup("single", "one needle; the answer must name its key word", prompt=prompt, score=score,
              metrics=("acc", "recall")),
        Setup("multi", "three needles, the first at the depth and the others spread evenly after it; acc: all "
              "three named, recall: the share named", prompt=prompt, score=score, metrics=("acc", "recall")),
        Setup("judge", "one needle; a --judge grades the answer against the needle's fact (CORRECT / INCORRECT / "
              "NOT_ATTEMPTED)", prompt=prompt, score=score, metrics=("judge_correct", "acc", "recall"),
              judge=reference_grader()),
    )

    lengths: tuple[int, ...] = (1000, 2000, 4000, 8000)
    depths: tuple[float, ...] = (0, 25, 50, 75, 100)

    def configure(self, extra: Mapping[str, Any], config: RunConfig) -> None:
        self.lengths = tuple(int(n) for n in extra.get("lengths", self.lengths))
        self.depths = tuple(float(d) for d in extra.get("depths", self.depths))
        if not self.lengths or min(self.lengths) < 200 or not all(0 <= d <= 100 for d in self.depths):
            raise ValueError(f"{self.name}: lengths must be at least 200 tokens and depths within 0..100 "
                             f"(got {list(self.lengths)}, {list(self.depths)})")
        folder = extra.get("tokenizer") or str(local_weights(config.model, config.model_args.revision)[1])
        self.tok = tokenizer(folder)
        self.haystack_file = Path(extra["haystack"]).expanduser().resolve() if extra.get("haystack") else None
        # The haystack is the file the suite locates: the user's (RACE is then not needed), else RACE's articles.
        self.data_dir = str(self.haystack_file.parent) if self.haystack_file else type(self).data_dir
        self.splits = {"test": self.haystack_file.name} if self.haystack_file else type(self).splits
        if self.haystack_file is not None and not self.haystack_file.is_file():
            raise ValueError(f"{self.name}: haystack {self.haystack_file} is not a file")
        self.seed = config.seed
        self.hay: dict[str, str] = {}
        window = extra.get("window") or config.model_args.max_model_len or json.loads(
            (Path(folder) / "config.json").read_text(encoding="utf-8")).get("max_position_embeddings")
        asked = count(self.tok, INSTRUCTION.format(context="", question=QUESTIONS[3])) + TEMPLATE_MARGIN
        too_long = [n for n in self.lengths if window and n + asked > int(window)]
        if too_long:  # refused here, never truncated or run past the window
            raise ValueError(f"{self.name}: lengths {too_long} do not fit the model's window of {window} tokens "
                             f"(each adds about {asked} tokens of instructions and chat template)")

    def adapt(self, setup: Setup, config: RunConfig) -> Setup:
        self.needles = NEEDLES if setup.name == "multi" else NEEDLES[:1]
        return setup

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        return tuple(str(n) for n in self.lengths)

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        for depth in self.depths:
            yield f"{path}:{subset}@{depth:g}%", {"length": int(subset), "depth": depth, "path": str(path)}

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        needles = self.needles
        if row["path"] not in self.hay:  # built once, for the longest context; shorter ones are cut from it
            self.hay[row["path"]] = haystack(Path(row["path"]), self.seed, self.tok, max(self.lengths))
        context = build(self.hay[row["path"]], needles, row["length"], row["depth"], self.tok)
        return Sample(context.text, "; ".join(n.text for n in needles),
                      metadata={"keys": [list(n.keys) for n in needles], "length": row["length"],
                                "question": QUESTIONS[len(needles)],
                                "depth": row["depth"], "tokens": context.tokens, "landed": list(context.depths)})

    def summary(self, results: Sequence[Any]) -> dict[str, Any]:
        """The length x depth heatmap of the primary metric (mean over the samples of each cell)."""
        cells: dict[tuple[int, float], list[float]] = {}
        metric = results[0].primary_metric
        for r in results:
            if metric in r.metrics and "length" in r.details:
                cells.setdefault((r.details["length"], r.details["depth"]), []).append(r.metrics[metric])
        xs, ys = sorted({k[0] for k in cells}), sorted({k[1] for k in cells})
        grid = [[sum(v) / len(v) if (v := cells.get((x, y))) else None for x in xs] for y in ys]
        return {"charts": [heatmap(f"{self.name}-heatmap", f"{self.name}: {metric} by context length and needle "
                                   "depth", xs, [f"{y:g}" for y in ys], grid, "context length (tokens)",
                                   "needle depth (%)", metric)]}
