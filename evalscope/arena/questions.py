"""What the contestants are asked: MT-Bench's two-turn questions, a benchmark's samples (judged by their
references, so the rule judge can decide), or a JSONL file of the user's questions."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from evalscope import registry
from evalscope.benchmark import GENERATION
from evalscope.config import DatasetArgs, RunConfig
from evalscope.models.rendering import is_raw
from evalscope.rows import read_jsonl
from evalscope.schema import BadRow, Completion, DataError, GenerationRequest, RowError, Sample
from evalscope.suite import Suite

from . import mtbench
from .spec import Contestant

History = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Question:
    id: str
    """Unique in the set, safe in a test id (`81`, `ARC-Easy-0003`)."""
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] | None = None
    """Reference answers per turn, shown to an LLM judge (MT-Bench's `-math-` prompts)."""
    problem: str | None = None
    """Why a data row could not become a question (`file:line: ...`): its items error, the others run."""


class QuestionSet(Protocol):
    name: str
    questions: list[Question]
    exact: bool
    """Whether answers can be checked against a reference (what the rule judge needs)."""

    def request(self, question: Question, turn: int, history: History, who: Contestant) -> GenerationRequest:
        """What `who` is asked at `turn` (0-based) after `history`, its own earlier turns."""
        ...

    def correct(self, question: Question, answer: Completion) -> bool:
        """Whether the (last turn's) answer is right; only for sets that are `exact`."""
        ...


def _chat(who: Contestant, default: bool) -> bool:
    return default if who.run.template is None else not is_raw(who.run.template)


class MTBench:
    """MT-Bench's 80 questions (`<dataset-dir>/mt_bench/question.jsonl`), with FastChat's reference answers."""

    name = "mt_bench"
    exact = False

    def __init__(self, folder: Path, limit: int | None) -> None:
        if not (folder / "question.jsonl").is_file():
            raise DataError(f"mt_bench: {folder / 'question.jsonl'} not found (--dataset-dir or "
                            "EVALSCOPE_DATASET_DIR must hold mt_bench/)")
        self.folder = folder
        self.questions = [Question(str(q.id), q.category, q.turns, q.reference)
                          for q in mtbench.load_questions(folder)[:limit]]

    def request(self, question: Question, turn: int, history: History, who: Contestant) -> GenerationRequest:
        return GenerationRequest(question.turns[turn], system=who.system, history=history, chat=_chat(who, True))

    def correct(self, question: Question, answer: Completion) -> bool:
        raise NotImplementedError("MT-Bench has no exact answers")


class FromFile(MTBench):
    """The user's questions, one JSON object per line: `turns` (a list) or `question`; optional `id` (or
    `question_id`), `category`, `reference` (a string or one per turn)."""

    def __init__(self, path: Path, limit: int | None) -> None:
        self.name = path.stem
        self.questions = []
        for number, (where, row) in enumerate(read_jsonl(path)):
            if isinstance(row, RowError):
                raise DataError(f"{where}: {row}")
            turns = row.get("turns", [row.get("question")])
            if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t for t in turns):
                raise DataError(f"{where}: needs `turns` (a list of strings) or `question` (a string)")
            reference = row.get("reference")
            reference = [reference] if isinstance(reference, str) else reference
            qid = re.sub(r"[^\w.-]", "_", str(row.get("id", row.get("question_id", number))))
            self.questions.append(Question(qid, str(row.get("category", "general")), tuple(turns),
                                           tuple(map(str, reference)) if reference else None))
        ids = [q.id for q in self.questions]
        if len(set(ids)) < len(ids):
            raise DataError(f"{path}: question ids are not unique")
        self.questions = self.questions[:limit]


class FromBenchmark:
    """A benchmark's samples, asked through its generation setup and checked by its scorer: the rule judge's
    ground (e.g. `--questions arc`, with `--dataset-args '{"arc": {"subset_list": ["ARC-Easy"]}}'`)."""

    exact = True

    def __init__(self, name: str, run: RunConfig) -> None:
        bench = registry.get(name)
        args = run.dataset_args.get(name, DatasetArgs())
        if args.setup is None and bench.setup().mode != GENERATION:  # answers are written, not scored choices
            chosen = next((s.name for s in bench.setups if s.mode == GENERATION), None)
            if chosen is None:
                raise DataError(f"{name}: has no generation setup, so it cannot be an arena question set")
            run = dataclasses.replace(run, dataset_args={**run.dataset_args,
                                                         name: dataclasses.replace(args, setup=chosen)})
        self.suite = Suite.load(name, run)
        if self.suite.setup.mode != GENERATION:
            raise DataError(f"{name}: setup {self.suite.setup.name!r} scores choices; the arena needs answers "
                            "written by the models (a generation setup)")
        self.name = name
        self.samples = {s.id: s for s in self.suite.samples if isinstance(s, Sample)}
        self.questions = [Question(s.id, s.subset, ("",), problem=f"{name}: {s.message}") if isinstance(s, BadRow)
                          else Question(s.id, self.suite.bench.category(s) or s.subset, (s.input,))
                          for s in self.suite.samples]

    def request(self, question: Question, turn: int, history: History, who: Contestant) -> GenerationRequest:
        asked = self.suite.request(self.samples[question.id])
        assert isinstance(asked, GenerationRequest)
        system = who.system if who.system is not None else asked.system
        return dataclasses.replace(asked, system=system, chat=_chat(who, asked.chat))

    def correct(self, question: Question, answer: Completion) -> bool:
        return self.suite.result(self.samples[question.id], answer).correct


def load(name: str, run: RunConfig) -> QuestionSet:
    """`mt_bench`, a JSONL file, or a benchmark's name."""
    if name == "mt_bench":
        if run.dataset_dir is None:
            raise DataError("mt_bench: no --dataset-dir (or EVALSCOPE_DATASET_DIR) holding mt_bench/")
        return MTBench(run.dataset_dir / "mt_bench", run.limit)
    path = Path(name).expanduser()
    if path.suffix in (".jsonl", ".json") or path.is_file():
        if not path.is_file():
            raise DataError(f"--questions: {name} not found")
        return FromFile(path, run.limit)
    return FromBenchmark(name, run)


def ids(questions: Sequence[Question]) -> list[str]:
    """Test ids: category and question (`writing-81`), or the benchmark's sample id alone where it says both."""
    return [q.id if q.id.startswith(q.category) else f"{q.category}-{q.id}" for q in questions]
