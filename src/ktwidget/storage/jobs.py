"""The outbox of jobs: enqueued with the change that causes them, claimed by workers with leases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert

from ktwidget.storage.schema import jobs


def enqueue(
    conn: Connection,
    *,
    kind: str,
    transaction_id: int | None,
    dedupe_key: str,
    due_at: datetime,
    now: datetime,
    payload: str = "{}",
) -> None:
    """Write a job in the caller's database transaction; ``dedupe_key`` makes it happen once."""
    conn.execute(
        insert(jobs).values(
            kind=kind,
            transaction_id=transaction_id,
            dedupe_key=dedupe_key,
            payload=payload,
            state="pending",
            due_at=due_at,
            attempts=0,
            created_at=now,
        )
    )
