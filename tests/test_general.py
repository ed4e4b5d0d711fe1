"""Your own data without code (general_mcq, general_qa): formats, prompts, every malformed case, under -n 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, TEST_DATA

MCQ = TEST_DATA / "general_mcq"
QA = TEST_DATA / "general_qa"


def mcq_args(folder: Path, **extra: object) -> list[str]:
    return ["--dataset-args", json.dumps({"general_mcq": {"local_path": str(folder), **extra}})]


def test_csv_and_jsonl_subsets_score_alike_with_and_without_xdist(run_suite) -> None:
    alone = run_suite(*mcq_args(MCQ), bench="general_mcq")
    spread = run_suite(*mcq_args(MCQ), "-n", "2", bench="general_mcq")
    assert alone.result.ret == spread.result.ret == 0, alone.result.stdout.str()
    assert sorted(alone.by_id()) == ["history-0000", "history-0001", "physics-0000", "physics-0001", "physics-0002"]
    for sample_id, record in alone.by_id().items():
        assert record["loglikelihoods"] == pytest.approx(spread.by_id()[sample_id]["loglikelihoods"], abs=1e-5)
    first = alone.by_id()["history-0001"]
    assert first["prompt"] == "Who was the first emperor of Rome?\nA. Julius Caesar\nB. Augustus\nC. Nero\nAnswer:"
    assert first["target"] == "B" and first["choices"] == [" A", " B", " C"]  # answer 1 is the second option
    rows = {(s["subset"], s["level"]) for s in alone.report["benchmarks"][0]["scores"]}
    assert {("history", "subset"), ("physics", "subset"), ("OVERALL", "overall"), ("MACRO", "macro")} <= rows


def test_generation_setup_prompt_template_system_prompt_and_few_shot(run_suite) -> None:
    run = run_suite(*mcq_args(MCQ, setup="generation", subset_list=["physics"], few_shot_num=2,
                              prompt_template="Q: {question}\nOptions:\n{choices}\nPick one of {letters}.",
                              system_prompt="You are a physics teacher."), bench="general_mcq")
    assert run.result.ret == 0, run.result.stdout.str()
    prompt = run.by_id()["physics-0000"]["prompt"]
    assert "You are a physics teacher." in prompt  # the system message, in the chat template
    assert "Q: What is the SI unit of force?\nOptions:\nA) Joule\nB) Newton\nC) Watt\nD) Pascal\nPick one of " \
           "A,B,C,D." in prompt
    assert "What is the SI unit of energy?" in prompt and "ANSWER: A" in prompt  # the dev file's exemplars


@pytest.mark.parametrize(("template", "message"), [
    ("Premise: {premise}\n{question}", "general_mcq: prompt_template has unknown placeholder {premise} (it may use "
                                       "{question}, {choices}, {letters})"),
    ("Choose: {choices}", "general_mcq: prompt_template has no {question} placeholder*"),
    ("{question} {", "general_mcq: prompt_template '{question} {': Single '{' encountered in format string"),
])
def test_a_template_that_cannot_be_filled_is_one_line(run_suite, template: str, message: str) -> None:
    run = run_suite(*mcq_args(MCQ, prompt_template=template), bench="general_mcq")
    assert run.result.ret == 2 and run.records == []  # nothing ran, nothing scored at chance
    run.result.stdout.fnmatch_lines([message])
    run.result.stdout.no_fnmatch_line("*Traceback*")


def test_a_template_for_a_benchmark_that_takes_none(run_suite) -> None:
    run = run_suite("--dataset-args", json.dumps({"gsm8k": {"prompt_template": "{question}"}}))
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines(["gsm8k: takes no prompt_template"])


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_every_malformed_row_errors_its_own_item_with_file_line_and_field(run_suite, tmp_path: Path) -> None:
    csv = write(tmp_path, "exam_val.csv", "\ufeffid,question,A,B,C,D,answer\n"  # a BOM, as Excel writes
                "1,What is 1+1?,1,2,3,4,B\n"
                "2,What is 2+2?,3,4,5,6,\n"
                "3,What is 3+3?,5,6,7,8,E\n"
                "4,What is 4+4?,7,8,,9,B\n"
                "5,What is 5+5?,9,10\n"
                "6,What is 6+6?,11,12,13,14,2\n\n")  # a blank trailing line is fine
    jsonl = write(tmp_path, "quiz_val.jsonl", '{"question": "Pick B", "choices": ["a", "b", "c"], "answer": "B"}\n'
                  '{"question": "Pick A", "choices": ["a", "b"], "answer": 0}\n'
                  '{"choices": ["a", "b", "c"], "answer": "A"}\n'
                  '{"question": "Broken", "choices": ["a", "b", "c"], "answer": "A"\n'
                  '{"question": "Pick C", "choices": ["a", "b", "c"], "answer": 2}\n')
    run = run_suite(*mcq_args(tmp_path), bench="general_mcq")
    assert run.result.ret == 1
    errors = {r["sample_id"]: r["error"] for r in run.records if "error" in r}
    assert errors == {
        "exam-0001": f"{csv}:3: missing field 'answer'",
        "exam-0002": f"{csv}:4: answer 'E' is not one of the options A-D",
        "exam-0003": f"{csv}:5: needs at least 2 non-empty choices, got ['7', '8', '', '9']",
        "exam-0004": f"{csv}:6: 4 columns, expected 7",
        "exam-0005": f"{csv}:7: answer '2' is not one of the options A-D",
        "quiz-0001": f"{jsonl}:2: 2 options, while the file's first question has 3",
        "quiz-0002": f"{jsonl}:3: missing field 'question'",
        "quiz-0003": f"{jsonl}:4: invalid JSON (Expecting ',' delimiter at column 65)",
    }
    scored = {r["sample_id"] for r in run.records if "metrics" in r}
    assert scored == {"exam-0000", "quiz-0000", "quiz-0004"}


def test_a_file_that_is_not_utf8_stops_with_its_line(run_suite, tmp_path: Path) -> None:
    bad = write(tmp_path, "exam_val.csv", "id,question,A,B,answer\n1,Good?,yes,no,A\n2,Caf\xe9?,yes,no,A\n"
                .encode("latin-1"))
    run = run_suite(*mcq_args(tmp_path), bench="general_mcq")
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines([f"{bad}:3: not UTF-8 text (byte 0xe9 at column 6); save it as UTF-8"])


def test_general_qa_formats_history_and_metrics(run_suite) -> None:
    run = run_suite("--dataset-args", json.dumps({"general_qa": {"local_path": str(QA)}}), "-n", "2",
                    bench="general_qa")
    assert run.result.ret == 0, run.result.stdout.str()
    follow_up = run.by_id()["capitals-0001"]
    assert "Answer with one word." in follow_up["prompt"]
    assert follow_up["prompt"].index("What is the capital of Spain?") < follow_up["prompt"].index("Madrid") \
        < follow_up["prompt"].index("And of Italy?")
    assert set(follow_up["metrics"]) == {"exact_match", "f1", "bleu4", "rouge_l"}
    assert run.report["benchmarks"][0]["primary_metric"] == "exact_match"


def test_qa_metrics_on_the_nasty_cases() -> None:
    from evalscope.registry import get

    get("general_qa")
    from evalscope_benchmarks.general_qa import bleu4, f1, rouge, tokens  # type: ignore[import-not-found]

    assert tokens("The Eiffel Tower!") == ["eiffel", "tower"] and tokens("北京大学") == ["北", "京", "大", "学"]
    assert f1("the Eiffel tower in Paris", "Eiffel Tower") == pytest.approx(2 * (2 / 4) * 1 / (2 / 4 + 1))
    assert f1("", "") == 1.0 and f1("Paris", "") == 0.0
    assert bleu4("the cat sat on the mat today", "the cat sat on the mat today") == pytest.approx(1.0)
    assert 0.0 < bleu4("the cat sat on the mat", "the cat sat on a red mat") < 1.0
    assert rouge().score("北京是中国的首都", "中国的首都是北京")["rougeL"].fmeasure == pytest.approx(5 / 8)


def test_seed_form_runs_general_mcq(tmp_path: Path, tiny_model: Path) -> None:
    args = {"general_mcq": {"local_path": str(MCQ), "subset_list": ["history"]}}
    out = subprocess.run([sys.executable, "-m", "evalscope.run", "--model", str(tiny_model), "--datasets",
                          "general_mcq", "--dataset-args", json.dumps(args), "--work-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 of 2 samples selected" in out.stdout


CUSTOM = '''
from evalscope.api import Benchmark, GenerationRequest, Sample, Scored, Setup


class {cls}(Benchmark):
    splits = {{"test": "test.jsonl"}}
    setups = (Setup("echo", "says the word back", metrics=("same",),
                    prompt=lambda s, shots: GenerationRequest(f"Say {{s.input}}:"),
                    score=lambda s, c: Scored({{"same": float(s.target in c.text)}}, {{"same": c.text}})),)

    def to_sample(self, row):
        return Sample(row["word"], row["word"])
'''


def custom_benchmark(root: Path, name: str) -> Path:
    folder = root / name
    write(folder, "benchmark.py", CUSTOM.format(cls=name.title().replace("_", "")))
    write(folder, f"test_{name}.py", f'import pytest\npytestmark = pytest.mark.evalscope("{name}")\n\n\n'
          f'def test_{name}(sample, scored):\n    pass\n')
    write(folder / "data", "test.jsonl", '{"word": "apple"}\n{"word": "pear"}\n')
    return folder


def test_benchmarks_dir_of_your_own(pytester: pytest.Pytester, tiny_model: Path, tmp_path: Path) -> None:
    root = tmp_path / "team-evals"
    custom_benchmark(root, "echo")
    model = ["--model", str(tiny_model), "--generation-config", "max_new_tokens=2", "-p", "no:cacheprovider"]
    direct = pytester.runpytest_subprocess(str(root / "echo"), *model, "--work-dir", "direct")
    assert direct.ret == 0, direct.stdout.str()
    direct.stdout.fnmatch_lines(["*echo (setup echo, 0-shot): 2 of 2 samples selected*"])
    seed = subprocess.run([sys.executable, "-m", "evalscope.run", "--datasets", "echo", "gsm8k", "--benchmarks-dir",
                           str(root), "--model", str(tiny_model), "--limit", "1", "--dataset-dir", str(TEST_DATA),
                           "--generation-config", "max_new_tokens=2", "--work-dir", str(tmp_path / "seed")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert seed.returncode == 0, seed.stdout + seed.stderr
    assert "echo (setup echo, 0-shot): 1 of 2 samples selected" in seed.stdout


def test_a_benchmark_that_shadows_a_builtin_needs_allow_override(
        pytester: pytest.Pytester, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALSCOPE_DATASET_DIR", raising=False)  # its data is the one beside it
    root = tmp_path / "team-evals"
    folder = custom_benchmark(root, "gsm8k")
    args = [str(folder), "--model", str(tiny_model), "--generation-config", "max_new_tokens=2", "-p",
            "no:cacheprovider"]
    refused = pytester.runpytest_subprocess(*args)
    assert refused.ret == 2
    refused.stdout.fnmatch_lines([f"*{folder.resolve()}: benchmark 'gsm8k' shadows the built-in one; rename the "
                                  "folder or pass --allow-override"])
    allowed = pytester.runpytest_subprocess(*args, "--allow-override")
    assert allowed.ret == 0, allowed.stdout.str()
    allowed.stdout.fnmatch_lines(["*gsm8k (setup echo, 0-shot): 2 of 2 samples selected*"])
    seed = subprocess.run([sys.executable, "-m", "evalscope.run", "--datasets", "gsm8k", "--benchmarks-dir",
                           str(root)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert seed.returncode == 4 and "shadows the built-in one" in seed.stderr


@pytest.mark.parametrize("kind", ["generation", "mcq"])
def test_new_benchmark_skeleton_passes_at_once(pytester: pytest.Pytester, tiny_model: Path, kind: str) -> None:
    made = subprocess.run([sys.executable, "-m", "evalscope.cli", "new-benchmark", "my_exam", "--kind", kind],
                          capture_output=True, text=True, cwd=pytester.path)
    assert made.returncode == 0, made.stderr
    result = pytester.runpytest_subprocess("my_exam", "--limit", "3", "--model", str(tiny_model),
                                           "--generation-config", "max_new_tokens=4", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("incorrect", 0) == 3
    again = subprocess.run([sys.executable, "-m", "evalscope.cli", "new-benchmark", "my_exam"],
                           capture_output=True, text=True, cwd=pytester.path)
    assert again.returncode == 4 and "exists already" in again.stderr


def test_download_refuses_offline_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOPE_DOMAIN", "https://127.0.0.1:9")
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    out = subprocess.run([sys.executable, "-m", "evalscope.cli", "download", "--model", "someorg/some-model",
                          "--to", str(tmp_path / "offline")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip() == ("evalscope download: error: cannot fetch model someorg/some-model (modelscope: "
                                  "unreachable; huggingface: unreachable)")
    unknown = subprocess.run([sys.executable, "-m", "evalscope.cli", "download", "--datasets", "gsm9k", "--to",
                              str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 4 and "unknown benchmark 'gsm9k'" in unknown.stderr


def fake_hub_repo(cache: Path, kind: str, repo: str, files: dict[str, bytes]) -> None:
    """A Hugging Face hub cache entry as huggingface_hub lays it out (refs/main -> snapshots/<commit>/...)."""
    entry = cache / f"{kind}--{repo.replace('/', '--')}"
    commit = "0" * 40
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(commit)
    for name, data in files.items():
        path = entry / "snapshots" / commit / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_download_layout_from_a_hub_cache_then_an_offline_run(tmp_path: Path, tiny_model: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    cache = tmp_path / "hf" / "hub"
    fake_hub_repo(cache, "models", "someorg/tiny", {p.name: p.read_bytes() for p in tiny_model.iterdir()})
    parquet = {}
    for split in ("test", "train"):
        rows = [json.loads(line) for line in (TEST_DATA / "gsm8k" / f"{split}.jsonl").read_text().splitlines()]
        path = tmp_path / f"{split}.parquet"
        pd.DataFrame(rows).to_parquet(path)
        parquet[f"main/{split}-00000-of-00001.parquet"] = path.read_bytes()
    fake_hub_repo(cache, "datasets", "openai/gsm8k", parquet)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub's own offline mode serves its cache
    monkeypatch.setenv("MODELSCOPE_DOMAIN", "https://127.0.0.1:9")
    target = tmp_path / "offline"
    out = subprocess.run([sys.executable, "-m", "evalscope.cli", "download", "--model", "someorg/tiny", "--datasets",
                          "gsm8k", "--to", str(target)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (target / "models" / "someorg" / "tiny" / "config.json").is_file()
    assert not (target / "models" / "someorg" / "tiny" / "config.json").is_symlink()
    assert sorted(p.name for p in (target / "gsm8k" / "main").iterdir()) == [
        "test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    run = subprocess.run([sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "gsm8k"), "--dataset-dir",
                          str(target), "--model", str(target / "models" / "someorg" / "tiny"), "--limit", "2",
                          "--generation-config", "max_new_tokens=2", "-p", "no:cacheprovider", "--work-dir",
                          str(tmp_path / "runs")], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "2 of 10 samples selected" in run.stdout
