"""Merchants, their app keys and webhook secrets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from ktwidget.domain.model import AppKey, Merchant
from ktwidget.domain.urls import TrustedDomain
from ktwidget.storage.schema import app_keys, merchants, webhook_secrets

CALLBACK_FIELDS = (
    "callback_back_url",
    "callback_success_url",
    "callback_failed_url",
    "callback_post_url",
)


def _merchant(row: Row[Any]) -> Merchant:
    return Merchant(
        id=row.id,
        name=row.name,
        app_id=row.app_id,
        domains=tuple(TrustedDomain.parse(d) for d in json.loads(row.domains)),
        callback_back_url=row.callback_back_url,
        callback_success_url=row.callback_success_url,
        callback_failed_url=row.callback_failed_url,
        callback_post_url=row.callback_post_url,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def encode_domains(domains: Sequence[TrustedDomain]) -> str:
    return json.dumps([str(d) for d in domains])


def insert_merchant(
    conn: Connection,
    *,
    name: str,
    app_id: str,
    domains: Sequence[TrustedDomain],
    callbacks: dict[str, str | None],
    now: datetime,
) -> int:
    result = conn.execute(
        insert(merchants)
        .values(
            name=name,
            app_id=app_id,
            domains=encode_domains(domains),
            active=True,
            created_at=now,
            **{k: callbacks.get(k) for k in CALLBACK_FIELDS},
        )
        .returning(merchants.c.id)
    )
    return int(result.scalar_one())


def get(conn: Connection, merchant_id: int) -> Merchant | None:
    row = conn.execute(select(merchants).where(merchants.c.id == merchant_id)).first()
    return None if row is None else _merchant(row)


def get_by_app_id(conn: Connection, app_id: str) -> Merchant | None:
    row = conn.execute(select(merchants).where(merchants.c.app_id == app_id)).first()
    return None if row is None else _merchant(row)


def list_all(conn: Connection, *, active: bool | None = None) -> list[Merchant]:
    query = select(merchants).order_by(merchants.c.id)
    if active is not None:
        query = query.where(merchants.c.active == active)
    return [_merchant(r) for r in conn.execute(query)]


def all_active_domains(conn: Connection) -> list[TrustedDomain]:
    rows = conn.execute(select(merchants.c.domains).where(merchants.c.active.is_(True)))
    return [TrustedDomain.parse(d) for (text,) in rows for d in json.loads(text)]


def update_merchant(
    conn: Connection, merchant_id: int, values: dict[str, Any], now: datetime
) -> None:
    if "domains" in values:
        values = {**values, "domains": encode_domains(values["domains"])}
    conn.execute(
        update(merchants).where(merchants.c.id == merchant_id).values(**values, updated_at=now)
    )


def insert_app_key(
    conn: Connection, merchant_id: int, public_key: str, private_key_enc: bytes, now: datetime
) -> None:
    conn.execute(
        insert(app_keys).values(
            merchant_id=merchant_id,
            public_key=public_key,
            private_key=private_key_enc,
            created_at=now,
        )
    )


def retire_app_keys(
    conn: Connection, merchant_id: int, now: datetime, expires_at: datetime
) -> None:
    conn.execute(
        update(app_keys)
        .where(app_keys.c.merchant_id == merchant_id, app_keys.c.retired_at.is_(None))
        .values(retired_at=now, expires_at=expires_at)
    )


def usable_app_keys(
    conn: Connection, merchant_id: int, now: datetime
) -> list[tuple[AppKey, bytes]]:
    """The current key first, then rotated keys still in their grace period, newest first."""
    rows = conn.execute(
        select(app_keys)
        .where(
            app_keys.c.merchant_id == merchant_id,
            app_keys.c.retired_at.is_(None) | (app_keys.c.expires_at > now),
        )
        .order_by(app_keys.c.retired_at.is_not(None), app_keys.c.id.desc())
    )
    return [
        (
            AppKey(
                id=r.id,
                merchant_id=r.merchant_id,
                public_key=r.public_key,
                created_at=r.created_at,
                retired_at=r.retired_at,
                expires_at=r.expires_at,
            ),
            r.private_key,
        )
        for r in rows
    ]


def insert_webhook_secret(
    conn: Connection, merchant_id: int, secret_enc: bytes, now: datetime
) -> None:
    conn.execute(
        insert(webhook_secrets).values(merchant_id=merchant_id, secret=secret_enc, created_at=now)
    )


def retire_webhook_secrets(
    conn: Connection, merchant_id: int, now: datetime, expires_at: datetime
) -> None:
    conn.execute(
        update(webhook_secrets)
        .where(webhook_secrets.c.merchant_id == merchant_id, webhook_secrets.c.retired_at.is_(None))
        .values(retired_at=now, expires_at=expires_at)
    )


def usable_webhook_secrets(conn: Connection, merchant_id: int, now: datetime) -> list[bytes]:
    """Encrypted secrets to sign with: the current one first, then those in their grace period."""
    rows = conn.execute(
        select(webhook_secrets.c.secret)
        .where(
            webhook_secrets.c.merchant_id == merchant_id,
            webhook_secrets.c.retired_at.is_(None) | (webhook_secrets.c.expires_at > now),
        )
        .order_by(webhook_secrets.c.retired_at.is_not(None), webhook_secrets.c.id.desc())
    )
    return [r.secret for r in rows]
