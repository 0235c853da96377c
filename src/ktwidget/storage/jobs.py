"""The outbox of jobs: enqueued with the change that causes them, claimed by workers with leases.

A claim takes a lease (``lease_owner``, ``lease_until``); a job whose lease ran out, because its
worker died, is claimed again. On PostgreSQL the claim skips rows another worker is claiming
(``FOR UPDATE SKIP LOCKED``); on SQLite the write lock taken at ``BEGIN`` serialises claims.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from ktwidget.storage import driver, leases
from ktwidget.storage.schema import UTCDateTime, jobs

PENDING, DONE = "pending", "done"


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    transaction_id: int | None
    dedupe_key: str
    payload: dict[str, Any]
    attempts: int  # including the one this claim starts
    due_at: datetime
    lease_owner: str


def enqueue(
    conn: Connection,
    *,
    kind: str,
    transaction_id: int | None,
    dedupe_key: str,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> None:
    """Write a job in the caller's database transaction; ``dedupe_key`` makes it happen once.

    On the driver (`storage.driver`): this runs inside every payment's write.
    """
    driver.execute(
        conn,
        _INSERT,
        (kind, transaction_id, dedupe_key, json.dumps(payload or {}), PENDING, due_at, 0, now),
    )


_INSERT = driver.insert_sql(
    jobs,
    (
        "kind",
        "transaction_id",
        "dedupe_key",
        "payload",
        "state",
        "due_at",
        "attempts",
        "created_at",
    ),
)


def claim(
    conn: Connection,
    *,
    kinds: Sequence[str],
    now: datetime,
    owner: str,
    lease: timedelta,
    limit: int,
) -> list[Job]:
    if limit <= 0:
        return []
    query = (
        select(jobs.c.id)
        .where(
            jobs.c.state == PENDING,
            jobs.c.kind.in_(kinds),
            jobs.c.due_at <= now,
            jobs.c.lease_until.is_(None) | (jobs.c.lease_until <= now),
        )
        .order_by(jobs.c.due_at, jobs.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = [row.id for row in conn.execute(query)]
    if not ids:
        return []
    conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(ids))
        .values(lease_owner=owner, lease_until=now + lease, attempts=jobs.c.attempts + 1)
    )
    rows = conn.execute(select(jobs).where(jobs.c.id.in_(ids)).order_by(jobs.c.due_at, jobs.c.id))
    return [
        Job(
            id=r.id,
            kind=r.kind,
            transaction_id=r.transaction_id,
            dedupe_key=r.dedupe_key,
            payload=json.loads(r.payload),
            attempts=r.attempts,
            due_at=r.due_at,
            lease_owner=owner,
        )
        for r in rows
    ]


def _finish(conn: Connection, job: Job, now: datetime, **values: Any) -> bool:
    """Only the lease holder may finish a job; False means the lease was lost to another worker."""
    result = conn.execute(
        update(jobs)
        .where(jobs.c.id == job.id, jobs.c.lease_owner == job.lease_owner, jobs.c.state == PENDING)
        .values(lease_owner=None, lease_until=None, updated_at=now, **values)
    )
    return result.rowcount == 1


def complete(conn: Connection, job: Job, now: datetime) -> bool:
    return _finish(conn, job, now, state=DONE)


def retry(conn: Connection, job: Job, now: datetime, due_at: datetime, error: str) -> bool:
    return _finish(conn, job, now, due_at=due_at, last_error=error[:1000])


def next_due(conn: Connection, kinds: Sequence[str]) -> datetime | None:
    """When the earliest pending job falls due (ignoring leases): how long a worker may sleep."""
    value = conn.execute(
        select(func.min(jobs.c.due_at, type_=UTCDateTime())).where(
            jobs.c.state == PENDING, jobs.c.kind.in_(kinds)
        )
    ).scalar()
    if value is None:
        return None
    assert isinstance(value, datetime)
    return value


def for_transaction(conn: Connection, transaction_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(jobs).where(jobs.c.transaction_id == transaction_id).order_by(jobs.c.id)
    )
    return [dict(r._mapping) for r in rows]


def lease_owners(conn: Connection, prefix: str, now: datetime) -> list[str]:
    return leases.held_by(conn, jobs, prefix, now)


def release_owner(conn: Connection, owner: str) -> int:
    return leases.give_back(conn, jobs, owner)
