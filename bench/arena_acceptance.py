"""The arena's acceptance run: greedy vs sampled at temperature 1.5 vs a noise-damaged copy of the default model,
pairwise-all over ARC-Easy (its generation setup), judged by the rule; alone and under `-n 2` (must be identical),
then the gates (the damaged copy "not worse than greedy" must fail with 6, the converse pass with 0) on
`--gate-limit` questions (more, since the default model is near chance on this setup and the sign test needs
the battles; the first `--limit` answers come from the cache).

    python bench/arena_acceptance.py [--limit 100] [--gate-limit 600] [--noise 0.5] [--dataset-dir ../shared/data]

Prints the leaderboard, whether the intervals separate, the two runs' agreement and the gates' exit codes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from damaged_copy import damaged_copy, default_folder

REPO = Path(__file__).resolve().parents[1]


def config(damaged: Path) -> str:
    return (f'mode = "pairwise-all"\nbaseline = "greedy"\nquestions = "arc"\n\n[candidates.greedy]\n\n'
            f'[candidates.hot]\ngeneration_config = {{ do_sample = true, temperature = 1.5 }}\n\n'
            f'[candidates.damaged]\nmodel = "{damaged}"\n')


def arena(toml: Path, work: Path, args: argparse.Namespace, *extra: str, limit: int | None = None,
          threads: int = 1) -> tuple[int, dict, float]:
    argv = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "arena"), "-q", "-p", "no:cacheprovider",
            "--arena-config", str(toml), "--dataset-dir", str(args.dataset_dir), "--limit", str(limit or args.limit),
            "--dataset-args", '{"arc": {"subset_list": ["ARC-Easy"]}}', "--generation-config",
            f"max_new_tokens={args.max_new_tokens}", "--work-dir", str(work), *extra]
    env = {**os.environ, "EVALSCOPE_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    reports = sorted(work.glob("*/report.json"))
    if not reports:
        sys.exit(f"no report from {' '.join(argv)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    print("\n".join(line for line in done.stdout.splitlines() if "PASS" in line or "FAIL" in line))
    return done.returncode, json.loads(reports[-1].read_text()), seconds


def leaderboard(section: dict) -> None:
    for row in section["leaderboard"]:
        r = row["rating"]
        print(f"  {row['model']:<8} rating {r['rating']:7.1f} [{r['low']:.1f}, {r['high']:.1f}]  vs greedy "
              f"W {row['win']:.3f} T {row['tie']:.3f} L {row['loss']:.3f}  p(worse) {row['p_worse']:.3g}  "
              f"intervals separate from greedy's: {row['separated']}")
    for name, rates in section["win_rates"].items():
        print(f"  {name:<8} " + "  ".join(f"vs {o} {v['score']:.3f} ({v['wins']}W {v['ties']}T {v['losses']}L)"
                                          for o, v in rates.items()))
    accuracy: dict[str, dict[str, bool]] = {}
    for record in section["records"]:
        verdict = record["turns"][0]["first"]["text"]  # "rule: first right, second wrong"
        for side, model in enumerate((record["model_a"], record["model_b"])):
            accuracy.setdefault(model, {})[record["question"]] = "right" in verdict.split(",")[side]
    print("  accuracy: " + ", ".join(f"{m} {sum(v.values())}/{len(v)}" for m, v in accuracy.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--gate-limit", type=int, default=600)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--dataset-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--gates-only", action="store_true", help="skip the alone / -n 2 comparison")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        damaged = damaged_copy(default_folder(), tmp / "damaged", args.noise)
        toml = tmp / "arena.toml"
        toml.write_text(config(damaged))
        cache = f"--use-cache={tmp / 'cache'}"
        if not args.gates_only:
            compare(toml, tmp, cache, args)
        gates(toml, tmp, cache, args)


def compare(toml: Path, tmp: Path, cache: str, args: argparse.Namespace) -> None:
    """The arena alone and under -n 2: the records and the leaderboard must be identical."""
    status, alone, t_alone = arena(toml, tmp / "alone", args, cache)
    status_n, spread, t_spread = arena(toml, tmp / "spread", args, "-n", "2")
    a, s = alone["arena"], spread["arena"]
    print(f"alone: exit {status}, {t_alone:.0f} s; -n 2: exit {status_n}, {t_spread:.0f} s; "
          f"{a['items']} items ({a['outcomes']})")
    same = [r == t for r, t in zip(a["records"], s["records"], strict=True)]
    print(f"identical under -n 2: records {sum(same)}/{len(same)}, leaderboard "
          f"{'identical' if a['leaderboard'] == s['leaderboard'] else 'DIFFERENT'}")
    leaderboard(a)


def gates(toml: Path, tmp: Path, cache: str, args: argparse.Namespace) -> None:
    """`damaged >= greedy` (not significantly worse) must fail with 6 on enough questions; the converse pass."""
    n = args.gate_limit
    fail, big, seconds = arena(toml, tmp / "gate-fail", args, cache, "--gate", "arena.damaged>=arena.greedy",
                               limit=n, threads=os.cpu_count() or 1)
    print(f"{n} questions ({seconds:.0f} s; answers already in the cache reused):")
    leaderboard(big["arena"])
    ok, _, _ = arena(toml, tmp / "gate-pass", args, cache, "--gate", "arena.greedy>=arena.damaged", "--gate",
                     "arena.greedy:rating>arena.damaged", limit=n)
    print(f"gate 'damaged not worse than greedy': exit {fail} (expected 6); gates 'greedy not worse, rated "
          f"higher': exit {ok} (expected 0)")


if __name__ == "__main__":
    main()
