"""Deliveries of merchant notifications and their attempts.

Claimed like jobs: a claim takes a lease (``lease_owner``, ``lease_until``) long enough to cover one
attempt, so a delivery is never in flight in two workers; a dead worker's delivery is claimed again
once its lease runs out. On PostgreSQL the claim skips rows another worker is claiming
(``FOR UPDATE SKIP LOCKED``); on SQLite the write lock taken at ``BEGIN`` serialises claims.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, text, update

from ktwidget.storage import driver, leases
from ktwidget.storage.schema import UTCDateTime, deliveries, delivery_attempts, webhook_secrets

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATES = (PENDING, DELIVERED, FAILED)


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds the lease on, with what it needs to send it."""

    id: int
    webhook_id: str
    merchant_id: int
    url: str
    endpoint: str
    body: bytes
    attempts: int  # failed attempts of this round before the one this claim starts
    lease_owner: str
    lease_until: datetime  # this claim's lease: a give-back matches it exactly


@dataclass(frozen=True)
class AttemptRecord:
    started_at: datetime
    latency_ms: int | None
    address: str | None
    status_code: int | None
    accepted: bool
    reply_excerpt: str | None
    error: str | None


def insert_delivery(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(deliveries).values(**values).returning(deliveries.c.id))
    return int(result.scalar_one())


def exists_for_transaction(conn: Connection, transaction_id: int) -> bool:
    found = conn.execute(
        select(deliveries.c.id).where(deliveries.c.transaction_id == transaction_id)
    ).first()
    return found is not None


@dataclass(frozen=True)
class Claim:
    """What a claim leased, and whether it took everything due that it was shown (``drained``:
    nothing was left out for want of room, so only time or new deliveries bring more)."""

    claimed: list[Claimed]
    drained: bool


def claim(
    conn: Connection,
    *,
    now: datetime,
    owner: str,
    lease: timedelta,
    limit: int,
    admit: Callable[[str], bool],
    exclude_endpoints: Collection[str] = (),
) -> Claim:
    """Lease up to ``limit`` due deliveries, oldest first, those ``admit(endpoint)`` lets in.

    ``admit`` is asked once per candidate, in order, and counts what it lets in (per-endpoint
    limits). Endpoints with no room at all are left out in SQL (``exclude_endpoints``), so a backlog
    for one hanging endpoint never crowds the others out of a claim.
    """
    if limit <= 0:
        return Claim([], drained=False)
    window = limit + limit // 2 + 1  # some candidates will be refused for want of room
    exclude = list(exclude_endpoints)
    candidates = driver.fetch(
        conn,
        _CANDIDATES.format(
            exclude=f" AND endpoint NOT IN ({driver.marks(len(exclude))})" if exclude else "",
            lock=" FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else "",
        ),
        (now, now, *exclude, window),
    )
    ids: list[int] = []
    for delivery_id, endpoint in candidates:
        if len(ids) < limit and admit(endpoint):
            ids.append(delivery_id)
    drained = len(candidates) < window and len(ids) == len(candidates) and not exclude
    if not ids:
        return Claim([], drained)
    # One statement leases and reads back what the attempts need (RETURNING: PostgreSQL, SQLite).
    until = now + lease
    rows = {
        row[0]: row
        for row in driver.fetch(
            conn, _LEASE.format(ids=driver.marks(len(ids))), (owner, until, *ids)
        )
    }
    claimed = [
        Claimed(d, webhook_id, merchant_id, url, endpoint, bytes(body), attempts, owner, until)
        for d, webhook_id, merchant_id, url, endpoint, body, attempts in (rows[i] for i in ids)
    ]
    return Claim(claimed, drained)


_CANDIDATES = (
    "SELECT id, endpoint FROM deliveries"
    " WHERE state = 'pending' AND due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
    "{exclude} ORDER BY due_at, id LIMIT ?{lock}"
)
_LEASE = (
    "UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id IN ({ids})"
    " RETURNING id, webhook_id, merchant_id, url, endpoint, body, attempts"
)


_RELEASE = driver.for_dialect(
    "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL"
    " WHERE id = ? AND lease_owner = ? AND lease_until = ? AND state = 'pending'"
)


def release(conn: Connection, claimed: Sequence[Claimed]) -> None:
    """Give back leases on deliveries claimed but not sent, so any worker may claim them now.

    Only the very lease each claim took is given back: if the lease ran out and the delivery was
    claimed again (by this worker too), the newer lease stands."""
    if claimed:
        driver.execute_many(conn, _RELEASE, [(c.id, c.lease_owner, c.lease_until) for c in claimed])


def secrets_for(
    conn: Connection, merchant_ids: Iterable[int], now: datetime
) -> dict[int, list[bytes]]:
    """Encrypted signing secrets per merchant: the current one first, then those in grace."""
    wanted = sorted(set(merchant_ids))
    out: dict[int, list[bytes]] = {m: [] for m in wanted}
    if not wanted:
        return out
    rows = conn.execute(
        select(webhook_secrets.c.merchant_id, webhook_secrets.c.secret)
        .where(
            webhook_secrets.c.merchant_id.in_(wanted),
            webhook_secrets.c.retired_at.is_(None) | (webhook_secrets.c.expires_at > now),
        )
        .order_by(
            webhook_secrets.c.merchant_id,
            webhook_secrets.c.retired_at.is_not(None),
            webhook_secrets.c.id.desc(),
        )
    )
    for r in rows:
        out[r.merchant_id].append(bytes(r.secret))
    return out


@dataclass(frozen=True)
class Finished:
    """An attempt that ended, and what follows: delivered, due again at ``retry_at``, or failed."""

    claimed: Claimed
    attempt: AttemptRecord
    finished_at: datetime
    retry_at: datetime | None


def _record_row(f: Finished) -> tuple[Any, ...]:
    """What an attempt changes in its delivery, in `_RECORD`'s order: the changes (state,
    due_at, delivered_at, attempts, status code, error, updated_at), then the condition (id and
    lease owner)."""
    a, c = f.attempt, f.claimed
    if a.accepted:
        state, due_at, attempts = DELIVERED, None, c.attempts
    elif f.retry_at is not None:
        state, due_at, attempts = PENDING, f.retry_at, c.attempts + 1
    else:
        state, due_at, attempts = FAILED, None, c.attempts + 1
    delivered_at = f.finished_at if a.accepted else None
    error = None if a.accepted else (a.error or "")[:1000]
    return (
        state, due_at, delivered_at, attempts, a.status_code, error, f.finished_at,
        c.id, c.lease_owner,
    )  # fmt: skip


def _attempt_row(f: Finished) -> tuple[Any, ...]:
    """An attempt, in `_INSERT_ATTEMPT`'s order: what happened, then whose and by whom (its
    number is counted in SQL)."""
    a, c = f.attempt, f.claimed
    return (
        a.started_at, a.latency_ms, a.address, a.status_code, a.accepted, a.reply_excerpt,
        a.error, c.id, c.lease_owner,
    )  # fmt: skip


# SQLite: run on the driver, a row at a time inside one call (the rows never leave C).
_HELD = "SELECT id, lease_owner FROM deliveries WHERE state = 'pending' AND id IN ({ids})"
_RECORD = driver.for_dialect(
    "UPDATE deliveries SET state = ?, due_at = ?, delivered_at = COALESCE(?, delivered_at),"
    " attempts = ?, lease_owner = NULL, lease_until = NULL, last_status_code = ?,"
    " last_error = ?, updated_at = ? WHERE id = ? AND lease_owner = ? AND state = 'pending'"
)
_INSERT_ATTEMPT = driver.for_dialect(
    "INSERT INTO delivery_attempts (delivery_id, number, worker, started_at, latency_ms,"
    " address, status_code, accepted, reply_excerpt, error)"
    " SELECT d, (SELECT COUNT(*) FROM delivery_attempts WHERE delivery_id = d) + 1, w, ?, ?, ?,"
    " ?, ?, ?, ? FROM (SELECT ? AS d, ? AS w) AS attempt"
)


def record_attempts(conn: Connection, finished: Sequence[Finished]) -> list[Finished]:
    """Write attempts and their consequences; only a lease holder may. Returns those whose lease
    was lost to another worker (nothing of theirs is written). An attempt's number counts every
    attempt the delivery has had, resends included."""
    if not finished:
        return []
    if conn.dialect.name == "postgresql":
        return _record_attempts_pg(conn, finished)
    ids = [f.claimed.id for f in finished]
    owners = dict(driver.fetch(conn, _HELD.format(ids=driver.marks(len(ids))), ids))
    kept: list[Finished] = []
    lost: list[Finished] = []
    for f in finished:
        (kept if owners.get(f.claimed.id) == f.claimed.lease_owner else lost).append(f)
    if kept:
        driver.execute_many(conn, _RECORD, [_record_row(f) for f in kept])
        driver.execute_many(conn, _INSERT_ATTEMPT, [_attempt_row(f) for f in kept])
    return lost


# PostgreSQL: one statement per batch, with the rows as arrays (a round trip each, instead of one
# per delivery). The same columns and conditions as the SQLite statements above.
_PG_RECORD = text(
    """
    UPDATE deliveries AS d SET
        state = o.state, due_at = o.due_at, attempts = o.attempts,
        delivered_at = COALESCE(o.delivered_at, d.delivered_at),
        lease_owner = NULL, lease_until = NULL,
        last_status_code = o.status_code, last_error = o.error, updated_at = o.now
    FROM unnest(
        CAST(:id AS INTEGER[]), CAST(:owner AS TEXT[]), CAST(:state AS TEXT[]),
        CAST(:due_at AS TIMESTAMP[]), CAST(:delivered_at AS TIMESTAMP[]),
        CAST(:attempts AS INTEGER[]), CAST(:status_code AS INTEGER[]),
        CAST(:error AS TEXT[]), CAST(:now AS TIMESTAMP[])
    ) AS o(id, owner, state, due_at, delivered_at, attempts, status_code, error, now)
    WHERE d.id = o.id AND d.lease_owner = o.owner AND d.state = 'pending'
    RETURNING d.id
    """
)
_PG_RECORD_COLUMNS = (
    "state", "due_at", "delivered_at", "attempts", "status_code", "error", "now", "id", "owner",
)  # fmt: skip
_PG_INSERT_ATTEMPTS = text(
    """
    INSERT INTO delivery_attempts (delivery_id, number, worker, started_at, latency_ms, address,
                                   status_code, accepted, reply_excerpt, error)
    SELECT a.delivery_id,
           (SELECT COUNT(*) FROM delivery_attempts p WHERE p.delivery_id = a.delivery_id) + 1,
           a.worker, a.started_at, a.latency_ms, a.address, a.status_code, a.accepted,
           a.reply_excerpt, a.error
    FROM unnest(
        CAST(:delivery_id AS INTEGER[]), CAST(:worker AS TEXT[]),
        CAST(:started_at AS TIMESTAMP[]), CAST(:latency_ms AS INTEGER[]),
        CAST(:address AS TEXT[]), CAST(:status_code AS INTEGER[]), CAST(:accepted AS BOOLEAN[]),
        CAST(:reply_excerpt AS TEXT[]), CAST(:error AS TEXT[])
    ) AS a(delivery_id, worker, started_at, latency_ms, address, status_code, accepted,
           reply_excerpt, error)
    """
)
_PG_ATTEMPT_COLUMNS = (
    "started_at", "latency_ms", "address", "status_code", "accepted", "reply_excerpt", "error",
    "delivery_id", "worker",
)  # fmt: skip


def _arrays(
    conn: Connection, names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> dict[str, list[Any]]:
    """Rows as one array per column, values bound as the driver-level statements bind them."""
    return {
        name: list(driver.bind_values(conn, column))
        for name, column in zip(names, zip(*rows, strict=True), strict=True)
    }


def _record_attempts_pg(conn: Connection, finished: Sequence[Finished]) -> list[Finished]:
    rows = [_record_row(f) for f in finished]
    recorded = set(conn.execute(_PG_RECORD, _arrays(conn, _PG_RECORD_COLUMNS, rows)).scalars())
    kept = [f for f in finished if f.claimed.id in recorded]
    if kept:
        attempts = [_attempt_row(f) for f in kept]
        conn.execute(_PG_INSERT_ATTEMPTS, _arrays(conn, _PG_ATTEMPT_COLUMNS, attempts))
    return [f for f in finished if f.claimed.id not in recorded]


def lease_owners(conn: Connection, prefix: str, now: datetime) -> list[str]:
    return leases.held_by(conn, deliveries, prefix, now)


def release_owner(conn: Connection, owner: str) -> int:
    return leases.give_back(conn, deliveries, owner)


def next_due(conn: Connection) -> datetime | None:
    value = conn.execute(
        select(func.min(deliveries.c.due_at, type_=UTCDateTime())).where(
            deliveries.c.state == PENDING
        )
    ).scalar()
    if value is None:
        return None
    assert isinstance(value, datetime)
    return value


@dataclass(frozen=True)
class DeliveryFilter:
    merchant_id: int | None = None
    state: str | None = None
    transaction_id: int | None = None
    limit: int = 50


def list_deliveries(conn: Connection, f: DeliveryFilter) -> list[Row[Any]]:
    query = select(deliveries).order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
    if f.merchant_id is not None:
        query = query.where(deliveries.c.merchant_id == f.merchant_id)
    if f.state is not None:
        query = query.where(deliveries.c.state == f.state)
    if f.transaction_id is not None:
        query = query.where(deliveries.c.transaction_id == f.transaction_id)
    return list(conn.execute(query.limit(f.limit)))


def get(conn: Connection, delivery_id: int) -> Row[Any] | None:
    return conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()


def get_by_webhook_id(conn: Connection, webhook_id: str) -> Row[Any] | None:
    return conn.execute(select(deliveries).where(deliveries.c.webhook_id == webhook_id)).first()


def attempts_of(conn: Connection, delivery_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    out: dict[int, list[Row[Any]]] = {d: [] for d in delivery_ids}
    if not delivery_ids:
        return out
    rows = conn.execute(
        select(delivery_attempts)
        .where(delivery_attempts.c.delivery_id.in_(list(delivery_ids)))
        .order_by(delivery_attempts.c.delivery_id, delivery_attempts.c.number)
    )
    for r in rows:
        out[r.delivery_id].append(r)
    return out


def resend(conn: Connection, delivery_id: int, now: datetime) -> bool:
    """Start a new round due now, keeping the ``webhook-id``; False while an attempt is in flight."""
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.lease_until.is_(None) | (deliveries.c.lease_until <= now),
        )
        .values(
            state=PENDING,
            attempts=0,
            due_at=now,
            lease_owner=None,
            lease_until=None,
            resends=deliveries.c.resends + 1,
            updated_at=now,
        )
    )
    return result.rowcount == 1


def counts_by_state(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state)).all()
    return {str(state): int(n) for state, n in rows}
