"""Standard Webhooks signing and the accept rule, checked against the independent PyPI package."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ktwidget.domain import ids, webhooks

BODY = (
    b'{"merchant_id":1,"order_id":"1","description":"Description of transactions","amount":1000,'
    b'"transaction_hash":"af7ed500aa9f2132fae4b63e936af641bcc4ebaf",'
    b'"created_at":"2019-02-05T14:22:53+06:00","updated_at":null,'
    b'"status":{"status":"error","created_at":"2019-02-05T14:23:09+06:00","updated_at":null,'
    b'"error":{"error_type":"ERROR_PAYMENT","error_message":"KKB rejected payment"}}}'
)


def _headers(secrets: list[str], timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return webhooks.headers(secrets, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", ts, BODY)


def test_signature_verifies_with_the_standardwebhooks_package() -> None:
    secret = ids.new_webhook_secret()
    headers = _headers([secret])
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    Webhook(secret).verify(BODY, headers)


def test_known_vector_of_the_standard_webhooks_spec() -> None:
    # From standard-webhooks/standard-webhooks spec/standard-webhooks.md.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    sig = webhooks.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_tampered_body_fails_in_the_standardwebhooks_package() -> None:
    secret = ids.new_webhook_secret()
    headers = _headers([secret])
    tampered = BODY.replace(b'"amount":1000', b'"amount":1')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)


def test_old_timestamp_fails_in_the_standardwebhooks_package() -> None:
    secret = ids.new_webhook_secret()
    headers = _headers([secret], int(time.time()) - 3600)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers)


def test_during_rotation_both_secrets_verify() -> None:
    new, old = ids.new_webhook_secret(), ids.new_webhook_secret()
    headers = _headers([new, old])
    assert len(headers["webhook-signature"].split()) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(ids.new_webhook_secret()).verify(BODY, headers)


def test_matches_checks_over_raw_bytes() -> None:
    secret = ids.new_webhook_secret()
    key = webhooks.secret_key(secret)
    header = webhooks.signature_header([secret], "msg_1", 1700000000, BODY)
    assert webhooks.matches(key, "msg_1", 1700000000, BODY, header)
    assert not webhooks.matches(key, "msg_2", 1700000000, BODY, header)
    assert not webhooks.matches(key, "msg_1", 1700000001, BODY, header)
    assert not webhooks.matches(key, "msg_1", 1700000000, BODY + b" ", header)
    assert not webhooks.matches(key, "msg_1", 1700000000, BODY, "v2," + header[3:])


def test_secret_rules() -> None:
    raw = base64.b64encode(b"k" * 32).decode()
    assert webhooks.secret_key("whsec_" + raw) == b"k" * 32
    assert webhooks.secret_key(raw) == b"k" * 32
    with pytest.raises(webhooks.SecretError):
        webhooks.secret_key("whsec_not base64!")
    with pytest.raises(webhooks.SecretError):
        webhooks.signature_header([], "msg_1", 1, BODY)


@pytest.mark.parametrize(
    ("status", "content_type", "body", "accepted"),
    [
        (200, "application/json", b'{"status":"ok"}', True),
        (200, "application/json; charset=utf-8", b'{"status": "ok", "x": 1}', True),
        (204, "Application/JSON", b'{"status":"ok"}', True),
        (500, "application/json", b'{"status":"ok"}', False),
        (404, "application/json", b'{"status":"ok"}', False),
        (302, "application/json", b'{"status":"ok"}', False),
        (200, "application/json", b'{"status":"fail"}', False),
        (200, "application/json", b'{"status":"OK"}', False),
        (200, "text/html", b'{"status":"ok"}', False),
        (200, None, b'{"status":"ok"}', False),
        (200, "application/json", b'["status","ok"]', False),
        (200, "application/json", b"ok", False),
        (200, "application/json", b"", False),
        (200, "application/json", b'{"result":"ok"}', False),
    ],
)
def test_accept_rule(status: int, content_type: str | None, body: bytes, accepted: bool) -> None:
    verdict = webhooks.judge_reply(status, content_type, body)
    assert verdict.accepted is accepted
    assert (verdict.reason is None) is accepted


def test_reasons_are_readable() -> None:
    assert "redirect" in (webhooks.judge_reply(301, None, b"").reason or "")
    assert "text/html" in (webhooks.judge_reply(200, "text/html", b"").reason or "")
    assert '"fail"' in (
        webhooks.judge_reply(200, "application/json", b'{"status":"fail"}').reason or ""
    )


def test_endpoint_and_excerpt() -> None:
    assert webhooks.endpoint_of("https://Shop.KZ/notify?x=1") == "https://shop.kz:443"
    assert webhooks.endpoint_of("http://shop.kz:8080/a") == "http://shop.kz:8080"
    assert webhooks.endpoint_of("http://[::1]/a") == "http://[::1]:80"
    assert webhooks.excerpt(b"x" * 600).endswith("…")
    assert webhooks.excerpt("привет".encode()) == "привет"
    assert webhooks.excerpt(b"\xff") == "\ufffd"


def test_timestamp_is_whole_seconds() -> None:
    ts = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    assert _headers([ids.new_webhook_secret()], ts)["webhook-timestamp"] == str(ts)
