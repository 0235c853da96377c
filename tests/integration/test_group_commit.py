"""Writes submitted together commit together on SQLite, each in a savepoint of its own."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, func, insert, select

from ktwidget.storage.db import Database
from ktwidget.storage.schema import services

ROW = {
    "name": "S", "category": "c", "pattern": ".*", "hint": "h", "min_amount": 1,
    "max_amount": 2, "provider": "sandbox", "active": True,
}  # fmt: skip


def count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(services)).scalar_one())


def test_concurrent_writes_are_all_committed_and_a_failure_stays_its_own(db: Database) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)

    def work(n: int) -> int:
        def write(conn: Connection) -> int:
            if n == 13:
                raise ValueError("unlucky")
            conn.execute(insert(services).values(id=n, created_at=now, **ROW))
            return n

        return db.write_batched(write)

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(work, n) for n in range(1, 65)]
    results = []
    for n, future in enumerate(futures, start=1):
        if n == 13:
            with pytest.raises(ValueError, match="unlucky"):
                future.result()
        else:
            results.append(future.result())
    assert results == [n for n in range(1, 65) if n != 13]
    assert count(db) == 63


def test_a_write_that_breaks_a_constraint_leaves_the_others_committed(db: Database) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    now = datetime.now(UTC)
    db.write_batched(
        lambda conn: conn.execute(insert(services).values(id=1, created_at=now, **ROW))
    )

    def write(n: int) -> object:
        return db.write_batched(
            lambda conn: conn.execute(insert(services).values(id=n, created_at=now, **ROW))
        )

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(write, n) for n in (1, 2, 3, 4)]
    with pytest.raises(IntegrityError):
        futures[0].result()
    for future in futures[1:]:
        future.result()
    assert count(db) == 4
