"""Benchmark ``POST /api/v1/widget/transactions`` on SQLite beside a bare-ASGI reference.

Self-contained: makes a temporary directory, configures the gateway there (SQLite, a fresh Fernet
master key, rate limits off), creates a merchant with the CLI, starts ``ktwidget serve`` and
``bench/reference_app.py`` on 127.0.0.1, pre-seals every payload, then loads both targets with the
same concurrency in alternating rounds (gateway first in odd rounds, reference first in even ones),
stops both servers and removes the directory. Prints requests per second and p50/p99 latency per
target (the median round by throughput), and the gateway/reference throughput ratio against the
goal of 0.5. Exit status 0 whatever the ratio; 1 when the measurement itself is invalid (a server
did not start, a request failed or was not sent).

    .venv/bin/python bench/create_transaction.py [--requests 2000] [--concurrency 32] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import platform
import shlex
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography.fernet import Fernet
from harness import (
    HOST,
    create_merchant,
    free_port,
    ktwidget_cli,
    progress,
    py_spy,
    running,
    wait_ready,
)
from nacl.public import PrivateKey, PublicKey, SealedBox

CREATE_PATH = "/api/v1/widget/transactions"
BENCH_DIR = Path(__file__).resolve().parent
REFERENCE_APP = BENCH_DIR / "reference_app.py"
PRIVATE_KEY_ENV = "BENCH_REFERENCE_PRIVATE_KEY"  # as in reference_app.py
GOAL = 0.5  # the gateway should reach at least half the reference's throughput
GATEWAY, REFERENCE = "gateway", "reference"


# --- what is sent -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """One request, sealed and encoded before any timing: its body and its raw HTTP/1.1 bytes."""

    body: bytes
    raw: bytes
    origin: str | None


def _params(prefix: str, n: int) -> dict[str, Any]:
    return {
        "order_id": f"bench-{prefix}-{n:08d}",
        "amount": 1000,
        "type": "ecom",
        "description": "ktwidget create_transaction benchmark",
    }


def prepare(
    app_id: str, app_key: bytes, prefix: str, count: int, port: int, origin: str | None
) -> list[Prepared]:
    """``count`` envelopes, each with a unique order_id, sealed for ``app_key`` (raw 32 bytes)."""
    box = SealedBox(PublicKey(app_key))
    extra = f"Origin: {origin}\r\n" if origin else ""
    out: list[Prepared] = []
    for n in range(count):
        sealed = box.encrypt(json.dumps(_params(prefix, n)).encode())
        body = json.dumps(
            {"app_id": app_id, "test_mode": True, "payload": base64.b64encode(sealed).decode()}
        ).encode()
        head = (
            f"POST {CREATE_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        )
        out.append(Prepared(body, head.encode("ascii") + body, origin))
    return out


# --- the load generator -------------------------------------------------------------------------


class Channel(Protocol):
    closed: bool  # True when the server will not take another request on it

    async def request(self, req: Prepared) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


class RawConnection:
    """A minimal keep-alive HTTP/1.1 client on one connection: little client CPU per request."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.closed = False

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(HOST, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, req: Prepared) -> tuple[int, bytes]:
        self.writer.write(req.raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length: int | None = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and value == b"close":
                self.closed = True
        if chunked:
            body = await self._read_chunked()
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read()
            self.closed = True
        return status, body

    async def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def aclose(self) -> None:
        self.closed = True
        self.writer.close()
        with suppress(OSError):
            await self.writer.wait_closed()


class HttpxChannel:
    """httpx.AsyncClient, shared by the workers (``--client httpx``): heavier on the client side."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.closed = False

    async def request(self, req: Prepared) -> tuple[int, bytes]:
        headers = {"content-type": "application/json"}
        if req.origin:
            headers["origin"] = req.origin
        answer = await self.client.post(CREATE_PATH, content=req.body, headers=headers)
        return answer.status_code, answer.content

    async def aclose(self) -> None:
        """The shared client is closed by the round."""


@dataclass
class RoundResult:
    target: str
    round: int
    planned: int
    sent: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def run_round(
    target: str,
    number: int,
    port: int,
    requests: Sequence[Prepared],
    *,
    concurrency: int,
    client: str,
    timeout: float,
    max_seconds: float,
) -> RoundResult:
    """Send ``requests`` with ``concurrency`` workers on kept-alive connections opened beforehand."""
    workers = max(1, min(concurrency, len(requests)))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    samples: list[str] = []
    errors = 0
    queue: Iterator[Prepared] = iter(requests)

    def note_error(text: str) -> None:
        nonlocal errors
        errors += 1
        if len(samples) < 5:
            samples.append(text[:300])

    shared: httpx.AsyncClient | None = None
    if client == "httpx":
        shared = httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}",
            limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers),
            timeout=timeout,
        )

    async def open_channel() -> Channel:
        if shared is not None:
            return HttpxChannel(shared)
        return await RawConnection.open(port)

    channels: list[Channel] = list(await asyncio.gather(*(open_channel() for _ in range(workers))))
    if shared is not None:  # let httpx open its connections before the clock starts
        await asyncio.gather(*(shared.get("/healthz") for _ in range(workers)))

    deadline = time.perf_counter() + max_seconds

    async def worker(index: int) -> None:
        channel: Channel | None = channels[index]
        for req in queue:
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            try:
                if channel is None:
                    channel = await open_channel()
                async with asyncio.timeout(timeout):
                    status, body = await channel.request(req)
            except (
                OSError,
                EOFError,
                ValueError,
                TimeoutError,
                asyncio.LimitOverrunError,
                httpx.HTTPError,
            ) as exc:
                latencies.append(time.perf_counter() - started)
                statuses["exception"] = statuses.get("exception", 0) + 1
                note_error(f"{type(exc).__name__}: {exc}")
                if channel is not None:
                    await channel.aclose()
                channel = None
                continue
            latencies.append(time.perf_counter() - started)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if not 200 <= status < 300:
                note_error(f"HTTP {status}: {body.decode('utf-8', 'replace')}")
            if channel.closed:
                await channel.aclose()
                channel = None
        if channel is not None:
            channels[index] = channel

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    seconds = time.perf_counter() - started
    for channel in channels:
        await channel.aclose()
    if shared is not None:
        await shared.aclose()

    latencies.sort()
    sent = len(latencies)
    return RoundResult(
        target=target,
        round=number,
        planned=len(requests),
        sent=sent,
        errors=errors + (len(requests) - sent),
        seconds=round(seconds, 3),
        rps=round(sent / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(percentile(latencies, 50) * 1000, 2),
        p99_ms=round(percentile(latencies, 99) * 1000, 2),
        statuses=statuses,
        error_samples=samples,
    )


# --- the servers --------------------------------------------------------------------------------


def gateway_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTWIDGET_")}
    env.update(
        KTWIDGET_DATA_DIR=str(workdir / "data"),
        KTWIDGET_DATABASE_URL=f"sqlite:///{workdir / 'gateway.sqlite3'}",
        KTWIDGET_SECRET_KEY=Fernet.generate_key().decode("ascii"),
        KTWIDGET_RATE_LIMIT_PER_APP="0",
        KTWIDGET_RATE_LIMIT_PER_CLIENT="0",
    )
    return env


def count_rows(path: Path, table: str) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return int(count)


# --- the run ------------------------------------------------------------------------------------


async def load(
    args: argparse.Namespace, ports: dict[str, int], payloads: dict[str, list[Prepared]]
) -> list[RoundResult]:
    async def one(target: str, number: int, batch: Sequence[Prepared]) -> RoundResult:
        return await run_round(
            target,
            number,
            ports[target],
            batch,
            concurrency=args.concurrency,
            client=args.client,
            timeout=args.timeout,
            max_seconds=args.max_seconds,
        )

    for target in (GATEWAY, REFERENCE):
        if args.warmup:
            warm = await one(target, 0, payloads[target][: args.warmup])
            progress(f"  warm-up {target:<9} {warm.rps:8.1f} req/s  errors {warm.errors}")
    results: list[RoundResult] = []
    for number in range(1, args.rounds + 1):
        order = (GATEWAY, REFERENCE) if number % 2 else (REFERENCE, GATEWAY)
        for target in order:
            start = args.warmup + (number - 1) * args.requests
            result = await one(target, number, payloads[target][start : start + args.requests])
            results.append(result)
            progress(
                f"  round {number} {target:<9} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f} ms"
                f"  p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
            )
    return results


def run_async(main: Callable[[], Coroutine[Any, Any, list[RoundResult]]]) -> list[RoundResult]:
    """Run on uvloop when it is installed (less client CPU), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def summarise(results: Sequence[RoundResult], target: str) -> dict[str, Any]:
    mine = [r for r in results if r.target == target]
    median_rps = statistics.median_low([r.rps for r in mine])
    chosen = next(r for r in mine if r.rps == median_rps)
    return {
        "target": target,
        "round": chosen.round,
        "requests": chosen.sent,
        "errors": chosen.errors,
        "rps": chosen.rps,
        "p50_ms": chosen.p50_ms,
        "p99_ms": chosen.p99_ms,
        "best_rps": max(r.rps for r in mine),
        "rounds_rps": [r.rps for r in mine],
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"POST {CREATE_PATH}: {report['config']['requests']} requests a round, "
        f"concurrency {report['config']['concurrency']}, {report['config']['rounds']} rounds "
        f"a target (median round shown), SQLite in {report['config']['tmp_dir']}",
        "",
        f"{'target':<10} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
        f"  {'rounds req/s':<}",
    ]
    for row in report["summary"].values():
        rounds = ", ".join(f"{v:.1f}" for v in row["rounds_rps"])
        lines.append(
            f"{row['target']:<10} {row['requests']:>8} {row['errors']:>6} {row['rps']:>8.1f} "
            f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}  {rounds}"
        )
    verdict = "met" if report["meets_goal"] else "NOT met"
    lines += [
        "",
        f"gateway/reference throughput: {report['ratio']:.2f} (goal >= {GOAL:.2f}: {verdict})",
        f"rows stored: gateway {report['rows']['gateway']} transactions, "
        f"reference {report['rows']['reference']}",
    ]
    if report["total_errors"]:
        lines.append(f"ERRORS: {report['total_errors']} requests failed or were not sent:")
        lines += [f"  {s}" for r in report["rounds"] for s in r["error_samples"]]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput and latency of the create endpoint beside a bare-ASGI reference."
    )
    parser.add_argument("--requests", type=int, default=2000, help="timed requests a round")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per target")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per target")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument(
        "--serve-args", default="", help="more `ktwidget serve` options, e.g. '--no-worker'"
    )
    parser.add_argument("--origin", default=None, help="send this Origin (browser widget path)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--max-seconds", type=float, default=180.0, help="cap on one round")
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument(
        "--tmp-dir", default=None, help="where to make the temporary directory (e.g. /dev/shm)"
    )
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        default=None,
        help="record the gateway with py-spy during the load, as raw collapsed stacks",
    )
    parser.add_argument(
        "--py-spy-options",
        default="--rate 200 --nonblocking",
        help="more py-spy record options, e.g. '--gil' (CPU under the GIL) or '--idle'",
    )
    parser.add_argument("--keep", action="store_true", help="keep the directory and server logs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    for name in ("requests", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ktwidget-bench-", dir=args.tmp_dir))
    try:
        report = measure(args, workdir)
    except RuntimeError as exc:
        progress(f"benchmark failed: {exc}")
        return 1
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 1 if report["total_errors"] else 0


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    env = gateway_env(workdir)
    progress(f"setting up in {workdir}")
    creds = create_merchant(env, workdir)
    reference_key = PrivateKey.generate()
    reference_app_id = "f" * 32
    ports = {GATEWAY: free_port(), REFERENCE: free_port()}
    per_target = args.warmup + args.rounds * args.requests
    progress(f"sealing {2 * per_target} payloads")
    payloads = {
        GATEWAY: prepare(
            creds["app_id"],
            base64.b64decode(creds["app_key"]),
            "g",
            per_target,
            ports[GATEWAY],
            args.origin,
        ),
        REFERENCE: prepare(
            reference_app_id,
            bytes(reference_key.public_key),
            "r",
            per_target,
            ports[REFERENCE],
            args.origin,
        ),
    }
    reference_env = {**env, PRIVATE_KEY_ENV: base64.b64encode(bytes(reference_key)).decode()}
    gateway_argv = [
        *ktwidget_cli(),
        "serve",
        "--host",
        HOST,
        "--port",
        str(ports[GATEWAY]),
        *shlex.split(args.serve_args),
    ]
    reference_argv = [
        sys.executable,
        str(REFERENCE_APP),
        "--host",
        HOST,
        "--port",
        str(ports[REFERENCE]),
        "--db",
        str(workdir / "reference.sqlite3"),
        "--app-id",
        reference_app_id,
    ]
    with (
        running(GATEWAY, gateway_argv, env, workdir, port=ports[GATEWAY]) as gateway,
        running(
            REFERENCE, reference_argv, reference_env, workdir, port=ports[REFERENCE]
        ) as reference,
    ):
        wait_ready(gateway, args.startup_timeout)
        wait_ready(reference, args.startup_timeout)
        progress(f"gateway on :{gateway.port}, reference on :{reference.port}; loading")

        async def go() -> list[RoundResult]:
            return await load(args, ports, payloads)

        with py_spy([gateway], args.py_spy, args.py_spy_options):
            results = run_async(go)
        for server in (gateway, reference):
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} died during the run:\n{server.log_tail()}")
    summary = {t: summarise(results, t) for t in (GATEWAY, REFERENCE)}
    ratio = summary[GATEWAY]["rps"] / summary[REFERENCE]["rps"] if summary[REFERENCE]["rps"] else 0
    return {
        "config": {
            "requests": args.requests,
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "client": args.client,
            "origin": args.origin,
            "serve_args": args.serve_args,
            "tmp_dir": str(workdir.parent),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "summary": summary,
        "ratio": round(ratio, 3),
        "goal": GOAL,
        "meets_goal": ratio >= GOAL,
        "total_errors": sum(r.errors for r in results),
        "rows": {
            "gateway": count_rows(workdir / "gateway.sqlite3", "transactions"),
            "reference": count_rows(workdir / "reference.sqlite3", "transactions"),
        },
        "rounds": [asdict(r) for r in results],
    }


if __name__ == "__main__":
    sys.exit(main())
