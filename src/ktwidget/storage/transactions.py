"""Transactions, their status history, and compare-and-set status changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from ktwidget.domain.model import StatusEntry, Transaction
from ktwidget.domain.params import TransactionType
from ktwidget.domain.status import Change, ErrorType, Status, StatusError
from ktwidget.storage import driver
from ktwidget.storage.schema import transaction_statuses, transactions


def _transaction(row: Row[Any]) -> Transaction:
    values = row._mapping
    return Transaction(
        **{k: values[k] for k in Transaction.__dataclass_fields__ if k not in ("type", "status")},
        type=TransactionType(values["type"]),
        status=Status(values["status"]),
    )


_TX_COLUMNS = (
    "transaction_hash", "merchant_id", "order_id", "amount", "currency", "type", "service_id",
    "contract_value", "description", "callback_back_url", "callback_success_url",
    "callback_failed_url", "callback_post_url", "test_mode", "fingerprint", "acquirer",
    "expires_at", "status", "created_at",
)  # fmt: skip
_INSERT_PENDING = driver.insert_sql(
    transactions, _TX_COLUMNS, " ON CONFLICT (merchant_id, order_id) DO NOTHING RETURNING id"
)
_INSERT_FIRST_STATUS = driver.insert_sql(
    transaction_statuses, ("transaction_id", "status", "created_at")
)


def insert_transaction(conn: Connection, values: dict[str, Any], now: datetime) -> int | None:
    """Insert a `pending` transaction and its first status record (on the driver: this runs
    on every payment, see `storage.driver`).

    None when the merchant already has a transaction with this ``order_id``: the caller reads it.
    """
    row = {**values, "status": Status.PENDING.value, "created_at": now}
    inserted = driver.execute(conn, _INSERT_PENDING, [row[c] for c in _TX_COLUMNS])
    if inserted is None:
        return None
    tx_id = int(inserted[0])
    driver.execute(conn, _INSERT_FIRST_STATUS, (tx_id, Status.PENDING.value, now))
    return tx_id


_INSERT_STATUS = insert(transaction_statuses)
_BY_ORDER = select(transactions).where(
    transactions.c.merchant_id == bindparam("merchant_id"),
    transactions.c.order_id == bindparam("order_id"),
)


def _insert_status(
    conn: Connection, tx_id: int, status: Status, error: StatusError | None, now: datetime
) -> None:
    conn.execute(
        _INSERT_STATUS,
        {
            "transaction_id": tx_id,
            "status": status.value,
            "error_type": None if error is None else error.error_type.value,
            "error_message": None if error is None else error.error_message,
            "created_at": now,
        },
    )


def get_by_hash(conn: Connection, transaction_hash: str) -> Transaction | None:
    row = conn.execute(
        select(transactions).where(transactions.c.transaction_hash == transaction_hash)
    ).first()
    return None if row is None else _transaction(row)


def get(conn: Connection, tx_id: int) -> Transaction | None:
    row = conn.execute(select(transactions).where(transactions.c.id == tx_id)).first()
    return None if row is None else _transaction(row)


def get_by_order(conn: Connection, merchant_id: int, order_id: str) -> Transaction | None:
    row = conn.execute(_BY_ORDER, {"merchant_id": merchant_id, "order_id": order_id}).first()
    return None if row is None else _transaction(row)


@dataclass(frozen=True)
class TransactionFilter:
    merchant_id: int | None = None
    status: Status | None = None
    test_mode: bool | None = None
    order_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50


def list_transactions(conn: Connection, f: TransactionFilter) -> list[Transaction]:
    query = select(transactions).order_by(
        transactions.c.created_at.desc(), transactions.c.id.desc()
    )
    if f.merchant_id is not None:
        query = query.where(transactions.c.merchant_id == f.merchant_id)
    if f.status is not None:
        query = query.where(transactions.c.status == f.status.value)
    if f.test_mode is not None:
        query = query.where(transactions.c.test_mode == f.test_mode)
    if f.order_id is not None:
        query = query.where(transactions.c.order_id == f.order_id)
    if f.since is not None:
        query = query.where(transactions.c.created_at >= f.since)
    if f.until is not None:
        query = query.where(transactions.c.created_at < f.until)
    return [_transaction(r) for r in conn.execute(query.limit(f.limit))]


def history(conn: Connection, tx_id: int) -> list[StatusEntry]:
    rows = conn.execute(
        select(transaction_statuses)
        .where(transaction_statuses.c.transaction_id == tx_id)
        .order_by(transaction_statuses.c.id)
    )
    return [
        StatusEntry(
            status=Status(r.status),
            created_at=r.created_at,
            updated_at=r.updated_at,
            error=None
            if r.error_type is None
            else StatusError(ErrorType(r.error_type), r.error_message or ""),
        )
        for r in rows
    ]


def change_status(
    conn: Connection, tx_id: int, change: Change, now: datetime, **fields: Any
) -> bool:
    """Compare-and-set: move from ``change.source`` to ``change.target`` only if still there.

    Returns False when another process got there first; the caller then does nothing more. The
    caller writes the work the change starts (the outbox) in the same database transaction.
    """
    values: dict[str, Any] = {"status": change.target.value}
    if fields:
        values.update(fields, updated_at=now)
    result = conn.execute(
        update(transactions)
        .where(transactions.c.id == tx_id, transactions.c.status == change.source.value)
        .values(**values)
    )
    if result.rowcount != 1:
        return False
    _insert_status(conn, tx_id, change.target, change.error, now)
    return True
