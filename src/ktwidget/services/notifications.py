"""Merchant notifications, the gateway side: write a delivery with the final status change, and the
operator's delivery log (list, show, resend, test). The worker sends (`ktwidget.worker.deliveries`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row

from ktwidget.adapters.webhook_sender import HttpSender, WebhookSender
from ktwidget.domain import ids, webhooks
from ktwidget.domain.notification import (
    NotificationFacts,
    StatusRecord,
    format_time,
    notification_bytes,
)
from ktwidget.domain.status import Status
from ktwidget.domain.urls import URLRuleError, check_notification_url
from ktwidget.domain.webhooks import endpoint_of
from ktwidget.services.context import Gateway, log
from ktwidget.services.errors import OperatorError
from ktwidget.storage import deliveries as repo
from ktwidget.storage import merchants as merchants_repo
from ktwidget.storage import transactions as tx_repo


def new_webhook_id() -> str:
    """``msg_`` and 128 random bits: the ``webhook-id`` a receiver dedupes on."""
    return "msg_" + secrets.token_hex(16)


def enqueue_notification(conn: Connection, gw: Gateway, transaction_id: int, now: datetime) -> None:
    """Write the delivery for a transaction that just reached a final status, in the caller's
    database transaction (after the status record). Due at once; nothing without a URL; once only.
    """
    transaction = tx_repo.get(conn, transaction_id)
    if transaction is None:
        raise ValueError(f"no transaction {transaction_id}")
    if not transaction.status.is_final:
        raise ValueError(
            f"transaction {transaction.transaction_hash} is {transaction.status.value}: "
            "notifications report final statuses only"
        )
    url = transaction.callback_post_url
    if not url:
        merchant = merchants_repo.get(conn, transaction.merchant_id)
        url = None if merchant is None else merchant.callback_post_url
    if not url:
        return
    if repo.exists_for_transaction(conn, transaction_id):
        return
    latest = tx_repo.history(conn, transaction_id)[-1]
    facts = NotificationFacts(
        merchant_id=transaction.merchant_id,
        order_id=transaction.order_id,
        description=transaction.description,
        amount=transaction.amount,
        transaction_hash=transaction.transaction_hash,
        created_at=transaction.created_at,
        updated_at=transaction.updated_at,
        status=StatusRecord(latest.status, latest.created_at, latest.updated_at, latest.error),
    )
    webhook_id = new_webhook_id()
    repo.insert_delivery(
        conn,
        {
            "webhook_id": webhook_id,
            "merchant_id": transaction.merchant_id,
            "transaction_id": transaction_id,
            "event": latest.status.value,
            "url": url,
            "endpoint": endpoint_of(url),
            "body": notification_bytes(facts, gw.settings.timezone),
            "state": repo.PENDING,
            "attempts": 0,
            "due_at": now,
            "resends": 0,
            "created_at": now,
        },
    )
    log.info(
        "notification_enqueued",
        extra={
            "transaction_hash": transaction.transaction_hash,
            "webhook_id": webhook_id,
            "status": latest.status.value,
        },
    )


# --- the delivery log -------------------------------------------------------------------------


def _attempt_view(a: Row[Any], gw: Gateway) -> dict[str, Any]:
    return {
        "number": a.number,
        "at": format_time(a.started_at, gw.settings.timezone),
        "status_code": a.status_code,
        "latency_ms": a.latency_ms,
        "accepted": a.accepted,
        "address": a.address,
        "error": a.error,
        "reply_excerpt": a.reply_excerpt,
        "worker": a.worker,
    }


def _delivery_view(
    d: Row[Any], gw: Gateway, transaction_hash: str | None, attempts: list[Row[Any]] | None
) -> dict[str, Any]:
    zone = gw.settings.timezone
    data: dict[str, Any] = {
        "delivery_id": d.id,
        "webhook_id": d.webhook_id,
        "merchant_id": d.merchant_id,
        "transaction_hash": transaction_hash,
        "event": d.event,
        "url": d.url,
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt_at": format_time(d.due_at, zone),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "resends": d.resends,
        "created_at": format_time(d.created_at, zone),
        "updated_at": format_time(d.updated_at, zone),
        "delivered_at": format_time(d.delivered_at, zone),
    }
    if attempts is not None:
        data["body"] = bytes(d.body).decode("utf-8")
        data["attempt_log"] = [_attempt_view(a, gw) for a in attempts]
    return data


def _hashes(conn: Connection, rows: list[Row[Any]]) -> dict[int, str]:
    out: dict[int, str] = {}
    for r in rows:
        if r.transaction_id not in out:
            tx = tx_repo.get(conn, r.transaction_id)
            out[r.transaction_id] = "" if tx is None else tx.transaction_hash
    return out


@dataclass(frozen=True)
class ListFilter:
    merchant_id: int | None = None
    state: str | None = None
    transaction_hash: str | None = None
    limit: int = 50


def list_deliveries(gw: Gateway, f: ListFilter) -> list[dict[str, Any]]:
    """Newest first; ``state="failed"`` finds the ones that need attention."""
    if f.state is not None and f.state not in repo.STATES:
        raise OperatorError(f"state must be one of {', '.join(repo.STATES)}")
    with gw.db.read() as conn:
        transaction_id = None
        if f.transaction_hash is not None:
            tx = tx_repo.get_by_hash(conn, f.transaction_hash)
            if tx is None:
                raise OperatorError(f"no transaction {f.transaction_hash}")
            transaction_id = tx.id
        rows = repo.list_deliveries(
            conn,
            repo.DeliveryFilter(
                merchant_id=f.merchant_id,
                state=f.state,
                transaction_id=transaction_id,
                limit=f.limit,
            ),
        )
        hashes = _hashes(conn, rows)
    return [_delivery_view(r, gw, hashes[r.transaction_id], None) for r in rows]


def _find(conn: Connection, ref: str) -> Row[Any] | None:
    """A delivery by its id, its ``webhook-id``, or its transaction's hash."""
    if ref.isdigit():
        return repo.get(conn, int(ref))
    if ref.startswith("msg_"):
        return repo.get_by_webhook_id(conn, ref)
    if ids.is_transaction_hash(ref):
        tx = tx_repo.get_by_hash(conn, ref)
        if tx is None:
            return None
        rows = repo.list_deliveries(conn, repo.DeliveryFilter(transaction_id=tx.id, limit=1))
        return rows[0] if rows else None
    return None


def show_delivery(gw: Gateway, ref: str) -> dict[str, Any]:
    """One delivery with its body and every attempt."""
    with gw.db.read() as conn:
        row = _find(conn, ref)
        if row is None:
            raise OperatorError(f"no delivery {ref} (give a delivery id, webhook-id or hash)")
        attempts = repo.attempts_of(conn, [row.id])[row.id]
        hashes = _hashes(conn, [row])
    return _delivery_view(row, gw, hashes[row.transaction_id], attempts)


def deliveries_for_transaction(gw: Gateway, transaction_id: int) -> list[dict[str, Any]]:
    """The deliveries of a transaction with their attempts, for ``ktwidget transaction show``."""
    with gw.db.read() as conn:
        rows = repo.list_deliveries(
            conn, repo.DeliveryFilter(transaction_id=transaction_id, limit=100)
        )
        attempts = repo.attempts_of(conn, [r.id for r in rows])
        hashes = _hashes(conn, rows)
    views = []
    for r in rows:
        view = _delivery_view(r, gw, hashes[r.transaction_id], attempts[r.id])
        del view["body"]
        views.append(view)
    return views


def resend(gw: Gateway, ref: str) -> dict[str, Any]:
    """Send again from the start of the retry schedule, with the same ``webhook-id`` and body."""
    now = gw.clock.now()
    with gw.db.write() as conn:
        row = _find(conn, ref)
        if row is None:
            raise OperatorError(f"no delivery {ref} (give a delivery id, webhook-id or hash)")
        if not repo.resend(conn, row.id, now):
            raise OperatorError(
                f"delivery {row.id} is being sent right now; resend it once the attempt ends"
            )
    log.info("notification_resend", extra={"delivery_id": row.id, "webhook_id": row.webhook_id})
    return show_delivery(gw, str(row.id))


def resend_failed(gw: Gateway, merchant_id: int | None = None, limit: int = 1000) -> list[int]:
    """Resend every failed delivery (of one merchant): after an endpoint recovers."""
    now = gw.clock.now()
    resent: list[int] = []
    with gw.db.write() as conn:
        rows = repo.list_deliveries(
            conn, repo.DeliveryFilter(merchant_id=merchant_id, state=repo.FAILED, limit=limit)
        )
        for row in rows:
            if repo.resend(conn, row.id, now):
                resent.append(row.id)
    log.info("notification_resend_failed", extra={"count": len(resent), "merchant_id": merchant_id})
    return resent


# --- a signed sample, so a merchant can check a receiver before the first payment -------------


def sample_body(gw: Gateway, merchant_id: int) -> bytes:
    now = gw.clock.now()
    facts = NotificationFacts(
        merchant_id=merchant_id,
        order_id="ktwidget-test",
        description="ktwidget test notification",
        amount=100_000,
        transaction_hash="0" * 40,
        created_at=now,
        updated_at=None,
        status=StatusRecord(Status.COMPLETED, now),
    )
    return notification_bytes(facts, gw.settings.timezone)


async def send_test(
    gw: Gateway, merchant_id: int, url: str | None = None, sender: WebhookSender | None = None
) -> dict[str, Any]:
    """POST a signed sample to the merchant's URL (or ``url``); report the reply. Nothing stored."""
    with gw.db.read() as conn:
        merchant = merchants_repo.get(conn, merchant_id)
        if merchant is None:
            raise OperatorError(f"no merchant {merchant_id}")
        encrypted = merchants_repo.usable_webhook_secrets(conn, merchant_id, gw.clock.now())
    target = url or merchant.callback_post_url
    if not target:
        raise OperatorError(
            f"merchant {merchant_id} has no notification URL: give --url, or set one with "
            "'ktwidget merchant update --callback-post-url'"
        )
    try:
        target = check_notification_url(
            target, require_https=False, allow_private=gw.settings.notify_allow_private
        )
    except URLRuleError as exc:
        raise OperatorError(f"notification URL {target}: {exc}") from exc
    secrets_plain = [gw.master_key.decrypt(s).decode("utf-8") for s in encrypted]
    body = sample_body(gw, merchant_id)
    webhook_id = new_webhook_id()
    headers = webhooks.headers(secrets_plain, webhook_id, int(gw.clock.now().timestamp()), body)
    own = sender is None
    sender = sender or HttpSender(allow_private=gw.settings.notify_allow_private)
    try:
        reply = await sender.post(target, headers, body)
    finally:
        if own:
            await sender.aclose()
    if reply.status_code is None:
        verdict = webhooks.Verdict(False, reply.error)
    else:
        verdict = webhooks.judge_reply(reply.status_code, reply.content_type, reply.body)
    return {
        "merchant_id": merchant_id,
        "url": target,
        "webhook_id": webhook_id,
        "accepted": verdict.accepted,
        "status_code": reply.status_code,
        "latency_ms": reply.latency_ms,
        "address": reply.address,
        "content_type": reply.content_type,
        "reason": verdict.reason,
        "reply": webhooks.excerpt(reply.body) if reply.body else None,
        "body": body.decode("utf-8"),
    }
