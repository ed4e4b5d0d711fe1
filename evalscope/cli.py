"""`evalscope` command line: `evalscope eval ...` (as `python -m evalscope.run`), `report ...` and `perf ...`."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"eval": "evaluate a model on benchmarks (run `evalscope eval --help`)",
                "report": "HTML or Markdown report of finished runs (run `evalscope report --help`)",
                "perf": "load-test a serving endpoint (run `evalscope perf --help`)"}
    if not args or args[0] in ("-h", "--help") or args[0] not in commands:
        print("usage: evalscope COMMAND [ARGS]\n\ncommands:")
        for name, text in commands.items():
            print(f"  {name:8s}{text}")
        return 0 if args and args[0] in ("-h", "--help") else 2
    if args[0] == "report":
        from evalscope.standalone import main as report_main

        return report_main(args[1:])
    if args[0] == "perf":
        from evalscope.perf.cli import main as perf_main

        return perf_main(args[1:])
    from evalscope.run import main as run_main

    return run_main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
