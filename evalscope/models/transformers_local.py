"""Local transformers backend: length-sorted batches through our own decoding loop (`decoding.py`; `model.generate`
for layouts it does not cover), and loglikelihoods from packed forwards with a shared preamble's KV kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalscope import devices
from evalscope.config import RunConfig
from evalscope.models import Progress, describe_local, identity, refuse_images, rendering, resolve
from evalscope.models.packing import Packed, attention_mask, common_prefix, pack, shared_prefix
from evalscope.models.rendering import cut_at_stop
from evalscope.models.resolve import ModelError
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest

if TYPE_CHECKING:  # torch and transformers load with the backend, not with `import evalscope`
    from evalscope.models import decoding

TOKENS_PER_FORWARD = {"cpu": 512, "other": 8192}
"""Padded tokens in one loglikelihood forward pass. On a CPU a forward is fastest while its activations stay in
cache: ARC-Easy 500 scored in 21 s at 512 against 33 s at 8192 (SmolLM2-135M, 2 cores). On a GPU the bound only
keeps the attention mask's memory in check."""

REFILL_GROUP = 4
"""Batches of prompts per generation group when rows refill: the queue a batch's slots draw from. Larger groups
keep rows busy longer (only a group's last batch-width of replies runs at a shrinking width) but spread worse over
xdist workers."""

MIN_SHARED_PREFIX = 16
"""A common prefix at least this long (tokens) is run once and its KV cache reused by every row of the batch."""


def loop(asked: str, supported: bool) -> str:
    """The generation loop: `batch` (decoding.py) by default, `refill` (refilling.py) when asked, until a bench
    on a quiet machine shows it faster (see README); `model.generate` for layouts neither covers, whatever was
    asked."""
    if not supported:
        return "generate"
    return "batch" if asked == "auto" else asked


class TransformersBackend:
    """Runs a causal LM in this process; loaded once per process (per xdist worker)."""

    name = "transformers"
    remote = False

    @classmethod
    def group_size(cls, config: RunConfig, batch: int, selected: int, workers: int) -> int:
        """A generation group (`batch` is `--eval-batch-size` then; loglikelihood groups come larger) holds
        REFILL_GROUP batches where rows may refill, so a row that ends early has prompts to take its slot."""
        refills = config.model_args.decoding == "refill" and not config.batch_auto
        return batch * REFILL_GROUP if refills and batch == config.eval_batch_size else batch

    @classmethod
    def identify(cls, config: RunConfig) -> dict[str, Any] | None:
        known = identity.from_files(config)
        return None if known is None else {**known.info(cls.name), "loaded": False}

    def __init__(self, config: RunConfig, threads: int) -> None:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        from evalscope.models import attention, decoding, mixed

        torch.set_num_threads(threads)
        self.config = config
        self.threads = threads
        self.model_id, folder, self.fingerprint = resolve.local_weights(config.model, config.model_args.revision)
        args = config.model_args
        self.device = devices.resolve_device(args.device_map, devices.cuda_available())
        # fp32 on a GPU stays fp32 (no TF32 matmuls) unless asked: loglikelihoods comparable with lm-eval's.
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.tf32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=args.trust_remote_code)
            declared = devices.config_dtype(AutoConfig.from_pretrained(str(folder),
                                                                       trust_remote_code=args.trust_remote_code))
            dtype = devices.resolve_dtype(args.precision, self.device.startswith("cuda"), declared)
            # bf16 on a CPU: loaded in fp32, then only the linear layers go to bf16 (see mixed.py).
            self.mixed = dtype == "bfloat16" and self.device == "cpu"
            self.model = AutoModelForCausalLM.from_pretrained(
                str(folder), dtype=torch.float32 if self.mixed else getattr(torch, dtype), device_map=self.device,
                trust_remote_code=args.trust_remote_code).eval()
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load model {self.model_id!r} from {folder}: {exc}".splitlines()[0]) from exc
        if self.mixed:
            mixed.apply(self.model)
        attention.use_grouped(self.model)
        self.decoding = loop(args.decoding, decoding.supported(self.model))
        self._kept_prefix: decoding.Prefix | None = None
        self._kept_scoring_prefix: tuple[tuple[int, ...], Any] | None = None
        self._head_fp32: tuple[Any, Any] | None = None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.chat_template = rendering.chat_template(self.tokenizer.chat_template, config.template)
        self.local = identity.LocalModel(self.model_id, Path(folder), self.fingerprint, self.chat_template)
        self.folder = Path(folder)

    def render(self, request: GenerationRequest) -> str:
        return rendering.render(self.tokenizer, self.chat_template, request)

    def info(self) -> dict[str, Any]:
        dtype = "bfloat16" if self.mixed else self.model.dtype
        return describe_local(self.name, self.local, dtype, threads=self.threads, device=str(self.model.device),
                              decoding=self.decoding,
                              **({"compute": "bf16 linear layers; fp32 residual stream, attention, logits"}
                                 if self.mixed else {}))

    def close(self) -> None:
        """Nothing to release: the weights go with the process."""

    def generate(self, requests: Sequence[GenerationRequest],
                 on_step: Progress = None) -> Iterator[tuple[int, Completion]]:
        """Complete every request; batches of `eval_batch_size`, longest prompts first. A request for n
        completions goes as n copies (sampled in different rows or batches) and comes back as one."""
        refuse_images(requests, self.model_id)
        copies = [(i, replace(r, n=1)) for i, r in enumerate(requests) for _ in range(r.n)]
        if len(copies) == len(requests):
            yield from self._generate_each(requests, on_step)
            return
        drawn: dict[int, list[tuple[int, Completion]]] = {}
        for j, completion in self._generate_each([r for _, r in copies], on_step):
            i = copies[j][0]
            drawn.setdefault(i, []).append((j, completion))
            if len(drawn[i]) == requests[i].n:
                ordered = [c for _, c in sorted(drawn.pop(i), key=lambda pair: pair[0])]
                yield i, replace(ordered[0], texts=tuple(c.text for c in ordered))

    def _generate_each(self, requests: Sequence[GenerationRequest], on_step: Progress) -> Iterator[tuple[int,
                                                                                                   Completion]]:
        texts = [self.render(r) for r in requests]
        # A raw prompt gets the tokenizer's special tokens (BOS); a chat template brings its own.
        raw = [self.chat_template is None or not r.chat for r in requests]
        encoded = [list(self.tokenizer(t, add_special_tokens=s)["input_ids"]) for t, s in zip(texts, raw, strict=True)]
        size = self._rows(max(map(len, encoded), default=1) + self.config.generation.max_new_tokens)
        batches = []
        for special in sorted(set(raw)):  # a batch is all raw or all chat, longest prompts first
            members = sorted((i for i in range(len(texts)) if raw[i] == special), key=lambda i: -len(encoded[i]))
            prefix = self._generation_prefix([encoded[i] for i in members])
            batches += [(members[start : start + size], prefix) for start in range(0, len(members), size)]
        if self.decoding == "refill":
            # One queue per kind of prompt, `size` slots refilled as rows end (refilling.py).
            answered = (pair for number, special in enumerate(sorted(set(raw)))
                        for pair in self._refill([i for batch, _ in batches if raw[batch[0]] == special for i in batch],
                                                 encoded, requests, number, size, on_step))
        else:
            answered = (pair for number, (batch, prefix) in enumerate(batches)
                        for pair in self._batch(batch, prefix, encoded, texts, requests, raw, number, on_step))
        for i, completion in answered:
            text, stopped = cut_at_stop(completion.text, requests[i].stop)
            reason = "stop" if stopped else completion.finish_reason
            yield i, Completion(text, completion.prompt_tokens, completion.completion_tokens, reason, texts[i])

    def _batch(self, batch: list[int], prefix: decoding.Prefix | None, encoded: list[list[int]], texts: list[str],
               requests: Sequence[GenerationRequest], raw: list[bool], number: int,
               on_step: Progress) -> Iterator[tuple[int, Completion]]:
        """One batch to its end, through our batch loop or `model.generate`."""
        stops = tuple(sorted({s for i in batch for s in requests[i].stop}))
        rows = [encoded[i] for i in batch]
        if self.decoding == "batch":
            completions = self._decode_batch(rows, prefix, stops, number, on_step)
        else:
            completions = self._generate_batch([texts[i] for i in batch], stops, raw[batch[0]], number, on_step)
        yield from zip(batch, completions, strict=True)

    def _refill(self, members: list[int], encoded: list[list[int]], requests: Sequence[GenerationRequest],
                number: int, slots: int, on_step: Progress) -> Iterator[tuple[int, Completion]]:
        """`members` (longest prompts first) through `slots` rows that take the next prompt as one ends."""
        import torch

        from evalscope.models import refilling

        rows = [encoded[i] for i in members]
        stopped = self._stop_check([requests[i].stop for i in members])
        if self.config.generation.do_sample:
            torch.manual_seed(self.config.seed + number)  # as in _generate_batch
        for k, d in refilling.refill(self.model, rows, self._generation_prefix(rows), self.config.generation, slots,
                                     self._ends(), stopped, self.tokenizer.pad_token_id, on_step):
            text = str(self.tokenizer.decode(d.tokens, skip_special_tokens=True))
            yield members[k], Completion(text, len(rows[k]), len(d.tokens), d.reason, "")

    def _generation_prefix(self, rows: list[list[int]]) -> decoding.Prefix | None:
        """The KV of the prompt head all `rows` share (e.g. a fixed few-shot preamble), computed once and kept for
        the next group, which usually shares it too."""
        if self.decoding == "generate" or len(rows) < 2:
            return None
        # every row keeps a token of its own: it predicts the first new one
        common = common_prefix(rows, min(map(len, rows)) - 1)
        if common < MIN_SHARED_PREFIX:
            return None
        head = tuple(rows[0][:common])
        if self._kept_prefix is None or self._kept_prefix[0] != head:
            from evalscope.models import decoding

            self._kept_prefix = decoding.prefix_kv(self.model, head)
        return self._kept_prefix

    def _decode_batch(self, rows: list[list[int]], prefix: decoding.Prefix | None, stop: tuple[str, ...],
                      number: int, on_step: Progress) -> list[Completion]:
        import torch

        from evalscope.models import decoding

        gen = self.config.generation
        tok = self.tokenizer
        check = self._stop_check([stop])
        if gen.do_sample:
            torch.manual_seed(self.config.seed + number)  # as in _generate_batch
        decoded = decoding.decode(self.model, rows, prefix, gen, self._ends(), lambda tokens: check(0, tokens),
                                  tok.pad_token_id, on_step)
        return [Completion(str(tok.decode(d.tokens, skip_special_tokens=True)), len(row), len(d.tokens), d.reason, "")
                for row, d in zip(rows, decoded, strict=True)]

    def _ends(self) -> set[int]:
        """Tokens that end a reply: the model's EOS tokens, the tokenizer's EOS and pad."""
        eos = self.model.generation_config.eos_token_id
        ends = {t for t in (eos if isinstance(eos, list) else [eos]) if t is not None}
        return ends | {t for t in (self.tokenizer.eos_token_id, self.tokenizer.pad_token_id) if t is not None}

    def _stop_check(self, stops: list[tuple[str, ...]]) -> Callable[[int, list[int]], bool]:
        """Whether row k's tokens so far end in one of `stops[k]`."""
        # A stop string of n characters spans at most n tokens: the tail of n + 2 holds any that just ended.
        tails = [max((len(s) for s in stop), default=0) + 2 for stop in stops]
        decode = self.tokenizer.decode

        def stopped(k: int, tokens: list[int]) -> bool:
            return bool(stops[k]) and any(s in decode(tokens[-tails[k]:]) for s in stops[k])

        return stopped

    def _generate_batch(self, texts: list[str], stop: tuple[str, ...], special: bool, number: int,
                        on_step: Progress) -> list[Completion]:
        """`model.generate`, for models `decoding` does not cover."""
        import torch
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

        class Progress(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
                if on_step is not None:
                    on_step(1)
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        gen = self.config.generation
        tok = self.tokenizer
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=special)
        sampling = {"temperature": gen.temperature, "top_p": gen.top_p, "top_k": gen.top_k or None}
        settings = GenerationConfig(
            max_new_tokens=gen.max_new_tokens,
            do_sample=gen.do_sample,
            repetition_penalty=gen.repetition_penalty,
            pad_token_id=tok.pad_token_id,
            eos_token_id=self.model.generation_config.eos_token_id or tok.eos_token_id,
            stop_strings=list(stop) or None,
            **(sampling if gen.do_sample else {}),
        )
        if gen.do_sample:
            # Seeded per batch (the seed plus its place in the group): a batch samples the same tokens whatever ran
            # before it (order, -k, xdist), and copies of one prompt in two batches draw different ones.
            torch.manual_seed(self.config.seed + number)
        with torch.inference_mode():
            output = self.model.generate(
                **enc.to(self.model.device),
                generation_config=settings,
                tokenizer=tok,
                stopping_criteria=StoppingCriteriaList([Progress()]),
            )
        new = output[:, enc["input_ids"].shape[1] :].tolist()
        ends = {tok.pad_token_id, tok.eos_token_id}
        results = []
        for row, mask in zip(new, enc["attention_mask"].tolist(), strict=True):
            end = next((j for j, t in enumerate(row) if t in ends), None)
            tokens = row if end is None else row[: end + 1]
            text = str(tok.decode(tokens, skip_special_tokens=True))
            reason = "length" if end is None and len(row) >= gen.max_new_tokens else "stop"
            results.append(Completion(text, int(sum(mask)), len(tokens), reason, ""))
        return results

    def render_context(self, request: ChoiceRequest) -> str:
        return rendering.render_context(self.tokenizer, self.chat_template, request)

    def encode_choices(self, request: ChoiceRequest) -> tuple[list[int], list[list[int]]]:
        context = self.render_context(request)
        return rendering.encode_choices(self.tokenizer, replace(request, context=context))

    def loglikelihood(self, requests: Sequence[ChoiceRequest],
                      on_step: Progress = None) -> Iterator[tuple[int, ChoiceLoglikelihoods]]:
        """Each context once, its choices packed after it (see packing.py); longest rows first."""
        rows = []
        for request in requests:
            context, choices = self.encode_choices(request)
            rows.append((pack(context, choices), len(context), tuple(len(c) for c in choices)))
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i][0]))
        # Rows are bounded by padded tokens per forward, not a row count: a short row packs all its choices,
        # and a preamble shared by the whole request list (computed once per forward) does not count.
        common = shared_prefix([r[0] for r in rows]) if len(rows) > 1 and self._plain_head() else 0
        prefix = self._prefix_cache(rows[0][0].tokens[:common]) if common >= MIN_SHARED_PREFIX else None
        start = 0
        while start < len(order):
            width = len(rows[order[start]][0]) - common
            count = self._forward_rows(width)
            batch = order[start : start + count]
            scores = self._score_packed([rows[i][0] for i in batch], prefix)
            for i, (lls, greedy) in zip(batch, scores, strict=True):
                yield i, ChoiceLoglikelihoods(tuple(lls), tuple(greedy), rows[i][2], rows[i][1],
                                              self.render_context(requests[i]))
            if on_step is not None:
                on_step(len(batch))
            start += count

    def _auto_on_gpu(self) -> bool:
        return self.config.batch_auto and self.device.startswith("cuda")

    def _rows(self, width: int) -> int:
        """Generation rows per batch: `--eval-batch-size`; with `auto` on a GPU, as many rows of `width` tokens
        (prompt and completion) as the KV cache the free memory holds."""
        if not self._auto_on_gpu():
            return self.config.eval_batch_size
        kv = devices.model_kv_bytes(self.model.config, self.model.dtype.itemsize)
        return devices.rows_that_fit(devices.token_budget(devices.free_memory(self.device), kv), width)

    def _forward_rows(self, width: int) -> int:
        """Packed rows per loglikelihood forward: TOKENS_PER_FORWARD padded tokens; with `auto` on a GPU, what the
        free memory holds of each token's KV, activations and attention-mask row."""
        if not self._auto_on_gpu():
            budget = TOKENS_PER_FORWARD["cpu" if self.device == "cpu" else "other"]
            return max(1, budget // max(width, 1))
        size = self.model.dtype.itemsize
        kv = devices.model_kv_bytes(self.model.config, size)
        per_token = (8 * int(self.model.config.hidden_size) + width) * size
        return devices.rows_that_fit(devices.token_budget(devices.free_memory(self.device), kv, per_token), width)

    def _prefix_cache(self, tokens: list[int]) -> tuple[int, Any]:
        """The KV cache of a preamble every request shares (e.g. a subject's 5-shot examples), computed once and
        kept for the next call: a subject's questions come in several consecutive groups."""
        import torch

        if self._kept_scoring_prefix is None or self._kept_scoring_prefix[0] != tuple(tokens):
            base = getattr(self.model, self.model.base_model_prefix)
            with torch.inference_mode():
                ids = torch.tensor([tokens], device=self.model.device)
                self._kept_scoring_prefix = tuple(tokens), base(input_ids=ids, use_cache=True).past_key_values
        return len(tokens), self._kept_scoring_prefix[1]

    def _score_packed(
        self, rows: list[Packed], prefix: tuple[int, Any] | None = None
    ) -> list[tuple[list[float], list[bool]]]:
        import copy

        import torch

        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        device = self.model.device
        ids = torch.tensor([r.tokens + [pad] * (width - len(r)) for r in rows], device=device)
        positions = torch.tensor([r.positions + list(range(len(r), width)) for r in rows], device=device)
        allowed = torch.from_numpy(attention_mask(rows, width)).to(device)
        wanted = [(b, p) for b, row in enumerate(rows) for targets in row.targets for p, _ in targets]
        plain = self._plain_head()
        start = prefix[0] if prefix is not None else shared_prefix(rows) if plain and len(rows) > 1 else 0
        if start < MIN_SHARED_PREFIX:
            start = 0
        mask = torch.zeros((len(rows), 1, width - start, width), dtype=self.model.dtype, device=device)
        mask.masked_fill_(~allowed[:, :, start:, :], torch.finfo(self.model.dtype).min)
        with torch.inference_mode():
            if plain:
                # Logits only where a choice token is predicted: a few rows instead of batch x width x vocab.
                base = getattr(self.model, self.model.base_model_prefix)
                cache = None
                if start:
                    # The shared prefix (e.g. a subject's 5-shot preamble) runs once; every row reuses its KV.
                    # The forward appends to the cache, so a preamble kept for later batches is copied first.
                    cache = (copy.deepcopy(prefix[1]) if prefix is not None
                             else base(input_ids=ids[:1, :start], use_cache=True).past_key_values)
                    cache.batch_repeat_interleave(len(rows))
                hidden = base(input_ids=ids[:, start:], attention_mask=mask, position_ids=positions[:, start:],
                              past_key_values=cache, use_cache=cache is not None).last_hidden_state
                index = torch.tensor(wanted, device=device)
                logits = self._head(hidden[index[:, 0], index[:, 1] - start])
            else:  # heads that scale or cap logits: let the model apply them, on the union of positions
                keep = sorted({p for _, p in wanted})
                full = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                  logits_to_keep=torch.tensor(keep, device=device)).logits
                column = {p: k for k, p in enumerate(keep)}
                logits = torch.stack([full[b, column[p]] for b, p in wanted])
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            # Row k of `logprobs` predicts the k-th target token: gathered at once (one device sync, not one each).
            tokens = torch.tensor([t for row in rows for targets in row.targets for _, t in targets], device=device)
            chosen = logprobs.gather(1, tokens[:, None])[:, 0].tolist()
            best = (logprobs.argmax(dim=-1) == tokens).tolist()
        results, k = [], 0
        for row in rows:
            lls, greedy = [], []
            for targets in row.targets:
                lls.append(float(sum(chosen[k : k + len(targets)])))
                greedy.append(all(best[k : k + len(targets)]))
                k += len(targets)
            results.append((lls, greedy))
        return results

    def _head(self, hidden: Any) -> Any:
        """Logits from final hidden states, in fp32 whatever the model's dtype: bf16 logits are rounded to 1/8 near
        20, which alone moves a choice's loglikelihood by tenths of a nat (and flips close picks)."""
        import torch

        head = self.model.get_output_embeddings()
        if self.model.dtype == torch.float32:
            return head(hidden)
        if self._head_fp32 is None:
            self._head_fp32 = (head.weight.float(), None if head.bias is None else head.bias.float())
        weight, bias = self._head_fp32
        return torch.nn.functional.linear(hidden.float(), weight, bias)

    def _plain_head(self) -> bool:
        """Whether logits are just the output embedding of the last hidden state (no scaling or capping)."""
        config = self.model.config
        return (
            getattr(self.model, "base_model_prefix", "") != ""
            and hasattr(self.model, getattr(self.model, "base_model_prefix", ""))
            and self.model.get_output_embeddings() is not None
            and not getattr(config, "final_logit_softcapping", None)
            and getattr(config, "logit_scale", None) in (None, 1, 1.0)
        )
