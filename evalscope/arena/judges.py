"""Judges: the rule (a right answer beats a wrong one) and a model reading MT-Bench's or arena-hard-style prompts;
each turns a reply into a verdict, or says it could not read one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evalscope.arena.verdicts import Verdict
from evalscope.schema import DataError, GenerationRequest

from . import mtbench, verdicts
from .questions import Question

# Our own wording of arena-hard's five-level scheme (its labels and their weights are in verdicts.FIVE_LEVEL_SCORES).
FIVE_LEVEL_SYSTEM = (
    "You are an impartial judge comparing two AI assistants' answers to the user's prompt. Think of a good answer "
    "yourself first, then weigh each assistant's answer for correctness, helpfulness, relevance and concision; "
    "mistakes count more than style, and the order in which the answers are shown must not matter. End with exactly "
    "one label: [[A>>B]] (A is much better), [[A>B]] (A is better), [[A=B]] (a tie), [[B>A]] (B is better) or "
    "[[B>>A]] (B is much better).")


def _conversation(turns: Sequence[str], answers: Sequence[str], upto: int) -> str:
    return "\n\n".join(f"### User:\n{turns[t]}\n\n### Assistant:\n{answers[t]}" for t in range(upto + 1))


class ModelJudge:
    """A judge model: `mt-bench` (FastChat's pair-v2/single-v1 prompts and their `-math-` variants with the
    reference answer, read from `mt_bench/judge_prompts.jsonl`) or `arena-hard` (five-level verdicts)."""

    def __init__(self, prompts: str, folder: Path | None) -> None:
        self.prompts = prompts
        self.files = mtbench.load_judge_prompts(folder) if prompts == "mt-bench" and folder is not None else {}
        if prompts == "mt-bench" and not self.files:
            raise DataError("the mt-bench judge prompts need <dataset-dir>/mt_bench/judge_prompts.jsonl")

    @staticmethod
    def _mt(question: Question) -> mtbench.Question:
        # FastChat's builders take two turns; a one-turn question's second is never asked for.
        reference = None if question.reference is None else (*question.reference, question.reference[-1])[:2]
        return mtbench.Question(0, question.category, (*question.turns, "")[:2], reference)

    def pair(self, question: Question, turn: int, first: Sequence[str], second: Sequence[str]) -> GenerationRequest:
        """Which of two answers is better at `turn` (0-based), `first` shown as assistant A."""
        if self.prompts == "arena-hard":
            text = (f"<|The Start of Assistant A's Conversation|>\n{_conversation(question.turns, first, turn)}\n"
                    f"<|The End of Assistant A's Conversation|>\n\n<|The Start of Assistant B's Conversation|>\n"
                    f"{_conversation(question.turns, second, turn)}\n<|The End of Assistant B's Conversation|>")
            if question.reference:
                text = f"Reference answer:\n{question.reference[min(turn, len(question.reference) - 1)]}\n\n{text}"
            return GenerationRequest(text, system=FIVE_LEVEL_SYSTEM)
        system, user = mtbench.pairwise_messages(self.files, self._mt(question), list(first), list(second),
                                                 turn + 1)
        return GenerationRequest(user, system=system)

    def single(self, question: Question, turn: int, answers: Sequence[str]) -> GenerationRequest:
        system, user = mtbench.single_messages(self.files, self._mt(question), list(answers), turn + 1)
        return GenerationRequest(user, system=system)

    def read_pair(self, reply: str) -> Verdict:
        return verdicts.five_level(reply) if self.prompts == "arena-hard" else verdicts.pairwise(reply)

    @staticmethod
    def read_single(reply: str) -> float | None:
        return verdicts.rating(reply)
