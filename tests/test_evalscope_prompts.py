"""Setups named after EvalScope send its prompts: the first prompt of each, pinned to what EvalScope 1.14.1 rendered.

The fixtures are EvalScope's own output (`bench/fidelity_evalscope.py --write-fixtures`), named
`<benchmark>.<setup>.<subset>.txt`; the bench compares the first 20 prompts per subset side by side.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from evalscope import registry
from evalscope.config import DatasetArgs, RunConfig
from evalscope.schema import GenerationRequest, Sample
from evalscope.suite import Suite

from .conftest import SHARED_DATA

FIXTURES = Path(__file__).parent / "fixtures" / "evalscope-1.14.1"
TEST_DATA = Path(__file__).parent / "data"
PINNED = sorted([*FIXTURES.glob("*.txt"), *FIXTURES.glob("*.sha256")])  # sha256: GPQA stays out of plain text


def test_every_benchmark_with_an_evalscope_counterpart_is_pinned() -> None:
    assert {p.name.split(".")[0] for p in PINNED} == {"gsm8k", "arc", "mmlu", "cmmlu", "ceval", "humaneval", "mbpp",
                                                      "competition_math", "math_500", "race", "bbh",
                                                      "gpqa_diamond",
                                                      "general_mcq"}


@pytest.mark.parametrize("fixture", PINNED, ids=[p.stem for p in PINNED])
def test_first_prompt_is_evalscopes(fixture: Path) -> None:
    bench, setup, subset = fixture.stem.split(".")
    data = TEST_DATA if bench == "general_mcq" else SHARED_DATA
    if not (data / registry.get(bench).data_dir_name).is_dir():
        pytest.skip(f"{bench} data not found under {data} (set EVALSCOPE_DATASET_DIR)")
    args = DatasetArgs(setup=setup, subset_list=(subset,))
    suite = Suite.load(bench, RunConfig(dataset_dir=data, limit=1, dataset_args={bench: args}))
    sample = suite.samples[0]
    assert isinstance(sample, Sample)
    request = suite.request(sample)
    assert isinstance(request, GenerationRequest)
    assert request.chat and request.system is None  # EvalScope applies the chat template, with no system message
    if fixture.suffix == ".sha256":
        assert hashlib.sha256(request.prompt.encode()).hexdigest() == fixture.read_text()
    else:
        assert request.prompt == fixture.read_bytes().decode()  # bytes: MBPP's exemplars keep their \r\n
