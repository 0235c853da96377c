"""Engines for SQLite (WAL, synchronous=FULL, writers lock up front) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

_WRITE = "ktwidget_write"
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept the usual spellings (``postgres://``, ``postgresql://``) and pick psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves, so a writer can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed payment survives a power cut
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock at BEGIN, so two writers queue on busy_timeout instead of
        # failing with SQLITE_BUSY when a read lock would have to be upgraded.
        # Straight to the driver: this runs on every transaction.
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


class Database:
    """One engine and the two ways to use it: a write transaction and a read transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time. Queueing this process's writers on a lock hands the
        # write lock straight to the next one, instead of SQLite's busy handler sleeping and
        # polling (which left the lock idle and made p99 latency seconds long). Other processes
        # still queue on busy_timeout.
        self._write_lock: threading.RLock | None = threading.RLock() if self.is_sqlite else None
        self._batcher: _GroupCommit | None = None
        self._local = threading.local()
        self._batcher_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 20) -> Database:
        return cls(make_engine(url, pool_size=pool_size))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends normally and rolls back otherwise."""
        lock = self._write_lock or contextlib.nullcontext()
        with lock, self.engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
            self._local.depth = getattr(self._local, "depth", 0) + 1
            try:
                yield conn
            finally:
                self._local.depth -= 1

    def write_batched(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction and return once it is committed.

        On SQLite, calls that arrive together share one transaction and one fsync (group commit),
        each in a savepoint of its own, so one caller's failure never undoes another's work. On
        PostgreSQL, whose writers run in parallel, each call is its own transaction.
        """
        if not self.is_sqlite:
            with self.write() as conn:
                return work(conn)
        if getattr(self._local, "depth", 0):
            # Inside a write already (the batcher's own thread included): the batcher would wait
            # for the lock this thread holds.
            raise RuntimeError("write_batched called inside a write transaction")
        return self._group_commit().submit(work)

    async def write_batched_async(self, work: Callable[[Connection], T]) -> T:
        """`write_batched` for the event loop: no thread is held while the commit is waited on."""
        if not self.is_sqlite:
            return await anyio.to_thread.run_sync(self.write_batched, work)
        return await asyncio.wrap_future(self._group_commit().enqueue(work))

    def _group_commit(self) -> _GroupCommit:
        with self._batcher_lock:
            if self._batcher is None:
                self._batcher = _GroupCommit(self)
            return self._batcher

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        if self._batcher is not None:
            self._batcher.stop()
            self._batcher = None
        self.engine.dispose()


class _GroupCommit:
    """One thread that commits queued writes together: one SQLite transaction, one fsync."""

    MAX_BATCH = 64

    def __init__(self, db: Database) -> None:
        self.db = db
        self.queue: queue.SimpleQueue[tuple[Callable[[Connection], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self.thread = threading.Thread(target=self._run, name="ktwidget-group-commit", daemon=True)
        self.thread.start()

    def enqueue(self, work: Callable[[Connection], T]) -> Future[T]:
        if not self.thread.is_alive():
            raise RuntimeError("the group-commit thread has stopped")
        future: Future[T] = Future()
        self.queue.put((work, future))
        return future

    def submit(self, work: Callable[[Connection], T]) -> T:
        return self.enqueue(work).result(timeout=120)

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.MAX_BATCH:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.queue.put(None)
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[tuple[Callable[[Connection], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self.db.write() as conn:
                for work, future in batch:
                    try:
                        with conn.begin_nested():
                            outcomes.append((future, work(conn), None))
                    except BaseException as exc:  # the caller gets it; the others go on
                        outcomes.append((future, None, exc))
        except BaseException as exc:  # the commit itself failed: nobody's work is stored
            for _, future in batch:
                future.set_exception(exc)
            return
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
