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

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from ktwidget.storage import leases
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
    recorded: int = 0  # attempts recorded over the delivery's whole life


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
    query = (
        select(deliveries.c.id, deliveries.c.endpoint)
        .where(
            deliveries.c.state == PENDING,
            deliveries.c.due_at <= now,
            deliveries.c.lease_until.is_(None) | (deliveries.c.lease_until <= now),
        )
        .order_by(deliveries.c.due_at, deliveries.c.id)
        .limit(window)
    )
    if exclude_endpoints:
        query = query.where(deliveries.c.endpoint.not_in(list(exclude_endpoints)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids: list[int] = []
    candidates = conn.execute(query).all()
    for row in candidates:
        if len(ids) < limit and admit(row.endpoint):
            ids.append(row.id)
    drained = len(candidates) < window and len(ids) == len(candidates) and not exclude_endpoints
    order = {d: i for i, d in enumerate(ids)}  # oldest first, as the candidates came
    if not ids:
        return Claim([], drained)
    # One statement leases and reads back what the attempts need (RETURNING: PostgreSQL, SQLite).
    rows = sorted(
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(
                deliveries.c.id,
                deliveries.c.webhook_id,
                deliveries.c.merchant_id,
                deliveries.c.url,
                deliveries.c.endpoint,
                deliveries.c.body,
                deliveries.c.attempts,
            )
        ).all(),
        key=lambda r: order[r.id],
    )
    counts = conn.execute(
        select(delivery_attempts.c.delivery_id, func.count())
        .where(delivery_attempts.c.delivery_id.in_(ids))
        .group_by(delivery_attempts.c.delivery_id)
    ).all()
    recorded = {int(d): int(n) for d, n in counts}
    claimed = [
        Claimed(
            id=r.id,
            webhook_id=r.webhook_id,
            merchant_id=r.merchant_id,
            url=r.url,
            endpoint=r.endpoint,
            body=bytes(r.body),
            attempts=r.attempts,
            lease_owner=owner,
            recorded=int(recorded.get(r.id, 0)),
        )
        for r in rows
    ]
    return Claim(claimed, drained)


_RELEASE = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("d_id"),
        deliveries.c.lease_owner == bindparam("d_owner"),
        deliveries.c.state == PENDING,
    )
    .values(lease_owner=None, lease_until=None)
)


def release(conn: Connection, claimed: Sequence[Claimed]) -> None:
    """Give back leases on deliveries claimed but not sent, so any worker may claim them now."""
    if claimed:
        conn.execute(_RELEASE, [{"d_id": c.id, "d_owner": c.lease_owner} for c in claimed])


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


_RECORD = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("d_id"),
        deliveries.c.lease_owner == bindparam("d_owner"),
        deliveries.c.state == PENDING,
    )
    .values(
        state=bindparam("d_state"),
        due_at=bindparam("d_due_at"),
        delivered_at=func.coalesce(
            bindparam("d_delivered_at", type_=UTCDateTime()), deliveries.c.delivered_at
        ),
        attempts=bindparam("d_attempts"),
        lease_owner=None,
        lease_until=None,
        last_status_code=bindparam("d_status_code"),
        last_error=bindparam("d_error"),
        updated_at=bindparam("d_now"),
    )
)
_INSERT_ATTEMPT = insert(delivery_attempts)


def _record_params(f: Finished) -> dict[str, Any]:
    a, c = f.attempt, f.claimed
    if a.accepted:
        state, due_at, attempts = DELIVERED, None, c.attempts
    elif f.retry_at is not None:
        state, due_at, attempts = PENDING, f.retry_at, c.attempts + 1
    else:
        state, due_at, attempts = FAILED, None, c.attempts + 1
    return {
        "d_id": c.id,
        "d_owner": c.lease_owner,
        "d_state": state,
        "d_due_at": due_at,
        "d_delivered_at": f.finished_at if a.accepted else None,
        "d_attempts": attempts,
        "d_status_code": a.status_code,
        "d_error": None if a.accepted else (a.error or "")[:1000],
        "d_now": f.finished_at,
    }


def _attempt_params(f: Finished) -> dict[str, Any]:
    a, c = f.attempt, f.claimed
    return {
        "delivery_id": c.id,
        "number": c.recorded + 1,
        "worker": c.lease_owner,
        "started_at": a.started_at,
        "latency_ms": a.latency_ms,
        "address": a.address,
        "status_code": a.status_code,
        "accepted": a.accepted,
        "reply_excerpt": a.reply_excerpt,
        "error": a.error,
    }


def record_attempts(conn: Connection, finished: Sequence[Finished]) -> list[Finished]:
    """Write attempts and their consequences; only a lease holder may. Returns those whose lease
    was lost to another worker (nothing of theirs is written)."""
    if not finished:
        return []
    held = select(deliveries.c.id, deliveries.c.lease_owner).where(
        deliveries.c.id.in_([f.claimed.id for f in finished]), deliveries.c.state == PENDING
    )
    if conn.dialect.name == "postgresql":
        held = held.with_for_update()
    owners = dict(conn.execute(held).all())
    kept: list[Finished] = []
    lost: list[Finished] = []
    for f in finished:
        (kept if owners.get(f.claimed.id) == f.claimed.lease_owner else lost).append(f)
    if kept:
        conn.execute(_RECORD, [_record_params(f) for f in kept])
        conn.execute(_INSERT_ATTEMPT, [_attempt_params(f) for f in kept])
    return lost


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
