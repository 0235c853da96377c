"""Benchmark full payments through the sandbox, create to ``completed``, on SQLite and PostgreSQL.

Self-contained: for each database it makes a fresh one (a file in a temporary directory, or a
database of its own on the PostgreSQL server, dropped at the end), migrates it with ``ktwidget db
upgrade``, creates a merchant with the CLI, starts the gateway as a deployment would run it
(SQLite: ``ktwidget serve`` with its in-process worker; PostgreSQL: ``ktwidget serve --no-worker``
beside a ``ktwidget worker`` process), pre-seals every payload, then lets ``--concurrency``
scripted customers pay over HTTP as ``ktwidget.sandbox.customer`` does: create the transaction,
open the payment page and the sandbox bank's card page, submit the approved card 4111 1111 1111
1111, follow the bank's signed result back to the receipt (status ``success``). Clearing runs
every second (``KTWIDGET_CLEARING_INTERVAL=1``); the database then shows when each payment reached
``completed``. Prints, per database, payments per second through ``success`` (customer-visible)
with p50/p99 latency of the whole customer flow, payments per second through ``completed``, and
where the time and CPU went. Exit status 0 whatever the figures; 1 when the measurement itself is
invalid (a server did not start, a payment failed or did not complete).

    .venv/bin/python bench/payment_flow.py [--payments 200] [--concurrency 16] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import httpx
from cryptography.fernet import Fernet
from harness import (
    HOST,
    Server,
    cpu_seconds,
    create_merchant,
    free_port,
    ktwidget_cli,
    progress,
    py_spy,
    run_cli,
    running,
    wait_ready,
)
from nacl.public import PublicKey, SealedBox
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from ktwidget.sandbox.customer import APPROVED, Card
from ktwidget.storage.db import normalize_url
from ktwidget.storage.schema import transaction_statuses, transactions

CREATE_PATH = "/api/v1/widget/transactions"
DEFAULT_ORIGIN = "http://localhost:3000"  # a merchant page on the trusted domain `localhost`
DEFAULT_PG_URL = "postgresql://127.0.0.1:5432/test"
PAID_MARK = "Оплачено"  # the Russian receipt's status line for success (and completed)
DATABASES = ("sqlite", "postgresql")
LIFECYCLE = ("pending", "authorized", "success", "completed")
T = TypeVar("T")


# --- what is sent -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """One payment's create request, sealed and encoded before any timing."""

    order_id: str
    body: bytes


def prepare(app_id: str, app_key: bytes, prefix: str, count: int) -> list[Prepared]:
    """``count`` envelopes, each with a unique order_id, sealed for ``app_key`` (raw 32 bytes)."""
    box = SealedBox(PublicKey(app_key))
    out: list[Prepared] = []
    for n in range(count):
        order_id = f"{prefix}{n:06d}"
        params = {
            "order_id": order_id,
            "amount": 1500,
            "type": "ecom",
            "description": "ktwidget payment_flow benchmark",
        }
        sealed = box.encrypt(json.dumps(params).encode())
        body = json.dumps(
            {"app_id": app_id, "test_mode": True, "payload": base64.b64encode(sealed).decode()}
        ).encode()
        out.append(Prepared(order_id, body))
    return out


# --- the customers ------------------------------------------------------------------------------


class FlowError(Exception):
    """A step answered something a successful payment never answers."""


@dataclass
class Payment:
    """One customer's payment: seconds per step, or the error that stopped it."""

    order_id: str
    ok: bool = False
    transaction_hash: str | None = None
    started: float = 0.0  # perf_counter
    create_s: float = math.nan  # POST the sealed payload, 201
    card_page_s: float = math.nan  # payment page -> 303 -> the bank's card page
    submit_s: float = math.nan  # card submit -> bank -> gateway -> 303s -> the receipt
    total_s: float = math.nan
    error: str | None = None


def _expect(reply: httpx.Response, status: int, path_prefix: str, step: str) -> None:
    if reply.status_code != status or not reply.url.path.startswith(path_prefix):
        raise FlowError(
            f"{step}: {reply.status_code} at {reply.url.path} "
            f"(expected {status} at {path_prefix}...): {reply.text[:200]!r}"
        )


async def pay_once(
    client: httpx.AsyncClient, req: Prepared, origin: str | None, card: Card
) -> Payment:
    """``ktwidget.sandbox.customer.pay`` over an async client, step by step, timed."""
    payment = Payment(req.order_id, started=time.perf_counter())
    headers = {"content-type": "application/json"}
    if origin:
        headers["origin"] = origin
    reply = await client.post(CREATE_PATH, content=req.body, headers=headers)
    _expect(reply, 201, CREATE_PATH, "create")
    created: dict[str, Any] = reply.json()
    payment.transaction_hash = str(created["transaction_hash"])
    t1 = time.perf_counter()
    payment.create_s = t1 - payment.started
    # The widget's iframe: payment_url with the merchant page's origin, on to the card page.
    url = str(created["payment_url"]) + (f"?origin={origin}" if origin else "")
    page = await client.get(url, follow_redirects=True)
    _expect(page, 200, "/sandbox-bank/orders/", "payment page")
    t2 = time.perf_counter()
    payment.card_page_s = t2 - t1
    receipt = await client.post(str(page.url), data=card.form(), follow_redirects=True)
    _expect(receipt, 200, "/receipt/", "card submit")
    if PAID_MARK not in receipt.text:
        raise FlowError(f"receipt does not say {PAID_MARK!r}: {receipt.text[:300]!r}")
    t3 = time.perf_counter()
    payment.submit_s = t3 - t2
    payment.total_s = t3 - payment.started
    payment.ok = True
    return payment


@dataclass
class CustomerRun:
    """What the customers saw in one round."""

    payments: list[Payment]
    started_wall: float  # time.time() when the clock started, to compare with database times
    seconds: float  # first create to the last receipt
    not_sent: int
    before: Snapshot | None  # CPU used so far, when the clock started
    during: Snapshot | None  # ... and when the last customer was done


async def run_customers(
    port: int,
    requests: Sequence[Prepared],
    *,
    concurrency: int,
    origin: str | None,
    timeout: float,
    max_seconds: float,
    probe: Probe | None = None,
) -> CustomerRun:
    """Pay every request with ``concurrency`` customers, each with its own kept-alive client."""
    workers = max(1, min(concurrency, len(requests)))
    card = Card(APPROVED)
    clients = [
        httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=timeout, trust_env=False)
        for _ in range(workers)
    ]
    try:
        # Open every customer's connection before the clock starts.
        await asyncio.gather(*(c.get("/healthz") for c in clients))
        queue: Iterator[Prepared] = iter(requests)
        payments: list[Payment] = []
        before = None if probe is None else probe.snapshot()
        started_wall = time.time()
        started = time.perf_counter()
        deadline = started + max_seconds
        last_done = started

        async def customer(client: httpx.AsyncClient) -> None:
            nonlocal last_done
            for req in queue:
                if time.perf_counter() > deadline:
                    return
                try:
                    async with asyncio.timeout(timeout):
                        payment = await pay_once(client, req, origin, card)
                except (FlowError, httpx.HTTPError, TimeoutError, ValueError, KeyError) as exc:
                    payment = Payment(req.order_id, error=f"{type(exc).__name__}: {exc}"[:400])
                payments.append(payment)
                last_done = max(last_done, time.perf_counter())

        await asyncio.gather(*(customer(c) for c in clients))
        during = None if probe is None else probe.snapshot()
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
    return CustomerRun(
        payments=payments,
        started_wall=started_wall,
        seconds=last_done - started,
        not_sent=len(requests) - len(payments),
        before=before,
        during=during,
    )


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run on uvloop when it is installed (less client CPU), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


# --- what the database shows --------------------------------------------------------------------


def watch_engine(url: str) -> Engine:
    """A connection per query to the gateway's database, read-only on SQLite (WAL readers never
    block the gateway's writers)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        return create_engine(
            f"sqlite:///file:{parsed.database}?mode=ro&uri=true", poolclass=NullPool
        )
    return create_engine(parsed, poolclass=NullPool)


def status_counts(engine: Engine, prefix: str) -> Counter[str]:
    """Current statuses of the transactions whose order_id starts with ``prefix``."""
    query = (
        select(transactions.c.status, func.count())
        .where(transactions.c.order_id.like(f"{prefix}%"))
        .group_by(transactions.c.status)
    )
    with engine.connect() as conn:
        return Counter({str(status): int(n) for status, n in conn.execute(query)})


def wait_settled(engine: Engine, prefix: str, poll: float, timeout: float) -> Counter[str]:
    """Poll (every ``poll`` s) until none of the round's paid transactions is still in flight:
    every one that reached ``authorized`` or ``success`` has moved on (to ``completed``).
    Payments whose customer failed may stay ``pending``; those are counted by the caller."""
    deadline = time.monotonic() + timeout
    while True:
        counts = status_counts(engine, prefix)
        if counts["authorized"] + counts["success"] == 0 or time.monotonic() > deadline:
            return counts
        time.sleep(poll)


def status_times(engine: Engine, prefix: str) -> dict[str, dict[str, datetime]]:
    """Per transaction_hash, when each status was reached (the status records' created_at)."""
    query = (
        select(
            transactions.c.transaction_hash,
            transaction_statuses.c.status,
            transaction_statuses.c.created_at,
        )
        .join(transactions, transactions.c.id == transaction_statuses.c.transaction_id)
        .where(transactions.c.order_id.like(f"{prefix}%"))
    )
    out: dict[str, dict[str, datetime]] = {}
    with engine.connect() as conn:
        for tx_hash, status, created_at in conn.execute(query):
            out.setdefault(str(tx_hash), {})[str(status)] = created_at
    return out


@contextmanager
def fresh_database(kind: str, workdir: Path, pg_url: str) -> Iterator[str]:
    """The gateway's database URL: a new SQLite file, or a new PostgreSQL database (dropped)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'gateway.sqlite3'}"
        return
    admin_url = make_url(normalize_url(pg_url))
    name = f"ktwidget_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        progress(f"  created PostgreSQL database {name}")
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            progress(f"  dropped PostgreSQL database {name}")
    finally:
        admin.dispose()


# --- the servers --------------------------------------------------------------------------------


def gateway_env(workdir: Path, database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTWIDGET_")}
    env.update(
        KTWIDGET_DATA_DIR=str(workdir / "data"),
        KTWIDGET_DATABASE_URL=database_url,
        KTWIDGET_SECRET_KEY=Fernet.generate_key().decode("ascii"),
        KTWIDGET_PUBLIC_URL=f"http://{HOST}:{port}",
        KTWIDGET_RATE_LIMIT_PER_APP="0",
        KTWIDGET_RATE_LIMIT_PER_CLIENT="0",
        KTWIDGET_CLEARING_INTERVAL="1",
        # The sandbox bank posts its result to the gateway over loopback: never through a proxy.
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


# --- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
    }


@dataclass
class RoundResult:
    round: int
    planned: int
    paid: int  # customer flows that ended on a receipt saying "paid" (status success)
    errors: int  # failed customer flows, payments not sent, paid ones not completed
    success_seconds: float  # first create to the last receipt
    success_rps: float
    p50_ms: float  # the whole customer flow, create to receipt
    p99_ms: float
    completed: int
    completed_seconds: float  # first create to the last `completed` in the database
    completed_rps: float
    tail_seconds: float  # last receipt to the last `completed`
    steps: dict[str, dict[str, float]]  # customer steps, p50/p99
    lags: dict[str, dict[str, float]]  # success -> completed, create -> completed
    statuses: dict[str, int]
    cpu: dict[str, float | None]  # CPU ms per paid payment over the whole round, per process
    cpu_busy: dict[str, float | None]  # cores busy (1.0 = one core) while the customers paid
    error_samples: list[str] = field(default_factory=list)


def figures(
    number: int,
    planned: int,
    run: CustomerRun,
    times: dict[str, dict[str, datetime]],
    counts: Counter[str],
    during: Usage,
    whole: Usage,
) -> RoundResult:
    paid = [p for p in run.payments if p.ok]
    failed = [p for p in run.payments if not p.ok]
    history = {p.order_id: times.get(p.transaction_hash or "", {}) for p in paid}
    # A paid ecom payment goes pending -> authorized -> success -> completed (SPEC section 5).
    good = {o: t for o, t in history.items() if set(t) == set(LIFECYCLE)}
    done_at = [t["completed"].timestamp() for t in good.values()]
    completed = len(done_at)
    completed_seconds = (max(done_at) if done_at else math.nan) - run.started_wall
    capture_lag = [(t["completed"] - t["success"]).total_seconds() for t in good.values()]
    create_to_completed = [(t["completed"] - t["pending"]).total_seconds() for t in good.values()]
    samples = [f"{p.order_id}: {p.error}" for p in failed[:5]]
    wrong = [f"{o}: {sorted(t)}" for o, t in history.items() if o not in good]
    if wrong:
        samples.append(
            f"{len(wrong)} paid payments without the history {' -> '.join(LIFECYCLE)}, "
            f"e.g. {wrong[:3]}"
        )
    return RoundResult(
        round=number,
        planned=planned,
        paid=len(paid),
        errors=len(failed) + run.not_sent + (len(paid) - completed),
        success_seconds=round(run.seconds, 3),
        success_rps=round(len(paid) / run.seconds, 1) if run.seconds > 0 else 0.0,
        p50_ms=round(percentile([p.total_s for p in paid], 50) * 1000, 1),
        p99_ms=round(percentile([p.total_s for p in paid], 99) * 1000, 1),
        completed=completed,
        completed_seconds=round(completed_seconds, 3),
        completed_rps=round(completed / completed_seconds, 1) if completed_seconds > 0 else 0.0,
        tail_seconds=round(completed_seconds - run.seconds, 3),
        steps={
            "create": ms([p.create_s for p in paid]),
            "card_page": ms([p.card_page_s for p in paid]),
            "submit_to_receipt": ms([p.submit_s for p in paid]),
        },
        lags={
            "success_to_completed": ms(capture_lag),
            "create_to_completed": ms(create_to_completed),
        },
        statuses=dict(counts),
        cpu={
            name: None if v is None or not paid else round(v * 1000 / len(paid), 1)
            for name, v in {**whole.cpu, "machine": whole.machine}.items()
        },
        cpu_busy={
            name: None if v is None or run.seconds <= 0 else round(v / run.seconds, 2)
            for name, v in {**during.cpu, "machine": during.machine}.items()
        },
        error_samples=samples,
    )


# --- the run ------------------------------------------------------------------------------------


# --- where the CPU went -------------------------------------------------------------------------


@dataclass
class Snapshot:
    """CPU seconds used so far, per process of ours, by the machine, by PostgreSQL's backends."""

    processes: dict[str, float | None]
    machine: float | None  # busy seconds of all CPUs together (others' work included)
    backends: dict[int, float]  # PostgreSQL backends serving the benchmark's database


def machine_busy_seconds() -> float | None:
    """Busy time of all CPUs so far (Linux /proc/stat: all but idle and iowait)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def machine_load(seconds: float = 1.0) -> float | None:
    """Cores busy over ``seconds``: what else the machine is doing before the benchmark starts."""
    start = machine_busy_seconds()
    time.sleep(seconds)
    end = machine_busy_seconds()
    return None if start is None or end is None else round((end - start) / seconds, 2)


class Probe:
    """Snapshots of where the CPU went: the gateway's processes, this one (the customers), the
    whole machine, and on PostgreSQL the server's backends for our database (seen in /proc when
    the server runs on this machine)."""

    def __init__(self, processes: Sequence[Server], engine: Engine) -> None:
        self.pids = {s.name: s.process.pid for s in processes}
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    def snapshot(self) -> Snapshot:
        processes: dict[str, float | None] = {n: cpu_seconds(p) for n, p in self.pids.items()}
        processes["bench"] = time.process_time()
        backends: dict[int, float] = {}
        if self.postgres:
            with self.engine.connect() as conn:
                pids = conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalars()
                for pid in pids:
                    used = cpu_seconds(int(pid))
                    if used is not None:
                        backends[int(pid)] = used
        return Snapshot(processes, machine_busy_seconds(), backends)


@dataclass
class Usage:
    """What was used between two snapshots."""

    cpu: dict[str, float | None]  # CPU seconds per process (postgres: its backends, at least)
    machine: float | None


def usage(before: Snapshot, after: Snapshot) -> Usage:
    cpu: dict[str, float | None] = {}
    for name, start in before.processes.items():
        end = after.processes.get(name)
        cpu[name] = None if start is None or end is None else end - start
    if after.backends or before.backends:
        # Backends that exited in between are missed: a lower bound.
        cpu["postgres"] = sum(
            v - before.backends.get(pid, 0.0) for pid, v in after.backends.items()
        )
    machine = (
        None if before.machine is None or after.machine is None else after.machine - before.machine
    )
    return Usage(cpu, machine)


def worker_mode(args: argparse.Namespace, kind: str) -> str:
    if args.worker != "auto":
        return str(args.worker)
    # What a deployment runs (SPEC section 10): the embedded default keeps the worker in the
    # server's process; the scale-out setup on PostgreSQL runs gateways and workers apart.
    return "in-process" if kind == "sqlite" else "separate"


def py_spy_pattern(output: str | None, kind: str) -> str | None:
    """``out/flow.txt`` -> ``out/flow.sqlite.{process}.txt``."""
    if output is None:
        return None
    path = Path(output)
    return str(path.with_name(f"{path.stem}.{kind}.{{process}}{path.suffix}"))


def database_transactions(engine: Engine) -> int | None:
    """PostgreSQL: transactions committed or rolled back in this database so far (backends
    report theirs when they exit, and otherwise late: read it after the servers stopped)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        value = conn.execute(
            text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
        ).scalar_one()
    return int(value)


def measure_database(args: argparse.Namespace, kind: str, workdir: Path) -> dict[str, Any]:
    mode = worker_mode(args, kind)
    progress(f"{kind}: worker {mode}")
    with fresh_database(kind, workdir, args.pg_url) as url:
        watch = watch_engine(url)
        try:
            transactions_before = database_transactions(watch)
            results, serve = run_rounds(args, kind, mode, url, workdir, watch)
            transactions_after = database_transactions(watch)
        finally:
            watch.dispose()
    per_payment = None
    if transactions_before is not None and transactions_after is not None:
        payments = args.warmup + sum(r.paid for r in results)
        per_payment = round((transactions_after - transactions_before) / max(1, payments), 1)
    return {
        "database": kind,
        "worker": mode,
        "serve": " ".join(serve),
        "summary": summarise(results),
        "rounds": [asdict(r) for r in results],
        "db_transactions_per_payment": per_payment,
    }


def run_rounds(
    args: argparse.Namespace, kind: str, mode: str, url: str, workdir: Path, watch: Engine
) -> tuple[list[RoundResult], list[str]]:
    """Set up the merchant, start the gateway (and worker), warm up, run the rounds, stop."""
    port = free_port()
    env = gateway_env(workdir, url, port)
    run_cli(env, workdir, "db", "upgrade")
    creds = create_merchant(env, workdir)
    app_key = base64.b64decode(creds["app_key"])
    warmup = prepare(creds["app_id"], app_key, "pf-0-", args.warmup)
    rounds = [
        prepare(creds["app_id"], app_key, f"pf-{n}-", args.payments)
        for n in range(1, args.rounds + 1)
    ]
    serve = ["serve", "--host", HOST, "--port", str(port)]
    if mode == "separate":
        serve.append("--no-worker")
    results: list[RoundResult] = []
    with ExitStack() as stack:
        processes = [
            stack.enter_context(running("gateway", [*ktwidget_cli(), *serve], env, workdir))
        ]
        if mode == "separate":
            worker = [*ktwidget_cli(), "worker"]
            processes.append(stack.enter_context(running("worker", worker, env, workdir)))
        wait_ready(processes[0], args.startup_timeout, port=port)
        for server in processes:
            server.check_alive()
        progress(f"  gateway on :{port}; {args.warmup} warm-up payments")

        def customers(batch: Sequence[Prepared], probe: Probe | None = None) -> CustomerRun:
            async def go() -> CustomerRun:
                return await run_customers(
                    port,
                    batch,
                    concurrency=args.concurrency,
                    origin=args.origin or None,
                    timeout=args.timeout,
                    max_seconds=args.max_seconds,
                    probe=probe,
                )

            return run_async(go)

        if warmup:
            warm = customers(warmup)
            wait_settled(watch, "pf-0-", args.poll, args.completion_timeout)
            bad = [p.error for p in warm.payments if not p.ok]
            if bad:
                raise RuntimeError(f"warm-up payments failed, e.g. {bad[0]}")
        probe = Probe(processes, watch)
        with py_spy(processes, py_spy_pattern(args.py_spy, kind), args.py_spy_options):
            for number, batch in enumerate(rounds, start=1):
                prefix = f"pf-{number}-"
                run = customers(batch, probe)
                assert run.before is not None
                assert run.during is not None
                counts = wait_settled(watch, prefix, args.poll, args.completion_timeout)
                whole = probe.snapshot()
                result = figures(
                    number,
                    len(batch),
                    run,
                    status_times(watch, prefix),
                    counts,
                    usage(run.before, run.during),
                    usage(run.before, whole),
                )
                results.append(result)
                progress(
                    f"  round {number}: {result.success_rps:6.1f} paid/s"
                    f"  p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms"
                    f"  {result.completed_rps:6.1f} completed/s"
                    f"  tail {result.tail_seconds:5.2f} s  errors {result.errors}"
                )
                for server in processes:
                    server.check_alive()
    return results, serve


def summarise(results: Sequence[RoundResult]) -> dict[str, Any]:
    """The median round by paid/s (rounds listed in full beside it)."""
    median = statistics.median_low([r.success_rps for r in results])
    chosen = next(r for r in results if r.success_rps == median)
    return {
        **asdict(chosen),
        "rounds_success_rps": [r.success_rps for r in results],
        "rounds_completed_rps": [r.completed_rps for r in results],
        "total_errors": sum(r.errors for r in results),
    }


DB_LABELS = {
    "sqlite": "SQLite (WAL, synchronous=FULL)",
    "postgresql": "PostgreSQL",
}
WORKER_LABELS = {
    "in-process": "worker in the server process (`ktwidget serve`)",
    "separate": "`ktwidget serve --no-worker` + `ktwidget worker`",
}


def render(report: dict[str, Any]) -> str:
    cfg = report["config"]
    lines = [
        f"Full payments (create -> card page -> approved card -> receipt `success` -> clearing "
        f"`completed`): {cfg['payments']} payments a round, {cfg['concurrency']} customers, "
        f"{cfg['rounds']} round(s) a database, clearing every 1 s, {cfg['cpus']} CPUs "
        f"({cfg['cores_busy_before']} busy before the start)",
    ]
    for db in report["databases"]:
        s = db["summary"]
        lines += [
            "",
            f"{DB_LABELS[db['database']]}, {WORKER_LABELS[db['worker']]}",
            f"{'round':>5} {'paid':>5} {'errors':>6} {'paid/s':>7} {'p50 ms':>8} {'p99 ms':>8}"
            f" {'completed/s':>11} {'tail s':>7}",
        ]
        for r in db["rounds"]:
            mark = " *" if r["round"] == s["round"] else ""
            lines.append(
                f"{r['round']:>5} {r['paid']:>5} {r['errors']:>6} {r['success_rps']:>7.1f}"
                f" {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['completed_rps']:>11.1f}"
                f" {r['tail_seconds']:>7.2f}{mark}"
            )
        steps, lags = s["steps"], s["lags"]
        cpu = ", ".join(f"{name} {v:.1f}" for name, v in s["cpu"].items() if v is not None)
        busy = ", ".join(f"{name} {v:.2f}" for name, v in s["cpu_busy"].items() if v is not None)
        txns = db["db_transactions_per_payment"]
        lines += [
            f"  round {s['round']} (median by paid/s), customer steps p50/p99 ms: create "
            f"{steps['create']['p50_ms']:.1f}/{steps['create']['p99_ms']:.1f}, payment page to "
            f"card page {steps['card_page']['p50_ms']:.1f}/{steps['card_page']['p99_ms']:.1f}, "
            f"card submit to receipt {steps['submit_to_receipt']['p50_ms']:.1f}/"
            f"{steps['submit_to_receipt']['p99_ms']:.1f}",
            f"  success -> completed p50/p99 {lags['success_to_completed']['p50_ms']:.0f}/"
            f"{lags['success_to_completed']['p99_ms']:.0f} ms, create -> completed "
            f"{lags['create_to_completed']['p50_ms']:.0f}/"
            f"{lags['create_to_completed']['p99_ms']:.0f} ms",
            f"  CPU ms per payment: {cpu}",
            f"  cores busy while the customers paid: {busy} (of {cfg['cpus']})",
        ]
        if txns is not None:
            lines.append(
                f"  PostgreSQL transactions per payment, whole run: {txns:.1f} "
                "(each checkout from the pool adds a pre-ping `SELECT 1`)"
            )
        if s["total_errors"]:
            lines.append(f"  ERRORS: {s['total_errors']}:")
            lines += [f"    {e}" for r in db["rounds"] for e in r["error_samples"]]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Full payments per second through the sandbox on SQLite and PostgreSQL."
    )
    parser.add_argument("--payments", type=int, default=200, help="timed payments a round")
    parser.add_argument("--concurrency", type=int, default=16, help="customers paying at once")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per database")
    parser.add_argument("--warmup", type=int, default=20, help="untimed payments first")
    parser.add_argument(
        "--databases",
        default=",".join(DATABASES),
        help="comma-separated: sqlite, postgresql (default both)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("KTWIDGET_BENCH_PG_URL", DEFAULT_PG_URL),
        help="a PostgreSQL server to make the benchmark's own database on (dropped afterwards)",
    )
    parser.add_argument(
        "--worker",
        choices=("auto", "in-process", "separate"),
        default="auto",
        help="auto: in the server process on SQLite, a separate `ktwidget worker` on PostgreSQL",
    )
    parser.add_argument(
        "--origin",
        default=DEFAULT_ORIGIN,
        help="the merchant page's origin, sent as the widget does ('' for none)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per payment")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="cap on one round")
    parser.add_argument(
        "--completion-timeout", type=float, default=120.0, help="wait for `completed` at most"
    )
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between status polls")
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument(
        "--tmp-dir", default=None, help="where to make the temporary directory (e.g. /dev/shm)"
    )
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        default=None,
        help="record the gateway (and worker) with py-spy during the rounds, as raw collapsed "
        "stacks: FILE gets .<database>.<process> before its suffix",
    )
    parser.add_argument(
        "--py-spy-options",
        default="--rate 200 --nonblocking",
        help="more py-spy record options, e.g. '--gil' or '--idle'",
    )
    parser.add_argument("--keep", action="store_true", help="keep the directory and server logs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    for name in ("payments", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    for db in args.databases:
        if db not in DATABASES:
            parser.error(f"--databases: {db!r} is not one of {', '.join(DATABASES)}")
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwind, so servers stop and temporary files go


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="ktwidget-bench-flow-", dir=args.tmp_dir))
    databases: list[dict[str, Any]] = []
    load = machine_load()
    if load is not None and load > 0.25:
        progress(f"note: the machine is already busy ({load:.2f} cores): expect lower figures")
    try:
        for kind in args.databases:
            place = workdir / kind
            place.mkdir()
            databases.append(measure_database(args, kind, place))
    except (RuntimeError, SQLAlchemyError, OSError, subprocess.SubprocessError) as exc:
        progress(f"benchmark failed: {type(exc).__name__}: {exc}")
        return 1
    except (KeyboardInterrupt, SystemExit):
        progress("interrupted: stopping the servers, removing the temporary files and databases")
        raise
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "config": {
            "payments": args.payments,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "worker": args.worker,
            "origin": args.origin,
            "clearing_interval": 1,
            "tmp_dir": str(workdir.parent),
            "cpus": os.cpu_count(),
            "cores_busy_before": load,
            "python": platform.python_version(),
        },
        "databases": databases,
    }
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 1 if any(db["summary"]["total_errors"] for db in databases) else 0


if __name__ == "__main__":
    sys.exit(main())
