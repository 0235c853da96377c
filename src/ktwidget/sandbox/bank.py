"""The sandbox bank's books: payment orders, holds, captures and voids, each a compare-and-set."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from ktwidget.sandbox import cards
from ktwidget.storage.db import Database
from ktwidget.storage.schema import sandbox_orders

MAX_REFUSED_SUBMISSIONS = 3
MAX_CHALLENGE_FAILURES = 3


@dataclass(frozen=True)
class Order:
    ref: str
    hold_id: str
    amount: int
    return_url: str
    notify_url: str
    frame_ancestors: str
    state: str
    refused_submissions: int
    challenge_failures: int
    card_mask: str | None
    capture_fails: bool
    outcome: str | None
    message: str | None

    @property
    def finished(self) -> bool:
        return self.outcome is not None or self.state == "closed"


def _order(row: Row[Any]) -> Order:
    return Order(**{k: row._mapping[k] for k in Order.__dataclass_fields__})


def challenge_code(key: bytes, ref: str) -> str:
    """The 3-D Secure code for an order; the sandbox page shows it to the customer."""
    digest = hmac.new(key, f"3ds:{ref}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 1_000_000:06d}"


@dataclass(frozen=True)
class Step:
    """What the card page does next: show the form again, ask for a code, or finish."""

    kind: str  # "form" | "challenge" | "finished"
    errors: dict[str, str]
    order: Order


class Bank:
    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self.key = key

    # --- the bank's API, as the gateway's adapter calls it -----------------------------------

    def open_order(
        self,
        ref: str,
        amount: int,
        return_url: str,
        notify_url: str,
        frame_ancestors: str,
        now: datetime,
    ) -> Order:
        try:
            return self._open_order(ref, amount, return_url, notify_url, frame_ancestors, now)
        except IntegrityError:
            # Two page loads raced to open it (PostgreSQL): the other one did.
            order = self.get(ref)
            assert order is not None
            return order

    def _open_order(
        self,
        ref: str,
        amount: int,
        return_url: str,
        notify_url: str,
        frame_ancestors: str,
        now: datetime,
    ) -> Order:
        with self.db.write() as conn:
            existing = self._get(conn, ref)
            if existing is not None:
                return existing
            conn.execute(
                insert(sandbox_orders).values(
                    ref=ref,
                    hold_id="sbx_" + secrets.token_hex(12),
                    amount=amount,
                    return_url=return_url,
                    notify_url=notify_url,
                    frame_ancestors=frame_ancestors,
                    state="open",
                    refused_submissions=0,
                    challenge_failures=0,
                    capture_fails=False,
                    created_at=now,
                )
            )
            order = self._get(conn, ref)
        assert order is not None
        return order

    def get(self, ref: str) -> Order | None:
        with self.db.read() as conn:
            return self._get(conn, ref)

    def capture(self, ref: str, now: datetime) -> bool:
        with self.db.write() as conn:
            order = self._get(conn, ref)
            if order is None:
                return False
            if order.state == "captured":
                return True
            if order.state != "held" or order.capture_fails:
                return False
            return self._move(conn, ref, "held", now, state="captured")

    def void(self, ref: str, now: datetime) -> None:
        """Release a hold, or close an order nobody paid; captured money stays captured."""
        with self.db.write() as conn:
            order = self._get(conn, ref)
            if order is None:
                return
            if order.state == "held":
                self._move(conn, ref, "held", now, state="voided")
            elif order.state in ("open", "challenge"):
                self._move(conn, ref, order.state, now, state="closed")

    # --- the customer's side: the card page and the 3-D Secure page --------------------------

    def submit_card(self, ref: str, form: cards.CardForm, now: datetime) -> Step:
        errors = cards.check(form, now.date())
        with self.db.write() as conn:
            order = self._get(conn, ref)
            if order is None or order.state != "open":
                raise LookupError(ref)
            if errors:
                refused = order.refused_submissions + 1
                if refused >= MAX_REFUSED_SUBMISSIONS:
                    self._move(
                        conn,
                        ref,
                        "open",
                        now,
                        state="declined",
                        refused_submissions=refused,
                        outcome="input_refused",
                        message="Card data refused three times",
                    )
                    return Step("finished", errors, self._must(conn, ref))
                self._move(conn, ref, "open", now, refused_submissions=refused)
                return Step("form", errors, self._must(conn, ref))
            number = form.digits
            card_mask = cards.mask(number)
            behaviour = cards.behaviour(number)
            if behaviour is cards.Behaviour.CHALLENGE:
                self._move(conn, ref, "open", now, state="challenge", card_mask=card_mask)
                return Step("challenge", {}, self._must(conn, ref))
            if behaviour in (cards.Behaviour.DECLINE, cards.Behaviour.INSUFFICIENT_FUNDS):
                self._move(
                    conn,
                    ref,
                    "open",
                    now,
                    state="declined",
                    card_mask=card_mask,
                    outcome="declined",
                    message=cards.MESSAGES[behaviour],
                )
            else:
                self._move(
                    conn,
                    ref,
                    "open",
                    now,
                    state="held",
                    card_mask=card_mask,
                    capture_fails=behaviour is cards.Behaviour.CAPTURE_FAILS,
                    outcome="approved",
                )
            return Step("finished", {}, self._must(conn, ref))

    def submit_code(self, ref: str, code: str, now: datetime) -> Step:
        with self.db.write() as conn:
            order = self._get(conn, ref)
            if order is None or order.state != "challenge":
                raise LookupError(ref)
            if hmac.compare_digest(code.strip(), challenge_code(self.key, ref)):
                self._move(conn, ref, "challenge", now, state="held", outcome="approved")
                return Step("finished", {}, self._must(conn, ref))
            failures = order.challenge_failures + 1
            if failures >= MAX_CHALLENGE_FAILURES:
                self._move(
                    conn,
                    ref,
                    "challenge",
                    now,
                    state="declined",
                    challenge_failures=failures,
                    outcome="declined",
                    message="3-D Secure authentication failed",
                )
                return Step("finished", {"code": "code_wrong"}, self._must(conn, ref))
            self._move(conn, ref, "challenge", now, challenge_failures=failures)
            return Step("challenge", {"code": "code_wrong"}, self._must(conn, ref))

    # --- the signed result --------------------------------------------------------------------

    def result_message(self, order: Order) -> tuple[bytes, str]:
        """The result as JSON bytes and their signature (hex HMAC-SHA256)."""
        body = json.dumps(
            {
                "transaction_hash": order.ref,
                "outcome": order.outcome,
                "reference": order.hold_id if order.outcome == "approved" else None,
                "card_mask": order.card_mask,
                "message": order.message,
            },
            sort_keys=True,
        ).encode()
        return body, self.sign(body)

    def sign(self, body: bytes) -> str:
        return hmac.new(self.key, body, hashlib.sha256).hexdigest()

    @staticmethod
    def encode_for_url(body: bytes) -> str:
        return base64.urlsafe_b64encode(body).decode().rstrip("=")

    # --- storage ------------------------------------------------------------------------------

    @staticmethod
    def _get(conn: Connection, ref: str) -> Order | None:
        row = conn.execute(select(sandbox_orders).where(sandbox_orders.c.ref == ref)).first()
        return None if row is None else _order(row)

    def _must(self, conn: Connection, ref: str) -> Order:
        order = self._get(conn, ref)
        assert order is not None
        return order

    @staticmethod
    def _move(conn: Connection, ref: str, expected: str, now: datetime, **values: Any) -> bool:
        result = conn.execute(
            update(sandbox_orders)
            .where(sandbox_orders.c.ref == ref, sandbox_orders.c.state == expected)
            .values(updated_at=now, **values)
        )
        return result.rowcount == 1
