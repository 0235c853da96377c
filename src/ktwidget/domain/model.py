"""The records the gateway keeps, as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ktwidget.domain.params import ServiceRule, TransactionType
from ktwidget.domain.status import Status, StatusError
from ktwidget.domain.urls import TrustedDomain


@dataclass(frozen=True)
class Merchant:
    id: int
    name: str
    app_id: str
    domains: tuple[TrustedDomain, ...]
    callback_back_url: str | None
    callback_success_url: str | None
    callback_failed_url: str | None
    callback_post_url: str | None
    active: bool
    created_at: datetime
    updated_at: datetime | None


@dataclass(frozen=True)
class AppKey:
    id: int
    merchant_id: int
    public_key: str
    created_at: datetime
    retired_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Service:
    id: int
    name: str
    category: str
    pattern: str
    hint: str
    min_amount: int
    max_amount: int
    provider: str
    active: bool

    def rule(self) -> ServiceRule:
        return ServiceRule(
            service_id=self.id,
            name=self.name,
            pattern=self.pattern,
            hint=self.hint,
            min_amount=self.min_amount,
            max_amount=self.max_amount,
            active=self.active,
        )


@dataclass(frozen=True)
class StatusEntry:
    status: Status
    created_at: datetime
    updated_at: datetime | None
    error: StatusError | None


@dataclass(frozen=True)
class Transaction:
    id: int
    transaction_hash: str
    merchant_id: int
    order_id: str
    amount: int
    currency: str
    type: TransactionType
    service_id: int | None
    contract_value: str | None
    description: str | None
    callback_back_url: str | None
    callback_success_url: str | None
    callback_failed_url: str | None
    callback_post_url: str | None
    test_mode: bool
    fingerprint: str
    status: Status
    acquirer: str
    acquirer_ref: str | None
    card_mask: str | None
    created_at: datetime
    updated_at: datetime | None
    expires_at: datetime
    widget_origin: str | None = None
