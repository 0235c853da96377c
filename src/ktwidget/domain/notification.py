"""The merchant notification body of SPEC section 7, exactly the seed's shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ktwidget.domain import codec, money
from ktwidget.domain.status import Status, StatusError


def format_time(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 to the second with the zone's offset: ``2019-02-05T14:22:53+06:00``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; store UTC-aware times")
    return moment.astimezone(zone).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class StatusRecord:
    status: Status
    created_at: datetime
    updated_at: datetime | None = None
    error: StatusError | None = None

    def to_json(self, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "created_at": format_time(self.created_at, zone),
            "updated_at": format_time(self.updated_at, zone),
            "error": None
            if self.error is None
            else {
                "error_type": self.error.error_type.value,
                "error_message": self.error.error_message,
            },
        }


@dataclass(frozen=True)
class NotificationFacts:
    merchant_id: int
    order_id: str
    description: str | None
    amount: int  # minor units
    transaction_hash: str
    created_at: datetime
    updated_at: datetime | None
    status: StatusRecord


def notification_body(facts: NotificationFacts, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "merchant_id": facts.merchant_id,
        "order_id": facts.order_id,
        "description": facts.description,
        "amount": money.to_json_number(facts.amount),
        "transaction_hash": facts.transaction_hash,
        "created_at": format_time(facts.created_at, zone),
        "updated_at": format_time(facts.updated_at, zone),
        "status": facts.status.to_json(zone),
    }


def notification_bytes(facts: NotificationFacts, zone: ZoneInfo) -> bytes:
    """The exact bytes sent and signed; stored once so every retry sends the same body."""
    return codec.dumps(notification_body(facts, zone))
