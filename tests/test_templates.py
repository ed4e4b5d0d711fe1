"""Chat template or raw text: each setup's default (lm-eval raw, EvalScope templated), an explicit flag wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalscope.config import DatasetArgs, RunConfig
from evalscope.registry import get
from evalscope.schema import ChoiceRequest, Sample
from evalscope.suite import Suite
from tests.conftest import SHARED_DATA, TEST_DATA

LMEVAL = {"gsm8k": TEST_DATA, "arc": TEST_DATA, "mmlu": TEST_DATA, "hellaswag": SHARED_DATA,
          "truthful_qa": SHARED_DATA, "mbpp": SHARED_DATA, "bbh": SHARED_DATA, "ifeval": SHARED_DATA,
          "race": SHARED_DATA}
"""Every benchmark with an `lm-eval` setup, and where its data is."""


@pytest.fixture(scope="module")
def tiny_backend(tiny_model: Path):
    from evalscope.models.transformers_local import TransformersBackend

    return TransformersBackend(RunConfig(model=str(tiny_model)), 1)


def rendered(backend, name: str, data: Path, template: str | None) -> str:
    """What the model is fed for sample 0 of the benchmark's lm-eval setup."""
    args = {name: DatasetArgs(setup="lm-eval", subset_list=("ARC-Easy",) if name == "arc" else
                              ("astronomy",) if name == "mmlu" else None)}
    suite = Suite.load(name, RunConfig(dataset_dir=data, limit=1, template=template, dataset_args=args))
    sample = suite.samples[0]
    assert isinstance(sample, Sample)
    request = suite.request(sample)
    return backend.render_context(request) if isinstance(request, ChoiceRequest) else backend.render(request)


def test_every_lm_eval_setup_is_listed() -> None:
    from evalscope.registry import available

    with_lmeval = {n for n in available() if any(s.name == "lm-eval" for s in get(n).setups)}
    assert with_lmeval == set(LMEVAL)


@pytest.mark.parametrize("name", sorted(LMEVAL))
def test_lm_eval_setups_feed_raw_text_unless_the_flag_asks(tiny_backend, name: str) -> None:
    data = LMEVAL[name]
    if not (data / get(name).data_dir_name).is_dir():
        pytest.skip(f"no {name} data under {data}")
    default, raw, chat = (rendered(tiny_backend, name, data, t) for t in (None, "none", "auto"))
    assert default == raw
    assert chat != raw and "<|im_start|>user" in chat and raw in chat


def test_evalscope_setups_use_the_chat_template_by_default(tiny_backend) -> None:
    for setup in ("evalscope-0.5", "chat-boxed"):
        suite = Suite.load("gsm8k", RunConfig(dataset_dir=TEST_DATA, limit=1,
                                              dataset_args={"gsm8k": DatasetArgs(setup=setup)}))
        assert suite.chat and suite.template_note() == "chat template (the setup's default)"
        request = suite.request(suite.samples[0])  # type: ignore[arg-type]
        assert tiny_backend.render(request).startswith("<|im_start|>")
    forced = Suite.load("gsm8k", RunConfig(dataset_dir=TEST_DATA, limit=1, template="none"))
    assert not forced.chat and forced.template_note() == "raw text (--template-type none)"


def test_header_and_report_say_what_was_applied_and_why(run_suite) -> None:
    lmeval = json.dumps({"gsm8k": {"setup": "lm-eval"}})
    default = run_suite("--limit", "1", "--dataset-args", lmeval)
    explicit = run_suite("--limit", "1", "--dataset-args", lmeval, "--template-type", "auto")
    default.result.stdout.fnmatch_lines(["*gsm8k (setup lm-eval, 5-shot): 1 of 10 samples selected; prompts: raw text "
                                         "(the setup's default)*"])
    explicit.result.stdout.fnmatch_lines(["*samples selected; prompts: chat template (--template-type auto)*"])
    assert default.report["benchmarks"][0]["chat_template"] == {
        "requested": False, "why": "raw text (the setup's default)", "applied": False}
    assert explicit.report["benchmarks"][0]["chat_template"]["applied"] is True
    assert not default.records[0]["prompt"].startswith("<|im_start|>")
    assert explicit.records[0]["prompt"].startswith("<|im_start|>")


def test_collect_only_prints_the_template_choice(pytester: pytest.Pytester) -> None:
    from tests.conftest import REPO

    result = pytester.runpytest_subprocess(str(REPO / "benchmarks" / "arc"), "--dataset-dir", str(TEST_DATA),
                                           "--co", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["evalscope: arc (setup lm-eval, 0-shot): * samples selected; prompts: raw text "
                                 "(the setup's default)"])
