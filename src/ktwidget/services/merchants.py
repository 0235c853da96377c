"""Operator use cases for merchants: create, update, disable, rotate keys and secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ktwidget.adapters.crypto import generate_app_keypair
from ktwidget.domain import ids
from ktwidget.domain.model import Merchant
from ktwidget.domain.urls import (
    TrustedDomain,
    URLRuleError,
    allowed,
    check_notification_url,
    normalize_url,
)
from ktwidget.services.context import Gateway, log
from ktwidget.services.errors import OperatorError
from ktwidget.storage import merchants as repo

REDIRECTS = ("callback_back_url", "callback_success_url", "callback_failed_url")


@dataclass(frozen=True)
class Credentials:
    """What the operator hands the merchant once: shown at creation and at rotation."""

    merchant_id: int
    app_id: str
    app_key: str
    webhook_secret: str


def _domains(texts: Sequence[str]) -> tuple[TrustedDomain, ...]:
    if not texts:
        raise OperatorError("give at least one trusted domain (--domain)")
    try:
        return tuple(dict.fromkeys(TrustedDomain.parse(t) for t in texts))
    except URLRuleError as exc:
        raise OperatorError(str(exc)) from exc


def _callbacks(
    gw: Gateway, values: dict[str, str | None], domains: Sequence[TrustedDomain]
) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name, value in values.items():
        if value is None or value == "":
            out[name] = None
            continue
        try:
            if name == "callback_post_url":
                out[name] = check_notification_url(
                    value, require_https=False, allow_private=gw.settings.notify_allow_private
                )
            else:
                url = normalize_url(value)
                if not allowed(url, domains):
                    raise URLRuleError("must be on one of the merchant's trusted domains")
                out[name] = url
        except URLRuleError as exc:
            raise OperatorError(f"{name.replace('_', '-')}: {exc}") from exc
    return out


def create_merchant(
    gw: Gateway, *, name: str, domains: Sequence[str], callbacks: dict[str, str | None]
) -> Credentials:
    name = name.strip()
    if not name:
        raise OperatorError("give the merchant a name (--name); it is shown on receipts")
    parsed = _domains(domains)
    urls = _callbacks(gw, callbacks, parsed)
    app_key, private = generate_app_keypair()
    secret = ids.new_webhook_secret()
    now = gw.clock.now()
    with gw.db.write() as conn:
        merchant_id = repo.insert_merchant(
            conn, name=name, app_id=ids.new_app_id(), domains=parsed, callbacks=urls, now=now
        )
        repo.insert_app_key(conn, merchant_id, app_key, gw.master_key.encrypt(private), now)
        repo.insert_webhook_secret(conn, merchant_id, gw.master_key.encrypt(secret.encode()), now)
        merchant = repo.get(conn, merchant_id)
    assert merchant is not None
    gw.apps.forget(merchant.app_id)
    log.info("merchant_created", extra={"merchant_id": merchant_id})
    return Credentials(merchant_id, merchant.app_id, app_key, secret)


def get_merchant(gw: Gateway, merchant_id: int) -> Merchant:
    with gw.db.read() as conn:
        merchant = repo.get(conn, merchant_id)
    if merchant is None:
        raise OperatorError(f"no merchant {merchant_id}")
    return merchant


def list_merchants(gw: Gateway) -> list[Merchant]:
    with gw.db.read() as conn:
        return repo.list_all(conn)


def current_app_key(gw: Gateway, merchant_id: int) -> str:
    with gw.db.read() as conn:
        keys = repo.usable_app_keys(conn, merchant_id, gw.clock.now())
    current = [k for k, _ in keys if k.retired_at is None]
    if not current:
        raise OperatorError(f"merchant {merchant_id} has no current app key")
    return current[0].public_key


def update_merchant(
    gw: Gateway,
    merchant_id: int,
    *,
    name: str | None = None,
    domains: Sequence[str] | None = None,
    callbacks: dict[str, str | None] | None = None,
    active: bool | None = None,
) -> Merchant:
    merchant = get_merchant(gw, merchant_id)
    values: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise OperatorError("the name must not be empty")
        values["name"] = name.strip()
    new_domains = merchant.domains if domains is None else _domains(domains)
    if domains is not None:
        values["domains"] = new_domains
    if callbacks:
        values.update(_callbacks(gw, callbacks, new_domains))
    if domains is not None:
        # Stored redirect URLs must stay on the trusted domains.
        kept = {k: getattr(merchant, k) for k in REDIRECTS if k not in values}
        _callbacks(gw, {k: v for k, v in kept.items() if v}, new_domains)
    if active is not None:
        values["active"] = active
    if not values:
        return merchant
    with gw.db.write() as conn:
        repo.update_merchant(conn, merchant_id, values, gw.clock.now())
    gw.apps.forget(merchant.app_id)
    log.info("merchant_updated", extra={"merchant_id": merchant_id, "fields": sorted(values)})
    return get_merchant(gw, merchant_id)


def rotate_app_key(gw: Gateway, merchant_id: int, *, grace_seconds: int | None = None) -> str:
    """Issue a new key pair; the old one keeps opening payloads for the grace period."""
    merchant = get_merchant(gw, merchant_id)
    grace = gw.settings.key_grace_period if grace_seconds is None else grace_seconds
    app_key, private = generate_app_keypair()
    now = gw.clock.now()
    with gw.db.write() as conn:
        repo.retire_app_keys(conn, merchant_id, now, now + timedelta(seconds=grace))
        repo.insert_app_key(conn, merchant_id, app_key, gw.master_key.encrypt(private), now)
    gw.apps.forget(merchant.app_id)
    log.info("app_key_rotated", extra={"merchant_id": merchant_id, "grace_seconds": grace})
    return app_key


def rotate_webhook_secret(
    gw: Gateway, merchant_id: int, *, grace_seconds: int | None = None
) -> str:
    """A new signing secret; during the grace period notifications carry both signatures."""
    get_merchant(gw, merchant_id)
    grace = gw.settings.webhook_secret_grace_period if grace_seconds is None else grace_seconds
    secret = ids.new_webhook_secret()
    now = gw.clock.now()
    with gw.db.write() as conn:
        repo.retire_webhook_secrets(conn, merchant_id, now, now + timedelta(seconds=grace))
        repo.insert_webhook_secret(conn, merchant_id, gw.master_key.encrypt(secret.encode()), now)
    log.info("webhook_secret_rotated", extra={"merchant_id": merchant_id})
    return secret


def webhook_secrets(gw: Gateway, merchant_id: int) -> list[str]:
    with gw.db.read() as conn:
        encrypted = repo.usable_webhook_secrets(conn, merchant_id, gw.clock.now())
    return [gw.master_key.decrypt(s).decode() for s in encrypted]
