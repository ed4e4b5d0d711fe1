"""Secrets kept out of everything written (report.json, the cache, error messages): every spelling of the API key
on a command line, `api_key` inside the JSON specs of `--candidate`/`--judge`, the values of `--headers`, and
credentials inside URLs."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SECRET_FLAG = "--api-key"
SECRET_INI = "api_key"
HEADER_FLAG = "--headers"
"""Perf's request headers (`KEY=VALUE`): the header's name is kept, its value is not (it is often a token)."""
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


def _is_header_flag(arg: str) -> bool:
    """`--headers`, or an abbreviation argparse would expand to it (`--hea`; `--he` could be `--help`)."""
    flag = arg.split("=", 1)[0]
    return len(flag) >= len("--hea") and HEADER_FLAG.startswith(flag)


def _header(pair: str) -> str:
    """`Authorization=Bearer sk-...` -> `Authorization=***`."""
    name, sep, _ = pair.partition("=")
    return f"{name}=***" if sep else "***"


def _scrub(value: Any) -> Any:
    """A parsed JSON value with every `api_key` replaced by `***` and credentials removed from its URLs."""
    if isinstance(value, dict):
        return {k: "***" if str(k).lower() == SECRET_INI else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _URL.sub(lambda m: strip_userinfo(m.group(0)), value)
    return value


def _json_spec(arg: str) -> str | None:
    """An argument holding a JSON object (`NAME={...}` of `--candidate`, `{...}` of `--judge`) with its secrets
    replaced, or None if it holds none. A JSON text that does not parse but names `api_key` is hidden whole: what
    follows the key cannot be told from the key."""
    start = arg.find("{")
    if start < 0:
        return None
    try:
        value, end = json.JSONDecoder().raw_decode(arg, start)
    except ValueError:
        return arg[:start] + "{***}" if SECRET_INI in arg.lower() or "@" in arg else None
    scrubbed = _scrub(value)
    head = arg[:end] if scrubbed == value else arg[:start] + json.dumps(scrubbed, ensure_ascii=False)  # as typed
    return head + _json_spec_tail(arg[end:])


def _json_spec_tail(rest: str) -> str:
    return _json_spec(rest) or _URL.sub(lambda m: strip_userinfo(m.group(0)), rest)


def _ini_secret(setting: str) -> bool:
    return setting.split("=", 1)[0].strip() == SECRET_INI


def _ini_override(arg: str) -> str | None:
    """The `key=value` of `-okey=value` or `--override-ini=key=value`, else None."""
    if arg.startswith("--override-ini="):
        return arg[len("--override-ini="):]
    if arg.startswith("-o") and not arg.startswith("--") and len(arg) > 2:
        return arg[2:]
    return None


def redact_arg(arg: str) -> str:
    """One argument (a `--candidate` SPEC, a URL, a message) with JSON `api_key`s and URL credentials removed."""
    spec = _json_spec(arg)
    return spec if spec is not None else _URL.sub(lambda m: strip_userinfo(m.group(0)), arg)


def redact(argv: Sequence[str]) -> list[str]:
    """The command line with the API key (`--api-key K`, `--api-key=K`, `--api-k K`, `-o api_key=K`,
    `-oapi_key=K`, `--override-ini=api_key=K`, `"api_key"` in a JSON SPEC) and header values (`--headers K=V`)
    replaced by `***`, and credentials removed from URLs."""
    out: list[str] = []
    for arg in map(str, argv):
        previous = out[-1] if out else ""
        override = _ini_override(arg)
        if _is_secret_flag(previous) and "=" not in previous:
            out.append("***")
        elif _is_secret_flag(arg) and "=" in arg:
            out.append(arg.split("=", 1)[0] + "=***")
        elif _is_header_flag(previous) and "=" not in previous:
            out.append(_header(arg))
        elif _is_header_flag(arg) and "=" in arg:
            out.append(arg.split("=", 1)[0] + "=" + _header(arg.split("=", 1)[1]))
        elif previous in ("-o", "--override-ini") and _ini_secret(arg):
            out.append(f"{SECRET_INI}=***")
        elif override is not None and _ini_secret(override):
            out.append(f"{arg[: len(arg) - len(override)]}{SECRET_INI}=***")
        else:
            out.append(redact_arg(arg))
    return out
