"""Your own multiple-choice questions about images, no code: VLMEvalKit's TSV or JSONL with image paths.

A folder of `<subset>.tsv` or `<subset>.jsonl` files (a `_val` suffix is dropped from the subset's name). TSV is
VLMEvalKit's layout: `index`, `image` (base64), `question`, options `A`, `B`, ..., `answer` (the letter), `hint`
optional. JSONL: `{"question", "options": [...] (or A, B, ... fields), "answer": "B", "image": "pics/1.png"}`
(`images: [...]` or `image_1`, `image_2`, ... for several; paths relative to the file). `<image N>` in the question
puts image N there; images it does not name go before the question.
`--dataset-args '{"general_vmcq": {"path": DIR, "subset_list": [...], "prompt_template": "..."}}'`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import (
    LETTERS,
    GenerationRequest,
    LetterGeneration,
    MultipleChoice,
    RowError,
    Rows,
    Sample,
    Setup,
    gold_index,
    mc_sample,
    placed,
    read_csv,
    read_jsonl,
    row_images,
    with_images,
)

FORMATS = (".tsv", ".jsonl")


def options(row: Mapping[str, Any]) -> list[str]:
    """The option texts: an `options` list (or a JSON list in a TSV cell), else the non-empty letter columns."""
    listed = row.get("options")
    if isinstance(listed, str) and listed.strip().startswith("["):
        import json

        listed = json.loads(listed)
    if listed is not None:
        if not isinstance(listed, list):
            raise RowError("field 'options' is not a list")
        return [str(o) for o in listed]
    # VLMEvalKit leaves unused letter columns empty (NaN when pandas wrote them)
    return [str(row[k]) for k in LETTERS if str(row.get(k) or "").strip() not in ("", "nan")]


class GeneralVMCQ(MultipleChoice):
    version = "1"
    splits = {"val": "."}
    eval_split = "val"
    placeholders = ("question", "choices", "letters")
    setups = (LetterGeneration("evalscope", "EvalScope 1.14.1 general_vmcq: its default prompt (the multiple-choice "
                               "chain-of-thought template), images in place of `<image N>`, the letter after "
                               "'ANSWER:'"),)

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        return tuple(sorted(p.stem.removesuffix("_val") for p in files[self.eval_split].iterdir()
                            if p.suffix in FORMATS and not p.stem.endswith("_dev")))

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        found = [p for stem in (subset, f"{subset}_val") for ext in FORMATS if (p := path / f"{stem}{ext}").is_file()]
        if not found:
            return
        read = read_csv(found[0], delimiter="\t") if found[0].suffix == ".tsv" else read_jsonl(found[0])
        for location, row in read:  # the file's folder and format travel with the row: paths are relative to it
            yield location, row if isinstance(row, RowError) else {**row, "_base": str(found[0].parent),
                                                                   "_tsv": found[0].suffix == ".tsv"}

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question = str(row.get("question") or "").strip()
        if not question:
            raise RowError("missing field 'question'")
        if str(row.get("hint") or "").strip() not in ("", "nan"):  # VLMEvalKit shows the hint first
            question = f"Hint: {row['hint']}\n{question}"
        choices = options(row)
        answer = str(row.get("answer") or "").strip().upper()
        if not answer:
            raise RowError("missing field 'answer'")
        sample = mc_sample(question, choices, gold_index(answer, LETTERS[: len(choices)]),
                           id=str(row.get("index", "")))
        pictures = row_images(row, Path(row["_base"]), encoded=bool(row["_tsv"]))
        if not pictures:
            raise RowError("no image (field 'image', 'images' or 'image_1')")
        return with_images(sample, pictures)

    def request(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> GenerationRequest:
        return placed(self.prompt(sample, setup, ()), sample)
