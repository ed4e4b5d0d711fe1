"""Reasoning models' thinking kept apart from their answer: extractors read the reply without its <think> block."""

from __future__ import annotations

from dataclasses import replace

from evalscope.schema import Completion

OPEN, CLOSE = "<think>", "</think>"


def _blocks(text: str) -> tuple[list[str], str]:
    """(the insides of the `<think>...</think>` blocks, the text without them): each `<think>` closed by the next
    `</think>`. With `str.find`, not the regex `<think>(.*?)</think>`: that one scans to the end of the text from
    every `<think>` left open, quadratic (a reply of "x <think>" 5000 times took 15 s, one of a megabyte hours)."""
    thoughts, kept, at = [], [], 0
    while (start := text.find(OPEN, at)) >= 0 and (end := text.find(CLOSE, start + len(OPEN))) >= 0:
        kept.append(text[at:start])
        thoughts.append(text[start + len(OPEN):end])
        at = end + len(CLOSE)
    return thoughts, "".join(kept) + text[at:]


def split_thinking(text: str) -> tuple[str, str | None]:
    """(the answer, the thinking; None when there was none). Every `<think>...</think>` block goes to the
    thinking; a `</think>` with no opening before it (the chat template opened the block in the prompt) takes
    everything before it; an unclosed `<think>` at the start (cut off while thinking) takes the rest."""
    thoughts: list[str] = []
    rest = text
    head, closed, tail = rest.partition(CLOSE)
    if closed and OPEN not in head:
        thoughts.append(head)
        rest = tail
    blocks, rest = _blocks(rest)
    thoughts += blocks
    if rest.lstrip().startswith(OPEN):
        thoughts.append(rest.lstrip()[len(OPEN):])
        rest = ""
    if not thoughts:
        return text, None
    return rest.lstrip(), "\n\n".join(t.strip() for t in thoughts)


def without_thinking(completion: Completion) -> tuple[Completion, str | None]:
    """The completion as extractors should read it (every drawn text without its thinking), and the thinking of
    the first: from the text, or as the server returned it apart."""
    answer, thought = split_thinking(completion.text)
    texts = tuple(split_thinking(t)[0] for t in completion.texts)
    reasoning = "\n\n".join(t for t in (completion.reasoning, thought) if t) or None
    return replace(completion, text=answer, texts=texts), reasoning
