"""precision=bfloat16 on a CPU: bf16 linear layers around an fp32 residual stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalscope.config import GenerationConfig, ModelArgs, RunConfig
from evalscope.models import in_order
from evalscope.schema import ChoiceRequest, GenerationRequest

REQUESTS = [
    ChoiceRequest("Question: Which gas do plants absorb from the air?\nAnswer:",
                  (" carbon dioxide", " oxygen", " nitrogen", " helium")),
    ChoiceRequest("Question: What do bees make?\nAnswer:", (" honey", " milk", " silk", " wax paper")),
    ChoiceRequest("The capital of France is", (" Paris", " Rome", " Berlin", " a city called Lyon")),
    ChoiceRequest("Question: How many legs does a spider have?\nAnswer:", (" eight", " six", " four", " ten")),
]


@pytest.fixture(scope="module")
def backends(default_model_folder: Path):
    from evalscope.models.transformers_local import TransformersBackend

    def load(precision: str) -> TransformersBackend:
        config = RunConfig(model=str(default_model_folder), model_args=ModelArgs(precision=precision),
                           generation=GenerationConfig(max_new_tokens=8))
        return TransformersBackend(config, 1)

    return load("float32"), load("bfloat16")


def test_linear_layers_run_in_bf16_and_the_rest_in_fp32(backends) -> None:
    import torch

    from evalscope.models.mixed import Bf16Linear

    _, mixed = backends
    model = mixed.model
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    converted = [m for m in linears if isinstance(m, Bf16Linear)]
    assert len(converted) == 7 * model.config.num_hidden_layers  # q, k, v, o, gate, up, down
    assert all(m.weight.dtype == torch.bfloat16 for m in converted)
    assert model.get_output_embeddings().weight.dtype == torch.float32
    assert model.get_input_embeddings().weight.dtype == torch.float32
    assert mixed.info()["dtype"] == "bfloat16" and mixed.info()["compute"].startswith("bf16 linear layers")


def test_bf16_loglikelihoods_stay_closer_to_fp32_than_a_model_cast_whole(backends) -> None:
    import torch

    fp32, mixed = backends
    reference = [r.loglikelihoods for r in in_order(fp32.loglikelihood(REQUESTS))]
    ours = [r.loglikelihoods for r in in_order(mixed.loglikelihood(REQUESTS))]
    fp32.model.to(torch.bfloat16)  # the usual bf16: every tensor, the residual stream included
    try:
        whole = [r.loglikelihoods for r in in_order(fp32.loglikelihood(REQUESTS))]
    finally:
        fp32.model.to(torch.float32)

    def distance(lls: list[tuple[float, ...]]) -> float:
        return sum(abs(a - b) for x, y in zip(lls, reference, strict=True) for a, b in zip(x, y, strict=True))

    assert 0 < distance(ours) < distance(whole)
    assert [max(range(4), key=lambda i: x[i]) for x in ours] == [max(range(4), key=lambda i: x[i])
                                                                 for x in reference]


def test_bf16_generation_runs_through_our_decoding_loop(backends) -> None:
    _, mixed = backends
    assert mixed.decoding == "batch"  # our loop (not model.generate), the default
    [completion] = in_order(mixed.generate([GenerationRequest("Question: what is 2+2?\nAnswer:", chat=False)]))
    assert completion.completion_tokens >= 1 and completion.text
