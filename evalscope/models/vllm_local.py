"""In-process vLLM backend (`--backend vllm`): not built yet; vLLM is used through its OpenAI server instead."""

from __future__ import annotations

from evalscope.config import RunConfig
from evalscope.models.resolve import ModelError


class VllmBackend:
    """Placeholder that fails at load with what to do instead (the API backend against `vllm serve`)."""

    name = "vllm"

    def __init__(self, config: RunConfig, threads: int) -> None:
        raise ModelError(
            "--backend vllm (in process) is not available yet: start vLLM's OpenAI server "
            "(python -m vllm.entrypoints.openai.api_server --model FOLDER) and pass --api-url http://127.0.0.1:PORT/v1"
        )
