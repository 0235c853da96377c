"""Payments after creation: the bank's result, crediting, clearing and expiry.

Every status change here is a compare-and-set, and the work it starts (crediting, capture, the
merchant's notification) is written as a job in the same database transaction. The calls to the
bank and the provider happen outside database transactions and are idempotent by transaction_hash,
so a job that runs again after a crash does nothing twice. Holds are released before a payment
that had one ends in `denied` or `error`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, update
from starlette.concurrency import run_in_threadpool

from ktwidget.adapters.acquirers.base import (
    CaptureOutcome,
    HoldOutcome,
    HoldResult,
    HoldState,
    ResultRejected,
)
from ktwidget.adapters.providers.base import CreditOutcome, CreditRequest
from ktwidget.domain.clearing import next_clearing
from ktwidget.domain.model import Transaction
from ktwidget.domain.params import TransactionType
from ktwidget.domain.status import TABLE, Event, Status, apply
from ktwidget.domain.urls import allowed, frame_ancestors
from ktwidget.services.context import Gateway
from ktwidget.services.errors import MalformedRequest, NotFound
from ktwidget.services.notifications import enqueue_notification
from ktwidget.services.transactions import get_transaction
from ktwidget.storage import catalog as catalog_repo
from ktwidget.storage import jobs as jobs_repo
from ktwidget.storage import transactions as repo
from ktwidget.storage.jobs import Job
from ktwidget.storage.schema import transactions
from ktwidget.worker.runner import Done, Handler, Outcome, RetryAt

log = logging.getLogger("ktwidget.payments")

EXPIRE_JOB = "expire"
CREDIT_JOB = "credit"
CAPTURE_JOB = "capture"

CREDIT_MAX_ATTEMPTS = 8  # provider unavailable: 5 s, 10 s, 20 s … then give up
CREDIT_BACKOFF_CAP = 300
CAPTURE_MAX_ATTEMPTS = 3  # one capture per clearing run; then the hold is released

HOLD_EVENTS = {
    HoldOutcome.APPROVED: Event.HOLD_PLACED,
    HoldOutcome.DECLINED: Event.DECLINED,
    HoldOutcome.INPUT_REFUSED: Event.INPUT_REFUSED,
}


# --- status changes and the work they start ---------------------------------------------------


def change(
    conn: Connection,
    gw: Gateway,
    tx: Transaction,
    event: Event,
    now: datetime,
    message: str | None = None,
    **fields: object,
) -> bool:
    """Apply ``event`` if ``tx`` is still where the caller saw it; write the work it starts."""
    step = apply(tx.status, event, message)
    if not repo.change_status(conn, tx.id, step, now, **fields):
        return False
    log.info(
        "status_changed",
        extra={
            "transaction_hash": tx.transaction_hash,
            "from": step.source.value,
            "to": step.target.value,
            "error_type": None if step.error is None else step.error.error_type.value,
        },
    )
    moved = replace(tx, status=step.target)
    if step.target is Status.AUTHORIZED:
        if tx.type is TransactionType.ECOM:
            change(conn, gw, moved, Event.CREDITED, now)  # nothing to credit: success at once
        else:
            _enqueue(conn, CREDIT_JOB, tx, now, now)
    elif step.target is Status.SUCCESS:
        _enqueue(conn, CAPTURE_JOB, tx, next_clearing(now, gw.settings.clearing_interval), now)
    elif step.target.is_final:
        enqueue_notification(conn, gw, tx.id, now)
    return True


def _enqueue(conn: Connection, kind: str, tx: Transaction, due: datetime, now: datetime) -> None:
    jobs_repo.enqueue(
        conn,
        kind=kind,
        transaction_id=tx.id,
        dedupe_key=f"{kind}:{tx.transaction_hash}",
        due_at=due,
        now=now,
    )


def _reload(conn: Connection, tx_id: int) -> Transaction:
    tx = repo.get(conn, tx_id)
    if tx is None:  # pragma: no cover - transactions are never deleted
        raise LookupError(tx_id)
    return tx


def _change_now(
    gw: Gateway, tx_id: int, event: Event, message: str | None = None, **fields: object
) -> bool:
    with gw.db.write() as conn:
        tx = _reload(conn, tx_id)
        if (tx.status, event) not in TABLE:
            return False
        return change(conn, gw, tx, event, gw.clock.now(), message, **fields)


# --- the customer's way to the bank and back -------------------------------------------------


def start_payment(
    gw: Gateway, transaction_hash: str, origin: str | None, lang: str | None = None
) -> str | None:
    """The bank's card page for a pending payment; None when it is no longer open."""
    view = get_transaction(gw, transaction_hash)
    tx, merchant = view.transaction, view.merchant
    now = gw.clock.now()
    if tx.status is not Status.PENDING or tx.expires_at <= now or not merchant.active:
        return None
    if origin is not None and allowed(origin, merchant.domains) and origin != tx.widget_origin:
        with gw.db.write() as conn:
            conn.execute(
                update(transactions).where(transactions.c.id == tx.id).values(widget_origin=origin)
            )
    base = gw.settings.public_url
    return gw.acquirer(tx.acquirer).start_payment(
        tx,
        return_url=f"{base}/pay/{tx.transaction_hash}/return" + (f"?lang={lang}" if lang else ""),
        notify_url=f"{base}/api/v1/acquirers/{tx.acquirer}/results",
        frame_ancestors=frame_ancestors(merchant.domains),
    )


def accept_hold_result(gw: Gateway, acquirer: str, body: bytes, signature: str) -> Transaction:
    """The bank's result, from its server or through the customer's redirect: applied once."""
    try:
        result = gw.acquirer(acquirer).verify_result(body, signature)
    except (ResultRejected, LookupError) as exc:
        raise MalformedRequest(f"rejected acquirer result: {exc}") from exc
    with gw.db.read() as conn:
        tx = repo.get_by_hash(conn, result.transaction_hash)
    if tx is None or tx.acquirer != acquirer:
        raise NotFound("no such transaction for this acquirer")
    _apply_hold_result(gw, tx, result)
    with gw.db.read() as conn:
        return _reload(conn, tx.id)


def _apply_hold_result(gw: Gateway, tx: Transaction, result: HoldResult) -> None:
    event = HOLD_EVENTS[result.outcome]
    fields: dict[str, object] = {"card_mask": result.card_mask}
    if result.outcome is HoldOutcome.APPROVED:
        fields["acquirer_ref"] = result.reference
    if _change_now(gw, tx.id, event, result.message, **fields):
        return
    with gw.db.read() as conn:
        current = _reload(conn, tx.id)
    if result.outcome is HoldOutcome.APPROVED and current.acquirer_ref is None:
        # The money was held after the gateway had given up on the payment (it expired):
        # release it, so the customer is never charged for a payment we refused.
        gw.acquirer(tx.acquirer).void(tx.transaction_hash)
        log.warning("late_hold_released", extra={"transaction_hash": tx.transaction_hash})


# --- worker jobs -----------------------------------------------------------------------------


def _job_tx(gw: Gateway, job: Job) -> Transaction:
    assert job.transaction_id is not None
    with gw.db.read() as conn:
        return _reload(conn, job.transaction_id)


def run_expire(gw: Gateway, job: Job) -> Outcome:
    """Close an abandoned payment: `denied` first, then the bank's order (closed, hold released).

    In that order, a result the bank sends meanwhile finds the payment `denied` and its hold is
    released (`_apply_hold_result`); the other way round, a hold placed between the release and
    the status change would be reported paid while the bank had let it go.
    """
    tx = _job_tx(gw, job)
    if tx.status is Status.PENDING:
        _change_now(gw, tx.id, Event.EXPIRED, "Payment session expired unpaid")
        tx = _job_tx(gw, job)
    if tx.status is Status.DENIED and tx.acquirer_ref is None:
        # Also when a crash came between the status change and this call: voiding is idempotent.
        gw.acquirer(tx.acquirer).void(tx.transaction_hash)
    return Done()


def run_credit(gw: Gateway, job: Job) -> Outcome:
    tx = _job_tx(gw, job)
    if tx.status is not Status.AUTHORIZED:
        return Done()
    assert tx.service_id is not None
    assert tx.contract_value is not None
    with gw.db.read() as conn:
        service = catalog_repo.get(conn, tx.service_id)
    assert service is not None
    result = gw.provider(service.provider).credit(
        CreditRequest(tx.transaction_hash, tx.service_id, tx.contract_value, tx.amount)
    )
    now = gw.clock.now()
    if result.outcome is CreditOutcome.CREDITED:
        _change_now(gw, tx.id, Event.CREDITED)
        return Done()
    if result.outcome is CreditOutcome.PROCESSING:
        return RetryAt(result.retry_at or now + timedelta(seconds=5), "crediting in progress")
    if result.outcome is CreditOutcome.REFUSED:
        gw.acquirer(tx.acquirer).void(tx.transaction_hash)
        _change_now(gw, tx.id, Event.CREDIT_REFUSED, result.message or "Provider refused")
        return Done()
    if job.attempts < CREDIT_MAX_ATTEMPTS:
        delay = min(CREDIT_BACKOFF_CAP, 5 * 2 ** (job.attempts - 1))
        return RetryAt(now + timedelta(seconds=delay), result.message or "provider unavailable")
    gw.acquirer(tx.acquirer).void(tx.transaction_hash)
    _change_now(
        gw, tx.id, Event.SYSTEM_FAILURE, "Service provider unavailable; the hold was released"
    )
    return Done()


def run_capture(gw: Gateway, job: Job) -> Outcome:
    """Clearing: capture the hold; after repeated failures release it and end in `error`."""
    tx = _job_tx(gw, job)
    if tx.status is not Status.SUCCESS:
        return Done()
    acquirer = gw.acquirer(tx.acquirer)
    if acquirer.capture(tx.transaction_hash, tx.amount) is CaptureOutcome.CAPTURED:
        _change_now(gw, tx.id, Event.CAPTURED)
        return Done()
    if job.attempts < CAPTURE_MAX_ATTEMPTS:
        due = next_clearing(gw.clock.now(), gw.settings.clearing_interval)
        return RetryAt(due, "capture failed; retrying at the next clearing run")
    if acquirer.hold_state(tx.transaction_hash) is HoldState.CAPTURED:
        # The bank did capture, though its answer said otherwise: the payment is complete.
        _change_now(gw, tx.id, Event.CAPTURED)
        return Done()
    acquirer.void(tx.transaction_hash)
    _change_now(
        gw, tx.id, Event.CAPTURE_FAILED, "Capture failed at clearing; the hold was released"
    )
    return Done()


def _threaded(func: Callable[[Gateway, Job], Outcome]) -> Handler:
    async def handler(gw: Gateway, job: Job) -> Outcome:
        return await run_in_threadpool(func, gw, job)

    return handler


HANDLERS: dict[str, Handler] = {
    EXPIRE_JOB: _threaded(run_expire),
    CREDIT_JOB: _threaded(run_credit),
    CAPTURE_JOB: _threaded(run_capture),
}
