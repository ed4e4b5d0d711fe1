"""Model and dataset hubs: ModelScope first (the seed's hub), then Hugging Face, failing fast when offline."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse


class HubError(RuntimeError):
    """No hub could provide the repository; the message says what each one answered."""


def _host(hub: str) -> str:
    if hub == "modelscope":
        return urlparse(os.environ.get("MODELSCOPE_DOMAIN", "https://www.modelscope.cn")).hostname or "modelscope.cn"
    return urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"


def reachable(hub: str, timeout: float = 3.0) -> bool:
    """One TCP connect to the hub: the hub clients themselves retry for 20-45 s before giving up offline."""
    try:
        with socket.create_connection((_host(hub), 443), timeout=timeout):
            return True
    except OSError:
        return False


def snapshot(repo: str | Mapping[str, str], repo_type: str, revision: str | None = None) -> Path:
    """A local folder with the repository's files, from the hub cache or downloaded. `repo` is one id for
    both hubs, or {"modelscope": id, "huggingface": id} where they differ."""
    ids = dict(repo) if isinstance(repo, Mapping) else {"modelscope": repo, "huggingface": repo}
    errors = []
    for hub, repo_id in ids.items():
        offline = hub == "huggingface" and os.environ.get("HF_HUB_OFFLINE") == "1"
        if not offline and not reachable(hub):
            errors.append(f"{hub}: unreachable")
            continue
        try:
            return _download(hub, repo_id, repo_type, revision)
        except Exception as exc:  # hub clients raise many kinds of network and lookup errors
            errors.append(f"{hub}: {type(exc).__name__}")
    raise HubError(f"cannot fetch {repo_type} {' or '.join(dict.fromkeys(ids.values()))} ({'; '.join(errors)})")


def _download(hub: str, repo: str, repo_type: str, revision: str | None) -> Path:
    if hub == "modelscope":
        from modelscope.hub.snapshot_download import snapshot_download as ms_download

        return Path(ms_download(repo, repo_type=repo_type, revision=revision or "master"))
    from huggingface_hub import snapshot_download as hf_download

    return Path(hf_download(repo, repo_type=repo_type, revision=revision))
