"""SPEC section 3: the Origin check, CORS for trusted origins only, and security headers."""

from __future__ import annotations

import httpx
import pytest

from ktwidget.services import merchants
from ktwidget.services.context import Gateway
from ktwidget.services.merchants import Credentials
from ktwidget.storage.db import Database
from tests.integration.widget_api_support import (
    NOTHING,
    TRANSACTIONS,
    assert_problem,
    counts,
    create,
    ecom,
)

TRUSTED = ["https://shop.example", "http://shop.example:8080", "http://localhost:5173"]
UNTRUSTED = [
    "https://evil.example",
    "https://shop.example.evil.example",
    "https://evilshop.example",
    "https://sub.shop.example",  # shop.example does not trust its subdomains
    "null",
    "file://",
]


def preflight(client: httpx.Client, origin: str, path: str = TRANSACTIONS) -> httpx.Response:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


# --- The Origin check on creation ----------------------------------------------------------------


@pytest.mark.parametrize("origin", TRUSTED)
def test_a_trusted_origin_creates_and_gets_its_origin_echoed(
    api: httpx.Client, db: Database, shop: Credentials, origin: str
) -> None:
    response = create(api, shop, ecom(), headers={"Origin": origin})

    assert response.status_code == 201, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert "origin" in response.headers["vary"].lower()
    assert counts(db)["transactions"] == 1


@pytest.mark.parametrize("origin", UNTRUSTED)
def test_an_untrusted_origin_answers_403_without_cors(
    api: httpx.Client, db: Database, shop: Credentials, origin: str
) -> None:
    response = create(api, shop, ecom(), headers={"Origin": origin})

    assert_problem(api, response, 403, slug="untrusted-origin")
    assert "access-control-allow-origin" not in response.headers
    assert counts(db) == NOTHING


def test_an_origin_trusted_by_another_merchant_only_answers_403(
    api: httpx.Client, db: Database, gateway: Gateway, shop: Credentials
) -> None:
    merchants.create_merchant(gateway, name="Other", domains=["other.example"], callbacks={})

    response = create(api, shop, ecom(), headers={"Origin": "https://other.example"})

    assert_problem(api, response, 403, slug="untrusted-origin")
    assert counts(db) == NOTHING


def test_the_origin_of_a_disabled_merchant_is_no_longer_trusted_for_cors(
    api: httpx.Client, gateway: Gateway, shop: Credentials
) -> None:
    merchants.update_merchant(gateway, shop.merchant_id, active=False)

    response = preflight(api, "https://shop.example")

    assert "access-control-allow-origin" not in response.headers


def test_without_origin_a_server_to_server_request_is_let_through(
    api: httpx.Client, shop: Credentials
) -> None:
    response = create(api, shop, ecom())

    assert response.status_code == 201, response.text
    assert "access-control-allow-origin" not in response.headers


# --- Preflight -----------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", TRUSTED)
def test_a_preflight_from_a_trusted_origin_answers_204(
    api: httpx.Client, shop: Credentials, origin: str
) -> None:
    response = preflight(api, origin)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == origin
    methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert "POST" in methods
    headers = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert "content-type" in headers
    assert "origin" in response.headers["vary"].lower()
    # The credentials-free widget needs no cookies: never allow them.
    assert "access-control-allow-credentials" not in response.headers


def test_a_preflight_for_reading_a_transaction_is_answered_too(
    api: httpx.Client, shop: Credentials
) -> None:
    response = api.options(
        f"{TRANSACTIONS}/{'0' * 40}",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"},
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "GET" in response.headers["access-control-allow-methods"]


@pytest.mark.parametrize("origin", UNTRUSTED)
def test_a_preflight_from_an_untrusted_origin_allows_nothing(
    api: httpx.Client, shop: Credentials, origin: str
) -> None:
    response = preflight(api, origin)

    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-methods" not in response.headers
    assert "access-control-allow-headers" not in response.headers


def test_reading_a_transaction_from_a_trusted_origin_gets_cors(
    api: httpx.Client, shop: Credentials
) -> None:
    created = create(api, shop, ecom()).json()

    response = api.get(
        f"{TRANSACTIONS}/{created['transaction_hash']}", headers={"Origin": "http://localhost:3000"}
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_reading_a_transaction_from_an_untrusted_origin_gets_no_cors(
    api: httpx.Client, shop: Credentials
) -> None:
    created = create(api, shop, ecom()).json()

    response = api.get(
        f"{TRANSACTIONS}/{created['transaction_hash']}", headers={"Origin": "https://evil.example"}
    )

    assert "access-control-allow-origin" not in response.headers


# --- Security headers ----------------------------------------------------------------------------


def _api_answers(api: httpx.Client, shop: Credentials) -> list[httpx.Response]:
    created = create(api, shop, ecom())
    return [
        created,
        create(api, shop, ecom()),  # 200 repeat
        create(api, shop, ecom(amount=0, order_id="bad")),  # 422
        api.post(TRANSACTIONS, content=b"{", headers={"Content-Type": "application/json"}),
        api.get(f"{TRANSACTIONS}/{created.json()['transaction_hash']}"),
        api.get(f"{TRANSACTIONS}/{'0' * 40}"),  # 404
        preflight(api, "https://shop.example"),
    ]


def test_api_answers_carry_security_headers_and_are_never_cached(
    api: httpx.Client, shop: Credentials
) -> None:
    for response in _api_answers(api, shop):
        where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
        assert response.headers.get("x-content-type-options") == "nosniff", where
        assert response.headers.get("cache-control") == "no-store", where
        assert "referrer-policy" in response.headers, where


def test_healthz_and_openapi_carry_nosniff(api: httpx.Client) -> None:
    for path in ("/healthz", "/openapi.json"):
        response = api.get(path)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert api.get("/openapi.json").headers["cache-control"] == "no-store"
