"""A cached rerun loads nothing it does not need: keys from the model's files, the model loaded at the first miss."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from evalscope import models
from evalscope.config import GenerationConfig, ModelArgs, RunConfig
from evalscope.engine import Engine
from evalscope.models import identity
from evalscope.models.transformers_local import TransformersBackend
from evalscope.schema import GenerationRequest

TEMPLATE = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"

COUNTER = '''
"""Counts constructions of the transformers backend (the real one runs) in the file $CONSTRUCTIONS names."""
import os

from evalscope.models.transformers_local import TransformersBackend

real = TransformersBackend.__init__


def counted(self, *args, **kwargs):
    with open(os.environ["CONSTRUCTIONS"], "a") as fh:
        fh.write("constructed\\n")
    real(self, *args, **kwargs)


TransformersBackend.__init__ = counted


def pytest_sessionfinish(session):
    import sys

    with open(os.environ["CONSTRUCTIONS"] + ".modules", "w") as fh:
        fh.write(" ".join(m for m in ("torch", "transformers") if m in sys.modules))
'''


@contextlib.contextmanager
def no_progress(desc: str, total: int) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


@pytest.mark.parametrize("template", [None, "none", TEMPLATE])
def test_the_files_give_the_keys_of_the_loaded_model(tiny_model: Path, template: str | None) -> None:
    """Same fingerprint and template digest as the loaded backend: caches filled before keep hitting."""
    config = RunConfig(model=str(tiny_model), template=template)
    known = TransformersBackend.identify(config)
    loaded = models.load(config, 1).info()
    assert known is not None and known["loaded"] is False and loaded["loaded"] is True
    assert {k: known[k] for k in ("backend", "id", "fingerprint", "path", "chat_template", "template_sha")} == \
        {k: loaded[k] for k in ("backend", "id", "fingerprint", "path", "chat_template", "template_sha")}
    assert (known["template_sha"] is None) == (template == "none")


def test_the_default_gguf_model_is_known_from_its_file_and_converted_copy(default_model_folder: Path) -> None:
    known = TransformersBackend.identify(RunConfig())
    loaded = models.load(RunConfig(), 1).info()
    assert known is not None and known["template_sha"] is not None
    assert (known["fingerprint"], known["template_sha"], known["path"]) == \
        (loaded["fingerprint"], loaded["template_sha"], loaded["path"])


def test_templates_read_as_transformers_reads_them(tmp_path: Path, tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    layouts = {"in tokenizer_config.json": {**config, "chat_template": TEMPLATE},
               "none at all": {k: v for k, v in config.items() if k != "chat_template"},
               "named, in a list": {**config, "chat_template": [{"name": "default", "template": TEMPLATE},
                                                                {"name": "tool_use", "template": "x"}]}}
    for layout, tokenizer_config in layouts.items():
        (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
        assert identity.tokenizer_template(folder) == AutoTokenizer.from_pretrained(folder).chat_template, layout
    # named templates are not one text: only loading says which renders, so the files give no key
    assert identity.from_files(RunConfig(model=str(folder))) is None
    (folder / "chat_template.jinja").write_text(TEMPLATE + " ")  # a file of its own wins over the config's
    assert identity.tokenizer_template(folder) == AutoTokenizer.from_pretrained(folder).chat_template == TEMPLATE + " "


def test_a_cache_filled_by_a_loaded_model_answers_without_loading(tiny_model: Path, tmp_path: Path) -> None:
    """The first engine loads the model before asking (keys from the loaded model, as every run did before); a
    second one answers every request from that cache with its backend never constructed, and loads at a miss."""
    config = RunConfig(model=str(tiny_model), cache=tmp_path / "cache.sqlite",
                       generation=GenerationConfig(max_new_tokens=3))
    asked = [GenerationRequest(f"{n} + {n} =") for n in range(4)]
    keys = [("sums", str(n)) for n in range(4)]

    filled = Engine(config, {}, 1, no_progress)
    filled.backend = models.load(config, 1)
    filled.predict("fill", keys, asked)
    filled.close()

    rerun = Engine(config, {}, 1, no_progress)
    rerun.predict("rerun", keys, asked)
    assert rerun.backend is None and rerun.predicted == 0 and rerun.cache is not None and rerun.cache.hits == 4
    assert [rerun.results[k] for k in keys] == [filled.results[k] for k in keys]
    assert rerun.info()["model"]["loaded"] is False
    rerun.predict("one more", [("sums", "new")], [GenerationRequest("9 + 9 =")])
    assert rerun.backend is not None and rerun.predicted == 1 and rerun.info()["model"]["loaded"] is True
    rerun.close()


def test_a_run_answered_from_the_cache_never_constructs_the_model(run_suite, pytester: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(constructions=COUNTER)
    counter = pytester.path / "constructions"
    monkeypatch.setenv("CONSTRUCTIONS", str(counter))
    cache = pytester.path / "responses.sqlite"
    args = ("-p", "constructions", f"--use-cache={cache}", "--limit", "3")

    first = run_suite(*args)
    assert first.result.ret == 0, first.result.stdout.str()
    assert counter.read_text().count("constructed") == 1
    assert first.report["model"]["loaded"] is True

    counter.unlink()
    again = run_suite(*args)
    assert again.result.ret == 0, again.result.stdout.str()
    assert not counter.exists()  # the backend's constructor never ran
    assert counter.with_suffix(".modules").read_text() == ""  # nor were torch or transformers imported
    model = again.report["model"]
    assert model["loaded"] is False and model["fingerprint"] == first.report["model"]["fingerprint"]
    assert model["template_sha"] == first.report["model"]["template_sha"] and model["path"] and model["id"]
    assert again.report["run"]["cache"]["hits"] == 3 and again.report["run"]["predicted"] == 0
    assert {k: r["output"] for k, r in again.by_id().items()} == {k: r["output"] for k, r in first.by_id().items()}

    more = run_suite(*args[:-1], "4")
    assert more.result.ret == 0, more.result.stdout.str()
    assert counter.read_text().count("constructed") == 1 and more.report["model"]["loaded"] is True
    assert more.report["run"]["cache"]["hits"] == 3 and more.report["run"]["predicted"] == 1


def test_where_the_files_cannot_tell_the_model_loads_first(tiny_model: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # code of its own may set a template; a .gguf not converted here has no tokenizer files yet
    assert identity.from_files(RunConfig(model=str(tiny_model), model_args=ModelArgs(trust_remote_code=True))) is None
    monkeypatch.setenv("EVALSCOPE_CACHE", str(tmp_path / "nothing converted"))
    assert identity.from_files(RunConfig()) is None


def test_keys_the_files_got_wrong_give_way_to_the_loaded_models(tiny_model: Path, tmp_path: Path) -> None:
    """Should the files ever tell another template than the loaded tokenizer has, the requests they miss are looked
    up again under the loaded model's keys (and kept under those), never under the files' keys."""
    config = RunConfig(model=str(tiny_model), cache=tmp_path / "cache.sqlite",
                       generation=GenerationConfig(max_new_tokens=2))
    asked, keys = [GenerationRequest("1 + 1 =")], [("sums", "0")]
    filled = Engine(config, {}, 1, no_progress)
    filled.predict("fill", keys, asked)
    filled.close()

    misread = Engine(config, {}, 1, no_progress)
    known = TransformersBackend.identify(config)
    assert known is not None
    misread.identity = {**known, "template_sha": "not what renders"}
    misread.predict("again", keys, asked)
    assert misread.backend is not None and misread.predicted == 0
    assert misread.results[keys[0]] == filled.results[keys[0]]
    misread.close()
