"""The merchant side: `ktwidget.notifications` verifies over raw bytes and parses into typed values."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from standardwebhooks.webhooks import Webhook

from ktwidget.domain import ids, webhooks
from ktwidget.notifications import (
    InvalidNotification,
    InvalidSignature,
    NotificationMismatch,
    parse_body,
    parse_notification,
    verify_signature,
)

SECRET = ids.new_webhook_secret()
BODY = (
    b'{"merchant_id":1,"order_id":"42","description":null,"amount":1500.5,'
    b'"transaction_hash":"af7ed500aa9f2132fae4b63e936af641bcc4ebaf",'
    b'"created_at":"2026-03-01T14:22:53+05:00","updated_at":null,'
    b'"status":{"status":"completed","created_at":"2026-03-01T14:23:09+05:00","updated_at":null,'
    b'"error":null}}'
)


def signed(body: bytes = BODY, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    ts = int(time.time() if at is None else at)
    return webhooks.headers([secret], "msg_abc", ts, body)


def test_verifies_and_parses() -> None:
    n = parse_notification(
        BODY, signed(), SECRET, expected_order_id="42", expected_amount="1500.50"
    )
    assert n.webhook_id == "msg_abc"
    assert n.merchant_id == 1
    assert n.order_id == "42"
    assert n.description is None
    assert n.amount == Decimal("1500.5")
    assert isinstance(n.amount, Decimal)
    assert n.status.status == "completed"
    assert n.status.error is None
    assert n.paid
    assert n.created_at == datetime(2026, 3, 1, 14, 22, 53, tzinfo=timezone(timedelta(hours=5)))
    assert n.created_at.astimezone(UTC).hour == 9


def test_what_the_standardwebhooks_package_signs_verifies_here() -> None:
    stamp = datetime.now(UTC)
    signature = Webhook(SECRET).sign("msg_x", stamp, BODY.decode())
    headers = {
        "webhook-id": "msg_x",
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature,
    }
    assert verify_signature(BODY, headers, SECRET) == "msg_x"


def test_header_names_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in signed().items()}
    assert verify_signature(BODY, headers, SECRET) == "msg_abc"


def test_tampered_body_is_refused() -> None:
    headers = signed()
    with pytest.raises(InvalidSignature, match="no signature matches"):
        parse_notification(BODY.replace(b"1500.5", b"1.5"), headers, SECRET)


def test_reserialised_body_is_refused() -> None:
    # What a framework's parsed JSON would give back: same data, other bytes.
    reserialised = json.dumps(json.loads(BODY)).encode()
    with pytest.raises(InvalidSignature):
        verify_signature(reserialised, signed(), SECRET)


def test_only_raw_bytes_are_accepted() -> None:
    with pytest.raises(TypeError, match="raw request body"):
        verify_signature(BODY.decode(), signed(), SECRET)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse_body(json.loads(BODY))  # type: ignore[arg-type]


def test_stale_and_future_timestamps_are_refused() -> None:
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature(BODY, signed(at=time.time() - 301), SECRET)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature(BODY, signed(at=time.time() + 301), SECRET)
    old = signed(at=time.time() - 3000)
    assert verify_signature(BODY, old, SECRET, tolerance=3600) == "msg_abc"
    assert verify_signature(BODY, old, SECRET, now=time.time() - 3000) == "msg_abc"


def test_wrong_secret_and_missing_headers() -> None:
    with pytest.raises(InvalidSignature):
        verify_signature(BODY, signed(), ids.new_webhook_secret())
    headers = signed()
    del headers["webhook-signature"]
    with pytest.raises(InvalidSignature, match="webhook-signature header is missing"):
        verify_signature(BODY, headers, SECRET)
    with pytest.raises(InvalidSignature, match="whole number"):
        verify_signature(BODY, {**signed(), "webhook-timestamp": "soon"}, SECRET)


def test_rotation_any_of_several_secrets() -> None:
    new = ids.new_webhook_secret()
    assert verify_signature(BODY, signed(secret=SECRET), [new, SECRET]) == "msg_abc"


def test_expected_order_and_amount() -> None:
    headers = signed()
    with pytest.raises(NotificationMismatch, match="order_id"):
        parse_notification(BODY, headers, SECRET, expected_order_id="43")
    with pytest.raises(NotificationMismatch, match="amount"):
        parse_notification(BODY, headers, SECRET, expected_amount=1500)
    assert parse_notification(BODY, headers, SECRET, expected_amount=Decimal("1500.50"))
    assert parse_notification(BODY, headers, SECRET, expected_amount=1500.5)
    whole = BODY.replace(b"1500.5", b"1000")
    assert parse_body(whole, expected_amount=1000).amount == Decimal(1000)


def test_error_status_parses() -> None:
    body = (
        b'{"merchant_id":1,"order_id":"1","description":"D","amount":1000,'
        b'"transaction_hash":"af7ed500aa9f2132fae4b63e936af641bcc4ebaf",'
        b'"created_at":"2019-02-05T14:22:53+06:00","updated_at":null,'
        b'"status":{"status":"error","created_at":"2019-02-05T14:23:09+06:00","updated_at":null,'
        b'"error":{"error_type":"ERROR_PAYMENT","error_message":"KKB rejected payment"}}}'
    )
    n = parse_body(body)
    assert not n.paid
    assert n.status.error is not None
    assert n.status.error.error_type == "ERROR_PAYMENT"
    assert n.status.error.error_message == "KKB rejected payment"


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"not json",
        b'{"order_id":"1"}',
        BODY.replace(b'"amount":1500.5', b'"amount":"1500.5"'),
        BODY.replace(b'"status":"completed"', b'"status":"pending"'),
        BODY.replace(b'"created_at":"2026-03-01T14:22:53+05:00"', b'"created_at":"yesterday"'),
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidNotification):
        parse_body(body)
