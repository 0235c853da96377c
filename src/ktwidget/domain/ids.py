"""Identifiers and secrets, all from the operating system's CSPRNG."""

from __future__ import annotations

import base64
import re
import secrets

APP_ID_RE = re.compile(r"^[0-9a-f]{32}$")
TRANSACTION_HASH_RE = re.compile(r"^[0-9a-f]{40}$")
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_app_id() -> str:
    """32 lowercase hex characters: 128 random bits."""
    return secrets.token_hex(16)


def new_transaction_hash() -> str:
    """40 lowercase hex characters: 160 random bits."""
    return secrets.token_hex(20)


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def is_app_id(value: object) -> bool:
    return isinstance(value, str) and APP_ID_RE.fullmatch(value) is not None


def is_transaction_hash(value: object) -> bool:
    return isinstance(value, str) and TRANSACTION_HASH_RE.fullmatch(value) is not None
