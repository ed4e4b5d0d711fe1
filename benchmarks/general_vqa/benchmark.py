"""Your own open questions about images, no code: VLMEvalKit's TSV or JSONL with image paths, scored against the
reference answer by exact match, token F1 and numeric equality.

A folder of `<subset>.tsv` or `<subset>.jsonl` files. TSV is VLMEvalKit's VQA layout: `index`, `image` (base64),
`question`, `answer`. JSONL: `{"question", "answer", "image": "pics/1.png"}` (`images: [...]` or `image_1`, ... for
several; paths relative to the file); `<image N>` in the question puts image N there, other images go first.
`--dataset-args '{"general_vqa": {"path": DIR, "subset_list": [...], "system_prompt": "..."}}'`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import (
    Benchmark,
    Completion,
    GenerationRequest,
    RowError,
    Rows,
    Sample,
    Scored,
    Setup,
    f1,
    numbers_equal,
    placed,
    read_csv,
    read_jsonl,
    row_images,
    tokens,
    with_images,
)

FORMATS = (".tsv", ".jsonl")


def prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    return placed(sample.input, sample)


def score(sample: Sample, completion: Completion) -> Scored:
    out, ref = completion.text.strip(), sample.target
    metrics = {"exact_match": float(tokens(out) == tokens(ref)), "f1": f1(out, ref),
               "numeric_match": float(numbers_equal(out.rstrip("."), ref))}
    return Scored(metrics, dict.fromkeys(metrics, out))


class GeneralVQA(Benchmark):
    version = "1"
    splits = {"test": "."}
    setups = (Setup("default", "the question with its images as the user's turn; exact match and token F1 "
                    "(SQuAD-normalised) and numeric equality against the answer", prompt=prompt, score=score,
                    metrics=("exact_match", "f1", "numeric_match")),)

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        return tuple(sorted(p.stem for p in files[self.eval_split].iterdir() if p.suffix in FORMATS))

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        file = next(p for ext in FORMATS if (p := path / f"{subset}{ext}").is_file())
        read = read_csv(file, delimiter="\t") if file.suffix == ".tsv" else read_jsonl(file)
        for location, row in read:  # the file's folder travels with the row: image paths are relative to it
            yield location, row if isinstance(row, RowError) else {**row, "_base": str(file.parent),
                                                                   "_tsv": file.suffix == ".tsv"}

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question, answer = str(row.get("question") or "").strip(), row.get("answer")
        if not question:
            raise RowError("missing field 'question'")
        if answer is None or not str(answer).strip():
            raise RowError("missing field 'answer'")
        pictures = row_images(row, Path(row["_base"]), encoded=bool(row["_tsv"]))
        if not pictures:
            raise RowError("no image (field 'image', 'images' or 'image_1')")
        return with_images(Sample(question, str(answer).strip()), pictures)
