"""Records as dictionaries for the CLI's output (the same keys in text and ``--json``)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from ktwidget.domain import money
from ktwidget.domain.model import Merchant, Service, StatusEntry, Transaction
from ktwidget.domain.notification import format_time


def merchant(m: Merchant, zone: ZoneInfo, app_key: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "merchant_id": m.id,
        "name": m.name,
        "app_id": m.app_id,
    }
    if app_key is not None:
        data["app_key"] = app_key
    data.update(
        domains=[str(d) for d in m.domains],
        callback_back_url=m.callback_back_url,
        callback_success_url=m.callback_success_url,
        callback_failed_url=m.callback_failed_url,
        callback_post_url=m.callback_post_url,
        active=m.active,
        created_at=format_time(m.created_at, zone),
        updated_at=format_time(m.updated_at, zone),
    )
    return data


def service(s: Service) -> dict[str, Any]:
    return {
        "service_id": s.id,
        "name": s.name,
        "category": s.category,
        "pattern": s.pattern,
        "hint": s.hint,
        "min_amount": money.to_json_number(s.min_amount),
        "max_amount": money.to_json_number(s.max_amount),
        "provider": s.provider,
        "active": s.active,
    }


def transaction_row(t: Transaction, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "transaction_hash": t.transaction_hash,
        "merchant_id": t.merchant_id,
        "order_id": t.order_id,
        "amount": money.to_json_number(t.amount),
        "currency": t.currency,
        "type": t.type.value,
        "status": t.status.value,
        "test_mode": t.test_mode,
        "created_at": format_time(t.created_at, zone),
    }


def status_entry(s: StatusEntry, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "status": s.status.value,
        "created_at": format_time(s.created_at, zone),
        "updated_at": format_time(s.updated_at, zone),
        "error": None
        if s.error is None
        else {"error_type": s.error.error_type.value, "error_message": s.error.error_message},
    }


def transaction_detail(
    t: Transaction, history: list[StatusEntry], zone: ZoneInfo
) -> dict[str, Any]:
    data = transaction_row(t, zone)
    data.update(
        service_id=t.service_id,
        contract_value=t.contract_value,
        description=t.description,
        callback_back_url=t.callback_back_url,
        callback_success_url=t.callback_success_url,
        callback_failed_url=t.callback_failed_url,
        callback_post_url=t.callback_post_url,
        acquirer=t.acquirer,
        acquirer_ref=t.acquirer_ref,
        card_mask=t.card_mask,
        updated_at=format_time(t.updated_at, zone),
        expires_at=format_time(t.expires_at, zone),
        history=[status_entry(h, zone) for h in history],
    )
    return data
