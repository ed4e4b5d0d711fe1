"""The GSM8K definition: rows, setups, prompts and scoring (no model needed)."""

from __future__ import annotations

import pytest

from evalscope import registry
from evalscope.config import DatasetArgs, RunConfig
from evalscope.schema import BadRow, Completion, Sample
from evalscope.suite import Suite
from tests.conftest import TEST_DATA

GSM8K = registry.get("gsm8k")


def completion(text: str) -> Completion:
    return Completion(text, 10, 5, "stop", "")


def sample(target: str = "18") -> Sample:
    return Sample("How much?", target, metadata={"answer": f"x\n#### {target}", "reasoning": "x", "final": target},
                  id="main-0000", subset="main")


def test_row_to_sample_takes_the_number_after_hashes() -> None:
    s = GSM8K.to_sample({"question": "Q?", "answer": "Work <<1+1=2>>\n#### 1,200"})
    assert (s.input, s.target, s.metadata["reasoning"]) == ("Q?", "1200", "Work <<1+1=2>>")
    assert s.metadata["final"] == "1,200"  # as written: EvalScope's exemplars show it so
    with pytest.raises(KeyError, match="answer"):
        GSM8K.to_sample({"question": "Q?"})
    with pytest.raises(ValueError, match="####"):
        GSM8K.to_sample({"question": "Q?", "answer": "12"})


def test_unknown_benchmark_lists_the_available_ones() -> None:
    with pytest.raises(registry.UnknownBenchmark, match=r"unknown benchmark 'gsm9k' \(available: .*gsm8k"):
        registry.get("gsm9k")


def test_evalscope_setup_scores_the_last_number() -> None:
    setup = GSM8K.setup("evalscope-0.5")
    request = GSM8K.request(sample(), setup, [])
    assert request.prompt.count("Let's think step by step") == 5 and request.prompt.endswith("Answer:")
    assert request.stop == ("Question:",)
    assert GSM8K.score(sample(), completion("9 * 2 = 18. The answer is 18."), setup).metrics == {"acc": 1.0}
    assert GSM8K.score(sample(), completion("The answer is 18. Then 19"), setup).metrics == {"acc": 0.0}


def test_lmeval_setup_reports_strict_and_flexible() -> None:
    setup = GSM8K.setup("lm-eval")
    shots = [sample("5"), sample("6")]
    request = GSM8K.request(sample(), setup, shots)
    assert request.prompt.count("Question:") == 3 and request.prompt.endswith("Answer:")
    strict = "exact_match,strict-match"
    flexible = "exact_match,flexible-extract"
    verdict = GSM8K.score(sample(), completion("She makes $18.\n#### 18"), setup)
    assert verdict.metrics == {strict: 1.0, flexible: 1.0}
    verdict = GSM8K.score(sample(), completion("She makes 18 dollars"), setup)
    assert verdict.metrics == {strict: 0.0, flexible: 1.0} and verdict.extracted[strict] is None
    verdict = GSM8K.score(sample("1000"), completion("#### 1,000."), setup)
    assert verdict.metrics[strict] == 1.0


def test_chat_boxed_setup() -> None:
    setup = GSM8K.setup("chat-boxed")
    request = GSM8K.request(sample(), setup, [sample("7")])
    assert "\\boxed{7}" in request.prompt and "\\boxed{}" in request.prompt
    assert GSM8K.score(sample(), completion(r"so \boxed{18}. Check 20"), setup).metrics == {"acc": 1.0}
    # EvalScope reads the answer with Math-Verify: a \boxed{} first, else the last expression of the reply
    assert GSM8K.score(sample(), completion("First 20, then it is 18 dollars."), setup).metrics == {"acc": 1.0}
    assert GSM8K.score(sample(), completion(r"Not 18: \boxed{20}"), setup).metrics == {"acc": 0.0}


def test_chat_boxed_shows_the_first_four_train_problems_to_every_sample() -> None:
    config = RunConfig(dataset_dir=TEST_DATA, dataset_args={"gsm8k": DatasetArgs(setup="chat-boxed")})
    suite = Suite.load("gsm8k", config)
    first, second = (s for s in suite.samples[:2] if isinstance(s, Sample))
    assert suite.few_shot(first) == suite.few_shot(second) == suite.few_shot_pool[:4]  # as EvalScope takes them


def test_few_shot_is_seeded_per_sample(tmp_path) -> None:
    config = RunConfig(dataset_dir=TEST_DATA, dataset_args={"gsm8k": DatasetArgs(setup="chat-boxed",
                                                                                 few_shot_random=True)})
    suite = Suite.load("gsm8k", config)
    first, second = (s for s in suite.samples[:2] if isinstance(s, Sample))
    shots = suite.few_shot(first)
    assert len(shots) == 4 and shots == Suite.load("gsm8k", config).few_shot(first)
    assert suite.few_shot(second) != shots  # independent draws per sample
    other_seed = Suite.load("gsm8k", RunConfig(dataset_dir=TEST_DATA, seed=7,
                                               dataset_args=config.dataset_args))
    assert other_seed.few_shot(first) != shots


def test_limit_and_totals() -> None:
    suite = Suite.load("gsm8k", RunConfig(dataset_dir=TEST_DATA, limit=3))
    assert suite.total == 10 and [s.id for s in suite.samples] == ["main-0000", "main-0001", "main-0002"]
    assert not any(isinstance(s, BadRow) for s in suite.samples)
    assert "setup evalscope-0.5, 4-shot" in suite.describe()


def test_malformed_few_shot_row_is_a_data_error_with_its_location(tmp_path) -> None:
    from evalscope.schema import DataError

    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "test.jsonl").write_text((TEST_DATA / "gsm8k" / "test.jsonl").read_text())
    (folder / "train.jsonl").write_text('{"question": "Q?", "answer": "#### 1"}\n{"question": "Q2?"}\n')
    suite = Suite.load("gsm8k", RunConfig(dataset_dir=tmp_path, dataset_args={"gsm8k": DatasetArgs(setup="lm-eval")}))
    with pytest.raises(DataError, match=r"train.jsonl:2: missing field 'answer' \(few-shot split\)"):
        suite.request(suite.samples[0])  # type: ignore[arg-type]
    # the default setup brings its own exemplars and never reads the train split
    default = Suite.load("gsm8k", RunConfig(dataset_dir=tmp_path))
    assert default.few_shot_pool == [] and "There are 15 trees" in default.request(default.samples[0]).prompt  # type: ignore[arg-type]


def test_primary_metric_comes_first_in_the_table() -> None:
    from evalscope.report.tables import sample_frame, score_table
    from evalscope.schema import SampleResult

    setup = GSM8K.setup("lm-eval")
    results = [SampleResult("gsm8k", "main", f"main-{i}", i, {m: float(i % 2) for m in setup.metrics},
                            setup.primary_metric, {}, "1", "p", "o", 1, 1, "stop") for i in range(4)]
    table = score_table(sample_frame(results))
    assert list(table["metric"]) == list(setup.metrics)
