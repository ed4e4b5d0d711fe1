"""Your own questions with reference answers, no code: JSONL per subset, scored by exact match, F1, BLEU-4, ROUGE-L.

Each line `{"query" | "question": ..., "response" | "answer": ..., "system"?: ..., "history"?: [[user, assistant],
...]}`; each `<subset>.jsonl` in the folder is a subset. BLEU-4 is sacrebleu's sentence BLEU and ROUGE-L
rouge-score's F-measure, both on [0, 1]; exact match and F1 compare SQuAD-normalised tokens (CJK characters count
one token each, as do words).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from evalscope.api import (
    CJK,
    Benchmark,
    Completion,
    GenerationRequest,
    RowError,
    Rows,
    Sample,
    Scored,
    Setup,
    f1,
    read_jsonl,
    reference_grader,
    tokens,
)


@cache
def rouge() -> Any:
    from rouge_score import rouge_scorer

    class Tokens:  # rouge-score's own tokenizer drops every non-ASCII character
        def tokenize(self, text: str) -> list[str]:
            return tokens(text)

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=Tokens())


def bleu4(prediction: str, reference: str) -> float:
    import sacrebleu

    return float(sacrebleu.sentence_bleu(prediction, [reference],
                                         tokenize="zh" if CJK.search(reference) else "13a").score) / 100


def prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    history = tuple((str(u), str(a)) for u, a in sample.metadata.get("history", ()))
    return GenerationRequest(sample.input, system=sample.metadata.get("system"), history=history)


def score(sample: Sample, completion: Completion) -> Scored:
    out, ref = completion.text.strip(), sample.target
    metrics = {"exact_match": float(tokens(out) == tokens(ref)), "f1": f1(out, ref), "bleu4": bleu4(out, ref),
               "rouge_l": float(rouge().score(ref, out)["rougeL"].fmeasure)}
    return Scored(metrics, {m: out for m in metrics})


def turns(history: Any) -> list[list[str]]:
    """[[user, assistant], ...] from pairs or from OpenAI-style messages."""
    if not isinstance(history, list):
        raise RowError("field 'history' is not a list")
    if all(isinstance(t, Mapping) for t in history):
        users = [str(t.get("content", "")) for t in history if t.get("role") == "user"]
        helpers = [str(t.get("content", "")) for t in history if t.get("role") == "assistant"]
        if len(users) != len(helpers):
            raise RowError("field 'history' does not alternate user and assistant turns")
        return [[u, a] for u, a in zip(users, helpers, strict=True)]
    if all(isinstance(t, list | tuple) and len(t) == 2 for t in history):
        return [[str(u), str(a)] for u, a in history]
    raise RowError("field 'history' is neither [[user, assistant], ...] nor a list of messages")


class GeneralQA(Benchmark):
    splits = {"test": "."}
    setups = (Setup("default", "the query as a user turn, after its system message and history; exact match, "
                    "token F1, BLEU-4 and ROUGE-L against the response", prompt=prompt, score=score,
                    metrics=("exact_match", "f1", "bleu4", "rouge_l")),
              Setup("judge", "as default, and a --judge grades each answer against the response (CORRECT / "
                    "INCORRECT / NOT_ATTEMPTED); judge_correct is the share graded CORRECT", prompt=prompt,
                    score=score, metrics=("judge_correct", "exact_match", "f1", "bleu4", "rouge_l"),
                    judge=reference_grader()))

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        return tuple(sorted(p.stem for p in files[self.eval_split].glob("*.jsonl")))

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        yield from read_jsonl(path / f"{subset}.jsonl")

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        query = next((row[k] for k in ("query", "question") if row.get(k) is not None), None)
        answer = next((row[k] for k in ("response", "answer") if row.get(k) is not None), None)
        if query is None:
            raise RowError("missing field 'query' (or 'question')")
        if answer is None:
            raise RowError("missing field 'response' (or 'answer')")
        metadata = {"system": str(row["system"])} if row.get("system") else {}
        if row.get("history"):
            metadata["history"] = turns(row["history"])
        return Sample(str(query), str(answer), metadata=metadata)
