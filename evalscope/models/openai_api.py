"""OpenAI-compatible API backend: concurrent chat/completions requests spread over one or more endpoints, our own
retries, echo-logprob scoring."""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from evalscope import utf8
from evalscope.config import RunConfig
from evalscope.models import CapabilityError, Progress
from evalscope.models.fleet import Endpoint, Fleet
from evalscope.models.http import ConnectionFailed, HttpError, JsonClient
from evalscope.models.rendering import cut_at_stop, messages, render
from evalscope.redaction import strip_userinfo
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest

T = TypeVar("T")
R = TypeVar("R")

MAX_ATTEMPTS = 8
"""Tries of one request on retryable failures (429, 5xx, timeouts, dropped connections)."""
REFUSED_ATTEMPTS = 3
"""Tries before a refused connection is reported: a restarting server gets a moment, a wrong port fails fast."""
BACKOFF_S = 0.5
"""First backoff; doubled each try, capped at BACKOFF_CAP_S, full jitter (a random share of it)."""
BACKOFF_CAP_S = 30.0
PROBE = "The quick brown fox"
MAX_STOPS = 4
"""Stop strings one request may carry (OpenAI's limit, enforced by vLLM)."""


class ApiError(RuntimeError):
    """An API request failed for good; the message is one line naming the server (never the key)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _retry_after(value: str | None) -> float | None:
    """A Retry-After header's seconds (capped); None when absent or a date."""
    try:
        return None if value is None else min(float(value), BACKOFF_CAP_S)
    except ValueError:
        return None


class OpenAIBackend:
    """Sends each request of a group to the server, `concurrency` at a time; one client per process."""

    name = "openai"
    remote = True

    GROUP = 4
    """A server gets this many times `--concurrency` samples per call, so requests stay in flight through most
    of it."""

    @classmethod
    def group_size(cls, config: RunConfig, batch: int, selected: int, workers: int) -> int:
        return max(batch, cls.GROUP * config.concurrency)

    def __init__(self, config: RunConfig, threads: int) -> None:
        assert config.api_url is not None
        self.config = config
        urls = list(config.api_urls) or [config.api_url]
        self.fleet = Fleet([Endpoint(strip_userinfo(url), _client(url, config)) for url in urls])
        # What messages, the report and the cache show: never credentials; a fleet by its sorted members, so the
        # same replicas in another order share cached answers.
        self.url = ",".join(sorted(e.url for e in self.fleet.endpoints)) if len(urls) > 1 else \
            self.fleet.endpoints[0].url
        self._score_max_tokens: int | None = None
        self._unsupported: str | None = None
        self._probe_lock = threading.Lock()
        self._retries_lock = threading.Lock()  # its own: a retry inside the probe (which holds _probe_lock) counts too
        self.retries = 0
        """Requests sent again after a transient failure (429, 5xx, a timeout, a dropped connection)."""
        self.model = self._served_model(config.model)  # the first request: everything _call counts exists by now
        self.fingerprint = f"api:{self.url}|{self.model}"

    # --- requests with retries -------------------------------------------------------------------------------

    def _call(self, what: str, send: Callable[[Any], T]) -> T:
        """`send(client)` on the fleet's least busy endpoint, with exponential backoff and jitter on transient
        failures (each try may go to another endpoint; a failing one is taken out for a while); ApiError (one line,
        naming the endpoint) otherwise."""
        delay = BACKOFF_S
        last = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            endpoint = self.fleet.acquire()
            url, started = endpoint.url, time.monotonic()
            try:
                result = send(endpoint.client)
            except HttpError as exc:
                status = exc.status
                if status in (401, 403):
                    self.fleet.finished(endpoint)
                    name = "AuthenticationError" if status == 401 else "PermissionDeniedError"
                    raise ApiError(f"{url}: {status} {name} for {what} (check --api-key)", status) from None
                if status == 404:
                    self.fleet.finished(endpoint)
                    raise ApiError(f"{url}: 404 for {what}: unknown model {self.config.model!r} or endpoint "
                                   "(see GET /v1/models)", 404) from None
                if status != 429 and status < 500:
                    self.fleet.finished(endpoint)
                    raise ApiError(f"{url}: {status} for {what}: {exc.message}", status) from None
                if status == 429:  # busy, not broken: it stays in the fleet
                    self.fleet.finished(endpoint)
                else:
                    self.fleet.failed(endpoint, refused=False)
                wait = _retry_after(exc.retry_after)
                last = f"{status} {exc.message}{self._at(url)}"
            except ConnectionFailed as exc:
                if exc.stale:  # a kept-alive connection closed under us: again at once, on a fresh one
                    self.fleet.finished(endpoint)
                    with self._retries_lock:
                        self.retries += 1
                    last = f"{exc}{self._at(url)}"
                    continue
                self.fleet.failed(endpoint, exc.refused)
                if exc.refused and attempt >= REFUSED_ATTEMPTS and self.fleet.all_out():
                    raise ApiError(f"{self.url}: connection refused (is the server running?)") from None
                wait, last = None, f"{exc}{self._at(url)}"
            except BaseException:  # not the endpoint's doing (a malformed reply, Ctrl-C): it is free again
                self.fleet.finished(endpoint)
                raise
            else:
                self.fleet.succeeded(endpoint, time.monotonic() - started)
                return result
            if attempt == MAX_ATTEMPTS:
                break
            with self._retries_lock:
                self.retries += 1
            if endpoint.down_until > time.monotonic() and not self.fleet.all_out():
                continue  # this endpoint was taken out and another is in service: no reason to wait
            time.sleep(wait if wait is not None else random.uniform(0, delay))
            delay = min(delay * 2, BACKOFF_CAP_S)
        raise ApiError(f"{self.url}: {what} failed after {MAX_ATTEMPTS} tries: {last}".splitlines()[0])

    def _at(self, url: str) -> str:
        """Which endpoint a failure came from, where there are several."""
        return f" (at {url})" if len(self.fleet.endpoints) > 1 else ""

    def _served_model(self, wanted: str | None) -> str:
        """Check the server, the key and the model with one GET /v1/models; no --model means the only one served."""
        page = self._call("GET /models", lambda client: client.request("GET", "/models"))
        served = [str(m.get("id")) for m in (page.get("data") or []) if isinstance(m, dict)] \
            if isinstance(page, dict) else []
        if wanted is None:
            if len(served) != 1:
                raise ApiError(f"{self.url}: serves {len(served)} models ({', '.join(served[:5])}); pick one with "
                               "--model")
            return served[0]
        if served and wanted not in served:
            raise ApiError(f"{self.url}: unknown model {wanted!r} (served: {', '.join(served[:5])})")
        return wanted

    def _each(self, items: Sequence[T], work: Callable[[T], R], on_step: Progress) -> Iterator[tuple[int, R]]:
        """`work` on every item, `concurrency` in flight; each result is handed on the moment it arrives. The
        first failure is raised after the others finished, so finished work is never thrown away. On Ctrl-C (or
        when the caller stops) nothing more is sent and the requests in flight are abandoned: the threads are
        daemons, so the process exits without waiting out their timeouts."""
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(len(items)):
            todo.put(i)
        done: queue.SimpleQueue[tuple[int, Any, BaseException | None]] = queue.SimpleQueue()
        stop = threading.Event()

        def send() -> None:
            while not stop.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((i, work(items[i]), None))
                except CapabilityError as exc:  # every other request would fail the same way: send no more
                    stop.set()
                    done.put((i, None, exc))
                except Exception as exc:
                    done.put((i, None, exc))

        for _ in range(max(1, min(self.config.concurrency, len(items)))):
            threading.Thread(target=send, daemon=True, name="evalscope-api").start()
        failure: BaseException | None = None
        try:
            for _ in range(len(items)):
                if stop.is_set() and failure is not None:
                    break  # a capability error: the rest were never sent
                i, result, error = done.get()
                if error is not None:
                    failure = failure or error
                    continue
                if on_step is not None:
                    on_step(1)
                yield i, result
        finally:
            stop.set()
        if failure is not None:
            raise failure

    # --- generation ------------------------------------------------------------------------------------------

    def _sampling(self) -> dict[str, Any]:
        gen = self.config.generation
        args: dict[str, Any] = {"max_tokens": gen.max_new_tokens, "seed": self.config.seed,
                                "temperature": gen.temperature if gen.do_sample else 0.0}
        if gen.do_sample:
            args["top_p"] = gen.top_p
        extra = {k: v for k, v in (("top_k", gen.top_k if gen.do_sample else 0),
                                   ("repetition_penalty", gen.repetition_penalty))
                 if v not in (0, 1.0)}
        return {**args, **extra}  # vLLM/SGLang extensions, sent only when set: strict servers accept the default

    def render(self, request: GenerationRequest) -> str:
        """What the report shows as the prompt: the messages as JSON (chat) or the raw prompt (completions)."""
        if request.chat:  # an image by its name and hash: the report never holds its bytes
            return json.dumps(messages(request, lambda image: {"type": "image_url", "image_url": {
                "url": f"sha256:{image.sha256}", "name": image.name}}), ensure_ascii=False)
        return render(None, None, request)

    def _complete(self, request: GenerationRequest) -> Completion:
        # The API takes at most MAX_STOPS stop strings (vLLM refuses more); the rest are applied here, on the text.
        body = {"model": self.model, **self._sampling()}
        if request.stop:
            body["stop"] = list(request.stop)[:MAX_STOPS]
        if request.n > 1:  # several samples of one prompt in one request
            body["n"] = request.n
        if request.images and not request.chat:
            raise CapabilityError(f"{self.url}: images go only in chat messages (/v1/chat/completions), not in a raw "
                                  "prompt; use --template-type auto")
        if request.tools:  # native function calling: the server's template shows them, its parser reads calls
            body["tools"] = [dict(t) for t in request.tools]
        if request.chat:  # the server's chat template; a raw prompt goes to /completions
            sent = messages(request, lambda image: {"type": "image_url", "image_url": {"url": image.data_uri()}})
            chat = self._call("POST /chat/completions", lambda client: _post(
                client, "/chat/completions", {**body, "messages": sent}))
            choices = chat.get("choices") or []
            drawn = [((c.get("message") or {}).get("content") or "", c.get("finish_reason")) for c in choices]
            # a server with a reasoning parser (vLLM --reasoning-parser) returns the thinking apart
            said = (choices[0].get("message") or {}) if choices else {}
            reasoning = said.get("reasoning_content") or said.get("reasoning")
            calls = tuple({"id": str(c.get("id") or ""), "name": str((c.get("function") or {}).get("name") or ""),
                           "arguments": (c.get("function") or {}).get("arguments") or "{}"}
                          for c in said.get("tool_calls") or [])
            usage = chat.get("usage") or {}
        else:
            done = self._completions(lambda client: _post(
                client, "/completions", {**body, "prompt": self.render(request)}))
            drawn = [(c.get("text") or "", c.get("finish_reason")) for c in done.get("choices") or []]
            usage, reasoning, calls = done.get("usage") or {}, None, ()
        if not drawn:
            raise ApiError(f"{self.url}: a reply without choices")
        cut = [cut_at_stop(utf8.scrub(text), request.stop) for text, _ in drawn]
        stopped = cut[0][1] or drawn[0][1] != "length"
        return Completion(cut[0][0], int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                          "stop" if stopped else "length", self.render(request),
                          tuple(text for text, _ in cut) if request.n > 1 else (),
                          utf8.scrub(str(reasoning)) if reasoning else None, calls)

    def generate(self, requests: Sequence[GenerationRequest],
                 on_step: Progress = None) -> Iterator[tuple[int, Completion]]:
        return self._each(requests, self._complete, on_step)

    # --- loglikelihood ---------------------------------------------------------------------------------------

    def _echo(self, prompt: str) -> Any:
        """`/completions` with echo: per-token logprobs of the prompt itself (max_tokens 0, else 1)."""
        if self._score_max_tokens is None:
            try:
                return self._echo_with(prompt, 0)
            except ApiError as exc:
                if exc.status not in (400, 422):  # max_tokens=0 refused: ask for one token and ignore it
                    raise
            self._score_max_tokens = 1
        return self._echo_with(prompt, self._score_max_tokens)

    def _completions(self, send: Callable[[Any], T], what: str = "POST /completions") -> T:
        """A /v1/completions request; a server without that endpoint (chat-only) cannot run raw-text setups at all,
        which stops the session once instead of failing every sample."""
        try:
            return self._call(what, send)
        except ApiError as exc:
            if exc.status == 404:
                raise CapabilityError(f"{self.url} has no /v1/completions (a chat-only server?), which raw-text "
                                      "prompts and loglikelihoods need; use --template-type auto, or a setup that "
                                      "uses the chat template") from None
            raise

    def _echo_with(self, prompt: str, max_tokens: int) -> Any:
        done = self._completions(lambda client: _post(client, "/completions", {
            "model": self.model, "prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": max_tokens,
            "temperature": 0.0, "seed": self.config.seed}), "POST /completions (echo)")
        return ((done.get("choices") or [{}])[0].get("logprobs")) or {}

    def check_scoring(self) -> None:
        """One tiny echo request (once per process): raise CapabilityError when the server cannot score prompts."""
        with self._probe_lock:
            if self._unsupported is None:
                self._unsupported = self._probe()
        if self._unsupported:
            raise CapabilityError(f"{self.url} ({self.model}) cannot score loglikelihoods: {self._unsupported}; "
                                  "use a generation setup or a server that echoes prompt logprobs (e.g. vLLM)")

    def _probe(self) -> str:
        logprobs = self._echo(PROBE)
        offsets = list(logprobs.get("text_offset") or [])
        values = list(logprobs.get("token_logprobs") or [])
        if not offsets or not values or offsets[0] != 0:
            return "it ignores echo=True (no prompt logprobs with text offsets; llama.cpp's server does this)"
        prompt_values = [v for o, v in zip(offsets, values, strict=False) if o < len(PROBE)]
        if prompt_values[0] is not None:
            # Nothing predicts a prompt's first token; a value there means logprobs shifted by one token
            # (llama-cpp-python's server, its issue #1983).
            return "its prompt logprobs are shifted (the first prompt token has a logprob)"
        if len(prompt_values) < 2 or any(v is None for v in prompt_values[1:]):
            return "it returns no logprob for some prompt tokens"
        return ""

    def _score(self, request: ChoiceRequest) -> ChoiceLoglikelihoods:
        # lm-eval's split: the context's trailing spaces belong to the continuation; tokens that carry any
        # continuation character (by the server's text offsets) are the continuation's.
        context = request.context.rstrip()
        split = len(context)
        lls, greedy, counts = [], [], []
        prompt_tokens = 0
        for continuation in request.continuations:
            whole = request.context + continuation
            lp = self._echo(whole)
            offsets = list(lp.get("text_offset") or [])
            ends = [*offsets[1:], len(whole)]
            picked = [k for k, (o, e) in enumerate(zip(offsets, ends, strict=True)) if e > split and o < len(whole)]
            prompt_tokens = sum(1 for e in ends if e <= split)
            values = [lp["token_logprobs"][k] for k in picked]
            if not picked or any(v is None for v in values):
                raise ApiError(f"{self.url}: no logprobs for the continuation {continuation!r}")
            lls.append(float(sum(values)))
            tops = lp.get("top_logprobs") or [None] * len(offsets)
            greedy.append(all(not top or lp["token_logprobs"][k] >= max(top.values()) - 1e-6
                              for k, top in ((k, tops[k]) for k in picked)))
            counts.append(len(picked))
        return ChoiceLoglikelihoods(tuple(lls), tuple(greedy), tuple(counts), prompt_tokens, request.context)

    def loglikelihood(self, requests: Sequence[ChoiceRequest],
                      on_step: Progress = None) -> Iterator[tuple[int, ChoiceLoglikelihoods]]:
        if any(r.chat for r in requests):
            raise CapabilityError(f"{self.url}: a chat template cannot be applied to loglikelihood requests through "
                                  "an API (the server's template is not ours to render); use --template-type none")
        self.check_scoring()  # now, not at the first next(): a server that cannot score stops before any request
        return self._each(requests, self._score, on_step)

    def close(self) -> None:
        for endpoint in self.fleet.endpoints:
            endpoint.client.close()

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "id": self.model, "api_url": self.url, "fingerprint": self.fingerprint,
                "chat_template": True,  # a chat request gets the server's template
                "retries": self.retries, "endpoints": self.fleet.stats(),
                "concurrency": self.config.concurrency}


def _post(client: JsonClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = client.request("POST", path, body)
    if not isinstance(reply, dict):
        raise ConnectionFailed(f"{path}: the reply is not a JSON object")
    return reply


def _client(url: str, config: RunConfig) -> JsonClient:
    """One endpoint's client; credentials in its URL go as HTTP basic auth, never logged."""
    return JsonClient(url, config.api_key, config.request_timeout)
