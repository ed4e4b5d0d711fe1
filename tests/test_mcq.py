"""Multiple choice: shared-context packing against plain forward passes, scoring rules, and the suites end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalscope.config import RunConfig
from evalscope.models import in_order
from evalscope.models.packing import attention_mask, pack, shared_prefix
from evalscope.registry import get
from evalscope.schema import ChoiceRequest
from tests.conftest import REPO, TEST_DATA


def test_pack_feeds_each_choice_without_its_last_token_at_its_own_positions() -> None:
    row = pack([5, 6, 7], [[8, 9], [10]])
    assert row.tokens == [5, 6, 7, 8]
    assert row.positions == [0, 1, 2, 3]
    assert row.segment == [-1, -1, -1, 0]
    # choice 0: token 8 predicted by the last context token (row 2), token 9 by row 3; choice 1 by row 2
    assert row.targets == [[(2, 8), (3, 9)], [(2, 10)]]


def test_mask_lets_a_choice_see_the_context_and_itself_only() -> None:
    row = pack([1, 2], [[3, 4, 5], [6, 7]])
    assert row.tokens == [1, 2, 3, 4, 6] and row.positions == [0, 1, 2, 3, 2]
    mask = attention_mask([row], 6)[0, 0]
    assert mask[4].tolist() == [True, True, False, False, True, False]  # choice 1 skips choice 0's tokens
    assert mask[3].tolist() == [True, True, True, True, False, False]
    assert mask[1].tolist() == [True, True, False, False, False, False]  # context stays causal
    assert mask[5].tolist() == [False] * 5 + [True]  # padding attends only to itself


def test_shared_prefix_stops_before_the_last_context_token() -> None:
    rows = [pack([1, 2, 3, 4], [[9]]), pack([1, 2, 3, 5, 6], [[9]])]
    assert shared_prefix(rows) == 3
    assert shared_prefix([pack([1, 2, 3], [[4]]), pack([1, 2, 3], [[5]])]) == 2


@pytest.fixture(scope="module")
def tiny_backend(tiny_model: Path):
    from evalscope.models.transformers_local import TransformersBackend

    return TransformersBackend(RunConfig(model=str(tiny_model)), 1)


def plain_loglikelihoods(backend, request: ChoiceRequest) -> list[float]:
    """One forward pass per continuation over `context + continuation`, as lm-eval computes it."""
    import torch

    context, choices = backend.encode_choices(request)
    out = []
    for choice in choices:
        with torch.inference_mode():
            logits = backend.model(torch.tensor([context + choice])).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        out.append(sum(float(logprobs[len(context) - 1 + j, t]) for j, t in enumerate(choice)))
    return out


@pytest.mark.parametrize("preamble", ["", "A shared few-shot preamble that is long enough to be computed once. " * 3])
def test_packed_loglikelihoods_equal_separate_forward_passes(tiny_backend, preamble: str) -> None:
    requests = [
        ChoiceRequest(f"{preamble}Question: Which gas do plants absorb?\nAnswer:",
                      (" carbon dioxide", " oxygen", " nitrogen from the air", " He")),
        ChoiceRequest(f"{preamble}The capital of France is ", ("Paris", "Rome", "a city called Lyon")),
        ChoiceRequest(f"{preamble}2+2=", (" 4", " 5")),
    ]
    results = in_order(tiny_backend.loglikelihood(requests))
    for request, result in zip(requests, results, strict=True):
        expected = plain_loglikelihoods(tiny_backend, request)
        assert result.loglikelihoods == pytest.approx(expected, abs=1e-4)
        assert len(result.greedy) == len(request.continuations)


def test_a_preamble_kept_for_the_next_call_gives_the_same_loglikelihoods(tiny_backend, monkeypatch) -> None:
    from evalscope.models import transformers_local as hf

    # One row per forward: the kept preamble KV serves several forwards of a call, and the next call.
    monkeypatch.setitem(hf.TOKENS_PER_FORWARD, "cpu", 8)
    first = "Five solved examples about one subject, long enough to be computed once and kept. " * 2
    second = "Five other examples, about another subject, that replace the kept preamble. " * 2
    kept = []
    for preamble in (first, first, second, first):
        requests = [ChoiceRequest(f"{preamble}Question {i}: which one?\nAnswer:", (" yes", " no", " maybe so"))
                    for i in range(3)]
        for request, result in zip(requests, in_order(tiny_backend.loglikelihood(requests)), strict=True):
            assert result.loglikelihoods == pytest.approx(plain_loglikelihoods(tiny_backend, request), abs=1e-4)
        kept.append(tiny_backend._kept_scoring_prefix[1])
    assert kept[0] is kept[1]  # the second group of the subject did not recompute it
    assert kept[2] is not kept[1] and kept[3] is not kept[2]


def test_context_split_moves_trailing_space_to_the_continuation(tiny_backend) -> None:
    spaced, _ = tiny_backend.encode_choices(ChoiceRequest("The capital of France is ", ("Paris",)))
    plain, choices = tiny_backend.encode_choices(ChoiceRequest("The capital of France is", (" Paris",)))
    assert spaced == plain
    assert tiny_backend.tokenizer.decode(choices[0]) == " Paris"


def test_acc_norm_divides_by_characters_including_the_leading_space() -> None:
    arc = get("arc")
    sample = arc.to_sample({"question": {"stem": "q", "choices": [{"text": "aa", "label": "A"},
                                                                   {"text": "bbbbbbbb", "label": "B"}]},
                            "answerKey": "B"})
    setup = arc.setup("lm-eval")
    # raw: -3 > -6 picks A; per character: -3/3 = -1 < -6/9 = -0.67 picks B
    verdict = arc.score_loglikelihoods(sample, [-3.0, -6.0], setup, 1)
    assert verdict.metrics == {"acc": 0.0, "acc_norm": 1.0}
    assert verdict.extracted == {"acc": "A", "acc_norm": "B"}


def test_truthfulqa_mc2_is_the_normalised_probability_of_true_answers() -> None:
    import math

    tqa = get("truthful_qa")
    row = {"question": "q?", "mc1_targets": {"right": 1, "wrong": 0},
           "mc2_targets": {"right": 1, "also right": 1, "wrong": 0}}
    sample = tqa.to_sample(row)
    assert sample.choices == ("right", "wrong", "also right")
    lls = [-1.0, -0.5, -2.0]
    verdict = tqa.score_loglikelihoods(sample, lls, tqa.setup("lm-eval"), 0)
    p = [math.exp(x) for x in lls]
    assert verdict.metrics["mc2"] == pytest.approx((p[0] + p[2]) / sum(p))
    assert verdict.metrics["mc1"] == 0.0  # "wrong" has the higher loglikelihood


def run_arc(run_suite, *args: str):
    return run_suite("--dataset-args", json.dumps({"arc": {"subset_list": ["ARC-Easy", "ARC-Challenge"]}}), *args,
                     bench="arc", data=TEST_DATA)


def test_arc_end_to_end_reports_bad_rows_by_line_and_scores_the_rest(run_suite) -> None:
    run = run_arc(run_suite)
    outcomes = run.outcomes
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) == 3, run.result.stdout.str()
    assert outcomes.get("passed", 0) + outcomes.get("incorrect", 0) == 6
    out = run.result.stdout.str()
    assert "ARC-Easy-Test.jsonl:4: answer 'E' is not one of the choice labels" in out
    assert "ARC-Easy-Test.jsonl:5: needs at least 2 non-empty choices" in out
    assert "ARC-Easy-Test.jsonl:6: invalid JSON" in out
    scored = [r for r in run.records if "metrics" in r]
    assert all(len(r["loglikelihoods"]) == len(r["choices"]) for r in scored)
    five = next(r for r in scored if r["sample_id"] == "ARC-Easy-0006")  # the 5-option question
    assert len(five["choices"]) == 5
    rows = {(s["subset"], s["metric"]): s for s in run.report["benchmarks"][0]["scores"]}
    assert {("ARC-Easy", "acc"), ("ARC-Challenge", "acc_norm"), ("OVERALL", "acc"), ("MACRO", "acc")} <= set(rows)
    assert rows[("OVERALL", "acc")]["n"] == 6


def test_arc_results_are_identical_with_xdist(run_suite) -> None:
    alone, spread = run_arc(run_suite), run_arc(run_suite, "-n", "2", "--eval-batch-size", "1")
    a, b = alone.by_id(), spread.by_id()
    assert set(a) == set(b)
    for sample_id, record in a.items():
        assert record.get("loglikelihoods") == pytest.approx(b[sample_id].get("loglikelihoods"), abs=1e-5)
    assert spread.report["run"]["predicted"] == alone.report["run"]["predicted"] == 6


def test_arc_evalscope_setup_extracts_letters_and_its_old_name_still_works(run_suite) -> None:
    # `generation` is the setup's name before setups were named after their harness: accepted, recorded canonically
    run = run_suite("--dataset-args", json.dumps({"arc": {"setup": "generation", "subset_list": ["ARC-Challenge"]}}),
                    bench="arc", data=TEST_DATA)
    assert run.result.ret == 0, run.result.stdout.str()
    record = run.records[0]
    assert "ANSWER: [LETTER]" in record["prompt"] and record["finish_reason"] in ("stop", "length")
    assert run.report["benchmarks"][0]["setup"]["name"] == "evalscope"
    assert "aliases" not in run.report["benchmarks"][0]["setup"]["options"]


def test_mmlu_uses_its_own_subjects_exemplars_and_reports_categories(run_suite) -> None:
    args = {"mmlu": {"subset_list": ["astronomy", "philosophy"], "few_shot_num": 2}}
    run = run_suite("--dataset-args", json.dumps(args), "--eval-batch-size", "2", bench="mmlu", data=TEST_DATA)
    by_id = run.by_id()
    # a loglikelihood group holds 4 x 2 samples, but never two subjects: one batch per subject
    assert run.report["run"]["batches"] == 2 and run.report["run"]["predicted"] == 5
    prompt = by_id["philosophy-0000"]["prompt"]
    assert prompt.startswith("The following are multiple choice questions (with answers) about philosophy.\n\n")
    assert "Philosophy exemplar 1?" in prompt and "Astronomy" not in prompt and "exemplar 2" not in prompt
    assert prompt.endswith("Who wrote the Republic?\nA. Plato\nB. Kant\nC. Hume\nD. Locke\nAnswer:")
    assert by_id["philosophy-0000"]["choices"] == [" A", " B", " C", " D"]
    assert "philosophy_test.csv:3: 5 columns, expected 6" in run.result.stdout.str()
    rows = {(s["subset"], s["level"]) for s in run.report["benchmarks"][0]["scores"]}
    assert {("stem", "category"), ("humanities", "category"), ("OVERALL", "overall"), ("MACRO", "macro")} <= rows


COUNTS = {"arc": 3548, "hellaswag": 10042, "mmlu": 14042, "cmmlu": 11582, "ceval": 1346, "truthful_qa": 817}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_full_benchmarks_collect_their_official_counts(pytester: pytest.Pytester, shared_data: Path,
                                                       name: str) -> None:
    result = pytester.runpytest_subprocess(str(REPO / "benchmarks" / name), "--dataset-dir", str(shared_data),
                                           "--co", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"{COUNTS[name]} tests collected*"])
