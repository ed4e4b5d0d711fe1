"""Parsing of --generation-config, --model-args and --dataset-args."""

from __future__ import annotations

import pytest

from evalscope.config import (
    ConfigError,
    DatasetArgs,
    parse_dataset_args,
    parse_generation_config,
    parse_model_args,
)


def test_generation_config_key_values_are_typed() -> None:
    config = parse_generation_config("do_sample=true,temperature=0.7,max_new_tokens=64,top_k=5,top_p=0.9")
    assert (config.do_sample, config.temperature, config.max_new_tokens, config.top_k, config.top_p) == (
        True, 0.7, 64, 5, 0.9)


def test_generation_config_accepts_json_and_defaults_to_greedy() -> None:
    assert parse_generation_config('{"max_new_tokens": 8}').max_new_tokens == 8
    assert parse_generation_config(None).do_sample is False
    # sampling at temperature 0 is greedy decoding
    assert parse_generation_config("do_sample=true,temperature=0").do_sample is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_new_tokens=abc", "max_new_tokens='abc' is not an integer"),
        ("max_new_tokens=1.5", "max_new_tokens='1.5' is not an integer"),
        ("do_sample=maybe", "do_sample='maybe' is not a boolean"),
        ("temperature", "'temperature' is not key=value"),
        ("num_beams=4", "unknown key 'num_beams'"),
        ("max_new_tokens=0", "max_new_tokens=0 must be at least 1"),
        ('{"max_new_tokens": ', "invalid JSON"),
    ],
)
def test_generation_config_errors_name_the_culprit(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="--generation-config") as info:
        parse_generation_config(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_model_args() -> None:
    args = parse_model_args("revision=v1.0,precision=bfloat16,trust_remote_code=true")
    assert (args.revision, args.precision, args.trust_remote_code) == ("v1.0", "bfloat16", True)
    with pytest.raises(ConfigError, match="precision='int3'"):
        parse_model_args("precision=int3")


def test_dataset_args() -> None:
    parsed = parse_dataset_args('{"gsm8k": {"few_shot_num": 2, "setup": "lm-eval", "subset_list": ["main"]}}')
    assert parsed == {"gsm8k": DatasetArgs(setup="lm-eval", few_shot_num=2, subset_list=("main",))}
    with pytest.raises(ConfigError, match=r"--dataset-args\[gsm8k\]: unknown key 'shots'"):
        parse_dataset_args('{"gsm8k": {"shots": 2}}')
    with pytest.raises(ConfigError, match="expected"):
        parse_dataset_args('["gsm8k"]')
