"""The transformers backend's own decoding loop against `model.generate` and plain forward passes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from evalscope.config import GenerationConfig, RunConfig
from evalscope.models import in_order
from evalscope.schema import GenerationRequest

PREAMBLE = "Question: what is two plus two?\nAnswer: four.\n\nQuestion: and three plus three?\nAnswer: six.\n\n"
QUESTIONS = ["Question: seven?\nAnswer:", "Question: how many legs does a very old spider have?\nAnswer:",
             "Question: x\nAnswer:", "Question: name a colour that is not blue, nor red, nor green.\nAnswer:"]


@pytest.fixture(scope="module")
def backend(default_model_folder: Path):
    """The default model: a random tiny one repeats one token forever, which would hide position or mask bugs."""
    from evalscope.models.transformers_local import TransformersBackend

    config = RunConfig(model=str(default_model_folder), generation=GenerationConfig(max_new_tokens=24))
    return TransformersBackend(config, 1)


def both_paths(backend, requests: list[GenerationRequest], loop: str = "refill", batch: int = 8,
               **generation: object) -> tuple[list, list]:
    """The same requests through one of our loops and through `model.generate` (the fallback path), `batch` rows
    at a time."""
    saved = backend.config
    backend.config = replace(saved, eval_batch_size=batch, generation=replace(saved.generation, **generation))
    try:
        backend.decoding, backend._kept_prefix = loop, None
        fast = in_order(backend.generate(requests))
        backend.decoding = "generate"
        slow = in_order(backend.generate(requests))
    finally:
        backend.config, backend.decoding = saved, "batch"
    return fast, slow


def requests(stop: tuple[str, ...] = (), chat: bool = False) -> list[GenerationRequest]:
    return [GenerationRequest(PREAMBLE + q, stop=stop, chat=chat) for q in QUESTIONS]


def test_the_default_model_takes_our_batch_loop_with_grouped_kv_heads(backend) -> None:
    # refill stays opt-in until bench/refill_speed.py shows it faster (README, Local inference)
    assert backend.decoding == "batch" and backend.info()["decoding"] == "batch"
    assert backend.model.config.num_key_value_heads < backend.model.config.num_attention_heads
    assert backend.model.config._attn_implementation == "evalscope_sdpa"


@pytest.mark.parametrize(("chat", "loop", "batch"), [(False, "batch", 8), (True, "batch", 8), (False, "refill", 2),
                                                     (True, "refill", 3)])
def test_greedy_text_equals_model_generate_with_a_shared_preamble_and_padding(backend, chat: bool, loop: str,
                                                                              batch: int) -> None:
    # refill: 4 prompts over 2 or 3 rows, so the later prompts start in the slots of rows that ended
    fast, slow = both_paths(backend, requests(chat=chat), loop, batch)
    assert [c.text for c in fast] == [c.text for c in slow]
    assert [(c.finish_reason, c.completion_tokens) for c in fast] == \
        [(c.finish_reason, c.completion_tokens) for c in slow]
    assert chat or all(c.finish_reason == "length" and c.completion_tokens == 24 for c in fast)
    assert backend._kept_prefix is not None and len(backend._kept_prefix[0]) >= 16  # the preamble ran once


def test_rows_that_stop_early_leave_the_batch_and_the_rest_go_on_unchanged(backend) -> None:
    free, _ = both_paths(backend, requests())
    # A word from the middle of one reply and no other: that row ends there, the others run to the limit.
    others = " ".join(c.text for c in free[:1] + free[2:])
    stop = next(w for w in free[1].text[5:].split() if len(w) >= 4 and w not in others)
    fast, slow = both_paths(backend, requests(stop=(stop,)), batch=2)  # its slot takes the next prompt
    assert [c.text for c in fast] == [c.text for c in slow]
    assert fast[1].finish_reason == "stop" and fast[1].completion_tokens < 24
    assert fast[1].text == free[1].text[: free[1].text.index(stop)]
    assert [c.text for i, c in enumerate(fast) if stop not in free[i].text] == \
        [c.text for i, c in enumerate(free) if stop not in free[i].text]


def test_repetition_penalty_is_applied_as_model_generate_applies_it(backend) -> None:
    fast, slow = both_paths(backend, requests(), repetition_penalty=1.5)
    plain, _ = both_paths(backend, requests())
    assert [c.text for c in fast] == [c.text for c in slow]
    assert [c.text for c in fast] != [c.text for c in plain]


def test_sampling_is_seeded_and_top_k_1_is_greedy(backend) -> None:
    greedy, _ = both_paths(backend, requests())
    one, _ = both_paths(backend, requests(), do_sample=True, temperature=0.7, top_k=1)
    assert [c.text for c in one] == [c.text for c in greedy]
    first, _ = both_paths(backend, requests(), do_sample=True, temperature=1.5, top_p=0.95)
    again, _ = both_paths(backend, requests(), do_sample=True, temperature=1.5, top_p=0.95)
    assert [c.text for c in first] == [c.text for c in again]
    assert [c.text for c in first] != [c.text for c in greedy]


@pytest.mark.parametrize("loop", ["batch", "refill"])
def test_loop_logprobs_equal_a_plain_forward_over_prompt_and_reply(backend, loop: str) -> None:
    import torch

    from evalscope.models import decoding, refilling

    tok = backend.tokenizer
    rows = [list(tok(PREAMBLE + q)["input_ids"]) for q in QUESTIONS]
    prefix = backend._generation_prefix(rows)
    assert prefix is not None
    stop_at = {rows[2][-1]}  # some row may end on it: rows then leave the batch (or their slot) mid-way
    gen = backend.config.generation
    if loop == "batch":
        decoded = decoding.decode(backend.model, rows, prefix, gen, stop_at, lambda _: False, tok.pad_token_id)
    else:
        pairs = list(refilling.refill(backend.model, rows, prefix, gen, 2, stop_at, lambda *_: False,
                                      tok.pad_token_id))
        assert sorted(k for k, _ in pairs) == [0, 1, 2, 3]
        decoded = [d for _, d in sorted(pairs, key=lambda pair: pair[0])]
    for row, result in zip(rows, decoded, strict=True):
        with torch.inference_mode():
            logits = backend.model(torch.tensor([row + result.tokens])).logits[0].float()
        expected = torch.log_softmax(logits[len(row) - 1 : -1], dim=-1)
        assert result.tokens == expected.argmax(dim=-1).tolist()
        chosen = expected.gather(1, torch.tensor(result.tokens)[:, None])[:, 0].tolist()
        assert result.logprobs == pytest.approx(chosen, abs=1e-4)


def test_grouped_attention_equals_repeated_kv_heads_under_a_padding_mask(backend) -> None:
    import torch

    enc = backend.tokenizer([PREAMBLE + q for q in QUESTIONS], return_tensors="pt", padding=True)
    model = backend.model
    with torch.inference_mode():
        ours = model(**enc).logits
        model.set_attn_implementation("sdpa")
        try:
            theirs = model(**enc).logits
        finally:
            model.set_attn_implementation("evalscope_sdpa")
    real = enc["attention_mask"].bool()
    assert torch.allclose(ours[real], theirs[real], atol=1e-5)


@pytest.mark.parametrize(("config", "expected"), [
    ({}, True),
    ({"sliding_window": 4096}, False),
    ({"sliding_window": 4096, "use_sliding_window": False}, True),
    ({"layer_types": ["full_attention", "sliding_attention"]}, False),
    ({"layer_types": ["full_attention", "full_attention"]}, True),
    ({"is_encoder_decoder": True}, False),
])
def test_models_with_other_attention_layouts_keep_model_generate(config: dict, expected: bool) -> None:
    from evalscope.models import decoding

    model = SimpleNamespace(config=SimpleNamespace(**config), get_output_embeddings=lambda: None)
    assert decoding.supported(model) is expected
