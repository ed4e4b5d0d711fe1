"""`evalscope new-benchmark NAME`: a working benchmark folder (definition, test, README, three rows of data)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from string import Template

GENERATION = '''"""$title: answer the question in a few words; exact match (case and spaces ignored)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalscope.api import Benchmark, Completion, GenerationRequest, Sample, Scored, Setup, fields


def prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    return GenerationRequest(f"Q: {sample.input}\\nA:", stop=("\\n",))


def exact_match(sample: Sample, completion: Completion) -> Scored:
    answer = " ".join(completion.text.lower().split()).rstrip(".")
    return Scored({"exact_match": float(answer == sample.target.lower())}, {"exact_match": answer})


class $cls(Benchmark):
    splits = {"test": "test.jsonl"}  # data/test.jsonl beside this file, or --dataset-dir DIR with DIR/$name/
    setups = (Setup("default", "the question, then the answer; exact match", metrics=("exact_match",),
                    prompt=prompt, score=exact_match),)

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question, answer = map(str, fields(row, "question", "answer"))
        return Sample(question, answer)
'''

MCQ = '''"""$title: pick one of the options; loglikelihood of each option's letter, or the letter the model writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalscope.api import GENERATION_SETUP, ChoiceSetup, MultipleChoice, Sample, fields, gold_index, lettered, \\
    mc_sample


class $cls(MultipleChoice):
    splits = {"test": "test.jsonl"}  # data/test.jsonl beside this file, or --dataset-dir DIR with DIR/$name/
    setups = (ChoiceSetup("loglikelihood", "lettered options after the question, loglikelihood of ' A', ' B', ...",
                          answer="letter"),
              GENERATION_SETUP)

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question, choices, answer = fields(row, "question", "choices", "answer")
        return mc_sample(str(question), list(choices), gold_index(str(answer), "ABCDEFGHIJ"[: len(choices)]))

    def context(self, sample: Sample, setup: ChoiceSetup, few_shot: Sequence[Sample]) -> str:
        return f"{sample.input}\\n{lettered(sample)}\\nAnswer:"
'''

TEST = '''"""$title as a pytest suite: one item per question."""

import pytest

pytestmark = pytest.mark.evalscope("$name")


def test_$name(sample, scored):
    """Passes when the answer is right; a wrong answer reports as INCORRECT, not as a failure.
    Add your own per-sample checks here: a failed assert errors the item."""
    assert all(0.0 <= v <= 1.0 for v in scored.metrics.values()), f"scores outside [0, 1]: {scored.metrics}"
'''

README = '''# $title

- **Source:** (where the questions come from, their license)
- **Data:** `data/test.jsonl` beside the definition (or `--dataset-dir DIR` with `DIR/$name/test.jsonl`),
  one JSON object per line: $fields.
- **Items:** `test_$name[default-0000]`, one per line.
- **Setups:** see `benchmark.py`; the first is the default.
- **Version:** 1 (bump it when the prompt or the scoring changes).

Run: `pytest $name --limit 3` (the default model), `pytest $name --model MODEL -n 2`.
'''

DATA = {
    "generation": ['{"question": "What is the capital of France?", "answer": "Paris"}',
                   '{"question": "How many legs does a spider have?", "answer": "8"}',
                   '{"question": "What color is the sky on a clear day?", "answer": "blue"}'],
    "mcq": ['{"question": "What is 2 + 2?", "choices": ["3", "4", "5"], "answer": "B"}',
            '{"question": "Which planet is closest to the Sun?", "choices": ["Venus", "Mercury", "Mars"], '
            '"answer": "B"}',
            '{"question": "Which gas do plants take in?", "choices": ["Oxygen", "Nitrogen", "Carbon dioxide"], '
            '"answer": "C"}'],
}
FIELDS = {"generation": '`{"question": ..., "answer": ...}`',
          "mcq": '`{"question": ..., "choices": [...], "answer": "B"}`'}


def write(folder: Path, name: str, kind: str) -> list[Path]:
    """The skeleton's files under `folder/name`; ValueError for a bad name or an existing folder."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"{name!r}: a benchmark name is lower case letters, digits and '_', starting with a letter")
    target = folder / name
    if target.exists():
        raise ValueError(f"{target} exists already")
    words = {"name": name, "cls": "".join(part.title() for part in name.split("_")),
             "title": name.replace("_", " ").title(), "fields": FIELDS[kind]}
    files = {target / "benchmark.py": Template(GENERATION if kind == "generation" else MCQ).substitute(words),
             target / f"test_{name}.py": Template(TEST).substitute(words),
             target / "README.md": Template(README).substitute(words),
             target / "data" / "test.jsonl": "\n".join(DATA[kind]) + "\n"}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="evalscope new-benchmark", description=__doc__.splitlines()[0])
    p.add_argument("name", help="the benchmark's name (its folder's), e.g. my_exam")
    p.add_argument("--kind", choices=("generation", "mcq"), default="generation")
    p.add_argument("--dir", type=Path, default=Path("."), help="where the folder is made (default: here)")
    args = p.parse_args(argv)
    try:
        written = write(args.dir, args.name, args.kind)
    except (ValueError, OSError) as exc:
        print(f"evalscope new-benchmark: error: {exc}", file=sys.stderr)
        return 4
    print(f"wrote {', '.join(str(f) for f in written)}\nrun it: pytest {args.dir / args.name} --limit 3")
    return 0
