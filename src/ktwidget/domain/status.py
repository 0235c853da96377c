"""The transaction status machine of SPEC section 5: the table, and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    SUCCESS = "success"
    COMPLETED = "completed"
    ERROR = "error"
    DENIED = "denied"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({Status.COMPLETED, Status.ERROR, Status.DENIED})


class ErrorType(StrEnum):
    ERROR_PAYMENT = "ERROR_PAYMENT"
    ERROR_INPUT = "ERROR_INPUT"
    ERROR_SYSTEM = "ERROR_SYSTEM"


@dataclass(frozen=True)
class StatusError:
    """The ``error`` object of a status record; only `error` and `denied` carry one."""

    error_type: ErrorType
    error_message: str


class Event(StrEnum):
    """What can happen to a transaction; each names one row of the table."""

    HOLD_PLACED = "hold_placed"  # acquirer approved and placed a hold
    DECLINED = "declined"  # acquirer declined
    INPUT_REFUSED = "input_refused"  # card data refused too many times
    EXPIRED = "expired"  # payment session expired unpaid, or the gateway refused it
    CREDITED = "credited"  # ecom: at once; service: the provider confirmed the crediting
    CREDIT_REFUSED = "credit_refused"  # the provider refused; the hold is released first
    SYSTEM_FAILURE = "system_failure"  # internal failure after the hold; released first
    CAPTURED = "captured"  # clearing: the acquirer confirmed the capture
    CAPTURE_FAILED = "capture_failed"  # the capture kept failing; the hold is released first


@dataclass(frozen=True)
class Rule:
    target: Status
    error_type: ErrorType | None


# (from, event) -> (to, error type). SPEC section 5 says "no other transition is possible".
TABLE: Mapping[tuple[Status, Event], Rule] = {
    (Status.PENDING, Event.HOLD_PLACED): Rule(Status.AUTHORIZED, None),
    (Status.PENDING, Event.DECLINED): Rule(Status.ERROR, ErrorType.ERROR_PAYMENT),
    (Status.PENDING, Event.INPUT_REFUSED): Rule(Status.ERROR, ErrorType.ERROR_INPUT),
    (Status.PENDING, Event.EXPIRED): Rule(Status.DENIED, ErrorType.ERROR_PAYMENT),
    (Status.AUTHORIZED, Event.CREDITED): Rule(Status.SUCCESS, None),
    (Status.AUTHORIZED, Event.CREDIT_REFUSED): Rule(Status.DENIED, ErrorType.ERROR_PAYMENT),
    (Status.AUTHORIZED, Event.SYSTEM_FAILURE): Rule(Status.ERROR, ErrorType.ERROR_SYSTEM),
    (Status.SUCCESS, Event.CAPTURED): Rule(Status.COMPLETED, None),
    (Status.SUCCESS, Event.CAPTURE_FAILED): Rule(Status.ERROR, ErrorType.ERROR_SYSTEM),
}

TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    status: frozenset(rule.target for (src, _), rule in TABLE.items() if src is status)
    for status in Status
}


class IllegalTransition(Exception):
    def __init__(self, current: Status, event: Event) -> None:
        super().__init__(f"{event.value} is not possible in status {current.value}")
        self.current = current
        self.event = event


@dataclass(frozen=True)
class Change:
    """The outcome of applying an event: where to go, and the error record to attach."""

    source: Status
    target: Status
    error: StatusError | None


def apply(current: Status, event: Event, message: str | None = None) -> Change:
    """Apply ``event`` to a transaction in ``current``; raise `IllegalTransition` off the table.

    ``message`` is the human ``error_message`` for statuses that carry an error.
    """
    rule = TABLE.get((current, event))
    if rule is None:
        raise IllegalTransition(current, event)
    error = None
    if rule.error_type is not None:
        error = StatusError(rule.error_type, message or _DEFAULT_MESSAGES[event])
    return Change(current, rule.target, error)


def can_transition(source: Status, target: Status) -> bool:
    return target in TRANSITIONS[source]


_DEFAULT_MESSAGES: Mapping[Event, str] = {
    Event.DECLINED: "Acquirer rejected payment",
    Event.INPUT_REFUSED: "Card data refused too many times",
    Event.EXPIRED: "Payment session expired",
    Event.CREDIT_REFUSED: "Service provider refused the crediting",
    Event.SYSTEM_FAILURE: "Internal error after the hold; the hold was released",
    Event.CAPTURE_FAILED: "Capture failed at clearing; the hold was released",
}
