"""RACE: English reading comprehension from Chinese school exams; several questions share each article."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import (
    CLUSTER_KEY,
    LETTERS,
    SINGLE_ANSWER_COT,
    ChoiceSetup,
    LetterGeneration,
    MultipleChoice,
    RowError,
    Rows,
    Sample,
    fields,
    gold_index,
    lettered,
    mc_sample,
    read_jsonl,
)


def lm_eval_text(article: str, problems: Sequence[Mapping[str, Any]]) -> str:
    """lm-eval race's context: the article, each earlier question with its answer (a fill-in-the-blank one
    completed in place), then the last question bare (its options follow after a space)."""
    text = f"Article: {article}\n\n"
    for problem in problems[:-1]:
        answer = problem["options"][LETTERS.index(problem["answer"])]  # checked by to_sample
        question = str(problem["question"])
        text += f"{question[:-5]}{answer}\n" if question.endswith("  _  .") else \
            f"Question: {question}\nAnswer: {answer}\n"
    return text + str(problems[-1]["question"])


class RACE(MultipleChoice):
    # <split>_<level>.jsonl files; `articles` reads the test files as one row per article (lm-eval's unit)
    splits = {"test": ".", "validation": ".", "articles": "."}
    subsets = ("middle", "high")
    setups = (
        ChoiceSetup("letter", "the article, question and lettered options, 'Answer:', loglikelihood of ' A'..' D'",
                    answer="letter"),
        LetterGeneration("evalscope", "EvalScope 1.14.1 race with few_shot_num=0 (its 3 shots come from the train "
                         "split, not stored here): 'Article:/Question:', the model reasons and ends with 'ANSWER: X'",
                         template=SINGLE_ANSWER_COT, aliases=("generation",)),
        ChoiceSetup("lm-eval", "lm-eval 0.4.13 race: one item per article (362 in middle), its last question after "
                    "the earlier ones with their answers; loglikelihood of each answer text", split="articles"),
    )

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        split, folder = next(iter(files.items()))  # the split scored: the eval split, or `articles` (test files)
        name = "test" if split == "articles" else split
        return tuple(s for s in self.subsets if (folder / f"{name}_{s}.jsonl").is_file())

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        if split != "articles":
            yield from read_jsonl(path / f"{split}_{subset}.jsonl")
            return
        article: list[tuple[str, Mapping[str, Any]]] = []
        for location, row in [*read_jsonl(path / f"test_{subset}.jsonl"), ("", None)]:
            if isinstance(row, RowError):
                yield location, row
                continue
            if article and (row is None or row.get("example_id") != article[0][1].get("example_id")):
                # the article's rows in file order, as lm-eval's problems list (the item's location: its last row)
                yield article[-1][0], {"article": article[0][1].get("article"), "problems": [r for _, r in article]}
                article = []
            if row is not None:
                article.append((location, row))

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        if "problems" in row:
            article, problems = fields(row, "article", "problems")
            golds = [gold_index(str(p["answer"]), LETTERS[: len(p["options"])])
                     for p in problems if fields(p, "question", "options", "answer")]
            last, gold = problems[-1], golds[-1]
            return mc_sample(lm_eval_text(str(article), problems), list(last["options"]), gold, whole_context=True)
        article, question, options, answer = fields(row, "article", "question", "options", "answer")
        # questions on one article are not independent: the standard error clusters them by article
        return mc_sample(f"Article:\n{article}\nQuestion:\n{question}", list(options),
                         gold_index(str(answer), LETTERS[: len(options)]), **{CLUSTER_KEY: row.get("example_id")})

    def context(self, sample: Sample, setup: ChoiceSetup, few_shot: Sequence[Sample]) -> str:
        if sample.metadata.get("whole_context"):
            return sample.input
        return f"{sample.input}\n{lettered(sample)}\nAnswer:"
