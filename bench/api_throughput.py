"""How busy the harness keeps an OpenAI-compatible server, against the perf suite driving the same server with
the same prompts: vLLM's CPU server, GSM8K, at concurrency 1, 8 and 32.

    python bench/api_throughput.py [--concurrency 1 8 32] [--samples 8 32 64] [--max-new-tokens 128]
                                   [--api-url http://127.0.0.1:8000 --model NAME | --vllm-python .venv-vllm/bin/python]

For each concurrency c, two runs against one server, measured the same way:
  * harness: `pytest benchmarks/gsm8k --api-url ... --concurrency c --limit n` (greedy, 4-shot chat prompts);
  * perf suite: `evalscope perf --parallel c --number n` with the harness's own prompts (the user messages it
    sent) and every output forced to the harness run's mean completion length (`--max-tokens = --min-tokens`),
    so both runs ask the server for about the same tokens.
Both are judged from the server's side: its Prometheus `/metrics` is polled every 50 ms for requests running and
generated tokens. "Busy" is the mean of `vllm:num_requests_running` over the window in which the server had
work, and throughput is generated tokens over that window; samples/s is n over the window (the harness's
pytest start-up and model-free collection are outside it; its wall time is printed too). The ratio column is
harness / perf suite. Starts vLLM's server (from `make vllm`'s venv) unless --api-url is given; stops it at the end.
Run alone on the machine (`flock /work/heavy.lock`): it measures time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
METRIC = re.compile(r"^(vllm:[a-z_]+)(?:\{[^}]*\})? ([0-9.eE+-]+)$")


@dataclass
class Window:
    seconds: float
    generated: float
    busy: float
    """Mean requests running on the server while it had work."""


class Monitor:
    """Polls the server's /metrics in a thread; `window()` summarises the polls taken while it had work."""

    def __init__(self, base: str) -> None:
        self.url = f"{base}/metrics"
        self.polls: list[tuple[float, float, float, float]] = []  # (t, running, waiting, generated tokens)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _poll(self) -> tuple[float, float, float, float]:
        with urllib.request.urlopen(self.url, timeout=5) as resp:
            text = resp.read().decode()
        values: dict[str, float] = {}
        for line in text.splitlines():
            match = METRIC.match(line)
            if match:
                values[match[1]] = values.get(match[1], 0.0) + float(match[2])
        return (time.perf_counter(), values.get("vllm:num_requests_running", 0.0),
                values.get("vllm:num_requests_waiting", 0.0), values.get("vllm:generation_tokens_total", 0.0))

    def _run(self) -> None:
        while not self.stop.is_set():
            self.polls.append(self._poll())
            time.sleep(0.05)

    def __enter__(self) -> Monitor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def window(self) -> Window:
        active = [i for i, p in enumerate(self.polls) if p[1] + p[2] > 0]
        if not active:
            raise RuntimeError("the server never had a request running")
        first, last = max(active[0] - 1, 0), min(active[-1] + 1, len(self.polls) - 1)
        polls = self.polls[first : last + 1]
        seconds = polls[-1][0] - polls[0][0]
        return Window(seconds, polls[-1][3] - polls[0][3], sum(p[1] for p in polls[1:-1]) / max(len(polls) - 2, 1))


def start_server(python: str, folder: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    with log.open("wb") as out:
        proc = subprocess.Popen([python, "-m", "vllm.entrypoints.openai.api_server", "--model", folder, "--host",
                                 "127.0.0.1", "--port", str(port), "--enforce-eager", "--max-model-len", "2048",
                                 "--dtype", "float32"], stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    deadline = time.monotonic() + 600
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, base
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"vLLM server did not start (exit {proc.poll()}); see {log}")
        time.sleep(1)


def harness(base: str, model: str, c: int, n: int, args: argparse.Namespace, work: Path) -> tuple[Window, float,
                                                                                                 list[dict]]:
    cmd = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "gsm8k"), "-q", "-p", "no:cacheprovider",
           "--api-url", base, "--model", model, "--concurrency", str(c), "--limit", str(n),
           "--generation-config", f"max_new_tokens={args.max_new_tokens}", "--dataset-dir", str(args.dataset_dir),
           "--work-dir", str(work)]
    start = time.perf_counter()
    with Monitor(base) as monitor:
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - start
    (predictions,) = work.glob("*/predictions/gsm8k.jsonl")
    records = [json.loads(line) for line in predictions.read_text().splitlines()]
    return monitor.window(), wall, records


def perf(base: str, model: str, c: int, records: list[dict], work: Path) -> Window:
    work.mkdir(parents=True, exist_ok=True)
    prompts = work / "prompts.jsonl"
    with prompts.open("w") as fh:
        for record in records:
            messages = json.loads(record["prompt"])
            fh.write(json.dumps({"prompt": messages[-1]["content"]}) + "\n")
    tokens = str(max(1, round(sum(r["completion_tokens"] for r in records) / len(records))))
    cmd = [sys.executable, "-m", "evalscope.cli", "perf", "--api-url", base, "--model", model, "--parallel", str(c),
           "--number", str(len(records)), "--dataset", str(prompts), "--max-tokens", tokens, "--min-tokens", tokens,
           "--warmup", "0", "--outputs", str(work / "perf")]
    with Monitor(base) as monitor:
        subprocess.run(cmd, check=True, capture_output=True)
    return monitor.window()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--samples", type=int, nargs="+", default=[8, 32, 64], help="GSM8K samples per point")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--api-url", help="a running vLLM server's base URL (else one is started)")
    parser.add_argument("--model", help="its served model name (with --api-url)")
    parser.add_argument("--vllm-python", default=str(REPO / ".venv-vllm" / "bin" / "python"))
    parser.add_argument("--dataset-dir", type=Path,
                        default=Path(os.environ.get("EVALSCOPE_DATASET_DIR", REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    if len(args.samples) != len(args.concurrency):
        parser.error("--samples needs one count per --concurrency")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc = None
        if args.api_url:
            base, model = args.api_url.rstrip("/").removesuffix("/v1"), args.model
        else:
            sys.path.insert(0, str(REPO))
            from evalscope.models import resolve

            model = str(resolve.converted_gguf(resolve.default_model_file())[0])
            proc, base = start_server(args.vllm_python, model, tmp / "server.log")
        try:
            print(f"server {base}, model {model}, GSM8K 4-shot chat, max_new_tokens {args.max_new_tokens}")
            print(f"{'c':>3} {'n':>4} | {'harness busy':>12} {'tok/s':>7} {'samples/s':>9} {'wall s':>7} | "
                  f"{'perf busy':>9} {'tok/s':>7} {'req/s':>6} | {'busy ratio':>10} {'tok/s ratio':>11}")
            for c, n in zip(args.concurrency, args.samples, strict=True):
                ours, wall, records = harness(base, model, c, n, args, tmp / f"h{c}")
                theirs = perf(base, model, c, records, tmp / f"p{c}")
                rate, perf_rate = ours.generated / ours.seconds, theirs.generated / theirs.seconds
                print(f"{c:>3} {n:>4} | {ours.busy:>12.2f} {rate:>7.1f} {n / ours.seconds:>9.2f} {wall:>7.1f} | "
                      f"{theirs.busy:>9.2f} {perf_rate:>7.1f} {n / theirs.seconds:>6.2f} | "
                      f"{ours.busy / theirs.busy:>10.2f} {rate / perf_rate:>11.2f}", flush=True)
        finally:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
