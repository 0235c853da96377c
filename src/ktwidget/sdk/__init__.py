"""The Python SDK: the widget's ``createTransaction`` for merchants' servers.

from decimal import Decimal
from ktwidget import ApiClient

with ApiClient(app_key, app_id, test_mode=True, base_url="https://pay.example") as client:
    created = client.create_transaction(order_id="42", amount=Decimal("10.50"), type="ecom")
    print(created.payment_url)
"""

from ktwidget.domain.params import FieldError
from ktwidget.sdk.client import ApiClient, AsyncApiClient
from ktwidget.sdk.errors import (
    ApiError,
    Forbidden,
    InvalidParameters,
    KtwidgetError,
    MalformedRequest,
    NotFound,
    OrderConflict,
    RateLimited,
    ServiceUnavailable,
    TransportError,
    UnexpectedResponse,
    UnknownApp,
)
from ktwidget.sdk.models import CreatedTransaction, ServiceParams, TransactionInfo

__all__ = [
    "ApiClient",
    "ApiError",
    "AsyncApiClient",
    "CreatedTransaction",
    "FieldError",
    "Forbidden",
    "InvalidParameters",
    "KtwidgetError",
    "MalformedRequest",
    "NotFound",
    "OrderConflict",
    "RateLimited",
    "ServiceParams",
    "ServiceUnavailable",
    "TransactionInfo",
    "TransportError",
    "UnexpectedResponse",
    "UnknownApp",
]
