"""How far one harness process and `evalscope merge` scale, measured here, each against a baseline of the same run.

    python bench/fleet_and_merge.py [--servers 1 4] [--concurrency 16 64] [--requests 4000]
                                    [--records 100000 1000000] [--shards 100]

1. Client capacity: K local instant servers (stdlib asyncio, a fixed chat completion, no model), one harness
   process sending N chat requests through the API backend (`OpenAIBackend.generate`: the OpenAI SDK, our retries,
   the fleet's least-outstanding choice) at concurrency C. Baseline: the same requests from the same number of
   threads through the standard library's keep-alive `http.client` (no SDK, no reply parsed into objects), the
   ceiling of a threaded Python client on this machine. Prints requests/s and harness/baseline.
2. Merge cost: synthetic shard folders (R records in S shards, GSM8K-shaped records with prompts and outputs),
   joined by `evalscope merge` in a fresh process: wall time and peak memory, for each R, against reading the same
   files line by line (the I/O floor) in the same run.
Run alone on the machine: it measures time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REPLY = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "The answer is 42."}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}).encode()
MODELS = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            body = MODELS if head.startswith(b"GET") else REPLY
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def serve(port_file: str) -> None:
    async def main() -> None:
        server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=1024)
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        await server.serve_forever()

    asyncio.run(main())


def start_servers(k: int, folder: Path) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    procs, urls = [], []
    for i in range(k):
        port_file = folder / f"port-{i}"
        procs.append(subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)]))
        while not port_file.is_file() or not port_file.read_text():
            time.sleep(0.05)
        urls.append(f"http://127.0.0.1:{port_file.read_text()}/v1")
    return procs, urls


def harness_rate(urls: list[str], concurrency: int, n: int) -> float:
    from evalscope.config import RunConfig
    from evalscope.models.openai_api import OpenAIBackend
    from evalscope.schema import GenerationRequest

    config = RunConfig(model="m", backend="openai", api_url=urls[0], api_urls=tuple(urls), concurrency=concurrency)
    backend = OpenAIBackend(config, 1)
    requests = [GenerationRequest(f"Question {i}: what is 6 times 7?") for i in range(n)]
    started = time.perf_counter()
    answered = sum(1 for _ in backend.generate(requests))
    elapsed = time.perf_counter() - started
    backend.close()
    assert answered == n
    return n / elapsed


def raw_rate(urls: list[str], concurrency: int, n: int) -> float:
    import http.client
    from urllib.parse import urlsplit

    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "what is 6 times 7?"}]})
    todo = iter(range(n))
    lock = threading.Lock()

    def work(worker: int) -> None:
        url = urlsplit(f"{urls[worker % len(urls)]}/chat/completions")
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
        while True:
            with lock:
                if next(todo, None) is None:
                    conn.close()
                    return
            conn.request("POST", url.path, body=body, headers={"Content-Type": "application/json"})
            json.loads(conn.getresponse().read())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return n / (time.perf_counter() - started)


def synthetic_shards(folder: Path, records: int, shards: int) -> list[Path]:
    """Shard folders as `--shard K/N` leaves them: report.json with the shard mark, GSM8K-shaped records."""
    from evalscope import shards as shard_rules

    base = {"model": {"id": "m", "fingerprint": "api:http://127.0.0.1/v1|m"}, "model_args": {},
            "generation_config": {"max_new_tokens": 512}, "template": None, "seed": 42, "limit": None,
            "run": {"started": "2026-01-01T00:00:00", "finished": "2026-01-01T01:00:00", "predicted": 0,
                    "batches": 0, "workers": 1},
            "complete": True}
    out = []
    per = records // shards
    for k in range(shards):
        run = folder / f"shard-{k:03d}"
        (run / "predictions").mkdir(parents=True)
        with open(run / "predictions" / "gsm8k.jsonl", "w") as fh:
            for i in range(k * per, (k + 1) * per):
                fh.write(json.dumps({
                    "benchmark": "gsm8k", "subset": "main", "sample_id": f"main-{i:07d}", "index": i,
                    "metrics": {"acc": float(i % 3 == 0)}, "primary_metric": "acc", "extracted": {"acc": "42"},
                    "target": "42", "prompt": "Question: " + "x" * 600, "output": "The answer is 42. " * 10,
                    "prompt_tokens": 200, "completion_tokens": 60, "finish_reason": "stop", "category": None,
                    "choices": [], "loglikelihoods": None, "cluster": None, "details": {}, "reasoning": None,
                    "sample_hash": f"{i:064x}", "units": {}, "correct": i % 3 == 0}) + "\n")
        report = {**base, "shard": {"index": k, "count": shards, "selected_before": {"gsm8k": records}},
                  "benchmarks": [{"name": "gsm8k", "version": "2", "setup": {"name": "evalscope"},
                                  "dataset_sha256": {"test": "0" * 64}, "n_scored": per, "n_errors": 0,
                                  "selected": per, "complete": True, "predictions": "predictions/gsm8k.jsonl",
                                  "scores": []}]}
        report["shard"]["settings"] = shard_rules.digest(report)
        (run / "report.json").write_text(json.dumps(report))
        out.append(run)
    return out


MERGE = ("import resource, sys, time; from evalscope.report.merge import main; t = time.perf_counter(); "
         "rc = main(sys.argv[1:]); print('MERGE', rc, time.perf_counter() - t, "
         "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
READ = ("import resource, sys, time; t = time.perf_counter(); n = 0\n"
        "for d in sys.argv[1:]:\n    n += sum(1 for _ in open(d + '/predictions/gsm8k.jsonl'))\n"
        "print('READ', n, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def measure_merge(records: int, shards: int) -> tuple[float, float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folders = synthetic_shards(Path(tmp), records, shards)
        read = subprocess.run([sys.executable, "-c", READ, *map(str, folders)], capture_output=True, text=True,
                              check=True).stdout.split()
        out = subprocess.run([sys.executable, "-c", MERGE, *map(str, folders), "-o", f"{tmp}/merged"],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        line = next(line for line in out.stdout.splitlines() if line.startswith("MERGE"))
        _, rc, seconds, rss = line.split()
        assert rc == "0", out.stderr
        with open(f"{tmp}/merged/predictions/gsm8k.jsonl") as fh:
            merged = sum(1 for _ in fh)
        assert merged == records, (merged, records)
        shutil.rmtree(f"{tmp}/merged")
        return float(seconds), int(rss) / 1024, float(read[2]), int(read[3]) / 1024


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--serve", help=argparse.SUPPRESS)
    p.add_argument("--servers", type=int, nargs="+", default=[1, 4])
    p.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    p.add_argument("--requests", type=int, default=4000)
    p.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--shards", type=int, default=100)
    args = p.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(f"client capacity: {args.requests} chat requests per point, {os.cpu_count()} cores")
    print(f"{'servers':>7} {'conc':>5} {'harness req/s':>14} {'bare client req/s':>17} {'ratio':>6}")
    for k in args.servers:
        with tempfile.TemporaryDirectory() as tmp:
            procs, urls = start_servers(k, Path(tmp))
            try:
                for c in args.concurrency:
                    raw_rate(urls, c, 200)  # warm both paths up
                    ours, bare = harness_rate(urls, c, args.requests), raw_rate(urls, c, args.requests)
                    print(f"{k:>7} {c:>5} {ours:>14.0f} {bare:>17.0f} {ours / bare:>6.2f}")
            finally:
                for proc in procs:
                    proc.kill()
    print(f"\nmerge cost: {args.shards} shards, records GSM8K-shaped (~1.9 KB each)")
    print(f"{'records':>9} {'merge s':>8} {'peak MiB':>9} {'read-only s':>12} {'read MiB':>9} {'merge/read':>10}")
    for n in args.records:
        seconds, rss, read_s, read_rss = measure_merge(n, args.shards)
        print(f"{n:>9} {seconds:>8.1f} {rss:>9.0f} {read_s:>12.1f} {read_rss:>9.0f} {seconds / read_s:>10.1f}")


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    main()
