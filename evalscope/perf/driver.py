"""The Locust side of a load test; runs only in its own subprocesses (`python -m evalscope.perf.driver`).

Importing locust monkey-patches the process with gevent, so nothing here is ever imported by pytest. Each Locust
user owns one keep-alive connection, warms it up, waits at a barrier for the other users of its process, then
takes requests from the process's share of the plan (index modulo worker count) until none is left.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402
from locust import User, constant, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.exception import StopUser  # noqa: E402

from evalscope.perf.client import Connection  # noqa: E402
from evalscope.perf.plan import LoadPlan, MissingHeaders  # noqa: E402
from evalscope.perf.records import RequestRecord, write_jsonl  # noqa: E402

DONE_MESSAGE = "evalscope_done"
PLAN_MESSAGE = "evalscope_plan"
CONNECT_S = 120.0
"""How long a master waits for its workers (and a worker for its master and plan)."""


class Share:
    """This process's part of the plan, its records and the warm-up barrier."""

    def __init__(self, plan: LoadPlan, worker: int, workers: int) -> None:
        self.plan = plan
        self.worker = worker
        self.queue = deque(i for i in range(len(plan.prompts)) if i % max(workers, 1) == worker)
        self.records: list[RequestRecord] = []
        self.go = Event()
        self.done = Event()
        self.t0 = 0
        self.warmed = 0
        self.finished = 0
        self.spawned = False
        self.users = 0
        """Users of this process once spawning completed (the runner's count drops as users stop)."""
        self.warmup_index = 0

    def check_go(self, users: int) -> None:
        if self.spawned and self.warmed >= users and not self.go.is_set():
            self.t0 = time.perf_counter_ns()
            self.go.set()

    def leftovers(self) -> None:
        now = time.perf_counter_ns()
        offset = time.time_ns() - time.perf_counter_ns()
        while self.queue:
            i = self.queue.popleft()
            self.records.append(RequestRecord(
                index=i, warmup=False, worker=self.worker, dispatch_ns=now, chunk_ns=(), chunk_text=(), end_ns=now,
                status=0, error="not_dispatched", error_detail=f"--max-duration {self.plan.max_duration_s}s reached",
                expected_tokens=self.plan.endpoint.expected_tokens, epoch_offset_ns=offset))


SHARE: Share | None = None


class SseUser(User):
    """One concurrent client: a keep-alive connection sending the plan's requests one after another."""

    wait_time = constant(0)
    host = "http://127.0.0.1"

    def on_start(self) -> None:
        assert SHARE is not None
        self.share = SHARE
        self.conn = Connection(SHARE.plan.endpoint)
        for _ in range(SHARE.plan.warmup):
            SHARE.warmup_index -= 1
            self._keep(self.conn.send(SHARE.plan.prompts[0], SHARE.warmup_index, warmup=True, worker=SHARE.worker))
        SHARE.warmed += 1
        SHARE.check_go(self.environment.runner.user_count if self.environment.runner else 0)
        SHARE.go.wait()

    def on_stop(self) -> None:
        if self.conn.cancelled is not None:
            self._keep(self.conn.cancelled)
            self.conn.cancelled = None
        self.conn.close()

    def _keep(self, record: RequestRecord) -> None:
        self.share.records.append(record)
        self.environment.events.request.fire(
            request_type="WARMUP" if record.warmup else "POST", name=self.share.plan.endpoint.api,
            response_time=(record.end_ns - record.dispatch_ns) / 1e6, response_length=len("".join(record.chunk_text)),
            exception=None if record.ok else RuntimeError(f"{record.error}: {record.error_detail}"), context={})

    @task
    def next_request(self) -> None:
        share = self.share
        if not share.queue:
            share.finished += 1
            if share.finished >= share.users:
                share.done.set()
            raise StopUser()
        i = share.queue.popleft()
        scheduled = None
        offsets = share.plan.offsets
        if offsets is not None:
            scheduled = share.t0 + int(offsets[i] * 1e9)
            delay = (scheduled - time.perf_counter_ns()) / 1e9
            if delay > 0:
                gevent.sleep(delay)
        self._keep(self.conn.send(share.plan.prompts[i], i, worker=share.worker, scheduled_ns=scheduled))


def _on_spawned(environment: Environment, **_: Any) -> None:
    if SHARE is not None and environment.runner is not None:
        SHARE.spawned = True
        SHARE.users = environment.runner.user_count
        SHARE.check_go(environment.runner.user_count)


def run(plan: LoadPlan | None, out: Path | None, role: str, host: str, port: int) -> int:
    global SHARE
    env = Environment(user_classes=[SseUser], events=events)
    events.spawning_complete.add_listener(lambda user_count, **kw: _on_spawned(env))
    if role == "worker":
        return _worker(env, host, port)
    assert plan is not None and out is not None
    bound = plan.max_duration_s + 60.0 * plan.warmup  # warm-up bounded too, by the request timeouts
    if role == "local":
        SHARE = Share(plan, 0, 1)
        runner = env.create_local_runner()
        runner.start(plan.users, spawn_rate=10_000)
        SHARE.go.wait(timeout=bound)
        SHARE.done.wait(timeout=plan.max_duration_s)
        runner.quit()
        SHARE.leftovers()
        write_jsonl(out / "records-0.jsonl", SHARE.records)
        return 0
    return _master(env, plan, out, host, port, bound)


def _master(env: Environment, plan: LoadPlan, out: Path, host: str, port: int, bound: float) -> int:
    """Waits for every worker (local and remote), sends each the plan, starts the users, and writes the records
    the workers send back (so a worker on another machine needs no shared files)."""
    master = env.create_master_runner(host, port)
    reported: set[int] = set()
    all_done = Event()

    refused: list[str] = []

    def on_done(msg: Any, **_: Any) -> None:
        if msg.data.get("error"):  # a worker that cannot run the plan (it lacks a header's value)
            refused.append(str(msg.data["error"]))
            all_done.set()
            return
        worker = int(msg.data["worker"])
        write_jsonl(out / f"records-{worker}.jsonl", [RequestRecord.from_json(r) for r in msg.data["records"]])
        reported.add(worker)
        if len(reported) >= plan.all_workers:
            all_done.set()

    master.register_message(DONE_MESSAGE, on_done)
    deadline = time.monotonic() + (CONNECT_S if plan.remote_workers else 60)
    while len(master.clients.ready) < plan.all_workers:
        if time.monotonic() > deadline:
            logging.error("only %d of %d workers connected to %s:%d", len(master.clients.ready), plan.all_workers,
                          host, port)
            master.quit()
            return 3
        gevent.sleep(0.05)
    master.send_message(PLAN_MESSAGE, {"plan": plan.to_json(), "workers": plan.all_workers})
    master.start(plan.users, spawn_rate=10_000)
    all_done.wait(timeout=bound + plan.max_duration_s)
    master.quit()
    if refused:
        logging.error("a worker refused the plan: %s", refused[0])
        return 5
    if len(reported) < plan.all_workers:
        logging.error("only %d of %d workers sent their records", len(reported), plan.all_workers)
        return 4
    return 0


def _worker(env: Environment, host: str, port: int) -> int:
    """Connects to the master, takes the plan it sends, and sends its records back when its share is done."""
    global SHARE
    worker = env.create_worker_runner(host, port)
    if not worker.connection_event.wait(timeout=CONNECT_S):
        logging.error("no Locust master at %s:%d", host, port)
        return 3
    planned = Event()

    refused: list[str] = []

    def on_plan(msg: Any, **_: Any) -> None:
        global SHARE
        try:
            plan = LoadPlan.from_json(msg.data["plan"])  # the header values: this process's own
        except MissingHeaders as exc:
            refused.append(str(exc))
            worker.send_message(DONE_MESSAGE, {"worker": worker.worker_index, "error": str(exc)})
        else:
            SHARE = Share(plan, worker.worker_index, int(msg.data["workers"]))
        planned.set()

    worker.register_message(PLAN_MESSAGE, on_plan)
    if not planned.wait(timeout=CONNECT_S):
        logging.error("the master at %s:%d sent no plan", host, port)
        return 3
    if refused:
        logging.error("cannot run the master's plan: %s", refused[0])
        gevent.sleep(0.5)  # the refusal on its way to the master
        worker.quit()
        return 5
    assert SHARE is not None
    share = SHARE
    bound = share.plan.max_duration_s + 60.0 * share.plan.warmup

    def report_done() -> None:
        share.go.wait(timeout=bound)
        share.done.wait(timeout=share.plan.max_duration_s)
        share.leftovers()
        worker.send_message(DONE_MESSAGE, {"worker": share.worker, "records": [r.to_json() for r in share.records]})

    gevent.spawn(report_done)
    worker.greenlet.join(timeout=2 * bound + share.plan.max_duration_s)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evalscope.perf.driver")
    p.add_argument("--plan", type=Path, help="the load plan (local and master roles; workers get it from the master)")
    p.add_argument("--out", type=Path, help="folder for records-*.jsonl (local and master roles)")
    p.add_argument("--role", choices=("local", "master", "worker"), default="local")
    p.add_argument("--master-host", default="127.0.0.1", help="master: interface to listen on; worker: master host")
    p.add_argument("--master-port", type=int, default=5557)
    a = p.parse_args(argv)
    if a.role != "worker" and (a.plan is None or a.out is None):
        p.error(f"--role {a.role} needs --plan and --out")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        plan = None if a.plan is None else LoadPlan.read(a.plan)
    except MissingHeaders as exc:
        logging.error("%s", exc)
        return 5
    return run(plan, a.out, a.role, a.master_host, a.master_port)


if __name__ == "__main__":
    sys.exit(main())
