"""Transaction parameters (SPEC section 4): the one validator the SDK, the widget and the gateway share."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ktwidget.domain import money
from ktwidget.domain.urls import (
    TrustedDomain,
    URLRuleError,
    allowed,
    check_notification_url,
    normalize_url,
)

MAX_ORDER_ID = 128
MAX_DESCRIPTION = 1000
MAX_CONTRACT_VALUE = 128
MAX_SERVICE_ID = 2**63 - 1  # catalog ids are 64-bit integers
REDIRECT_FIELDS = ("callback_back_url", "callback_success_url", "callback_failed_url")
FIELDS = frozenset(
    {"order_id", "amount", "type", "service", "description", "callback_post_url", *REDIRECT_FIELDS}
)
SERVICE_FIELDS = frozenset({"service_id", "contract_value"})


class TransactionType(StrEnum):
    ECOM = "ecom"
    SERVICE = "service"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ParamsInvalid(ValueError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))


@dataclass(frozen=True)
class ServiceRule:
    """What the catalog says about a service: enough to validate a payment for it."""

    service_id: int
    name: str
    pattern: str
    hint: str
    min_amount: int  # minor units
    max_amount: int  # minor units
    active: bool = True

    def contract_matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class ValidationRules:
    """What the validating side knows. The SDK knows the limits only; the gateway knows it all.

    A ``None`` means "not known here, not checked here": the gateway checks it again.
    """

    max_amount: int | None = None
    services: Callable[[int], ServiceRule | None] | None = None
    trusted_domains: Sequence[TrustedDomain] | None = None
    production: bool = False
    allow_private_notify: bool = False


@dataclass(frozen=True)
class ServiceRef:
    service_id: int
    contract_value: str


@dataclass(frozen=True)
class TransactionParams:
    order_id: str
    amount: int  # minor units
    type: TransactionType
    service: ServiceRef | None = None
    callback_back_url: str | None = None
    callback_success_url: str | None = None
    callback_failed_url: str | None = None
    callback_post_url: str | None = None
    description: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON object the client seals: amounts as numbers in major units, absent fields left out."""
        wire: dict[str, Any] = {
            "order_id": self.order_id,
            "amount": money.to_json_number(self.amount),
            "type": self.type.value,
        }
        if self.service is not None:
            wire["service"] = {
                "service_id": self.service.service_id,
                "contract_value": self.service.contract_value,
            }
        for name in (*REDIRECT_FIELDS, "callback_post_url", "description"):
            value = getattr(self, name)
            if value is not None:
                wire[name] = value
        return wire


@dataclass
class _Collector:
    errors: list[FieldError] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.errors.append(FieldError(name, message))


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _storable(text: str) -> bool:
    """Valid Unicode without NUL: PostgreSQL text refuses NUL, and UTF-8 lone surrogates."""
    return "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


def _text(raw: Mapping[str, Any], name: str, out: _Collector, *, required: bool) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            out.add(name, "is required")
        return None
    if not isinstance(value, str):
        out.add(name, "must be a string")
        return None
    if not _storable(value):
        out.add(name, "must be valid Unicode text without NUL characters")
        return None
    return value


def validate_params(raw: object, rules: ValidationRules) -> TransactionParams:
    """Check everything SPEC section 4 asks; raise `ParamsInvalid` naming every offending field."""
    out = _Collector()
    if not isinstance(raw, Mapping):
        raise ParamsInvalid([FieldError("payload", "must be a JSON object")])
    for name in sorted(set(raw) - FIELDS, key=str):
        out.add(str(name), "is not a known parameter")

    order_id = _text(raw, "order_id", out, required=True)
    if order_id is not None:
        if not 1 <= len(order_id) <= MAX_ORDER_ID:
            out.add("order_id", f"must be 1 to {MAX_ORDER_ID} characters long")
        elif _has_control(order_id):
            out.add("order_id", "must not contain control characters")

    amount: int | None = None
    if raw.get("amount") is None:
        out.add("amount", "is required")
    else:
        try:
            amount = money.parse_amount(raw["amount"], max_minor=rules.max_amount)
        except money.AmountError as exc:
            out.add("amount", str(exc))

    tx_type: TransactionType | None = None
    type_text = _text(raw, "type", out, required=True)
    if type_text is not None:
        try:
            tx_type = TransactionType(type_text)
        except ValueError:
            out.add("type", "must be 'ecom' or 'service'")

    service = _service(raw, tx_type, amount, rules, out)
    urls = {name: _redirect_url(raw, name, rules, out) for name in REDIRECT_FIELDS}

    post_url: str | None = None
    post_text = _text(raw, "callback_post_url", out, required=False)
    if post_text is not None:
        try:
            post_url = check_notification_url(
                post_text, require_https=rules.production, allow_private=rules.allow_private_notify
            )
        except URLRuleError as exc:
            out.add("callback_post_url", str(exc))

    description = _text(raw, "description", out, required=False)
    if description is not None and len(description) > MAX_DESCRIPTION:
        out.add("description", f"must be at most {MAX_DESCRIPTION} characters")

    if out.errors:
        raise ParamsInvalid(out.errors)
    assert order_id is not None
    assert amount is not None
    assert tx_type is not None
    return TransactionParams(
        order_id=order_id,
        amount=amount,
        type=tx_type,
        service=service,
        callback_post_url=post_url,
        description=description,
        **urls,
    )


def _service(
    raw: Mapping[str, Any],
    tx_type: TransactionType | None,
    amount: int | None,
    rules: ValidationRules,
    out: _Collector,
) -> ServiceRef | None:
    value = raw.get("service")
    if tx_type is TransactionType.ECOM and value is not None:
        out.add("service", "is only allowed when type is 'service'")
        return None
    if tx_type is not TransactionType.SERVICE:
        return None
    if value is None:
        out.add("service", "is required when type is 'service'")
        return None
    if not isinstance(value, Mapping):
        out.add("service", "must be an object")
        return None
    for name in sorted(set(value) - SERVICE_FIELDS, key=str):
        out.add(f"service.{name}", "is not a known parameter")

    service_id = value.get("service_id")
    rule: ServiceRule | None = None
    if service_id is None:
        out.add("service.service_id", "is required")
    elif (
        isinstance(service_id, bool)
        or not isinstance(service_id, int | Decimal)
        or (isinstance(service_id, Decimal) and not service_id.is_finite())
    ):
        out.add("service.service_id", "must be an integer")
        service_id = None
    elif service_id <= 0 or (
        isinstance(service_id, Decimal) and service_id != service_id.to_integral_value()
    ):
        out.add("service.service_id", "must be a positive integer")
        service_id = None
    elif service_id > MAX_SERVICE_ID:
        # Checked before int(): int(Decimal("1e1000000")) alone takes most of a minute.
        out.add("service.service_id", "is not an active service")
        service_id = None
    else:
        service_id = int(service_id)
        if rules.services is not None:
            rule = rules.services(service_id)
            if rule is None or not rule.active:
                out.add("service.service_id", "is not an active service")
                rule = None

    contract = value.get("contract_value")
    if contract is None:
        out.add("service.contract_value", "is required")
    elif not isinstance(contract, str):
        out.add("service.contract_value", "must be a string")
        contract = None
    elif (
        not contract
        or len(contract) > MAX_CONTRACT_VALUE
        or _has_control(contract)
        or not _storable(contract)
    ):
        out.add("service.contract_value", f"must be 1 to {MAX_CONTRACT_VALUE} printable characters")
        contract = None
    elif rule is not None and not rule.contract_matches(contract):
        out.add("service.contract_value", f"must be {rule.hint}")

    if rule is not None and amount is not None and not rule.min_amount <= amount <= rule.max_amount:
        out.add(
            "amount",
            f"must be between {money.format_amount(rule.min_amount)} and "
            f"{money.format_amount(rule.max_amount)} for {rule.name}",
        )
    if service_id is None or contract is None:
        return None
    return ServiceRef(service_id=service_id, contract_value=contract)


def _redirect_url(
    raw: Mapping[str, Any], name: str, rules: ValidationRules, out: _Collector
) -> str | None:
    text = _text(raw, name, out, required=False)
    if text is None:
        return None
    try:
        url = normalize_url(text)
    except URLRuleError as exc:
        out.add(name, str(exc))
        return None
    if rules.trusted_domains is not None and not allowed(url, rules.trusted_domains):
        out.add(name, "must be on one of the merchant's trusted domains")
        return None
    return url
