"""Receiving the gateway's notifications on a merchant's server (SPEC section 7).

    from ktwidget.notifications import InvalidNotification, parse_notification

    notification = parse_notification(raw_body, request.headers, "whsec_…",
                                       expected_order_id=order.id, expected_amount=order.total)
    if notification.status.status == "completed":
        ship(order)
    return {"status": "ok"}

The signature (Standard Webhooks) is checked over the raw body bytes exactly as they arrived, never
over a body parsed and serialised again, and the ``webhook-timestamp`` must be within ``tolerance``
seconds of now, so a captured notification cannot be replayed later. Deliveries are at least once:
remember ``webhook_id`` and answer ``{"status": "ok"}`` again for one you have already handled.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ktwidget.domain import codec, webhooks
from ktwidget.sdk.errors import KtwidgetError

__all__ = [
    "DEFAULT_TOLERANCE",
    "InvalidNotification",
    "InvalidSignature",
    "Notification",
    "NotificationError",
    "NotificationMismatch",
    "NotificationStatus",
    "parse_body",
    "parse_notification",
    "verify_signature",
]

DEFAULT_TOLERANCE = 300  # seconds, either way, as the Standard Webhooks libraries use
FINAL_STATUSES = ("completed", "error", "denied")


class InvalidNotification(KtwidgetError):
    """Not a notification to act on: answer 400 and do not ship anything."""


class InvalidSignature(InvalidNotification):
    """Missing or wrong signature headers, a signature that does not match, or a stale timestamp."""


class NotificationMismatch(InvalidNotification):
    """Correctly signed, but not about the order (or amount) you expected."""


@dataclass(frozen=True)
class NotificationError:
    error_type: str  # ERROR_PAYMENT, ERROR_INPUT or ERROR_SYSTEM
    error_message: str


@dataclass(frozen=True)
class NotificationStatus:
    status: str  # completed, error or denied
    created_at: datetime
    updated_at: datetime | None
    error: NotificationError | None


@dataclass(frozen=True)
class Notification:
    """A verified notification. ``amount`` is in major units (tenge), exact."""

    merchant_id: int
    order_id: str
    description: str | None
    amount: Decimal
    transaction_hash: str
    created_at: datetime
    updated_at: datetime | None
    status: NotificationStatus
    webhook_id: str | None = None  # dedupe on this: retries and resends carry the same one

    @property
    def paid(self) -> bool:
        """True when the money was taken: ship the goods."""
        return self.status.status == "completed"


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        for key, item in headers.items():
            if key.lower() == name:
                value = item
                break
    if not value:
        raise InvalidSignature(f"the {name} header is missing")
    return value


def _raw(body: object) -> bytes:
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(
        "pass the raw request body as bytes (FastAPI: await request.body(); Flask: "
        "request.get_data(); Django: request.body), never a parsed or re-serialised one"
    )


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Check the Standard Webhooks signature; return the ``webhook-id``.

    ``secret`` is your ``whsec_…`` secret, or several while you rotate it (any one may match).
    """
    raw = _raw(body)
    webhook_id = _header(headers, webhooks.ID_HEADER)
    timestamp_text = _header(headers, webhooks.TIMESTAMP_HEADER)
    signature = _header(headers, webhooks.SIGNATURE_HEADER)
    try:
        timestamp = int(timestamp_text)
    except ValueError as exc:
        raise InvalidSignature("the webhook-timestamp header is not a whole number") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature(
            f"the webhook-timestamp is {int(current - timestamp)} s away from now "
            f"(tolerance {tolerance} s): a replay, or a clock that is off"
        )
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("give the webhook secret (whsec_…)")
    for item in secrets:
        try:
            key = webhooks.secret_key(item)
        except webhooks.SecretError as exc:
            raise ValueError(str(exc)) from exc
        if webhooks.matches(key, webhook_id, timestamp, raw, signature):
            return webhook_id
    raise InvalidSignature("no signature matches: the body was changed, or the secret is wrong")


def _time(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidNotification(f"{name} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidNotification(f"{name} is not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        raise InvalidNotification(f"{name} has no UTC offset: {value!r}")
    return moment


def _optional_time(value: object, name: str) -> datetime | None:
    return None if value is None else _time(value, name)


def _expected_amount(value: int | Decimal | str | float) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("expected_amount must be a number of tenge, not a boolean")
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest decimal form, never float arithmetic
    return Decimal(value)


def parse_body(
    body: bytes,
    *,
    expected_order_id: str | None = None,
    expected_amount: int | Decimal | str | float | None = None,
    webhook_id: str | None = None,
) -> Notification:
    """Read a notification body (verify it first), checking the order and amount you expect."""
    try:
        data: Any = codec.loads(_raw(body))
    except (codec.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidNotification("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidNotification("the body is not a JSON object")
    try:
        status_data = data["status"]
        if not isinstance(status_data, dict):
            raise InvalidNotification("status must be an object")
        error_data = status_data.get("error")
        error = None
        if error_data is not None:
            if not isinstance(error_data, dict):
                raise InvalidNotification("status.error must be an object or null")
            error = NotificationError(
                str(error_data["error_type"]), str(error_data["error_message"])
            )
        status = NotificationStatus(
            status=str(status_data["status"]),
            created_at=_time(status_data["created_at"], "status.created_at"),
            updated_at=_optional_time(status_data.get("updated_at"), "status.updated_at"),
            error=error,
        )
        amount = data["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
            raise InvalidNotification("amount must be a number")
        merchant_id = data["merchant_id"]
        if isinstance(merchant_id, bool) or not isinstance(merchant_id, int):
            raise InvalidNotification("merchant_id must be an integer")
        description = data.get("description")
        notification = Notification(
            merchant_id=merchant_id,
            order_id=str(data["order_id"]),
            description=None if description is None else str(description),
            amount=Decimal(amount),
            transaction_hash=str(data["transaction_hash"]),
            created_at=_time(data["created_at"], "created_at"),
            updated_at=_optional_time(data.get("updated_at"), "updated_at"),
            status=status,
            webhook_id=webhook_id,
        )
    except KeyError as exc:
        raise InvalidNotification(f"the body has no {exc.args[0]!r}") from exc
    if status.status not in FINAL_STATUSES:
        raise InvalidNotification(f"unknown status {status.status!r}")
    if expected_order_id is not None and notification.order_id != expected_order_id:
        raise NotificationMismatch(
            f"order_id is {notification.order_id!r}, expected {expected_order_id!r}"
        )
    if expected_amount is not None and notification.amount != _expected_amount(expected_amount):
        raise NotificationMismatch(
            f"amount is {notification.amount}, expected {_expected_amount(expected_amount)}"
        )
    return notification


def parse_notification(
    body: bytes,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    expected_order_id: str | None = None,
    expected_amount: int | Decimal | str | float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Notification:
    """Verify the signature over the raw ``body``, then parse it (see `parse_body`)."""
    webhook_id = verify_signature(body, headers, secret, tolerance=tolerance, now=now)
    return parse_body(
        body,
        expected_order_id=expected_order_id,
        expected_amount=expected_amount,
        webhook_id=webhook_id,
    )
