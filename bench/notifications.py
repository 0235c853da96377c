"""Benchmark merchant notification delivery: deliveries per second to a fast local receiver.

Figures from one run, against the same receiver (a separate process: a minimal keep-alive HTTP/1.1
server on asyncio, one port per merchant, answering ``{"status":"ok"}`` at once):

- ``reference``: the same HTTP client the worker uses (`ktwidget.adapters.webhook_sender.HttpSender`,
  HTTP/1.1 on asyncio behind the SSRF guard, kept-alive connections per endpoint) posting the same signed bodies with the same concurrency
  (merchants x 8 in flight), judging each answer: no database at all;
- ``sqlite x1``: one ``ktwidget worker`` process delivering from the embedded SQLite database;
- ``postgresql x1`` and ``postgresql x3``: one and three ``ktwidget worker`` processes on
  PostgreSQL, with ``--pg-url`` (or ``KTWIDGET_TEST_DATABASE_URL``); a fresh database is created
  on that server for each and dropped afterwards.

For a database run, the workers are started first and left idle; then ``--deliveries`` payments are
driven to a final status in one commit (each writes its delivery, as the payment flow does), and
the clock runs from that commit until the database says every delivery is ``delivered``. Exit
status 0 whatever the figures; 1 when the measurement is invalid (a delivery not delivered, a
server that did not start).

    .venv/bin/python bench/notifications.py [--deliveries 10000] [--merchants 4] [--pg-url URL]
                                            [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import cast

from cryptography.fernet import Fernet
from harness import Server, cpu_seconds, py_spy
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from ktwidget.adapters.clock import SystemClock
from ktwidget.adapters.crypto import MasterKey
from ktwidget.adapters.webhook_sender import HttpSender
from ktwidget.config import Settings
from ktwidget.domain import ids, webhooks
from ktwidget.domain.status import Event
from ktwidget.services import merchants, payments
from ktwidget.services.context import Gateway
from ktwidget.storage import transactions as tx_repo
from ktwidget.storage.db import Database, normalize_url
from ktwidget.storage.migrations import upgrade
from ktwidget.storage.schema import deliveries

HOST = "127.0.0.1"
PER_ENDPOINT = 8  # DeliveryDispatcher's default per-endpoint concurrency
KTWIDGET = str(Path(sys.executable).parent / "ktwidget")
GOAL_RATE = 1000.0
GOAL_RATIO = 0.5


# --- the receiver ---------------------------------------------------------------------------------

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
    b'{"status":"ok"}'
)


class _Hook(asyncio.Protocol):
    """Just enough HTTP/1.1: read a request by its Content-Length, answer ok, keep the connection."""

    count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # uvloop's is not asyncio's class
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            _Hook.count += 1
            self.transport.write(ANSWER)


def serve_receiver(ports: list[int]) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for port in ports:
            await loop.create_server(_Hook, HOST, port, backlog=1024)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        print(json.dumps({"received": _Hook.count}), flush=True)

    asyncio.run(main())


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextmanager
def receiver(ports: list[int]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-receiver", ",".join(map(str, ports))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("the receiver did not start")
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


# --- the figures ----------------------------------------------------------------------------------


@dataclass
class Figure:
    target: str
    deliveries: int
    seconds: float
    per_second: float
    accepted: int
    cpu_ms_per_delivery: float | None = None  # CPU time of the sender or workers, per delivery
    claims: int | None = None  # database claims the workers made


async def reference(urls: list[str], bodies: list[bytes], secret: str) -> Figure:
    sender = HttpSender(allow_private=True)
    limit = asyncio.Semaphore(len(urls) * PER_ENDPOINT)
    accepted = 0

    async def one(i: int, body: bytes) -> None:
        nonlocal accepted
        async with limit:
            webhook_id = "msg_" + secrets.token_hex(16)
            headers = webhooks.headers([secret], webhook_id, int(time.time()), body)
            reply = await sender.post(urls[i % len(urls)], headers, body)
            if (
                reply.status_code is not None
                and webhooks.judge_reply(reply.status_code, reply.content_type, reply.body).accepted
            ):
                accepted += 1

    try:
        await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies[: len(urls) * 4])))  # warm
        accepted = 0
        cpu_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
    finally:
        await sender.aclose()
    return Figure(
        "reference (no database)",
        len(bodies),
        seconds,
        len(bodies) / seconds,
        accepted,
        cpu * 1000 / len(bodies),
    )


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    admin_url = make_url(normalize_url(server_url))
    name = f"ktwidget_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[Server]:
    procs = []
    for i in range(count):
        log = logs / f"worker-{i}.log"
        with log.open("wb") as out:
            procs.append(subprocess.Popen([KTWIDGET, "worker"], env=env, stdout=out, stderr=out))
    deadline = time.monotonic() + 30
    for i in range(count):
        log = logs / f"worker-{i}.log"
        while b"notification_dispatcher_started" not in log.read_bytes():
            if time.monotonic() > deadline or procs[i].poll() is not None:
                raise SystemExit(f"worker {i} did not start:\n{log.read_text()}")
            time.sleep(0.05)
    return [Server(f"worker-{i}", p, logs / f"worker-{i}.log") for i, p in enumerate(procs)]


def drive_to_final(gw: Gateway, shops: list[int], count: int) -> None:
    """``count`` payments denied in one commit; each writes its delivery as the flow does."""
    now = gw.clock.now()
    with gw.db.write() as conn:
        for i in range(count):
            tx_id = tx_repo.insert_transaction(
                conn,
                {
                    "transaction_hash": ids.new_transaction_hash(),
                    "merchant_id": shops[i % len(shops)],
                    "order_id": f"bench-{i}",
                    "amount": 100_000 + i,
                    "currency": "KZT",
                    "type": "ecom",
                    "service_id": None,
                    "contract_value": None,
                    "description": "Bench order",
                    "callback_back_url": None,
                    "callback_success_url": None,
                    "callback_failed_url": None,
                    "callback_post_url": None,
                    "test_mode": True,
                    "fingerprint": "0" * 64,
                    "acquirer": "sandbox",
                    "expires_at": now,
                },
                now,
            )
            assert tx_id is not None
            tx = tx_repo.get(conn, tx_id)
            assert tx is not None
            payments.change(conn, gw, tx, Event.EXPIRED, now)


def delivered(db: Database) -> int:
    with db.read() as conn:
        return int(
            conn.execute(select(func.count()).where(deliveries.c.state == "delivered")).scalar_one()
        )


def database_run(
    label: str,
    url: str,
    workers: int,
    urls: list[str],
    count: int,
    work: Path,
    spy: tuple[str | None, str] = (None, ""),
) -> Figure:
    key = Fernet.generate_key().decode()
    settings = replace(
        Settings.from_env({}), database_url=url, data_dir=work, notify_allow_private=True
    )
    db = Database.from_url(url)
    upgrade(db.engine)
    gw = Gateway(settings=settings, db=db, master_key=MasterKey([key]), clock=SystemClock())
    shops = [
        merchants.create_merchant(
            gw, name=f"Bench {i}", domains=["localhost"], callbacks={"callback_post_url": u}
        ).merchant_id
        for i, u in enumerate(urls)
    ]
    env = {
        **os.environ,
        "KTWIDGET_DATABASE_URL": url,
        "KTWIDGET_SECRET_KEY": key,
        "KTWIDGET_DATA_DIR": str(work),
        "KTWIDGET_NOTIFY_ALLOW_PRIVATE": "1",
        "KTWIDGET_LOG_LEVEL": "INFO",
    }
    procs = start_workers(workers, env, work)
    output, options = spy
    if output is not None:
        output = output.replace("{process}", label.replace(" ", "-") + "-{process}")
    try:
        drive_to_final(gw, shops, count)
        with py_spy(procs, output, options):
            cpu_before = [cpu_seconds(p.process.pid) or 0.0 for p in procs]
            started = time.perf_counter()
            deadline = time.monotonic() + 300
            done = 0
            while done < count and time.monotonic() < deadline:
                time.sleep(0.02)
                done = delivered(db)
            seconds = time.perf_counter() - started
            cpu = sum(cpu_seconds(p.process.pid) or 0.0 for p in procs) - sum(cpu_before)
    finally:
        for p in procs:
            p.process.send_signal(signal.SIGTERM)
        for p in procs:
            p.process.wait(timeout=30)
        db.dispose()
    claims = sum(dispatcher_stats(p).get("claims", 0) for p in procs)
    return Figure(
        label, count, seconds, done / seconds, done, cpu * 1000 / max(done, 1), claims or None
    )


def dispatcher_stats(worker: Server) -> dict[str, int]:
    """The counters a worker's dispatcher logs when it stops (claims, claimed, flushes, …)."""
    for line in reversed(worker.log_path.read_text(errors="replace").splitlines()):
        if '"notification_dispatcher_stopped"' in line:
            entry = json.loads(line)
            return {k: v for k, v in entry.items() if isinstance(v, int)}
    return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10000)
    parser.add_argument("--merchants", type=int, default=4, help="receiver endpoints")
    parser.add_argument(
        "--pg-url", default=os.environ.get("KTWIDGET_TEST_DATABASE_URL", ""), help="PostgreSQL"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--py-spy",
        default=None,
        metavar="FILE",
        help="record each worker with py-spy while it delivers, as raw collapsed stacks; "
        "'{process}' in FILE becomes the run and worker, e.g. /tmp/n-{process}.txt",
    )
    parser.add_argument(
        "--py-spy-options", default="", help="more py-spy record options, e.g. '--gil'"
    )
    parser.add_argument("--serve-receiver", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        serve_receiver([int(p) for p in args.serve_receiver.split(",")])
        return 0

    ports = free_ports(args.merchants)
    urls = [f"http://{HOST}:{p}/notify" for p in ports]
    bodies = [
        b'{"merchant_id":1,"order_id":"bench-%d","description":"Bench order","amount":1000,'
        b'"transaction_hash":"af7ed500aa9f2132fae4b63e936af641bcc4ebaf",'
        b'"created_at":"2026-03-01T14:22:53+05:00","updated_at":null,"status":{"status":'
        b'"denied","created_at":"2026-03-01T14:23:09+05:00","updated_at":null,"error":'
        b'{"error_type":"ERROR_PAYMENT","error_message":"Payment session expired"}}}' % i
        for i in range(args.deliveries)
    ]
    figures: list[Figure] = []
    with receiver(ports), tempfile.TemporaryDirectory(prefix="ktwidget-bench-") as tmp:
        work = Path(tmp)
        print("reference ...", file=sys.stderr)
        figures.append(asyncio.run(reference(urls, bodies, ids.new_webhook_secret())))
        print("sqlite, one worker ...", file=sys.stderr)
        sqlite_dir = work / "sqlite"
        sqlite_dir.mkdir()
        figures.append(
            database_run(
                "sqlite x1",
                f"sqlite:///{sqlite_dir / 'ktwidget.sqlite3'}",
                1,
                urls,
                args.deliveries,
                sqlite_dir,
                (args.py_spy, args.py_spy_options),
            )
        )
        if args.pg_url:
            for workers in (1, 3):
                print(f"postgresql, {workers} worker(s) ...", file=sys.stderr)
                pg_dir = work / f"pg{workers}"
                pg_dir.mkdir()
                with postgres_database(args.pg_url) as url:
                    figures.append(
                        database_run(
                            f"postgresql x{workers}",
                            url,
                            workers,
                            urls,
                            args.deliveries,
                            pg_dir,
                            (args.py_spy, args.py_spy_options),
                        )
                    )
    valid = all(f.accepted == f.deliveries for f in figures)
    ref = figures[0].per_second
    if args.json:
        print(json.dumps({"figures": [asdict(f) for f in figures], "valid": valid}, indent=2))
    else:
        print(
            f"{'target':<24} {'deliveries':>10} {'seconds':>8} {'per s':>8} {'vs ref':>7}"
            f" {'CPU ms each':>12} {'per claim':>9}"
        )
        for f in figures:
            cpu = "" if f.cpu_ms_per_delivery is None else f"{f.cpu_ms_per_delivery:.3f}"
            batch = "" if not f.claims else f"{f.accepted / f.claims:.0f}"
            print(
                f"{f.target:<24} {f.accepted:>10} {f.seconds:>8.2f} {f.per_second:>8.0f}"
                f" {f.per_second / ref:>7.2f} {cpu:>12} {batch:>9}"
            )
        for f in figures[1:]:
            met = f.per_second >= GOAL_RATE and f.per_second >= GOAL_RATIO * ref
            print(
                f"{f.target}: {'goal met' if met else 'goal NOT met'} "
                f"(>= {GOAL_RATE:.0f}/s and >= {GOAL_RATIO:.0%} of the reference)"
            )
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
