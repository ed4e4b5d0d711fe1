"""Typed, JSON-safe records that cross module and process boundaries (samples, requests, completions, results)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from evalscope.images import Image

_LEAVES = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """`dataclasses.asdict` for our records, without its deep copy of every leaf (a third of a cached item's
    time): dataclasses become dicts, containers are rebuilt, immutable leaves are shared."""
    if type(value) in _LEAVES:  # most values: checked first, as the cheapest test
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        items = [plain(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Sample:
    """One benchmark question, as read from the data files. A benchmark's `to_sample` gives the first four
    fields; the suite fills `id`, `index` and `subset`."""

    input: str
    """The question as the dataset states it, before any prompt formatting."""
    target: str
    """The reference answer, normalised for comparison (e.g. GSM8K's number after `####`)."""
    choices: tuple[str, ...] = ()
    """Answer options for multiple-choice benchmarks."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Other fields of the row that prompts or scorers need (JSON-safe values only)."""
    id: str = field(default="", kw_only=True)
    """Readable id, unique within the benchmark: `<subset>-<index>` (e.g. `main-0042`)."""
    index: int = field(default=0, kw_only=True)
    """Position of the sample in its subset's evaluation split."""
    subset: str = field(default="", kw_only=True)
    """Subset (subject, task, config) the sample belongs to."""
    images: tuple[Image, ...] = field(default=(), kw_only=True)
    """Images the question shows; a request gets them before its text unless the benchmark places them."""

    @property
    def digest(self) -> str:
        """What the sample is (its input, target, choices and images' content), hashed: two runs pair a sample only
        when its digest is the same in both (a changed data file renumbers nothing silently)."""
        what: list[Any] = [self.input, self.target, list(self.choices)]
        if self.images:  # text samples keep the digest they always had
            what.append([image.sha256 for image in self.images])
        text = json.dumps(what, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class RowError(ValueError):
    """A data row that cannot become a sample: raised by `to_sample`, or yielded by `rows` in place of the row.
    Its test item errors with the message; the other rows still run."""


class DataError(RuntimeError):
    """Data that cannot be found or read; the message names the benchmark and the path."""


@dataclass(frozen=True)
class BadRow:
    """A data row that cannot become a sample; its test item errors with this message."""

    id: str
    index: int
    subset: str
    location: str
    """`file:line` of the row."""
    problem: str
    """What is wrong, e.g. `missing field 'answer'`."""

    @property
    def message(self) -> str:
        return f"{self.location}: {self.problem}"


@dataclass(frozen=True)
class GenerationRequest:
    """A prompt to complete; the backend renders it (chat template or raw) and decodes greedily or by sampling."""

    prompt: str
    """The user-visible prompt text (few-shot examples included)."""
    stop: tuple[str, ...] = ()
    """Strings that end the completion; the completion is cut before the first one."""
    system: str | None = None
    """Optional system message (a raw prompt gets it as its first paragraph)."""
    history: tuple[tuple[str, str], ...] = ()
    """Earlier (user, assistant) turns of a multi-turn conversation, before `prompt`."""
    chat: bool = True
    """Wrap the prompt in the model's chat template (when it has one); False: plain text, as lm-eval feeds it
    by default. The suite sets it from the setup's default or `--template-type`."""
    n: int = 1
    """Completions to draw (pass@k), all with the run's sampling settings."""
    images: tuple[Image, ...] = ()
    """Images shown with the prompt (the user's last turn)."""
    image_at: tuple[int, ...] = ()
    """Where each image goes in `prompt`, as a character offset (() : all of them before the text)."""
    messages: tuple[Mapping[str, Any], ...] = ()
    """The whole conversation as chat messages (OpenAI's shape: roles system/user/assistant/tool, assistant
    `tool_calls`), for agents; when given it replaces `system`, `history` and `prompt`."""
    tools: tuple[Mapping[str, Any], ...] = ()
    """Tools offered for native function calling (OpenAI's `{"type": "function", "function": {...}}`)."""

    def parts(self) -> list[str | Image]:
        """The user's turn in order: text pieces and images (no empty text pieces)."""
        if not self.images:
            return [self.prompt]
        at = self.image_at or (0,) * len(self.images)
        out: list[str | Image] = []
        start = 0
        for offset, image in sorted(zip(at, self.images, strict=True), key=lambda pair: pair[0]):
            out += [self.prompt[start:offset], image] if offset > start else [image]
            start = max(start, offset)
        return [p for p in [*out, self.prompt[start:]] if not isinstance(p, str) or p]


def interleaved(*parts: str | Image) -> tuple[str, tuple[Image, ...], tuple[int, ...]]:
    """(prompt, images, image_at) of text and images in order, for `GenerationRequest(prompt, images=...,
    image_at=...)`."""
    text, images, at = "", [], []
    for part in parts:
        if isinstance(part, Image):
            images.append(part)
            at.append(len(text))
        else:
            text += part
    return text, tuple(images), tuple(at)


@dataclass(frozen=True)
class ChoiceRequest:
    """Score each continuation by its log-probability after one shared context (multiple choice)."""

    context: str
    """The text before every continuation."""
    continuations: tuple[str, ...]
    """Candidate continuations, e.g. `(" Paris", " Rome")` or `(" A", " B", " C", " D")`."""
    chat: bool = False
    """Render the context as a user turn of the chat template (the continuations follow the assistant's cue);
    False: the context as is, every loglikelihood setup's default (lm-eval's without `--apply_chat_template`)."""


@dataclass(frozen=True)
class ChoiceLoglikelihoods:
    """What a backend returned for one ChoiceRequest."""

    loglikelihoods: tuple[float, ...]
    """Summed log-probability of each continuation's tokens given the context (natural log)."""
    greedy: tuple[bool, ...]
    """Whether greedy decoding would have produced each continuation exactly."""
    continuation_tokens: tuple[int, ...]
    prompt_tokens: int
    """Tokens in the context."""
    rendered_prompt: str


@dataclass(frozen=True)
class Completion:
    """What a backend returned for one request."""

    text: str
    """Generated text, cut at the first stop string, special tokens removed."""
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    """`stop` (EOS or stop string) or `length` (max_new_tokens reached)."""
    rendered_prompt: str
    """The exact text fed to the model (after the chat template)."""
    texts: tuple[str, ...] = ()
    """Every completion drawn when the request asked for several (`n`), `text` first; () for one."""
    reasoning: str | None = None
    """The thinking a server returned apart from the answer (`reasoning_content`), when it did."""
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    """Native function calls the model made: `{"id", "name", "arguments"}` (arguments as the JSON text sent)."""

    @property
    def all_texts(self) -> tuple[str, ...]:
        return self.texts or (self.text,)


@dataclass(frozen=True)
class SampleResult:
    """A scored sample: what the per-sample JSONL stores and what crosses xdist in `user_properties`."""

    benchmark: str
    subset: str
    sample_id: str
    index: int
    metrics: Mapping[str, float]
    """Per-metric scores of this sample (0/1 for accuracy-like metrics)."""
    primary_metric: str
    extracted: Mapping[str, str | None]
    """The answer each metric's extractor found in the output (None: nothing found)."""
    target: str
    prompt: str
    output: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    category: str | None = None
    """The subset's category (e.g. MMLU's `stem`), for per-category tables."""
    choices: tuple[str, ...] = ()
    loglikelihoods: tuple[float, ...] | None = None
    """Per-choice log-probabilities, for loglikelihood-scored samples."""
    cluster: str | None = None
    """The passage or context this sample shares with others (`metadata["cluster"]`), for clustered errors."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """How the score came about, when a benchmark says more than its extracted answer (e.g. the programs run and
    each test's outcome)."""
    reasoning: str | None = None
    """A reasoning model's thinking, taken out of `output` before extraction (None: there was none)."""
    sample_hash: str = ""
    """`Sample.digest` of the sample scored."""
    units: Mapping[str, int] = field(default_factory=dict)
    """Metric -> units its value averages, where not one (see `Scored.units`)."""
    cause: str | None = None
    """Why the sample counts as wrong whatever its answer: `checker timeout` when a check of it ran past
    `--checker-timeout` (the checks that did are listed in `details["timed_out_checks"]`)."""
    images: tuple[Mapping[str, Any], ...] = ()
    """The images the model was shown, each as `Image.ref()` (name, sha256, size; never the bytes), and the
    report's thumbnail file (`thumbnail`, relative to the run folder) when one was written."""

    @property
    def correct(self) -> bool:
        return self.metrics.get(self.primary_metric, 0.0) >= 1.0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = plain(self)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SampleResult:
        values = dict(data)
        values["choices"] = tuple(values.get("choices") or ())
        values["images"] = tuple(values.get("images") or ())
        if values.get("loglikelihoods") is not None:
            values["loglikelihoods"] = tuple(values["loglikelihoods"])
        return cls(**values)


Request = GenerationRequest | ChoiceRequest
Response = Completion | ChoiceLoglikelihoods
