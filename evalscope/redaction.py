"""Secrets kept out of everything written (report.json, the cache, error messages): every spelling of the API key
on a command line, and credentials inside URLs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

SECRET_FLAG = "--api-key"
SECRET_INI = "api_key"
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/@]+@[^\s]+", re.IGNORECASE)


def strip_userinfo(url: str) -> str:
    """`https://user:token@host/v1` -> `https://host/v1` (other URLs unchanged)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _is_secret_flag(arg: str) -> bool:
    """`--api-key`, or an abbreviation argparse would expand to it (`--api-k`)."""
    flag = arg.split("=", 1)[0]
    return len(flag) >= len("--api-k") and SECRET_FLAG.startswith(flag)


def _ini_secret(setting: str) -> bool:
    return setting.split("=", 1)[0].strip() == SECRET_INI


def _ini_override(arg: str) -> str | None:
    """The `key=value` of `-okey=value` or `--override-ini=key=value`, else None."""
    if arg.startswith("--override-ini="):
        return arg[len("--override-ini="):]
    if arg.startswith("-o") and not arg.startswith("--") and len(arg) > 2:
        return arg[2:]
    return None


def redact(argv: Sequence[str]) -> list[str]:
    """The command line with the API key (`--api-key K`, `--api-key=K`, `--api-k K`, `-o api_key=K`,
    `-oapi_key=K`, `--override-ini=api_key=K`) replaced by `***`, and credentials removed from URLs."""
    out: list[str] = []
    for arg in map(str, argv):
        previous = out[-1] if out else ""
        override = _ini_override(arg)
        if _is_secret_flag(previous) and "=" not in previous:
            out.append("***")
        elif _is_secret_flag(arg) and "=" in arg:
            out.append(arg.split("=", 1)[0] + "=***")
        elif previous in ("-o", "--override-ini") and _ini_secret(arg):
            out.append(f"{SECRET_INI}=***")
        elif override is not None and _ini_secret(override):
            out.append(f"{arg[: len(arg) - len(override)]}{SECRET_INI}=***")
        else:
            out.append(_URL.sub(lambda m: strip_userinfo(m.group(0)), arg))
    return out
