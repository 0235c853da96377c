"""The sandbox service provider: credits ktpay services after a delay, refuses some contracts.

Contract values (any service) that behave differently, documented in the README:
- ending in ``000``: refused ("subscriber not found"), the payment ends ``denied``;
- ending in ``999``: the provider stays unavailable, the gateway gives up after its retries;
- ending in ``998``: unavailable twice, then credited.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from ktwidget.adapters.clock import Clock
from ktwidget.adapters.providers.base import CreditOutcome, CreditRequest, CreditResult
from ktwidget.storage.db import Database
from ktwidget.storage.schema import sandbox_credits

REFUSED_SUFFIX = "000"
UNAVAILABLE_SUFFIX = "999"
FLAKY_SUFFIX = "998"
FLAKY_FAILURES = 2


class SandboxProvider:
    name = "sandbox"

    def __init__(self, db: Database, clock: Clock, delay_seconds: int) -> None:
        self.db = db
        self.clock = clock
        self.delay = timedelta(seconds=delay_seconds)

    def credit(self, request: CreditRequest) -> CreditResult:
        try:
            return self._credit(request)
        except IntegrityError:
            return self._credit(request)  # a concurrent first call registered it: ask again

    def _credit(self, request: CreditRequest) -> CreditResult:
        now = self.clock.now()
        contract = request.contract_value
        with self.db.write() as conn:
            row = conn.execute(
                select(sandbox_credits).where(sandbox_credits.c.ref == request.transaction_hash)
            ).first()
            if row is None:
                conn.execute(
                    insert(sandbox_credits).values(
                        ref=request.transaction_hash,
                        service_id=request.service_id,
                        contract_value=contract,
                        amount=request.amount,
                        calls=1,
                        state="processing",
                        ready_at=now + self.delay,
                        created_at=now,
                    )
                )
                calls, state, ready_at = 1, "processing", now + self.delay
            else:
                calls, state, ready_at = row.calls + 1, row.state, row.ready_at
                conn.execute(
                    update(sandbox_credits)
                    .where(sandbox_credits.c.ref == request.transaction_hash)
                    .values(calls=calls)
                )
            if state == "credited":
                return CreditResult(CreditOutcome.CREDITED)
            if state == "refused" or contract.endswith(REFUSED_SUFFIX):
                self._set(conn, request.transaction_hash, "refused")
                return CreditResult(CreditOutcome.REFUSED, "Subscriber not found")
            if contract.endswith(UNAVAILABLE_SUFFIX) or (
                contract.endswith(FLAKY_SUFFIX) and calls <= FLAKY_FAILURES
            ):
                return CreditResult(CreditOutcome.UNAVAILABLE, "Provider temporarily unavailable")
            if now < ready_at:
                return CreditResult(CreditOutcome.PROCESSING, retry_at=ready_at)
            self._set(conn, request.transaction_hash, "credited")
            return CreditResult(CreditOutcome.CREDITED)

    @staticmethod
    def _set(conn: Connection, ref: str, state: str) -> None:
        conn.execute(
            update(sandbox_credits).where(sandbox_credits.c.ref == ref).values(state=state)
        )
