"""Leases on queued work (jobs, deliveries): who holds them, and giving back a dead holder's.

Both queues have ``state``, ``lease_owner`` and ``lease_until`` columns; pending work whose
lease has run out (or was given back) is claimed again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Table, select, update

PENDING = "pending"


def held_by(conn: Connection, table: Table, prefix: str, now: datetime) -> list[str]:
    """Owners, named with ``prefix``, of leases on ``table`` that have not run out yet."""
    rows = conn.execute(
        select(table.c.lease_owner)
        .where(
            table.c.state == PENDING,
            table.c.lease_owner.startswith(prefix, autoescape=True),
            table.c.lease_until > now,
        )
        .distinct()
    )
    return [str(r.lease_owner) for r in rows]


def give_back(conn: Connection, table: Table, owner: str) -> int:
    """Give back every lease ``owner`` holds on ``table`` (it is known to be dead); how many."""
    result = conn.execute(
        update(table)
        .where(table.c.lease_owner == owner, table.c.state == PENDING)
        .values(lease_owner=None, lease_until=None)
    )
    return int(result.rowcount)
