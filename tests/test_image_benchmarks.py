"""The image benchmarks end to end on the tiny random VLM (tests/tiny_vlm.py) through the transformers backend:
images reach the model (the processor's image tokens are in the prompt, other pictures give other answers),
records name each image, `-n 2` gives the same answers, and a text-only model refuses in one line. Its answers
are noise: nothing here checks a score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import image_data
from tests.conftest import REPO, SuiteRun
from tests.tiny_vlm import IMAGE_TOKENS, tiny_vlm


@pytest.fixture(scope="session")
def vlm() -> Path:
    return tiny_vlm()


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """general_vmcq's folder (a VLMEvalKit TSV and a JSONL with paths), MMMU's and ChartQA's hub layouts."""
    root = tmp_path_factory.mktemp("images")
    image_data.vmcq_tsv(root / "general_vmcq", n=3)
    image_data.vmcq_jsonl(root / "general_vmcq")
    image_data.mmmu(root / "mmmu", ("Art",))
    image_data.vqa_tsv(root / "general_vqa")
    image_data.chartqa(root / "chartqa")
    return root


def run(pytester: pytest.Pytester, data: Path, model: Path, *args: str) -> SuiteRun:
    """`pytest benchmarks/general_vmcq benchmarks/general_vqa benchmarks/mmmu benchmarks/chartqa` in a subprocess;
    general_vmcq's folder given as the issue's `path`, the others under --dataset-dir."""
    work = pytester.path / f"out-{len(list(pytester.path.glob('out-*')))}"
    dataset_args = {"general_vmcq": {"path": str(data / "general_vmcq")}, "mmmu": {"subset_list": ["Art"]}}
    result = pytester.runpytest_subprocess(
        *(str(REPO / "benchmarks" / b) for b in ("general_vmcq", "general_vqa", "mmmu", "chartqa")),
        "--dataset-dir", str(data),
        "--dataset-args", json.dumps(dataset_args), "--model", str(model), "--work-dir", str(work),
        "--generation-config", "max_new_tokens=4", "-p", "no:cacheprovider", *args, timeout=600)
    out = SuiteRun(result, work)
    for path in sorted(work.glob("*/predictions/*.jsonl")):
        out.records += [json.loads(line) for line in path.read_text().splitlines()]
    (report,) = work.glob("*/report.json") or [None]
    out.report = json.loads(report.read_text()) if report else {}
    return out


def test_image_benchmarks_through_the_transformers_backend(pytester: pytest.Pytester, image_dir: Path,
                                                           vlm: Path) -> None:
    alone = run(pytester, image_dir, vlm, "--html", str(pytester.path / "pytest.html"))
    assert alone.result.ret == 0, alone.result.stdout.str()
    records = {(r["benchmark"], r["sample_id"]): r for r in alone.records}
    assert {b for b, _ in records} == {"general_vmcq", "general_vqa", "mmmu", "chartqa"}
    assert len(records) == 5 + 2 + 2 + 3
    assert records["general_vqa", "colours-0001"]["target"] == "blue"
    assert alone.report["model"]["vision"] is True
    # every image became the processor's image tokens: MMMU's option images sit where `<image N>` stood
    mc = records["mmmu", "Art-0000"]
    assert mc["prompt"].count("<image>") == 2 and "A) <image>\nB) <image>" in mc["prompt"]
    assert "<image 1>" not in mc["prompt"]
    text_only = len(mc["prompt"].replace("<image>", ""))  # tokens the images add: IMAGE_TOKENS and 3 markers each
    assert mc["prompt_tokens"] >= 2 * IMAGE_TOKENS and text_only < len(mc["prompt"]) * 2
    # records name each image by content, with a thumbnail file in the run folder
    pair = records["general_vmcq", "pairs-0001"]
    assert [i["name"] for i in pair["images"]] == ["pics/red.png", "pics/blue.png"]
    run_dir = next(alone.work_dir.glob("*/report.json")).parent
    assert all((run_dir / i["thumbnail"]).is_file() for r in alone.records for i in r["images"])
    assert all(len(i["sha256"]) == 64 and "data" not in i for r in alone.records for i in r["images"])
    # the offline report shows each thumbnail beside the answer, inlined
    from evalscope.report.command import main as report

    assert report([str(run_dir), "-o", str(pytester.path / "report.html")]) == 0
    page = (pytester.path / "report.html").read_text()
    assert page.count('<img class="thumb" src="data:image/png;base64,') == sum(len(r["images"])
                                                                             for r in alone.records)
    shown = (pytester.path / "pytest.html").read_text()  # pytest-html's page: thumbnails in the answer column
    assert shown.count("data:image/png;base64,") == sum(len(r["images"]) for r in alone.records)
    # the same question about other pictures gets other answers: the pixels reach the model
    tsv = [records["general_vmcq", f"colours-{i:04d}"] for i in range(3)]
    assert len({r["prompt"] for r in tsv}) == 1 and len({r["output"] for r in tsv}) > 1

    spread = run(pytester, image_dir, vlm, "-n", "2")
    assert spread.result.ret == 0, spread.result.stdout.str()
    assert {k: (r["output"], r["metrics"]) for k, r in records.items()} == \
        {(r["benchmark"], r["sample_id"]): (r["output"], r["metrics"]) for r in spread.records}


def test_a_text_only_model_given_images_refuses_in_one_line(tiny_model: Path) -> None:
    """The real transformers backend on a text-only model: a clear line before the tokenizer sees anything (the
    session then stops with it, as for any CapabilityError)."""
    from evalscope.config import RunConfig
    from evalscope.images import load
    from evalscope.models import CapabilityError, transformers_local
    from evalscope.schema import GenerationRequest

    backend = transformers_local.TransformersBackend(RunConfig(model=str(tiny_model)), 1)
    request = GenerationRequest("What colour?", images=(load(image_data.picture("red"), "red.png"),))
    with pytest.raises(CapabilityError, match=r"is text-only: it cannot see the images these requests carry"):
        list(backend.generate([request]))


def test_a_bad_image_errors_its_own_item_naming_it(tmp_path: Path) -> None:
    from evalscope.config import DatasetArgs, RunConfig
    from evalscope.schema import BadRow
    from evalscope.suite import Suite

    image_data.vmcq_jsonl(tmp_path)
    with (tmp_path / "pairs.jsonl").open("a") as fh:
        fh.write(json.dumps({"question": "Which?", "options": ["a", "b"], "answer": "A", "image": "pics/gone.png"})
                 + "\n")
        fh.write(json.dumps({"question": "Which?", "options": ["a", "b"], "answer": "C", "image": "pics/red.png"})
                 + "\n")
    suite = Suite.load("general_vmcq", RunConfig(dataset_args={"general_vmcq": DatasetArgs(local_path=str(tmp_path))}))
    bad = [s for s in suite.samples if isinstance(s, BadRow)]
    assert [b.message for b in bad] == [
        f"{tmp_path / 'pairs.jsonl'}:3: image {tmp_path / 'pics' / 'gone.png'}: cannot read it (No such file or "
        "directory)",
        f"{tmp_path / 'pairs.jsonl'}:4: answer 'C' is not one of the choice labels ['A', 'B']"]
    assert len(suite.samples) == 4  # the good rows still run
