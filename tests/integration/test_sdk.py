"""The Python SDK (`from ktwidget import ApiClient`) against the real gateway on a loopback port."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ktwidget import (
    ApiClient,
    ApiError,
    AsyncApiClient,
    CreatedTransaction,
    Forbidden,
    InvalidParameters,
    KtwidgetError,
    MalformedRequest,
    NotFound,
    OrderConflict,
    RateLimited,
    ServiceUnavailable,
    TransactionInfo,
    TransportError,
    UnexpectedResponse,
    UnknownApp,
)
from ktwidget.adapters.crypto import generate_app_keypair
from ktwidget.domain.model import Service, Transaction
from ktwidget.services import merchants
from ktwidget.services.context import Gateway
from ktwidget.services.merchants import Credentials
from ktwidget.storage import transactions as repo
from ktwidget.storage.db import Database
from tests.conftest import LiveServer

PHONE = "7011234567"


@pytest.fixture
def client(live_server: LiveServer, shop: Credentials) -> Iterator[ApiClient]:
    with ApiClient(shop.app_key, shop.app_id, test_mode=True, base_url=live_server.url) as c:
        yield c


def stored(db: Database, transaction_hash: str) -> Transaction:
    with db.read() as conn:
        tx = repo.get_by_hash(conn, transaction_hash)
    assert tx is not None, transaction_hash
    return tx


def count_transactions(db: Database) -> int:
    with db.read() as conn:
        return len(repo.list_transactions(conn, repo.TransactionFilter()))


def refusing_transport(calls: list[httpx.Request]) -> httpx.MockTransport:
    """A transport that records and fails any request: local checks must not reach the network."""

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        pytest.fail(f"the SDK sent a request it should have refused locally: {request.url}")

    return httpx.MockTransport(handler)


def answering(response: httpx.Response) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: response)


# Creating transactions


def test_create_ecom_transaction(
    client: ApiClient, live_server: LiveServer, db: Database, shop: Credentials
) -> None:
    created = client.create_transaction(
        order_id="order-1", amount=1000, type="ecom", description="Two tickets"
    )

    assert isinstance(created, CreatedTransaction)
    assert created.created is True
    assert created.status == "pending"
    assert len(created.transaction_hash) == 40
    assert created.payment_url == f"{live_server.url}/pay/{created.transaction_hash}"
    assert isinstance(created.created_at, datetime)
    assert created.created_at.utcoffset() is not None
    tx = stored(db, created.transaction_hash)
    assert (tx.order_id, tx.amount, tx.type.value, tx.test_mode) == (
        "order-1",
        100_000,
        "ecom",
        True,
    )
    assert tx.merchant_id == shop.merchant_id
    assert tx.description == "Two tickets"


def test_create_service_transaction(
    client: ApiClient, db: Database, mobile_service: Service
) -> None:
    created = client.create_transaction(
        order_id="topup-1",
        amount=500,
        type="service",
        service={"service_id": mobile_service.id, "contract_value": PHONE},
        callback_back_url="shop.example",
        callback_success_url="https://shop.example/ok",
    )

    assert created.created is True
    tx = stored(db, created.transaction_hash)
    assert (tx.type.value, tx.service_id, tx.contract_value) == ("service", 1, PHONE)
    assert tx.amount == 50_000
    assert tx.callback_back_url == "https://shop.example/"
    assert tx.callback_success_url == "https://shop.example/ok"


def test_an_identical_repeat_answers_the_same_transaction(client: ApiClient, db: Database) -> None:
    first = client.create_transaction(order_id="double-click", amount=Decimal("99.99"), type="ecom")
    again = client.create_transaction(order_id="double-click", amount=Decimal("99.99"), type="ecom")

    assert first.created is True
    assert again.created is False
    assert again.transaction_hash == first.transaction_hash
    assert again.payment_url == first.payment_url
    assert count_transactions(db) == 1


@pytest.mark.parametrize("amount", [Decimal("10.50"), 10.5, Decimal("10.5")])
def test_decimal_and_float_amounts_are_stored_exactly(
    client: ApiClient, db: Database, amount: Decimal | float
) -> None:
    created = client.create_transaction(order_id="exact", amount=amount, type="ecom")

    assert stored(db, created.transaction_hash).amount == 1050  # 10.5 KZT in tiyn


def test_float_arithmetic_is_not_rounded_away() -> None:
    # 0.1 + 0.2 is 0.30000000000000004: refused, not silently turned into 0.30.
    sdk = ApiClient(
        generate_app_keypair()[0], secrets.token_hex(16), transport=refusing_transport([])
    )
    with sdk, pytest.raises(InvalidParameters) as caught:
        sdk.create_transaction(order_id="float", amount=0.1 + 0.2, type="ecom")
    assert [e.field for e in caught.value.errors] == ["amount"]


def test_get_transaction(client: ApiClient, shop: Credentials) -> None:
    created = client.create_transaction(
        order_id="look-1", amount=2500, type="ecom", description="A book"
    )

    info = client.get_transaction(created.transaction_hash)

    assert isinstance(info, TransactionInfo)
    assert info.transaction_hash == created.transaction_hash
    assert info.status == "pending"
    assert info.amount == Decimal(2500)
    assert isinstance(info.amount, Decimal)
    assert (info.currency, info.merchant_name, info.order_id) == ("KZT", "Shop", "look-1")
    assert (info.description, info.type, info.test_mode) == ("A book", "ecom", True)
    assert info.created_at == created.created_at


def test_get_transaction_with_a_fractional_amount(client: ApiClient) -> None:
    created = client.create_transaction(order_id="cents", amount=Decimal("10.50"), type="ecom")

    assert client.get_transaction(created.transaction_hash).amount == Decimal("10.5")


def test_get_unknown_transaction_is_not_found(client: ApiClient) -> None:
    with pytest.raises(NotFound) as caught:
        client.get_transaction(secrets.token_hex(20))
    assert not isinstance(caught.value, UnknownApp)
    assert caught.value.status == 404


def test_get_refuses_a_malformed_hash_locally(shop: Credentials) -> None:
    sdk = ApiClient(shop.app_key, shop.app_id, transport=refusing_transport([]))
    with sdk, pytest.raises(ValueError, match="40 lowercase hex"):
        sdk.get_transaction("../../healthz")


# Local validation: the gateway's own validator, before any request


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"order_id": "", "amount": 100, "type": "ecom"}, "order_id"),
        ({"order_id": "a\nb", "amount": 100, "type": "ecom"}, "order_id"),
        ({"order_id": "1", "amount": Decimal("10.555"), "type": "ecom"}, "amount"),
        ({"order_id": "1", "amount": 0, "type": "ecom"}, "amount"),
        ({"order_id": "1", "amount": True, "type": "ecom"}, "amount"),
        ({"order_id": "1", "amount": "100", "type": "ecom"}, "amount"),
        ({"order_id": "1", "amount": float("nan"), "type": "ecom"}, "amount"),
        ({"order_id": "1", "amount": float("inf"), "type": "ecom"}, "amount"),
        ({"order_id": "1", "amount": 100, "type": "card"}, "type"),
        ({"order_id": "1", "amount": 100, "type": "service"}, "service"),
        (
            {"order_id": "1", "amount": 100, "type": "ecom", "service": {"service_id": 1}},
            "service",
        ),
        (
            {"order_id": "1", "amount": 100, "type": "service", "service": {"service_id": 1}},
            "service.contract_value",
        ),
        (
            {"order_id": "1", "amount": 100, "type": "ecom", "callback_back_url": "ftp://x"},
            "callback_back_url",
        ),
        (
            {"order_id": "1", "amount": 100, "type": "ecom", "description": "x" * 1001},
            "description",
        ),
    ],
)
def test_invalid_parameters_are_refused_before_any_request(
    shop: Credentials, params: dict[str, Any], field: str
) -> None:
    calls: list[httpx.Request] = []
    with (
        ApiClient(shop.app_key, shop.app_id, transport=refusing_transport(calls)) as sdk,
        pytest.raises(InvalidParameters) as caught,
    ):
        sdk.create_transaction(**params)

    error = caught.value
    assert calls == []
    assert error.local is True
    assert error.status == 422
    assert field in [e.field for e in error.errors]
    assert error.problem["errors"][0]["field"] == error.errors[0].field
    assert isinstance(error, ApiError)
    assert isinstance(error, KtwidgetError)


def test_production_needs_an_https_notification_url_locally(shop: Credentials) -> None:
    calls: list[httpx.Request] = []
    sdk = ApiClient(shop.app_key, shop.app_id, test_mode=False, transport=refusing_transport(calls))
    with sdk, pytest.raises(InvalidParameters) as caught:
        sdk.create_transaction(
            order_id="1", amount=100, type="ecom", callback_post_url="http://hooks.shop.example/"
        )
    assert [e.field for e in caught.value.errors] == ["callback_post_url"]
    assert calls == []


# What only the gateway knows: answered as typed errors carrying the problem document


def test_unknown_service_is_refused_by_the_gateway(client: ApiClient, db: Database) -> None:
    with pytest.raises(InvalidParameters) as caught:
        client.create_transaction(
            order_id="svc-unknown",
            amount=500,
            type="service",
            service={"service_id": 999, "contract_value": PHONE},
        )

    error = caught.value
    assert error.local is False
    assert error.status == 422
    assert error.type == "/problems/invalid-parameters"
    assert error.title
    assert error.detail
    assert [(e.field, e.message) for e in error.errors] == [
        ("service.service_id", "is not an active service")
    ]
    assert error.problem["status"] == 422
    assert count_transactions(db) == 0


def test_catalog_rules_are_checked_by_the_gateway(
    client: ApiClient, mobile_service: Service
) -> None:
    with pytest.raises(InvalidParameters) as caught:
        client.create_transaction(
            order_id="svc-bad",
            amount=50,
            type="service",
            service={"service_id": mobile_service.id, "contract_value": "123"},
        )
    assert sorted(e.field for e in caught.value.errors) == ["amount", "service.contract_value"]
    assert caught.value.local is False


def test_merchant_rules_are_checked_by_the_gateway(client: ApiClient) -> None:
    # The SDK cannot know the trusted domains or whether private notification addresses are allowed.
    with pytest.raises(InvalidParameters) as caught:
        client.create_transaction(
            order_id="urls",
            amount=100,
            type="ecom",
            callback_success_url="https://evil.example/",
            callback_post_url="https://127.0.0.1/hook",
        )
    assert sorted(e.field for e in caught.value.errors) == [
        "callback_post_url",
        "callback_success_url",
    ]
    assert caught.value.local is False


def test_order_conflict(client: ApiClient, db: Database) -> None:
    first = client.create_transaction(order_id="order-9", amount=1000, type="ecom")

    with pytest.raises(OrderConflict) as caught:
        client.create_transaction(order_id="order-9", amount=2000, type="ecom")

    assert caught.value.status == 409
    assert caught.value.type == "/problems/order-conflict"
    assert "order-9" in caught.value.detail
    assert stored(db, first.transaction_hash).amount == 100_000
    assert count_transactions(db) == 1


def test_unknown_app(live_server: LiveServer, shop: Credentials) -> None:
    with (
        ApiClient(shop.app_key, secrets.token_hex(16), base_url=live_server.url) as sdk,
        pytest.raises(UnknownApp) as caught,
    ):
        sdk.create_transaction(order_id="1", amount=100, type="ecom")

    assert isinstance(caught.value, NotFound)
    assert caught.value.status == 404
    assert caught.value.type == "/problems/unknown-app"


def test_a_payload_sealed_for_another_key_is_malformed(
    live_server: LiveServer, shop: Credentials
) -> None:
    other_key, _ = generate_app_keypair()
    with (
        ApiClient(other_key, shop.app_id, base_url=live_server.url) as sdk,
        pytest.raises(MalformedRequest) as caught,
    ):
        sdk.create_transaction(order_id="1", amount=100, type="ecom")
    assert caught.value.status == 400
    assert caught.value.type == "/problems/payload-not-opened"


def test_disabled_merchant_is_forbidden(
    client: ApiClient, gateway: Gateway, shop: Credentials
) -> None:
    merchants.update_merchant(gateway, shop.merchant_id, active=False)

    with pytest.raises(Forbidden) as caught:
        client.create_transaction(order_id="1", amount=100, type="ecom")
    assert caught.value.status == 403
    assert caught.value.type == "/problems/merchant-disabled"


def test_production_without_an_acquirer_is_unavailable(
    live_server: LiveServer, shop: Credentials, db: Database
) -> None:
    with (
        ApiClient(shop.app_key, shop.app_id, test_mode=False, base_url=live_server.url) as sdk,
        pytest.raises(ServiceUnavailable) as caught,
    ):
        sdk.create_transaction(order_id="live-1", amount=100, type="ecom")

    assert caught.value.status == 503
    assert caught.value.type == "/problems/acquirer-unavailable"
    assert count_transactions(db) == 0


@pytest.fixture
def limited_server(gateway: Gateway) -> Iterator[LiveServer]:
    """A gateway allowing one request a minute per app."""
    limited = replace(gateway, settings=replace(gateway.settings, rate_limit_per_app=1))
    with LiveServer(limited) as server:
        yield server


def test_rate_limited(limited_server: LiveServer, shop: Credentials) -> None:
    with ApiClient(shop.app_key, shop.app_id, base_url=limited_server.url) as sdk:
        sdk.create_transaction(order_id="1", amount=100, type="ecom")
        with pytest.raises(RateLimited) as caught:
            sdk.create_transaction(order_id="2", amount=100, type="ecom")

    assert caught.value.status == 429
    assert caught.value.retry_after is not None
    assert 1 <= caught.value.retry_after <= 60


# Answers the live gateway does not give: a proxy's page, an HTTP date, a broken body


def test_a_non_problem_error_page_still_raises_a_typed_error(shop: Credentials) -> None:
    page = httpx.Response(503, text="<html>upstream down</html>", headers={"Retry-After": "5"})
    with (
        ApiClient(shop.app_key, shop.app_id, transport=answering(page)) as sdk,
        pytest.raises(ServiceUnavailable) as caught,
    ):
        sdk.create_transaction(order_id="1", amount=100, type="ecom")
    assert caught.value.problem["status"] == 503
    assert "upstream down" in caught.value.detail


def test_retry_after_as_an_http_date(shop: Credentials) -> None:
    problem = {"type": "/problems/rate-limited", "title": "Too many", "status": 429, "detail": "x"}
    answer = httpx.Response(
        429, json=problem, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )
    with (
        ApiClient(shop.app_key, shop.app_id, transport=answering(answer)) as sdk,
        pytest.raises(RateLimited) as caught,
    ):
        sdk.create_transaction(order_id="1", amount=100, type="ecom")
    assert caught.value.retry_after == 0.0  # a date in the past: retry now


def test_an_unknown_error_status_is_a_plain_api_error(shop: Credentials) -> None:
    problem = {"type": "/problems/payload-too-large", "title": "Too large", "status": 413}
    with (
        ApiClient(
            shop.app_key, shop.app_id, transport=answering(httpx.Response(413, json=problem))
        ) as sdk,
        pytest.raises(ApiError) as caught,
    ):
        sdk.create_transaction(order_id="1", amount=100, type="ecom")
    assert type(caught.value) is ApiError
    assert (caught.value.status, caught.value.title, caught.value.detail) == (413, "Too large", "")


def test_a_success_without_the_expected_body_is_unexpected(shop: Credentials) -> None:
    with (
        ApiClient(
            shop.app_key, shop.app_id, transport=answering(httpx.Response(201, json={}))
        ) as sdk,
        pytest.raises(UnexpectedResponse, match="transaction_hash"),
    ):
        sdk.create_transaction(order_id="1", amount=100, type="ecom")


def test_network_failures_are_transport_errors(shop: Credentials) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        ApiClient(shop.app_key, shop.app_id, transport=httpx.MockTransport(refuse)) as sdk,
        pytest.raises(TransportError) as caught,
    ):
        sdk.create_transaction(order_id="1", amount=100, type="ecom")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert isinstance(caught.value, KtwidgetError)


def test_a_refused_connection_is_a_transport_error(shop: Credentials) -> None:
    # A bound socket that does not listen: the port stays ours and refuses every connection.
    with socket.socket() as idle:
        idle.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{idle.getsockname()[1]}"
        with (
            ApiClient(shop.app_key, shop.app_id, base_url=url, timeout=5) as sdk,
            pytest.raises(TransportError),
        ):
            sdk.create_transaction(order_id="1", amount=100, type="ecom")


# The constructor


@pytest.mark.parametrize(
    ("app_key", "app_id", "test_mode", "message"),
    [
        ("short", "0" * 32, True, "44-character"),
        ("!" * 44, "0" * 32, True, "base64"),
        ("A" * 44, "0" * 32, True, "32-byte"),
        (None, "0" * 32, True, "44-character"),
        ("VALID", "0" * 31, True, "32 lowercase hex"),
        ("VALID", "A" * 32, True, "32 lowercase hex"),
        ("VALID", "0" * 32, "yes", "True or False"),
    ],
)
def test_constructor_checks_credentials(
    app_key: Any, app_id: str, test_mode: Any, message: str
) -> None:
    if app_key == "VALID":
        app_key = generate_app_keypair()[0]
    with pytest.raises(ValueError, match=message):
        ApiClient(app_key, app_id, test_mode=test_mode)
    with pytest.raises(ValueError, match=message):
        AsyncApiClient(app_key, app_id, test_mode=test_mode)


# AsyncApiClient


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def async_client(live_server: LiveServer, shop: Credentials) -> AsyncIterator[AsyncApiClient]:
    async with AsyncApiClient(shop.app_key, shop.app_id, base_url=live_server.url) as c:
        yield c


@pytest.mark.anyio
async def test_async_create_repeat_and_get(async_client: AsyncApiClient, db: Database) -> None:
    created = await async_client.create_transaction(
        order_id="async-1", amount=Decimal("1000.00"), type="ecom"
    )
    again = await async_client.create_transaction(order_id="async-1", amount=1000, type="ecom")
    info = await async_client.get_transaction(created.transaction_hash)

    assert (created.created, again.created) == (True, False)
    assert again.transaction_hash == created.transaction_hash
    assert info.amount == Decimal(1000)
    assert stored(db, created.transaction_hash).amount == 100_000


@pytest.mark.anyio
async def test_async_service_transaction(
    async_client: AsyncApiClient, db: Database, mobile_service: Service
) -> None:
    created = await async_client.create_transaction(
        order_id="async-topup",
        amount=1050.0,
        type="service",
        service={"service_id": mobile_service.id, "contract_value": PHONE},
    )
    tx = stored(db, created.transaction_hash)
    assert (tx.amount, tx.service_id, tx.contract_value) == (105_000, 1, PHONE)


@pytest.mark.anyio
async def test_async_errors(async_client: AsyncApiClient, live_server: LiveServer) -> None:
    await async_client.create_transaction(order_id="async-9", amount=100, type="ecom")
    with pytest.raises(OrderConflict):
        await async_client.create_transaction(order_id="async-9", amount=200, type="ecom")
    with pytest.raises(InvalidParameters) as caught:
        await async_client.create_transaction(
            order_id="async-svc",
            amount=100,
            type="service",
            service={"service_id": 999, "contract_value": PHONE},
        )
    assert caught.value.local is False

    unknown = AsyncApiClient(async_client.app_key, secrets.token_hex(16), base_url=live_server.url)
    async with unknown:
        with pytest.raises(UnknownApp):
            await unknown.create_transaction(order_id="1", amount=100, type="ecom")


@pytest.mark.anyio
async def test_async_local_validation_sends_nothing(shop: Credentials) -> None:
    calls: list[httpx.Request] = []
    async with AsyncApiClient(
        shop.app_key, shop.app_id, transport=refusing_transport(calls)
    ) as sdk:
        with pytest.raises(InvalidParameters) as caught:
            await sdk.create_transaction(order_id="1", amount=Decimal("1.001"), type="ecom")
    assert caught.value.local is True
    assert [e.field for e in caught.value.errors] == ["amount"]
    assert calls == []


@pytest.mark.anyio
async def test_async_network_failure(shop: Credentials) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with AsyncApiClient(
        shop.app_key, shop.app_id, transport=httpx.MockTransport(refuse)
    ) as sdk:
        with pytest.raises(TransportError):
            await sdk.create_transaction(order_id="1", amount=100, type="ecom")
