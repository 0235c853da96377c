"""The gateway's adapter for the sandbox bank (the first `Acquirer`)."""

from __future__ import annotations

import hmac
import json

from ktwidget.adapters.acquirers.base import (
    CaptureOutcome,
    HoldOutcome,
    HoldResult,
    HoldState,
    ResultRejected,
)
from ktwidget.adapters.clock import Clock
from ktwidget.domain.model import Transaction
from ktwidget.sandbox.bank import Bank

_STATES = {
    "open": HoldState.OPEN,
    "challenge": HoldState.OPEN,
    "held": HoldState.HELD,
    "captured": HoldState.CAPTURED,
    "voided": HoldState.VOIDED,
}


class SandboxAcquirer:
    name = "sandbox"

    def __init__(self, bank: Bank, clock: Clock, public_url: str) -> None:
        self.bank = bank
        self.clock = clock
        self.public_url = public_url

    def start_payment(
        self, transaction: Transaction, return_url: str, notify_url: str, frame_ancestors: str
    ) -> str:
        order = self.bank.open_order(
            transaction.transaction_hash,
            transaction.amount,
            return_url,
            notify_url,
            frame_ancestors,
            self.clock.now(),
        )
        return f"{self.public_url}/sandbox-bank/orders/{order.ref}"

    def verify_result(self, body: bytes, signature: str) -> HoldResult:
        if not signature.isascii() or not hmac.compare_digest(self.bank.sign(body), signature):
            raise ResultRejected("the result's signature does not match")
        try:
            data = json.loads(body)
            return HoldResult(
                transaction_hash=str(data["transaction_hash"]),
                outcome=HoldOutcome(data["outcome"]),
                reference=data.get("reference"),
                card_mask=data.get("card_mask"),
                message=data.get("message"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ResultRejected("the result is not one the bank sends") from exc

    def capture(self, transaction_hash: str, amount: int) -> CaptureOutcome:
        captured = self.bank.capture(transaction_hash, self.clock.now())
        return CaptureOutcome.CAPTURED if captured else CaptureOutcome.FAILED

    def void(self, transaction_hash: str) -> None:
        self.bank.void(transaction_hash, self.clock.now())

    def hold_state(self, transaction_hash: str) -> HoldState:
        order = self.bank.get(transaction_hash)
        return HoldState.NONE if order is None else _STATES.get(order.state, HoldState.NONE)
