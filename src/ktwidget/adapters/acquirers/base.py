"""What the gateway needs from an acquiring bank: a hosted card page, hold results, capture, void."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ktwidget.domain.model import Transaction


class HoldOutcome(StrEnum):
    APPROVED = "approved"  # a hold was placed
    DECLINED = "declined"  # the bank refused the card or the 3-D Secure check
    INPUT_REFUSED = "input_refused"  # card data refused too many times


@dataclass(frozen=True)
class HoldResult:
    """The bank's word on a payment attempt, verified by the adapter."""

    transaction_hash: str
    outcome: HoldOutcome
    reference: str | None  # the bank's hold id
    card_mask: str | None  # first 6 and last 4 digits
    message: str | None


class CaptureOutcome(StrEnum):
    CAPTURED = "captured"
    FAILED = "failed"  # worth retrying at a later clearing run


class HoldState(StrEnum):
    NONE = "none"  # no hold: never paid, declined, or closed
    OPEN = "open"  # the customer may still pay
    HELD = "held"
    CAPTURED = "captured"
    VOIDED = "voided"


class AcquirerError(Exception):
    """The bank could not be reached or answered nonsense; the call may be repeated."""


class ResultRejected(ValueError):
    """A hold result whose signature or content does not check out."""


class Acquirer(Protocol):
    name: str

    def start_payment(
        self, transaction: Transaction, return_url: str, notify_url: str, frame_ancestors: str
    ) -> str:
        """Register the payment with the bank (idempotent by transaction_hash); the card page URL.

        ``frame_ancestors`` is the CSP source list of the pages that may frame the card page.
        """
        ...

    def verify_result(self, body: bytes, signature: str) -> HoldResult:
        """Check a result the bank sent (server to server, or through the customer's redirect)."""
        ...

    def capture(self, transaction_hash: str, amount: int) -> CaptureOutcome:
        """Capture the hold; repeating a successful capture answers CAPTURED again."""
        ...

    def void(self, transaction_hash: str) -> None:
        """Release the hold, or close the unpaid payment; repeating it is harmless."""
        ...

    def hold_state(self, transaction_hash: str) -> HoldState: ...
