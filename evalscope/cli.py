"""`evalscope` command line: `evalscope eval ...` (as `python -m evalscope.run`), `report ...` and `perf ...`."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"eval": "evaluate a model on benchmarks (run `evalscope eval --help`)",
                "report": "HTML or Markdown report of finished runs (run `evalscope report --help`)",
                "merge": "join the run folders of a sharded run (--shard K/N) into one (SHARD_DIR... -o MERGED)",
                "perf": "load-test a serving endpoint (run `evalscope perf --help`)",
                "new-benchmark": "write a working benchmark folder to start from (NAME [--kind mcq|generation])",
                "download": "fetch a model and datasets into one folder for offline runs (--model, --datasets, --to)",
                "perf-worker": "a Locust worker for `evalscope perf --locust-remote-workers` (--master HOST:PORT)"}
    if not args or args[0] in ("-h", "--help") or args[0] not in commands:
        print("usage: evalscope COMMAND [ARGS]\n\ncommands:")
        for name, text in commands.items():
            print(f"  {name:14s}{text}")
        return 0 if args and args[0] in ("-h", "--help") else 2
    if args[0] == "new-benchmark":
        from evalscope.scaffold import main as scaffold_main

        return scaffold_main(args[1:])
    if args[0] == "download":
        from evalscope.download import main as download_main

        return download_main(args[1:])
    if args[0] == "report":
        from evalscope.report.command import main as report_main

        return report_main(args[1:])
    if args[0] == "merge":
        from evalscope.report.merge import main as merge_main

        return merge_main(args[1:])
    if args[0] == "perf-worker":
        import subprocess

        from evalscope.perf.plan import headers_env

        flags, headers = _worker_flags(args[1:])
        # Locust's gevent patching stays in its own process, as for every load process; the header values go
        # through its environment, as the master's plan carries only their names.
        return subprocess.call([sys.executable, "-m", "evalscope.perf.driver", "--role", "worker", *flags],
                               env=headers_env(headers))
    if args[0] == "perf":
        from evalscope.perf.cli import main as perf_main

        return perf_main(args[1:])
    from evalscope.run import main as run_main

    return run_main(args[1:])


def _worker_flags(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The driver's flags for `evalscope perf-worker`, and the request headers this worker sends."""
    import argparse
    import os

    from evalscope.perf.config import PerfConfigError, headers, host_port

    parser = argparse.ArgumentParser(prog="evalscope perf-worker")
    parser.add_argument("--master", required=True, help="HOST:PORT of `evalscope perf --locust-master`")
    parser.add_argument("--api-key", default=None, help="sent as `Authorization: Bearer KEY` when the master's plan "
                        "names that header (default: env EVALSCOPE_API_KEY / OPENAI_API_KEY); the master never "
                        "sends header values")
    parser.add_argument("--headers", nargs="+", default=None, help="NAME=VALUE ...: the other headers the plan names")
    ns = parser.parse_args(args)
    key = ns.api_key or os.environ.get("EVALSCOPE_API_KEY") or os.environ.get("OPENAI_API_KEY")
    try:
        host, port = host_port("--master", ns.master)
        sent = headers(ns.headers, key)
    except PerfConfigError as exc:
        parser.error(str(exc))
    if not port:
        parser.error("--master needs the master's port (HOST:PORT)")
    return ["--master-host", host, "--master-port", str(port)], sent


if __name__ == "__main__":
    sys.exit(main())
