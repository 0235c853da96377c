"""What the gateway needs from a service provider: credit a contract, idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class CreditOutcome(StrEnum):
    CREDITED = "credited"
    PROCESSING = "processing"  # accepted; ask again at `retry_at`
    REFUSED = "refused"  # final: the provider will not credit this contract
    UNAVAILABLE = "unavailable"  # temporary: try again later


@dataclass(frozen=True)
class CreditResult:
    outcome: CreditOutcome
    message: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class CreditRequest:
    transaction_hash: str  # the idempotency key: the same request credits once
    service_id: int
    contract_value: str
    amount: int  # minor units


class Provider(Protocol):
    name: str

    def credit(self, request: CreditRequest) -> CreditResult: ...
