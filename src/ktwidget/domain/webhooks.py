"""Standard Webhooks signing and the accept rule of SPEC section 7.

Pure: the gateway signs with it and the merchant SDK (`ktwidget.notifications`) verifies with it, so
the two can never disagree. The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` over
the raw body bytes; the key is the base64 after the ``whsec_`` prefix; the signature is
``v1,`` and the base64 of HMAC-SHA256. Several signatures are separated by spaces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ktwidget.domain import codec

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
VERSION = "v1"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
EXCERPT_CHARS = 500


class SecretError(ValueError):
    """Not a Standard Webhooks secret."""


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64 after ``whsec_`` (a bare base64 secret is accepted too)."""
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SecretError("a webhook secret is 'whsec_' followed by base64") from exc
    if not key:
        raise SecretError("the webhook secret is empty")
    return key


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The base64 HMAC-SHA256 of ``id.timestamp.body``, without the ``v1,`` prefix."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode("ascii")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    return f"{VERSION},{signature(secret_key(secret), webhook_id, timestamp, body)}"


def signature_header(secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,…`` per secret: during a rotation's grace period the receiver may know either."""
    if not secrets:
        raise SecretError("the merchant has no webhook secret to sign with")
    return " ".join(sign(s, webhook_id, timestamp, body) for s in secrets)


def headers(secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secrets, webhook_id, timestamp, body),
    }


def signatures_in(header: str) -> list[str]:
    """The base64 signatures of the versions we know, from a ``webhook-signature`` value."""
    found = []
    for part in header.split():
        version, _, value = part.partition(",")
        if version == VERSION and value:
            found.append(value)
    return found


def matches(key: bytes, webhook_id: str, timestamp: int, body: bytes, header: str) -> bool:
    expected = signature(key, webhook_id, timestamp, body)
    # Compare every candidate in constant time; never stop early on a match's position.
    results = [hmac.compare_digest(expected, given) for given in signatures_in(header)]
    return any(results)


@dataclass(frozen=True)
class Verdict:
    """Whether the merchant accepted a notification and, when not, why (for the delivery log)."""

    accepted: bool
    reason: str | None = None


def judge_reply(status_code: int, content_type: str | None, body: bytes) -> Verdict:
    """SPEC section 7: accepted only for 2xx, ``application/json``, a JSON object with status ok."""
    if 300 <= status_code < 400:
        return Verdict(False, f"HTTP {status_code}: redirects are not followed")
    if not 200 <= status_code < 300:
        return Verdict(False, f"HTTP {status_code}: not a 2xx reply")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return Verdict(
            False, f"Content-Type is {content_type or 'missing'!s}, not application/json"
        )
    try:
        data = codec.loads(body)
    except (codec.JSONDecodeError, UnicodeDecodeError):
        return Verdict(False, "the reply body is not JSON")
    if not isinstance(data, dict):
        return Verdict(False, "the reply body is not a JSON object")
    if data.get("status") != "ok":
        return Verdict(
            False, f'the reply says "status": {codec.dumps(data.get("status")).decode()}'
        )
    return Verdict(True)


def excerpt(body: bytes, limit: int = EXCERPT_CHARS) -> str:
    """The start of a reply, readable in the delivery log."""
    text = body[: limit * 4].decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_of(url: str) -> str:
    """``scheme://host:port``: what per-endpoint concurrency limits count."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return url[:300]
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}"[:300]
