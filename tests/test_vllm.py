"""The API backend against vLLM's real OpenAI server (CPU build, separate venv) vs the in-process transformers backend
on the same weights: greedy GSM8K answers and ARC-Easy loglikelihoods. Skipped without EVALSCOPE_VLLM_PYTHON."""

from __future__ import annotations

from pathlib import Path

from tests.servers import VllmServer

LIMIT = "3"


def test_gsm8k_greedy_answers_match_transformers(run_suite, vllm_server: VllmServer, shared_data: Path) -> None:
    api = run_suite("--api-url", vllm_server.base, "--limit", LIMIT, model=vllm_server.model, data=shared_data,
                    max_new_tokens=64)
    local = run_suite("--limit", LIMIT, model=None, data=shared_data, max_new_tokens=64)
    assert api.result.ret == 0 and local.result.ret == 0, api.result.stdout.str()
    assert api.report["model"]["backend"] == "openai" and local.report["model"]["backend"] == "transformers"
    api_out, local_out = api.by_id(), local.by_id()
    assert set(api_out) == set(local_out) and len(api_out) == int(LIMIT)
    same = [k for k in api_out if api_out[k]["output"].strip() == local_out[k]["output"].strip()]
    print(f"gsm8k greedy outputs identical on {len(same)}/{len(api_out)}")
    assert [api_out[k]["extracted"] for k in sorted(api_out)] == [local_out[k]["extracted"] for k in sorted(api_out)]


def test_arc_loglikelihoods_match_transformers(run_suite, vllm_server: VllmServer, shared_data: Path) -> None:
    api = run_suite("--api-url", vllm_server.base, "--limit", LIMIT, bench="arc", model=vllm_server.model,
                    data=shared_data)
    local = run_suite("--limit", LIMIT, bench="arc", model=None, data=shared_data)
    assert api.result.ret == 0 and local.result.ret == 0, api.result.stdout.str()
    api_out, local_out = api.by_id(), local.by_id()
    assert set(api_out) == set(local_out) and api_out
    worst = 0.0
    for key, record in api_out.items():
        theirs = local_out[key]["loglikelihoods"]
        assert len(record["loglikelihoods"]) == len(theirs)
        for a, b in zip(record["loglikelihoods"], theirs, strict=True):
            worst = max(worst, abs(a - b))
    print(f"arc loglikelihoods: largest |vLLM - transformers| = {worst:.2e} over {len(api_out)} samples")
    assert worst < 1e-2
    assert [api_out[k]["output"] for k in sorted(api_out)] == [local_out[k]["output"] for k in sorted(api_out)]

