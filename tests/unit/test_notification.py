"""SPEC section 7: the notification body, exactly the seed's shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ktwidget.domain.notification import (
    NotificationFacts,
    StatusRecord,
    format_time,
    notification_body,
    notification_bytes,
)
from ktwidget.domain.status import ErrorType, Status, StatusError

ALMATY = ZoneInfo("Asia/Almaty")
HASH = "af7ed500aa9f2132fae4b63e936af641bcc4ebaf"

# SPEC section 7, verbatim.
SEED_ERROR_BODY = """
    {"merchant_id": 1, "order_id": "1", "description": "Description of transactions", "amount": 1000,
     "transaction_hash": "af7ed500aa9f2132fae4b63e936af641bcc4ebaf",
     "created_at": "2019-02-05T14:22:53+06:00", "updated_at": null,
     "status": {"status": "error", "created_at": "2019-02-05T14:23:09+06:00", "updated_at": null,
                "error": {"error_type": "ERROR_PAYMENT", "error_message": "KKB rejected payment"}}}
"""
# 2019-02-05T14:22:53+06:00 in UTC.
CREATED = datetime(2019, 2, 5, 8, 22, 53, tzinfo=UTC)
STATUS_AT = datetime(2019, 2, 5, 8, 23, 9, tzinfo=UTC)


def facts(**changes: Any) -> NotificationFacts:
    values: dict[str, Any] = {
        "merchant_id": 1,
        "order_id": "1",
        "description": "Description of transactions",
        "amount": 100000,
        "transaction_hash": HASH,
        "created_at": CREATED,
        "updated_at": None,
        "status": StatusRecord(
            Status.ERROR,
            STATUS_AT,
            error=StatusError(ErrorType.ERROR_PAYMENT, "KKB rejected payment"),
        ),
    }
    values.update(changes)
    return NotificationFacts(**values)


def sent(f: NotificationFacts) -> Any:
    return json.loads(notification_bytes(f, ALMATY))


def key_order(value: Any) -> list[Any]:
    """Keys in order, nested objects included."""
    if not isinstance(value, dict):
        return []
    return [(k, key_order(v)) for k, v in value.items()]


def test_the_seed_error_example_exactly() -> None:
    expected = json.loads(SEED_ERROR_BODY)
    body = sent(facts())
    assert body == expected
    assert key_order(body) == key_order(expected)
    # The bytes: compact UTF-8 JSON in the seed's order.
    assert notification_bytes(facts(), ALMATY) == json.dumps(
        expected, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def test_the_seed_success_example() -> None:
    record = StatusRecord(Status.COMPLETED, STATUS_AT)
    expected = json.loads(SEED_ERROR_BODY)
    expected["status"]["status"] = "completed"
    expected["status"]["error"] = None
    body = sent(facts(status=record))
    assert body == expected
    assert key_order(body) == key_order(expected)


def test_denied_carries_its_error() -> None:
    record = StatusRecord(
        Status.DENIED,
        STATUS_AT,
        error=StatusError(ErrorType.ERROR_PAYMENT, "Payment session expired"),
    )
    assert sent(facts(status=record))["status"]["error"] == {
        "error_type": "ERROR_PAYMENT",
        "error_message": "Payment session expired",
    }


@pytest.mark.parametrize(
    ("minor", "amount", "text"),
    [(100000, 1000, b'"amount":1000,'), (1050, 10.5, b'"amount":10.5,')],
)
def test_amount_is_a_json_number_in_major_units(minor: int, amount: float, text: bytes) -> None:
    raw = notification_bytes(facts(amount=minor), ALMATY)
    assert text in raw
    assert json.loads(raw)["amount"] == amount


def test_description_null_when_absent() -> None:
    raw = notification_bytes(facts(description=None), ALMATY)
    assert b'"description":null,' in raw
    assert json.loads(raw)["description"] is None


def test_non_ascii_text_is_sent_as_utf8() -> None:
    raw = notification_bytes(facts(description="Оплата заказа №1"), ALMATY)
    assert "Оплата заказа №1".encode() in raw


def test_updated_at_when_set() -> None:
    later = CREATED + timedelta(minutes=5)
    record = StatusRecord(Status.COMPLETED, STATUS_AT, updated_at=later)
    body = sent(facts(updated_at=later, status=record))
    assert body["updated_at"] == "2019-02-05T14:27:53+06:00"
    assert body["status"]["updated_at"] == "2019-02-05T14:27:53+06:00"


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2019, 2, 5, 8, 22, 53, tzinfo=UTC), "2019-02-05T14:22:53+06:00"),
        # Almaty moved from +06:00 to +05:00 on 2024-03-01 at 00:00 local time.
        (datetime(2024, 2, 29, 17, 59, 59, tzinfo=UTC), "2024-02-29T23:59:59+06:00"),
        (datetime(2024, 2, 29, 18, 0, 0, tzinfo=UTC), "2024-02-29T23:00:00+05:00"),
        (datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC), "2024-06-01T17:00:00+05:00"),
        (datetime(2025, 1, 1, 0, 0, 0, 999999, tzinfo=UTC), "2025-01-01T05:00:00+05:00"),
        (
            datetime(2025, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9))),
            "2025-01-01T05:00:00+05:00",
        ),
    ],
)
def test_times_to_the_second_in_the_configured_zone(moment: datetime, text: str) -> None:
    assert format_time(moment, ALMATY) == text


def test_times_after_march_2024_are_plus_five_in_the_body() -> None:
    moment = datetime(2024, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
    body = sent(facts(created_at=moment, status=StatusRecord(Status.COMPLETED, moment)))
    assert body["created_at"] == "2024-03-02T15:00:00+05:00"
    assert body["status"]["created_at"] == "2024-03-02T15:00:00+05:00"


def test_another_configured_zone() -> None:
    body = notification_body(facts(), ZoneInfo("UTC"))
    assert body["created_at"] == "2019-02-05T08:22:53+00:00"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2019, 2, 5, 14, 22, 53), ALMATY)
    assert format_time(None, ALMATY) is None
