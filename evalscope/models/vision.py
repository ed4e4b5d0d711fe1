"""Vision-language models in process: `AutoProcessor` + `AutoModelForImageTextToText`, prompts rendered with the
processor's chat template and images handed to the processor (the transformers backend for a folder whose config
has a `vision_config`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalscope import devices
from evalscope.config import RunConfig
from evalscope.models import Progress, describe_local, identity, rendering, resolve
from evalscope.models.resolve import ModelError
from evalscope.models.transformers_local import TransformersBackend
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest

MAX_IMAGES = 8
"""Images one prompt may carry in vLLM (MMMU's questions show up to 7)."""


def raw_text(request: GenerationRequest, image_token: str) -> str:
    """A raw prompt with the processor's image token where each image goes (the processor expands it)."""
    user = "".join(p if isinstance(p, str) else image_token for p in request.parts())
    turns = [request.system] if request.system else []
    return "\n\n".join([*turns, *(f"{u}\n{a}" for u, a in request.history), user])


class VisionBackend(TransformersBackend):
    """The transformers backend for a vision-language model: generation only (loglikelihood setups are text)."""

    def __init__(self, config: RunConfig, threads: int) -> None:  # not super().__init__(): that loads a causal LM
        import torch
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        torch.set_num_threads(threads)
        self.config, self.threads = config, threads
        args = config.model_args
        self.model_id, folder, self.fingerprint = resolve.local_weights(config.model, args.revision)
        self.device = devices.resolve_device(args.device_map, devices.cuda_available())
        try:
            self.processor = AutoProcessor.from_pretrained(str(folder), trust_remote_code=args.trust_remote_code)
            declared = devices.config_dtype(AutoConfig.from_pretrained(str(folder),
                                                                       trust_remote_code=args.trust_remote_code))
            dtype = devices.resolve_dtype(args.precision, self.device.startswith("cuda"), declared)
            self.model = AutoModelForImageTextToText.from_pretrained(
                str(folder), dtype=getattr(torch, dtype), device_map=self.device,
                trust_remote_code=args.trust_remote_code).eval()
        except (OSError, ValueError, ImportError) as exc:
            raise ModelError(f"cannot load vision-language model {self.model_id!r} from {folder}: {exc}"
                             .splitlines()[0]) from exc
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        own = getattr(self.processor, "chat_template", None) or self.tokenizer.chat_template
        self.chat_template = rendering.chat_template(own, config.template)
        self.local = identity.LocalModel(self.model_id, Path(folder), self.fingerprint, self.chat_template)
        self.folder = Path(folder)
        self.mixed = False

    def info(self) -> dict[str, Any]:
        return describe_local(self.name, self.local, self.model.dtype, threads=self.threads,
                              device=str(self.model.device), decoding="generate", vision=True)

    def render(self, request: GenerationRequest) -> str:
        if self.chat_template is None or not request.chat:
            return raw_text(request, str(getattr(self.processor, "image_token", "<image>")))
        return str(self.processor.apply_chat_template(rendering.messages(request), chat_template=self.chat_template,
                                                      tokenize=False, add_generation_prompt=True))

    def generate(self, requests: Sequence[GenerationRequest],
                 on_step: Progress = None) -> Iterator[tuple[int, Completion]]:
        """Batches of `eval_batch_size`, those with images apart from those without (a processor takes a batch
        either way, not mixed), longest prompts first; n completions go as n copies."""
        copies = [(i, replace(r, n=1)) for i, r in enumerate(requests) for _ in range(r.n)]
        texts = [self.render(r) for _, r in copies]
        order = sorted(range(len(copies)), key=lambda j: (not copies[j][1].images, -len(texts[j])))
        size = self.config.eval_batch_size
        batches = [order[s : s + size] for s in range(0, len(order), size)]
        drawn: dict[int, list[Completion]] = {}
        for number, batch in enumerate(b for chunk in batches for b in _split(chunk, copies)):
            asked = [copies[j][1] for j in batch]
            for j, completion in zip(batch, self._vision_batch(asked, [texts[j] for j in batch], number, on_step),
                                     strict=True):
                i = copies[j][0]
                drawn.setdefault(i, []).append(completion)
                if len(drawn[i]) == requests[i].n:
                    done = drawn.pop(i)
                    yield i, replace(done[0], texts=tuple(c.text for c in done)) if len(done) > 1 else done[0]

    def _vision_batch(self, asked: list[GenerationRequest], texts: list[str], number: int,
               on_step: Progress) -> list[Completion]:
        import torch
        from transformers import GenerationConfig

        images = [[image.pil() for image in r.images] for r in asked]
        enc = self.processor(text=texts, images=images if any(images) else None, padding=True, return_tensors="pt",
                             add_special_tokens=self.chat_template is None or not asked[0].chat)
        gen = self.config.generation
        stop = sorted({s for r in asked for s in r.stop})
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        sampling = {"temperature": gen.temperature, "top_p": gen.top_p, "top_k": gen.top_k or None}
        settings = GenerationConfig(max_new_tokens=gen.max_new_tokens, do_sample=gen.do_sample,
                                    repetition_penalty=gen.repetition_penalty, pad_token_id=self.tokenizer.pad_token_id,
                                    eos_token_id=eos, stop_strings=stop or None, **(sampling if gen.do_sample else {}))
        if gen.do_sample:
            torch.manual_seed(self.config.seed + number)  # as the text backend: the same draws whatever ran before
        with torch.inference_mode():
            output = self.model.generate(**enc.to(self.model.device), generation_config=settings,
                                         tokenizer=self.tokenizer)
        if on_step is not None:
            on_step(gen.max_new_tokens)
        ends = {self.tokenizer.pad_token_id, *(eos if isinstance(eos, list) else [eos])}
        out = []
        for r, text, row, mask in zip(asked, texts, output[:, enc["input_ids"].shape[1] :].tolist(),
                                      enc["attention_mask"].tolist(), strict=True):
            end = next((k for k, t in enumerate(row) if t in ends), None)
            tokens = row if end is None else row[: end + 1]
            said, stopped = rendering.cut_at_stop(str(self.tokenizer.decode(tokens, skip_special_tokens=True)),
                                                  r.stop)
            reason = "stop" if stopped or end is not None or len(row) < gen.max_new_tokens else "length"
            out.append(Completion(said, int(sum(mask)), len(tokens), reason, text))
        return out

    def loglikelihood(self, requests: Sequence[ChoiceRequest],
                      on_step: Progress = None) -> Iterator[tuple[int, ChoiceLoglikelihoods]]:
        from evalscope.models import CapabilityError

        raise CapabilityError(f"{self.model_id}: loglikelihood setups are not run on a vision-language model here; "
                              "choose a generation setup")


def _split(batch: list[int], copies: list[tuple[int, GenerationRequest]]) -> list[list[int]]:
    """A batch cut where requests with images end and text-only ones begin, and where raw meets chat."""
    out: list[list[int]] = []
    for j in batch:
        kind = (bool(copies[j][1].images), copies[j][1].chat)
        if out and (bool(copies[out[-1][0]][1].images), copies[out[-1][0]][1].chat) == kind:
            out[-1].append(j)
        else:
            out.append([j])
    return out
