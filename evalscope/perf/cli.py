"""`evalscope perf ...`: EvalScope's perf flags, run as the `-m perf` pytest suite (one item per sweep point)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evalscope perf", description="Load-test an OpenAI-compatible server on 127.0.0.1 (Locust).",
        epilog="Arguments after `--` go to pytest unchanged. Example: evalscope perf --url "
               "http://127.0.0.1:8000/v1/chat/completions --model qwen --parallel 1 4 --number 20 40")
    p.add_argument("--url", help="full endpoint URL, e.g. http://127.0.0.1:8000/v1/chat/completions")
    p.add_argument("--api-url", help="server base URL instead of --url, e.g. http://127.0.0.1:8000")
    p.add_argument("--api-key")
    p.add_argument("--model", help="the served model name (default: the server's first /v1/models entry)")
    p.add_argument("--api", default="openai", help="openai (chat completions) or completions")
    p.add_argument("--parallel", nargs="+", default=["1"], help="concurrency per sweep point")
    p.add_argument("--number", nargs="+", default=["64"], help="requests per sweep point (one, or one per point)")
    p.add_argument("--rate", nargs="+", default=None, help="open loop: requests/s (<=0: closed loop)")
    p.add_argument("--burstiness", default=None)
    p.add_argument("--dataset", default="random", help="random, openqa or a JSONL PATH")
    p.add_argument("--dataset-path", default=None)
    p.add_argument("--max-tokens", default=None)
    p.add_argument("--min-tokens", default=None)
    p.add_argument("--min-prompt-length", default=None)
    p.add_argument("--max-prompt-length", default=None)
    p.add_argument("--tokenizer-path", default=None)
    p.add_argument("--stream", dest="stream", action="store_true", default=True)
    p.add_argument("--no-stream", dest="stream", action="store_false")
    p.add_argument("--headers", nargs="+", default=None, help="KEY=VALUE ...")
    p.add_argument("--slo", default=None, help='e.g. "ttft_p99<=500ms,success_rate>=0.99"')
    p.add_argument("--warmup", default=None)
    p.add_argument("--locust-workers", default=None)
    p.add_argument("--locust-remote-workers", default=None)
    p.add_argument("--allow-remote-target", action="store_true", help="load a server not on this machine")
    p.add_argument("--locust-master", default=None, help="HOST:PORT the Locust master listens on")
    p.add_argument("--max-duration", default=None)
    p.add_argument("--seed", default=None)
    p.add_argument("--outputs", "--work-dir", dest="work_dir", default="outputs")
    return p


def pytest_args(ns: argparse.Namespace) -> list[str]:
    from pathlib import Path

    from evalscope.registry import benchmarks_root

    root = benchmarks_root()
    args = [str(root / "perf"), "-m", "perf", "-c", str(Path(__file__).parent.parent / "run.ini"),
            "--rootdir", str(root), "-o", f"cache_dir={Path(ns.work_dir).resolve() / '.pytest_cache'}",
            "--work-dir", ns.work_dir, "--parallel", ",".join(ns.parallel), "--number", ",".join(ns.number)]
    if ns.rate:
        args += ["--rate", ",".join(ns.rate)]
    for flag in ("url", "api_url", "api_key", "model", "api", "burstiness", "dataset", "dataset_path", "max_tokens",
                 "min_tokens", "min_prompt_length", "max_prompt_length", "tokenizer_path", "slo", "warmup",
                 "locust_workers", "locust_remote_workers", "locust_master", "max_duration", "seed"):
        value = getattr(ns, flag)
        if value is not None:
            args += [f"--{flag.replace('_', '-')}", str(value)]
    for header in ns.headers or []:
        args += ["--headers", header]
    if not ns.stream:
        args.append("--no-stream")
    if ns.allow_remote_target:
        args.append("--allow-remote-target")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    import pytest

    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    ns = parser().parse_args(argv)
    if not ns.url and not ns.api_url:
        parser().error("give --url ENDPOINT or --api-url BASE")
    return int(pytest.main([*pytest_args(ns), *extra]))
