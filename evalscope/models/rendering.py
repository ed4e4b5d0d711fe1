"""What every backend feeds its model the same way: chat templates, stop strings, the split of choice tokens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evalscope.images import Image
from evalscope.schema import ChoiceRequest, GenerationRequest

ImagePart = Callable[[Image], dict[str, Any]]
"""How a chat message shows an image: `{"type": "image"}` for a processor's template, an `image_url` for an API."""

RAW_TEMPLATES = {"none", "raw", "base", "default-generation"}
"""--template-type values that mean: feed the prompt as plain text, no chat template."""


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """The text before the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def is_raw(template: str) -> bool:
    return template.lower() in RAW_TEMPLATES


def chat_template(own: str | None, template: str | None) -> str | None:
    """The Jinja chat template `--template-type` asks for (None, the default: the tokenizer's, `own`), or None when
    prompts are fed raw. Requests still say each whether they want it (`chat`)."""
    template = template or "auto"
    if is_raw(template):
        return None
    if "{%" in template or "{{" in template:
        return template
    if template.endswith((".jinja", ".j2")) or Path(template).is_file():
        return Path(template).read_text()
    # "auto" and the seed's named template types: the tokenizer's own template, if it has one.
    return own or None


def render(tokenizer: Any, template: str | None, request: GenerationRequest) -> str:
    """The exact text a local model completes: the prompt in the chat template (if the request wants it and the
    model has one), or raw."""
    if template is None or not request.chat:
        if request.messages:  # a raw conversation: its texts, one paragraph each
            return "\n\n".join(str(m.get("content") or "") for m in request.messages)
        turns = [request.system] if request.system else []
        return "\n\n".join([*turns, *(f"{user}\n{answer}" for user, answer in request.history), request.prompt])
    tools = {"tools": [dict(t) for t in request.tools]} if request.tools else {}
    return str(tokenizer.apply_chat_template(messages(request), chat_template=template, tokenize=False,
                                             add_generation_prompt=True, **tools))


def messages(request: GenerationRequest, image: ImagePart | None = None) -> list[dict[str, Any]]:
    """The request as chat messages: the system message, earlier turns, then the prompt as the user's turn (a list
    of text and image parts, in order, when it carries images), or the request's own conversation (agents)."""
    if request.messages:
        return [dict(m) for m in request.messages]
    out: list[dict[str, Any]] = [{"role": "system", "content": request.system}] if request.system else []
    for user, answer in request.history:
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    if not request.images:
        return [*out, {"role": "user", "content": request.prompt}]
    show = image or (lambda _: {"type": "image"})
    parts = [show(p) if isinstance(p, Image) else {"type": "text", "text": p} for p in request.parts()]
    return [*out, {"role": "user", "content": parts}]


def render_context(tokenizer: Any, template: str | None, request: ChoiceRequest) -> str:
    """The text every continuation follows: the context as is, or (when the request wants the chat template and
    the model has one) the context as a user turn followed by the assistant's cue, as lm-eval's
    `--apply_chat_template` renders it."""
    if template is None or not request.chat:
        return request.context
    return render(tokenizer, template, GenerationRequest(request.context))


def encode_choices(tokenizer: Any, request: ChoiceRequest) -> tuple[list[int], list[list[int]]]:
    """Context and continuation tokens, split the way lm-eval splits them: trailing spaces of the context
    move to the continuation, and the continuation is what `context + continuation` adds to the context.
    `request.context` is the rendered context (see `render_context`)."""
    context = request.context
    spaces = len(context) - len(context.rstrip())
    moved = context[len(context) - spaces :] if spaces else ""
    context = context[: len(context) - spaces]
    wholes = [context + moved + c for c in request.continuations]
    encoded = tokenizer([context, *wholes], add_special_tokens=False)["input_ids"]
    context_ids = list(encoded[0])
    return context_ids, [list(w[len(context_ids) :]) for w in encoded[1:]]
