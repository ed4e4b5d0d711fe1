"""A local model known from its files (weights' fingerprint, chat template) without loading it: what keys its cache."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalscope.config import RunConfig
from evalscope.models import rendering, resolve


@dataclass(frozen=True)
class LocalModel:
    """A model whose weights are on this machine, as far as its files tell, loaded or not."""

    id: str
    """What `--model` named (or the default model's name)."""
    folder: Path
    """The HF folder the weights load from (a .gguf's converted copy)."""
    fingerprint: str
    """Digest of the weights and the files that change behaviour (`resolve.local_weights`)."""
    chat_template: str | None
    """The Jinja template prompts are rendered with (`rendering.chat_template`), None for raw prompts."""

    def info(self, backend: str) -> dict[str, Any]:
        """The report's model info before loading; `fingerprint` and `template_sha` key the response cache."""
        template = self.chat_template
        digest = None if template is None else hashlib.sha256(template.encode()).hexdigest()[:16]
        return {"backend": backend, "id": self.id, "fingerprint": self.fingerprint, "path": str(self.folder),
                "chat_template": template is not None, "template_sha": digest}


def from_files(config: RunConfig) -> LocalModel | None:
    """The model `config` names, known from its files alone (no torch, no transformers); None where only loading
    it tells: a tokenizer with code of its own may set a template in that code, a .gguf not yet converted has no
    tokenizer files, and named templates (a dict) are not one text."""
    if config.model_args.trust_remote_code:
        return None
    model_id, folder, fingerprint = resolve.known_weights(config.model, config.model_args.revision)
    if folder is None:
        return None
    own = tokenizer_template(folder)
    if own is not None and not isinstance(own, str):
        return None
    return LocalModel(model_id, folder, fingerprint, rendering.chat_template(own, config.template))


def tokenizer_template(folder: Path) -> object:
    """The chat template a transformers tokenizer loaded from `folder` has (`tokenizer.chat_template`), read the
    way transformers 5 reads it: `chat_template.jinja` and `additional_chat_templates/*.jinja` first (one default
    is its text, several a dict by name), else `tokenizer_config.json`'s `chat_template` (a list of named ones
    becomes a dict)."""
    named: dict[str, str] = {}
    if (folder / "chat_template.jinja").is_file():
        named["default"] = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    extra = folder / "additional_chat_templates"
    if extra.is_dir():
        named.update({path.name.removesuffix(".jinja"): path.read_text(encoding="utf-8")
                      for path in extra.glob("*.jinja")})
    if list(named) == ["default"]:
        return named["default"]
    if named:
        return named
    config = folder / "tokenizer_config.json"
    template = json.loads(config.read_text(encoding="utf-8")).get("chat_template") if config.is_file() else None
    if isinstance(template, list | tuple):
        return {t["name"]: t["template"] for t in template}
    return template
