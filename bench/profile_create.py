"""Where one create request spends its CPU: the use case in process, without HTTP or concurrency.

    .venv/bin/python bench/profile_create.py [--requests 1000] [--tmp-dir /dev/shm] [--profile]

Sets up a throwaway gateway (SQLite in a temporary directory, a fresh master key, logs as
``ktwidget serve`` writes them but to a file), creates a merchant, seals every payload first, then
calls ``services.transactions.create_transaction`` on one thread, in batches alternating with the
reference's blocking part (``bench/reference_app.py``: open the box, parse, one INSERT), and prints
the median wall and CPU time per call of each. A second pass wraps the functions the use case calls
and prints the CPU time per phase. ``--profile`` adds cProfile's functions with the most own time.
``--tmp-dir /dev/shm`` takes the disk's fsync out, leaving CPU alone.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import logging
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from nacl.public import PrivateKey, PublicKey, SealedBox

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_app  # bench/ is not a package: imported from the path above

# (module, attribute, phase): wrapped to time each phase. Nested phases count in both.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("ktwidget.services.transactions", "create_transaction", "total use case"),
    ("ktwidget.storage.db", "Database.read", "read txn: connect, BEGIN, COMMIT, close"),
    ("ktwidget.storage.merchants", "get_by_app_id", "read: merchant by app_id"),
    ("ktwidget.storage.merchants", "usable_app_keys", "read: app keys"),
    ("ktwidget.services.transactions", "open_sealed", "open sealed box"),
    ("ktwidget.services.transactions", "_decode_params", "parse parameters"),
    ("ktwidget.services.transactions", "validate_params", "validate parameters"),
    ("ktwidget.services.transactions", "_fingerprint", "fingerprint"),
    ("ktwidget.services.transactions", "_store", "write txn (all)"),
    ("ktwidget.storage.db", "Database.write", "write txn: connect, BEGIN IMMEDIATE, COMMIT"),
    ("ktwidget.storage.transactions", "get_by_order", "write: select by order"),
    ("ktwidget.storage.transactions", "insert_transaction", "write: insert transaction + status"),
    ("ktwidget.storage.jobs", "enqueue", "write: insert expire job"),
    ("ktwidget.storage.transactions", "get", "write: re-read transaction"),
    ("ktwidget.services.transactions", "log", "log transaction_created"),
)


class Timings:
    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)

    def wrap(self, phase: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return func(*args, **kwargs)
            finally:
                self.total[phase] += time.thread_time() - started

        return timed

    def wrap_context(self, phase: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """Time a context manager's enter and exit, not the block in between."""

        @contextmanager
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            started = time.thread_time()
            manager = func(*args, **kwargs)
            value = manager.__enter__()
            self.total[phase] += time.thread_time() - started
            try:
                yield value
            except BaseException:
                started = time.thread_time()
                if not manager.__exit__(*sys.exc_info()):
                    self.total[phase] += time.thread_time() - started
                    raise
                self.total[phase] += time.thread_time() - started
            else:
                started = time.thread_time()
                manager.__exit__(None, None, None)
                self.total[phase] += time.thread_time() - started

        return timed


class TimedLogger:
    """Stands in for the use case's logger so ``log.info`` is timed."""

    def __init__(self, inner: logging.Logger, timings: Timings, phase: str) -> None:
        self._inner = inner
        self.info = timings.wrap(phase, inner.info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install(timings: Timings) -> None:
    import importlib

    for module_name, attribute, phase in PHASES:
        module = importlib.import_module(module_name)
        if attribute == "log":
            module.log = TimedLogger(module.log, timings, phase)  # type: ignore[attr-defined]
            continue
        owner_name, _, name = attribute.rpartition(".")
        owner: Any = getattr(module, owner_name) if owner_name else module
        original = getattr(owner, name)
        if owner_name:  # a context-manager method of Database
            setattr(owner, name, timings.wrap_context(phase, original))
        else:
            setattr(owner, name, timings.wrap(phase, original))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--tmp-dir", default=None, help="e.g. /dev/shm to leave out fsync")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ktwidget-profile-", dir=args.tmp_dir))
    try:
        run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def run(args: argparse.Namespace, workdir: Path) -> None:
    for key in [k for k in os.environ if k.startswith("KTWIDGET_")]:
        del os.environ[key]
    os.environ.update(
        KTWIDGET_DATA_DIR=str(workdir / "data"),
        KTWIDGET_DATABASE_URL=f"sqlite:///{workdir / 'gateway.sqlite3'}",
        KTWIDGET_SECRET_KEY=Fernet.generate_key().decode("ascii"),
        KTWIDGET_RATE_LIMIT_PER_APP="0",
        KTWIDGET_RATE_LIMIT_PER_CLIENT="0",
    )
    from ktwidget import logs
    from ktwidget.config import Settings
    from ktwidget.services import merchants
    from ktwidget.services import transactions as use_cases
    from ktwidget.services.context import Gateway
    from ktwidget.storage import schema_state

    settings = Settings.from_env()
    logs.configure(settings.log_level)  # as `ktwidget serve`, but into a file
    log_file = (workdir / "gateway.log").open("w")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_file)
    gw = Gateway.from_settings(settings)
    schema_state.ensure_current(gw.db)
    creds = merchants.create_merchant(gw, name="Bench", domains=["localhost"], callbacks={})
    total = args.warmup + args.requests
    box = SealedBox(PublicKey(base64.b64decode(creds.app_key)))
    requests = [
        use_cases.CreateRequest(
            app_id=creds.app_id,
            test_mode=True,
            payload=base64.b64encode(box.encrypt(json.dumps(_params(n)).encode())).decode(),
            origin=None,
        )
        for n in range(total)
    ]
    ref_key = PrivateKey.generate()
    ref_box = SealedBox(PublicKey(bytes(ref_key.public_key)))
    ref_payloads = [
        base64.b64encode(ref_box.encrypt(json.dumps(_params(n)).encode())).decode()
        for n in range(total)
    ]
    reference = reference_app.Reference(
        str(workdir / "reference.sqlite3"), "f" * 32, bytes(ref_key), "http://127.0.0.1"
    )

    for req in requests[: args.warmup]:
        use_cases.create_transaction(gw, req)
    for payload in ref_payloads[: args.warmup]:
        reference.create(True, payload)
    timed = requests[args.warmup :]

    # Alternate batches of the two, and take CPU time of this thread as well as wall time, so
    # that other work on the machine skews the comparison as little as possible.
    gateway_calls = [lambda r=r: use_cases.create_transaction(gw, r) for r in timed]
    reference_calls = [lambda p=p: reference.create(True, p) for p in ref_payloads[args.warmup :]]
    figures: dict[str, tuple[list[float], list[float]]] = {
        "gateway": ([], []),
        "reference": ([], []),
    }
    batch = 50
    for start in range(0, len(timed), batch):
        for name, calls in (("gateway", gateway_calls), ("reference", reference_calls)):
            chunk = calls[start : start + batch]
            wall, cpu = time.perf_counter(), time.thread_time()
            for call in chunk:
                call()
            figures[name][0].append((time.perf_counter() - wall) / len(chunk))
            figures[name][1].append((time.thread_time() - cpu) / len(chunk))
    wall_ms = {k: statistics.median(v[0]) * 1e3 for k, v in figures.items()}
    cpu_ms = {k: statistics.median(v[1]) * 1e3 for k, v in figures.items()}

    print(f"one thread, {len(timed)} calls each in batches of {batch}, SQLite in {workdir.parent}")
    print("median of batch means     wall ms   CPU ms")
    for name in ("gateway", "reference"):
        print(f"  {name:<22} {wall_ms[name]:8.3f} {cpu_ms[name]:8.3f}")
    print(
        f"  gateway/reference      {wall_ms['gateway'] / wall_ms['reference']:7.1f}x"
        f" {cpu_ms['gateway'] / cpu_ms['reference']:7.1f}x"
    )
    print("  (HTTP and the event loop come on top of both; see create_transaction.py --py-spy)")

    # The second pass is timed per phase, on fresh order_ids: a repeat would be a 200.
    timings = Timings()
    install(timings)
    fresh = [
        use_cases.CreateRequest(
            app_id=creds.app_id,
            test_mode=True,
            payload=base64.b64encode(box.encrypt(json.dumps(_params(n, "p")).encode())).decode(),
            origin=None,
        )
        for n in range(len(timed))
    ]
    profiler = cProfile.Profile() if args.profile else None
    for req in fresh:
        if profiler is not None:
            profiler.enable()
        use_cases.create_transaction(gw, req)
        if profiler is not None:
            profiler.disable()
    whole = timings.total["total use case"]
    print(
        f"\nCPU per phase (wrapped, so a little slower: {whole / len(fresh) * 1e3:.3f} ms a call):"
    )
    for _, _, phase in PHASES:
        spent = timings.total.get(phase, 0.0)
        print(f"  {spent / len(fresh) * 1e3:7.3f} ms  {100 * spent / whole:5.1f}%  {phase}")
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(args.top)
        print("\ncProfile, by own time:")
        print(out.getvalue())
    log_file.close()
    gw.db.dispose()


def _params(n: int, prefix: str = "g") -> dict[str, Any]:
    return {
        "order_id": f"bench-{prefix}-{n:08d}",
        "amount": 1000,
        "type": "ecom",
        "description": "ktwidget create_transaction benchmark",
    }


if __name__ == "__main__":
    sys.exit(main())
