"""A judge's reply read as a verdict (MT-Bench's `[[A]]`/`[[B]]`/`[[C]]` and `[[rating]]`, arena-hard's five
levels), and a pair's two orders reconciled into one battle; an unreadable reply is an error, never a tie.

A verdict is the judge's own conclusion: its last label, outside the spans where it quotes an answer between the
prompt's markers. FastChat takes the first label (and `[[A]]` anywhere before `[[B]]`), arena-hard calls two
different labels unreadable: either way an answer that writes `[[A]]`, `[[10]]` or `[[A>>B]]` wins, or voids, any
battle whose judge quotes it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The prompts frame each answer as `[The Start of Assistant A's Answer]` ... `[The End of Assistant A's Answer]`
# (FastChat's one-turn prompts) or `<|The Start of ...|>` ... `<|The End of ...|>` (multi-turn, arena-hard).
_QUOTE_START = re.compile(r"(?:\[|<\|)The Start of ([^\]|\n]+?)(?:\]|\|>)", re.IGNORECASE)
_PAIRWISE = re.compile(r"\[\[([ABC])\]\]")
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")  # FastChat's fallback, for judges that drop a bracket
_FIVE_LEVELS = re.compile(r"\[\[([AB<>=]+)\]\]")
FIVE_LEVEL_SCORES = {"A>>B": (1.0, 3.0), "A>B": (1.0, 1.0), "A=B": (0.5, 1.0), "B>A": (0.0, 1.0),
                     "B>>A": (0.0, 3.0)}
"""arena-hard's labels -> (score of the first answer, weight): a strong verdict counts as three battles."""


@dataclass(frozen=True)
class Verdict:
    """One judgment of one order: the first-shown answer's score (1, 0.5, 0) and its weight; None: unreadable."""

    score: float | None
    weight: float = 1.0
    text: str = ""
    """The judge's reply, kept for the report (and for an unreadable one, the reason it counts as an error)."""


def own_words(reply: str) -> str:
    """The judge's reply without the spans it quotes between a start marker and its matching end marker (an answer
    it echoes). A start marker left open is dropped alone: nothing an answer writes can hide what follows it."""
    kept, at = [], 0
    while (start := _QUOTE_START.search(reply, at)) is not None:
        kept.append(reply[at:start.start()])
        end = re.compile(rf"(?:\[|<\|)The End of {re.escape(start.group(1))}(?:\]|\|>)", re.IGNORECASE)
        closed = end.search(reply, start.end())
        at = closed.end() if closed is not None else start.end()
    return "".join(kept) + reply[at:]


def _last(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.findall(text)
    return str(found[-1]) if found else None


def pairwise(reply: str) -> Verdict:
    """MT-Bench's pairwise format: the judge's last `[[A]]`, `[[B]]` or `[[C]]` (a tie) outside quoted answers."""
    label = _last(_PAIRWISE, own_words(reply))
    return Verdict(None if label is None else {"A": 1.0, "B": 0.0, "C": 0.5}[label], 1.0, reply)


def five_level(reply: str) -> Verdict:
    """arena-hard's format: the judge's last `[[A>>B]]`..`[[B>>A]]` label outside quoted answers (an unknown label
    there, such as `[[A>>>B]]`: unreadable)."""
    label = _last(_FIVE_LEVELS, own_words(reply))
    if label not in FIVE_LEVEL_SCORES:
        return Verdict(None, 1.0, reply)
    score, weight = FIVE_LEVEL_SCORES[label]
    return Verdict(score, weight, reply)


def rating(reply: str) -> float | None:
    """MT-Bench's single-answer grade: the judge's last `[[7]]` outside quoted answers (without one, as FastChat,
    its last `[7]`); None without one or outside 1-10."""
    text = own_words(reply)
    found = _last(_RATING, text) or _last(_RATING_BACKUP, text)
    if found is None:
        return None
    value = float(found)
    return value if 1.0 <= value <= 10.0 else None


def reconcile(first: Verdict, swapped: Verdict) -> Verdict:
    """One battle from both orders: `first` judged (x, y), `swapped` judged (y, x). Consistent orders give that
    verdict (a strong one only when both are strong), inconsistent ones a tie (FastChat's rule); an unreadable
    order makes the battle an error (score None)."""
    text = f"{first.text}\n---- swapped ----\n{swapped.text}"
    if first.score is None or swapped.score is None:
        return Verdict(None, 1.0, text)
    x_first, x_swapped = first.score, 1.0 - swapped.score
    side_first, side_swapped = (x_first > 0.5) - (x_first < 0.5), (x_swapped > 0.5) - (x_swapped < 0.5)
    if side_first != side_swapped or side_first == 0:
        return Verdict(0.5, 1.0, text)
    return Verdict(x_first, min(first.weight, swapped.weight), text)


def disagree(first: Verdict, swapped: Verdict) -> bool:
    """Whether the two orders pointed different ways (position bias), both readable."""
    if first.score is None or swapped.score is None:
        return False
    return first.score != 1.0 - swapped.score


def rule(first_correct: bool, second_correct: bool) -> Verdict:
    """The rule judge, for questions with exact answers: a correct answer beats an incorrect one; both right or
    both wrong is a tie. It has no position bias, so both orders always agree."""
    score = 0.5 if first_correct == second_correct else float(first_correct)
    return Verdict(score, 1.0, f"rule: first {'right' if first_correct else 'wrong'}, second "
                               f"{'right' if second_correct else 'wrong'}")
