"""What the SDK returns: frozen, typed views of the gateway's answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypedDict


class ServiceParams(TypedDict):
    """The ``service`` parameter of a ``type="service"`` payment."""

    service_id: int
    contract_value: str


@dataclass(frozen=True)
class CreatedTransaction:
    """The answer to `ApiClient.create_transaction`.

    ``created`` is False when the gateway answered an idempotent repeat (same ``order_id``, same
    parameters, still pending) with the transaction it already had.
    """

    transaction_hash: str
    status: str
    payment_url: str
    created_at: datetime
    created: bool


@dataclass(frozen=True)
class TransactionInfo:
    """What the widget API tells about a transaction (`ApiClient.get_transaction`)."""

    transaction_hash: str
    status: str
    amount: Decimal  # major units, exact: never a float
    currency: str
    merchant_name: str
    order_id: str
    description: str | None
    type: str
    test_mode: bool
    created_at: datetime
