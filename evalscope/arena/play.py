"""The arena's work in one process: every contestant's answers (per turn, batched per model, cached), then every
judgment of a batch group in one judge call; each item then reads its match (or grade) from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evalscope.arena.verdicts import Verdict
from evalscope.engine import Engine, PredictionError
from evalscope.progress import ProgressFactory
from evalscope.schema import Completion, Request

from . import verdicts
from .judges import ModelJudge
from .questions import Question, QuestionSet
from .spec import ArenaConfig

WIN, LOSS, TIE, ERROR, RATED = "win", "loss", "tie", "error", "rated"


@dataclass(frozen=True)
class Entry:
    """One item: a question and the pair that meets on it (first shown first), or the one model graded."""

    question: Question
    models: tuple[str, ...]


@dataclass(frozen=True)
class Judged:
    """One turn of a match: both orders' verdicts and the battle they make (score of the first model)."""

    turn: int
    first: Verdict
    """The judge shown (model_a, model_b)."""
    swapped: Verdict
    """The judge shown (model_b, model_a); its score is model_b's."""
    score_a: float | None
    """None: a verdict could not be read (the turn counts as an error, never as a tie)."""
    weight: float
    disagree: bool

    def to_json(self) -> dict[str, Any]:
        return {"turn": self.turn, "first": asdict(self.first), "swapped": asdict(self.swapped),
                "score_a": self.score_a, "weight": self.weight, "disagree": self.disagree}


@dataclass(frozen=True)
class Match:
    """A pairwise item's outcome, from model_a's side."""

    question: Question
    model_a: str
    model_b: str
    answers: dict[str, list[str]]
    turns: list[Judged]
    judge: str

    @property
    def status(self) -> str:
        scores = [t.score_a for t in self.turns]
        if any(s is None for s in scores):
            return ERROR
        mean = sum(s for s in scores if s is not None) / len(scores)
        return WIN if mean > 0.5 else LOSS if mean < 0.5 else TIE

    def to_json(self) -> dict[str, Any]:
        return {"kind": "match", "question": self.question.id, "category": self.question.category,
                "turns_asked": list(self.question.turns), "model_a": self.model_a, "model_b": self.model_b,
                "answers": self.answers, "judge": self.judge, "turns": [t.to_json() for t in self.turns],
                "status": self.status}


@dataclass(frozen=True)
class Grade:
    """A single-mode item's outcome: the model's score per turn (1-10 from a judge, 1/0 from the rule)."""

    question: Question
    model: str
    answers: list[str]
    scores: list[float | None]
    texts: list[str]
    judge: str

    @property
    def status(self) -> str:
        return ERROR if any(s is None for s in self.scores) else RATED

    def to_json(self) -> dict[str, Any]:
        return {"kind": "grade", "question": self.question.id, "category": self.question.category,
                "turns_asked": list(self.question.turns), "model": self.model, "answers": self.answers,
                "judge": self.judge, "scores": self.scores, "texts": self.texts, "status": self.status}


def _text(result: Any, what: str) -> str:
    if isinstance(result, BaseException):
        first = (str(result).strip().splitlines() or [""])[0]
        raise PredictionError(f"{what}: {type(result).__name__}: {first}")
    if result is None:
        raise PredictionError(f"{what}: no answer")
    assert isinstance(result, Completion)
    return result.text


class Arena:
    """This process's contestants and judge (each an Engine: batched, cached, loaded on first use)."""

    def __init__(self, arena: ArenaConfig, questions: QuestionSet, threads: int, progress: ProgressFactory,
                 store: Path | None, mt_bench: Path | None) -> None:
        self.arena = arena
        self.questions = questions
        self.engines = {c.name: Engine(c.run, {}, threads, progress, store) for c in arena.candidates}
        self.judge = None if arena.judge is None else Engine(arena.judge.run, {}, threads, progress, store)
        self.model_judge = None if arena.judge is None else ModelJudge(arena.judge_prompts, mt_bench)
        self.groups: dict[str, list[Entry]] = {}
        self.played: set[str] = set()

    @property
    def judge_name(self) -> str:
        if self.arena.judge is None:
            return "rule"
        judge = self.arena.judge.describe()
        return f"{judge['model'] or judge['api_url'] or 'default'} ({self.arena.judge_prompts})"

    @property
    def fatal(self) -> BaseException | None:
        """A model that failed to load: every later item would fail the same way."""
        engines = [*self.engines.values(), *([self.judge] if self.judge else [])]
        return next((e.fatal for e in engines if e.fatal is not None), None)

    def bind(self, groups: dict[str, list[Entry]]) -> None:
        self.groups = groups

    # --- answers ---------------------------------------------------------------------------------------------

    def _answers(self, model: str, question: Question) -> list[str]:
        results = self.engines[model].results
        return [_text(results.get(("answer", f"{question.id}/{t}")), f"{model}'s answer, turn {t + 1}")
                for t in range(len(question.turns))]

    def _ask_all(self, model: str, questions: Sequence[Question]) -> None:
        """Every turn of every question, turn by turn (a second turn follows the model's own first answer)."""
        engine, who = self.engines[model], self.arena.contestant(model)
        for turn in range(max(len(q.turns) for q in questions)):
            keys: list[tuple[str, str]] = []
            requests: list[Request] = []
            for q in questions:
                key = ("answer", f"{q.id}/{turn}")
                if turn >= len(q.turns) or key in engine.results:
                    continue
                earlier = [engine.results.get(("answer", f"{q.id}/{t}")) for t in range(turn)]
                broken = next((r for r in earlier if not isinstance(r, Completion)), None)
                if turn and broken is not None:  # no second turn without the first
                    engine.results[key] = broken if isinstance(broken, BaseException) else RuntimeError("no answer")
                    continue
                history = tuple((q.turns[t], r.text) for t, r in enumerate(earlier) if isinstance(r, Completion))
                keys.append(key)
                requests.append(self.questions.request(q, turn, history, who))
            if keys:
                engine.predict(f"arena {model} turn {turn + 1}", keys, requests)

    # --- judgments -------------------------------------------------------------------------------------------

    def _judge_all(self, entries: Sequence[Entry]) -> None:
        if self.judge is None or self.model_judge is None:
            return
        keys: list[tuple[str, str]] = []
        requests: list[Request] = []
        for entry in entries:
            q = entry.question
            try:
                answers = {m: self._answers(m, q) for m in entry.models}
            except PredictionError:
                continue  # the item fails on the missing answer itself
            for turn in range(len(q.turns)):
                if len(entry.models) == 1:
                    (m,) = entry.models
                    keys.append(("grade", f"{q.id}/{turn}/{m}"))
                    requests.append(self.model_judge.single(q, turn, answers[m]))
                    continue
                a, b = entry.models
                for first, second in ((a, b), (b, a)):
                    keys.append(("pair", f"{q.id}/{turn}/{first}/{second}"))
                    requests.append(self.model_judge.pair(q, turn, answers[first], answers[second]))
        todo = [(k, r) for k, r in zip(keys, requests, strict=True) if k not in self.judge.results]
        if todo:
            self.judge.predict("arena judge", [k for k, _ in todo], [r for _, r in todo])

    def _play(self, group: str) -> None:
        if group in self.played:
            return
        self.played.add(group)
        entries = [e for e in self.groups[group] if e.question.problem is None]
        questions = list({e.question.id: e.question for e in entries}.values())
        for model in dict.fromkeys(m for e in entries for m in e.models):
            self._ask_all(model, [q for q in questions if any(model in e.models and e.question.id == q.id
                                                              for e in entries)])
        self._judge_all(entries)

    def _reply(self, key: tuple[str, str]) -> str:
        assert self.judge is not None
        return _text(self.judge.results.get(key), "the judge")

    def match(self, group: str, entry: Entry) -> Match:
        self._play(group)
        q, (a, b) = entry.question, entry.models
        answers = {a: self._answers(a, q), b: self._answers(b, q)}
        turns = []
        for turn in range(len(q.turns)):
            if self.model_judge is None:
                right_a = self.questions.correct(q, self._completion(a, q, turn))
                right_b = self.questions.correct(q, self._completion(b, q, turn))
                first, swapped = verdicts.rule(right_a, right_b), verdicts.rule(right_b, right_a)
            else:
                first = self.model_judge.read_pair(self._reply(("pair", f"{q.id}/{turn}/{a}/{b}")))
                swapped = self.model_judge.read_pair(self._reply(("pair", f"{q.id}/{turn}/{b}/{a}")))
            battle = verdicts.reconcile(first, swapped)
            turns.append(Judged(turn + 1, first, swapped, battle.score, battle.weight,
                                verdicts.disagree(first, swapped)))
        return Match(q, a, b, answers, turns, self.judge_name)

    def grade(self, group: str, entry: Entry) -> Grade:
        self._play(group)
        q, (m,) = entry.question, entry.models
        answers = self._answers(m, q)
        scores: list[float | None] = []
        texts = []
        for turn in range(len(q.turns)):
            if self.model_judge is None:
                right = self.questions.correct(q, self._completion(m, q, turn))
                scores.append(float(right))
                texts.append(f"rule: {'right' if right else 'wrong'}")
            else:
                reply = self._reply(("grade", f"{q.id}/{turn}/{m}"))
                scores.append(self.model_judge.read_single(reply))
                texts.append(reply)
        return Grade(q, m, answers, scores, texts, self.judge_name)

    def _completion(self, model: str, question: Question, turn: int) -> Completion:
        result = self.engines[model].results.get(("answer", f"{question.id}/{turn}"))
        assert isinstance(result, Completion)
        return result

    def info(self) -> dict[str, Any]:
        """Per contestant (and the judge): its model as loaded, what it computed, its cache counts."""
        out = {name: engine.info() for name, engine in self.engines.items()}
        if self.judge is not None:
            out["judge"] = self.judge.info()
        return out

    def close(self) -> None:
        for engine in [*self.engines.values(), *([self.judge] if self.judge else [])]:
            engine.close()
