"""SPEC section 3 on the live server: creating a transaction, idempotency, reading it back, keys."""

from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ktwidget.adapters.clock import FakeClock
from ktwidget.config import Settings
from ktwidget.domain.model import Service
from ktwidget.domain.status import Event, Status, apply
from ktwidget.http.problems import PROBLEM_TYPES
from ktwidget.services import errors, merchants
from ktwidget.services.context import Gateway
from ktwidget.services.merchants import Credentials
from ktwidget.storage import transactions as transactions_repo
from ktwidget.storage.db import Database
from ktwidget.storage.schema import transactions
from tests.conftest import LiveServer
from tests.integration.widget_api_support import (
    PHONE,
    TRANSACTIONS,
    assert_problem,
    body,
    counts,
    create,
    ecom,
    service,
)

ONE_TRANSACTION = {"transactions": 1, "transaction_statuses": 1, "jobs": 1}


def stored(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        rows = conn.execute(select(transactions)).mappings().all()
    assert len(rows) == 1
    return dict(rows[0])


# --- Creating ------------------------------------------------------------------------------------


def test_a_sealed_ecom_payload_creates_a_pending_transaction(
    api: httpx.Client, live_server: LiveServer, db: Database, shop: Credentials
) -> None:
    response = create(api, shop, ecom(description="Description of transactions"))

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    created = response.json()
    assert set(created) == {"transaction_hash", "status", "payment_url", "created_at"}
    assert re.fullmatch(r"[0-9a-f]{40}", created["transaction_hash"])
    assert created["status"] == "pending"
    assert created["payment_url"] == f"{live_server.url}/pay/{created['transaction_hash']}"
    # ISO 8601 to the second, in the configured zone (Asia/Almaty, +05:00).
    assert created["created_at"] == "2026-03-01T14:00:00+05:00"
    assert counts(db) == ONE_TRANSACTION
    row = stored(db)
    assert row["transaction_hash"] == created["transaction_hash"]
    assert row["merchant_id"] == shop.merchant_id
    assert row["order_id"] == "order-1"
    assert row["amount"] == 1000_00  # minor units
    assert row["currency"] == "KZT"
    assert row["type"] == "ecom"
    assert row["service_id"] is None
    assert row["test_mode"] is True
    assert row["status"] == "pending"


def test_a_sealed_service_payload_stores_the_service_and_contract(
    api: httpx.Client, db: Database, shop: Credentials, mobile_service: Service
) -> None:
    response = create(api, shop, service())

    assert response.status_code == 201, response.text
    row = stored(db)
    assert (row["type"], row["service_id"], row["contract_value"]) == ("service", 1, PHONE)
    assert row["amount"] == 500_00


def test_the_seeds_example_parameters_are_accepted(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    params = {
        "order_id": "1",
        "amount": 10.5,
        "type": "ecom",
        "description": "Description of transactions",
        "callback_back_url": "shop.example",  # a bare host, as in the seed
        "callback_success_url": "https://shop.example/success",
        "callback_failed_url": "http://localhost:8080/failed",
        "callback_post_url": "https://hooks.shop.example/ktwidget",
    }

    response = create(api, shop, params)

    assert response.status_code == 201, response.text
    row = stored(db)
    assert row["amount"] == 1050
    assert row["callback_back_url"] == "https://shop.example/"
    assert row["callback_success_url"] == "https://shop.example/success"
    assert row["callback_failed_url"] == "http://localhost:8080/failed"


def test_another_merchant_may_use_the_same_order_id(
    api: httpx.Client, db: Database, gateway: Gateway, shop: Credentials
) -> None:
    other = merchants.create_merchant(
        gateway, name="Other", domains=["other.example"], callbacks={}
    )

    first = create(api, shop, ecom())
    second = create(api, other, ecom())

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["transaction_hash"] != second.json()["transaction_hash"]


# --- Idempotency ---------------------------------------------------------------------------------


def test_an_identical_repeat_answers_200_with_the_same_transaction(
    api: httpx.Client, db: Database, shop: Credentials, clock: FakeClock
) -> None:
    first = create(api, shop, ecom())
    clock.advance(60)  # a retry a minute later, sealed afresh (a new ciphertext)

    repeat = create(api, shop, ecom())

    assert first.status_code == 201, first.text
    assert repeat.status_code == 200, repeat.text
    assert repeat.json() == first.json()
    assert counts(db) == ONE_TRANSACTION


def test_the_same_parameters_written_differently_are_identical(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    first = create(api, shop, b'{"order_id": "order-1", "amount": 1000, "type": "ecom"}')
    repeat = create(api, shop, b'{"type": "ecom", "amount": 1000.00, "order_id": "order-1"}')

    assert (first.status_code, repeat.status_code) == (201, 200)
    assert repeat.json()["transaction_hash"] == first.json()["transaction_hash"]
    assert counts(db) == ONE_TRANSACTION


def test_a_double_click_creates_one_transaction(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    envelopes = [body(shop, ecom()) for _ in range(6)]

    with ThreadPoolExecutor(len(envelopes)) as pool:
        responses = list(pool.map(lambda e: api.post(TRANSACTIONS, json=e), envelopes))

    assert sorted(r.status_code for r in responses) == [200] * 5 + [201], [
        r.text for r in responses
    ]
    assert len({r.json()["transaction_hash"] for r in responses}) == 1
    assert counts(db) == ONE_TRANSACTION


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"amount": 1001}, id="other amount"),
        pytest.param({"description": "Another order"}, id="description added"),
        pytest.param({"callback_success_url": "https://shop.example/ok"}, id="redirect added"),
        pytest.param(
            {"type": "service", "service": {"service_id": 1, "contract_value": PHONE}},
            id="other type",
        ),
    ],
)
def test_the_same_order_id_with_other_parameters_answers_409(
    api: httpx.Client,
    db: Database,
    shop: Credentials,
    mobile_service: Service,
    changes: dict[str, Any],
) -> None:
    first = create(api, shop, ecom())

    conflict = create(api, shop, ecom(**changes))

    assert first.status_code == 201, first.text
    problem = assert_problem(api, conflict, 409, slug="order-conflict")
    assert "order-1" in problem["detail"]
    assert counts(db) == ONE_TRANSACTION


def test_a_repeat_after_the_transaction_left_pending_answers_409(
    api: httpx.Client, db: Database, shop: Credentials, clock: FakeClock
) -> None:
    first = create(api, shop, ecom())
    assert first.status_code == 201, first.text
    with db.write() as conn:
        tx = transactions_repo.get_by_hash(conn, first.json()["transaction_hash"])
        assert tx is not None
        change = apply(Status.PENDING, Event.DECLINED, "KKB rejected payment")
        assert transactions_repo.change_status(conn, tx.id, change, clock.now())
    before = counts(db)

    repeat = create(api, shop, ecom())

    assert_problem(api, repeat, 409, slug="order-conflict")
    assert counts(db) == before == {"transactions": 1, "transaction_statuses": 2, "jobs": 1}
    assert stored(db)["status"] == "error"


def test_a_repeat_after_the_payment_session_expired_answers_409(
    api: httpx.Client, db: Database, shop: Credentials, clock: FakeClock, settings: Settings
) -> None:
    assert create(api, shop, ecom()).status_code == 201
    clock.advance(settings.payment_ttl - 1)
    assert create(api, shop, ecom()).status_code == 200  # still open a second before
    clock.advance(1)

    repeat = create(api, shop, ecom())

    assert_problem(api, repeat, 409, slug="order-conflict")
    assert counts(db) == ONE_TRANSACTION


def test_the_same_order_id_in_production_after_test_mode_is_a_conflict(
    db: Database, gateway: Gateway, shop: Credentials
) -> None:
    production = replace(gateway, settings=replace(gateway.settings, production_acquirer="kkb"))
    with LiveServer(production) as server, httpx.Client(base_url=server.url) as client:
        assert create(client, shop, ecom()).status_code == 201

        repeat = create(client, shop, ecom(), test_mode=False)

        assert_problem(client, repeat, 409, slug="order-conflict")
    assert counts(db) == ONE_TRANSACTION


# --- Reading a transaction back ------------------------------------------------------------------


def test_the_widget_reads_what_it_may_show_and_nothing_secret(
    api: httpx.Client, gateway: Gateway, shop: Credentials
) -> None:
    params = ecom(
        amount=10.5,
        description="Кофе и круассан",
        callback_post_url="https://hooks.shop.example/secret-path",
        callback_success_url="https://shop.example/thanks",
    )
    created = create(api, shop, params).json()

    response = api.get(f"{TRANSACTIONS}/{created['transaction_hash']}")

    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["transaction_hash"] == created["transaction_hash"]
    assert shown["status"] == "pending"
    assert shown["amount"] == 10.5
    assert shown["currency"] == "KZT"
    assert shown["merchant_name"] == "Shop"
    assert shown["order_id"] == "order-1"
    assert shown["description"] == "Кофе и круассан"
    assert shown["created_at"] == created["created_at"]
    assert set(shown) <= {
        "transaction_hash",
        "status",
        "amount",
        "currency",
        "merchant_name",
        "order_id",
        "description",
        "type",
        "test_mode",
        "created_at",
    }
    for secret in (
        shop.app_key,
        shop.app_id,
        shop.webhook_secret,
        "hooks.shop.example",
        "secret-path",
        "fingerprint",
        "callback_",
    ):
        assert secret not in response.text


def test_a_whole_amount_reads_back_as_an_integer(api: httpx.Client, shop: Credentials) -> None:
    created = create(api, shop, ecom(amount=1000)).json()

    shown = api.get(f"{TRANSACTIONS}/{created['transaction_hash']}").json()

    assert shown["amount"] == 1000
    assert isinstance(shown["amount"], int)
    assert shown["description"] is None


@pytest.mark.parametrize(
    "transaction_hash",
    [
        pytest.param(secrets.token_hex(20), id="unknown"),
        pytest.param("A" * 40, id="uppercase"),
        pytest.param("abc", id="too short"),
        pytest.param("0" * 41, id="too long"),
        pytest.param("zz" * 20, id="not hex"),
        pytest.param("%00" + "0" * 39, id="NUL"),
    ],
)
def test_unknown_and_malformed_hashes_answer_404(
    api: httpx.Client, shop: Credentials, transaction_hash: str
) -> None:
    response = api.get(f"{TRANSACTIONS}/{transaction_hash}")

    assert_problem(api, response, 404, slug="not-found")


# --- Key rotation --------------------------------------------------------------------------------


def test_after_key_rotation_both_keys_open_payloads_during_the_grace_period(
    api: httpx.Client,
    db: Database,
    gateway: Gateway,
    shop: Credentials,
    clock: FakeClock,
    settings: Settings,
) -> None:
    assert create(api, shop, ecom(order_id="before")).status_code == 201
    new_key = merchants.rotate_app_key(gateway, shop.merchant_id)
    assert new_key != shop.app_key

    with_new = create(api, shop, ecom(order_id="new-key"), app_key=new_key)
    clock.advance(settings.key_grace_period - 1)
    with_old = create(api, shop, ecom(order_id="old-key"))

    assert with_new.status_code == 201, with_new.text
    assert with_old.status_code == 201, with_old.text
    assert counts(db)["transactions"] == 3


def test_after_the_grace_period_the_old_key_no_longer_opens_payloads(
    api: httpx.Client,
    db: Database,
    gateway: Gateway,
    shop: Credentials,
    clock: FakeClock,
    settings: Settings,
) -> None:
    assert create(api, shop, ecom(order_id="warm-up")).status_code == 201  # key now cached
    new_key = merchants.rotate_app_key(gateway, shop.merchant_id)
    clock.advance(settings.key_grace_period + 1)
    before = counts(db)

    with_old = create(api, shop, ecom(order_id="old-key"))
    with_new = create(api, shop, ecom(order_id="new-key"), app_key=new_key)

    assert_problem(api, with_old, 400, slug="payload-not-opened")
    assert with_new.status_code == 201, with_new.text
    assert counts(db)["transactions"] == before["transactions"] + 1


# --- Operations and documentation ----------------------------------------------------------------


def test_healthz_answers_200(api: httpx.Client) -> None:
    response = api.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_documents_every_status_the_create_endpoint_returns(api: httpx.Client) -> None:
    response = api.get("/openapi.json")

    assert response.status_code == 200
    operation = response.json()["paths"][TRANSACTIONS]["post"]
    documented = operation["responses"]
    assert set(documented) == {
        "200",
        "201",
        "400",
        "403",
        "404",
        "409",
        "413",
        "422",
        "429",
        "503",
    }
    for status, entry in documented.items():
        assert entry["description"], status
        if int(status) >= 400:
            assert "application/problem+json" in entry["content"], status
    assert "application/json" in operation["requestBody"]["content"]


def test_openapi_documents_reading_a_transaction(api: httpx.Client) -> None:
    operation = api.get("/openapi.json").json()["paths"][f"{TRANSACTIONS}/{{transaction_hash}}"]

    assert {"200", "404"} <= set(operation["get"]["responses"])


def test_every_problem_type_the_api_can_answer_is_documented(api: httpx.Client) -> None:
    def subclasses(cls: type[errors.GatewayError]) -> list[type[errors.GatewayError]]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    slugs = {error.slug for error in subclasses(errors.GatewayError)}
    slugs |= {"not-found", "method-not-allowed"}

    for slug in sorted(slugs):
        page = api.get(f"/problems/{slug}")
        assert page.status_code == 200, slug
        assert PROBLEM_TYPES[slug] in page.text
    assert_problem(api, api.get("/problems/no-such-problem"), 404, slug="not-found")


def test_a_wrong_method_answers_405_with_allow(api: httpx.Client) -> None:
    response = api.delete(TRANSACTIONS)

    assert_problem(api, response, 405, slug="method-not-allowed")
    assert "POST" in response.headers["allow"]


def test_created_at_is_the_clock_time(
    api: httpx.Client, shop: Credentials, clock: FakeClock
) -> None:
    clock.advance(hours=1)

    created = create(api, shop, ecom()).json()

    assert datetime.fromisoformat(created["created_at"]) == clock.now()
