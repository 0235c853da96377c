"""SPEC sections 3 and 4: every refused request answers a problem document and stores nothing."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ktwidget.config import Settings
from ktwidget.domain.model import Service
from ktwidget.services import catalog, merchants
from ktwidget.services.context import Gateway
from ktwidget.services.merchants import Credentials
from ktwidget.storage.db import Database
from tests.integration.widget_api_support import (
    NOTHING,
    PHONE,
    TRANSACTIONS,
    Servers,
    assert_problem,
    body,
    counts,
    create,
    ecom,
    sealed,
    servers,
    service,
    truncated_box,
    without,
)


@pytest.fixture
def serve(gateway: Gateway) -> Iterator[Servers]:
    yield from servers(gateway)


# --- Invalid parameters (422), each naming the offending field ------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param(without(ecom(), "order_id"), "order_id", id="order_id missing"),
        pytest.param(without(ecom(), "amount"), "amount", id="amount missing"),
        pytest.param(without(ecom(), "type"), "type", id="type missing"),
        pytest.param(ecom(order_id=None), "order_id", id="order_id null"),
        pytest.param(ecom(amount="1000"), "amount", id="amount as string"),
        pytest.param(ecom(order_id=42), "order_id", id="order_id as number"),
        pytest.param(ecom(type=1), "type", id="type as number"),
        pytest.param(ecom(type="card"), "type", id="type unknown"),
        pytest.param(service(service="1"), "service", id="service as string"),
        pytest.param(
            service(service={"service_id": "1", "contract_value": PHONE}),
            "service.service_id",
            id="service_id as string",
        ),
        pytest.param(
            service(service={"service_id": 1.5, "contract_value": PHONE}),
            "service.service_id",
            id="service_id as float",
        ),
        pytest.param(
            service(service={"service_id": True, "contract_value": PHONE}),
            "service.service_id",
            id="service_id as boolean",
        ),
        pytest.param(
            service(service={"service_id": 1, "contract_value": 7011234567}),
            "service.contract_value",
            id="contract_value as number",
        ),
        pytest.param(ecom(description=["a"]), "description", id="description as list"),
        pytest.param(
            ecom(callback_success_url=1), "callback_success_url", id="redirect URL as number"
        ),
    ],
)
def test_missing_or_mistyped_parameters_are_refused(
    api: httpx.Client,
    db: Database,
    shop: Credentials,
    mobile_service: Service,
    params: dict[str, Any],
    field: str,
) -> None:
    response = create(api, shop, params)

    assert_problem(api, response, 422, slug="invalid-parameters", fields=[field])
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(b"10.005", id="three decimals"),
        pytest.param(b"0", id="zero"),
        pytest.param(b"0.00", id="zero with decimals"),
        pytest.param(b"-5", id="negative"),
        pytest.param(b"true", id="boolean"),
        pytest.param(b'"10.00"', id="string"),
        pytest.param(b"NaN", id="NaN"),
        pytest.param(b"Infinity", id="Infinity"),
        pytest.param(b"-Infinity", id="minus Infinity"),
        pytest.param(b"[1000]", id="list"),
        pytest.param(b"1e-999999999", id="tiny exponent rounding to zero"),
        pytest.param(b"1e999999999", id="huge exponent"),
        pytest.param(b"9" * 5000, id="5000 digits"),
        pytest.param(b"1.0000000000000000000000000001", id="28 decimals"),
    ],
)
def test_amounts_that_are_not_money_are_refused(
    api: httpx.Client, db: Database, shop: Credentials, amount: bytes
) -> None:
    # Sent as raw JSON text inside the sealed box, exactly as a careless client would write it.
    params = b'{"order_id": "order-1", "amount": ' + amount + b', "type": "ecom"}'

    response = create(api, shop, params)

    assert_problem(api, response, 422, slug="invalid-parameters", fields=["amount"])
    assert counts(db) == NOTHING


def test_amount_above_the_configured_maximum_is_refused(
    api: httpx.Client, db: Database, shop: Credentials, settings: Settings
) -> None:
    above = settings.max_amount + 1  # minor units: one tiyn too many
    params = (
        f'{{"order_id": "order-1", "amount": {above // 100}.{above % 100:02d}, "type": "ecom"}}'
    )

    response = create(api, shop, params.encode())

    assert_problem(api, response, 422, fields=["amount"])
    assert counts(db) == NOTHING


def test_amount_at_the_configured_maximum_is_accepted(
    api: httpx.Client, db: Database, shop: Credentials, settings: Settings
) -> None:
    at_max = settings.max_amount
    params = (
        f'{{"order_id": "order-1", "amount": {at_max // 100}.{at_max % 100:02d}, "type": "ecom"}}'
    )

    assert create(api, shop, params.encode()).status_code == 201


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param(without(ecom(ammount=1000), "amount"), "ammount", id="ammount typo"),
        pytest.param(ecom(ammount=1000), "ammount", id="ammount besides amount"),
        pytest.param(ecom(currency="KZT"), "currency", id="currency"),
        pytest.param(
            service(service={"service_id": 1, "contract_value": PHONE, "account": "x"}),
            "service.account",
            id="unknown field inside service",
        ),
    ],
)
def test_unknown_fields_are_refused(
    api: httpx.Client,
    db: Database,
    shop: Credentials,
    mobile_service: Service,
    params: dict[str, Any],
    field: str,
) -> None:
    response = create(api, shop, params)

    assert_problem(api, response, 422, fields=[field])
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param(without(service(), "service"), "service", id="service missing for service"),
        pytest.param(
            ecom(service={"service_id": 1, "contract_value": PHONE}),
            "service",
            id="service for ecom",
        ),
        pytest.param(
            service(service={"contract_value": PHONE}),
            "service.service_id",
            id="service_id missing",
        ),
        pytest.param(
            service(service={"service_id": 1}), "service.contract_value", id="contract missing"
        ),
        pytest.param(
            service(service={"service_id": 999, "contract_value": PHONE}),
            "service.service_id",
            id="unknown service_id",
        ),
        pytest.param(
            service(service={"service_id": 0, "contract_value": PHONE}),
            "service.service_id",
            id="service_id zero",
        ),
        pytest.param(
            service(service={"service_id": 2**64, "contract_value": PHONE}),
            "service.service_id",
            id="service_id beyond 64 bits",
        ),
        pytest.param(
            service(service={"service_id": 1, "contract_value": "12345"}),
            "service.contract_value",
            id="contract value breaking the pattern",
        ),
        pytest.param(
            service(service={"service_id": 1, "contract_value": PHONE + "\n"}),
            "service.contract_value",
            id="contract value with a newline",
        ),
        pytest.param(service(amount=99.99), "amount", id="amount below the service minimum"),
        pytest.param(service(amount=50000.01), "amount", id="amount above the service maximum"),
    ],
)
def test_service_rules_are_checked(
    api: httpx.Client,
    db: Database,
    shop: Credentials,
    mobile_service: Service,
    params: dict[str, Any],
    field: str,
) -> None:
    response = create(api, shop, params)

    assert_problem(api, response, 422, fields=[field])
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "service_id",
    [
        pytest.param(b"1e999999999", id="huge exponent"),
        pytest.param(b"NaN", id="NaN"),
        pytest.param(b"Infinity", id="Infinity"),
        pytest.param(b"9" * 5000, id="5000 digits"),
    ],
)
def test_service_ids_that_are_not_integers_are_refused_quickly(
    api: httpx.Client,
    db: Database,
    shop: Credentials,
    mobile_service: Service,
    service_id: bytes,
) -> None:
    params = (
        b'{"order_id": "order-1", "amount": 500, "type": "service", "service": {"service_id": '
        + service_id
        + b', "contract_value": "7011234567"}}'
    )

    response = create(api, shop, params)

    assert_problem(api, response, 422, fields=["service.service_id"])
    assert counts(db) == NOTHING


def test_an_inactive_service_is_refused(
    api: httpx.Client, db: Database, gateway: Gateway, shop: Credentials, mobile_service: Service
) -> None:
    catalog.update_service(gateway, mobile_service.id, active=False)

    response = create(api, shop, service())

    assert_problem(api, response, 422, fields=["service.service_id"])
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "order_id",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 129, id="129 characters"),
        pytest.param("order\x001", id="NUL"),
        pytest.param("order\n1", id="newline"),
        pytest.param("order\t1", id="tab"),
        pytest.param("order\x7f", id="DEL"),
        pytest.param("order\x85", id="C1 control"),
        pytest.param("order\ud800", id="lone surrogate"),
    ],
)
def test_bad_order_ids_are_refused(
    api: httpx.Client, db: Database, shop: Credentials, order_id: str
) -> None:
    response = create(api, shop, ecom(order_id=order_id))

    assert_problem(api, response, 422, fields=["order_id"])
    assert counts(db) == NOTHING


def test_an_order_id_of_128_characters_is_accepted(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    response = create(api, shop, ecom(order_id="з" * 128))

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("description", "x" * 1001, id="description too long"),
        pytest.param("description", "nul\x00inside", id="description with NUL"),
        pytest.param("description", "half a pair \ud83d", id="description with lone surrogate"),
    ],
)
def test_bad_descriptions_are_refused(
    api: httpx.Client, db: Database, shop: Credentials, field: str, value: str
) -> None:
    response = create(api, shop, ecom(**{field: value}))

    assert_problem(api, response, 422, fields=[field])
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    ("field", "url"),
    [
        pytest.param("callback_success_url", "https://evil.example/ok", id="success elsewhere"),
        pytest.param("callback_failed_url", "https://evil.example/failed", id="failed elsewhere"),
        pytest.param("callback_back_url", "https://evil.example/", id="back elsewhere"),
        pytest.param("callback_back_url", "evil.example", id="bare foreign host"),
        pytest.param(
            "callback_success_url", "https://shop.example.evil.example/", id="suffix trick"
        ),
        pytest.param("callback_success_url", "https://evilshop.example/", id="no dot before"),
        pytest.param(
            "callback_success_url", "https://shop.example@evil.example/", id="user info trick"
        ),
        pytest.param("callback_success_url", "javascript:alert(1)", id="javascript scheme"),
        pytest.param("callback_success_url", "//evil.example/", id="scheme-relative"),
        pytest.param("callback_success_url", "ftp://shop.example/", id="ftp"),
        pytest.param("callback_success_url", "https://shop.example/\ud800", id="lone surrogate"),
    ],
)
def test_redirect_urls_must_stay_on_trusted_domains(
    api: httpx.Client, db: Database, shop: Credentials, field: str, url: str
) -> None:
    response = create(api, shop, ecom(**{field: url}))

    assert_problem(api, response, 422, fields=[field])
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://10.0.0.1/notify", id="private"),
        pytest.param("https://127.0.0.1/notify", id="loopback"),
        pytest.param("https://169.254.169.254/latest/meta-data/", id="link-local metadata"),
        pytest.param("https://localhost/notify", id="localhost"),
        pytest.param("https://[::1]/notify", id="IPv6 loopback"),
        pytest.param("https://[::ffff:10.0.0.1]/notify", id="IPv4-mapped private"),
    ],
)
def test_notification_urls_must_not_point_at_private_addresses(
    api: httpx.Client, db: Database, shop: Credentials, url: str
) -> None:
    response = create(api, shop, ecom(callback_post_url=url))

    assert_problem(api, response, 422, fields=["callback_post_url"])
    assert counts(db) == NOTHING


def test_plain_http_notification_url_in_production_is_refused_before_the_missing_acquirer(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    params = ecom(callback_post_url="http://hooks.shop.example/notify")

    response = create(api, shop, params, test_mode=False)

    assert_problem(api, response, 422, fields=["callback_post_url"])
    assert counts(db) == NOTHING


def test_plain_http_notification_url_is_fine_in_test_mode(
    api: httpx.Client, shop: Credentials
) -> None:
    response = create(api, shop, ecom(callback_post_url="http://hooks.shop.example/notify"))

    assert response.status_code == 201, response.text


def test_plain_http_notification_url_in_production_is_refused_with_an_acquirer_too(
    serve: Servers, db: Database, shop: Credentials
) -> None:
    client = serve(production_acquirer="kkb")
    params = ecom(callback_post_url="http://hooks.shop.example/notify")

    response = create(client, shop, params, test_mode=False)

    assert_problem(client, response, 422, fields=["callback_post_url"])
    assert counts(db) == NOTHING


def test_production_without_an_acquirer_answers_503(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    params = ecom(callback_post_url="https://hooks.shop.example/notify")

    response = create(api, shop, params, test_mode=False)

    assert_problem(api, response, 503, slug="acquirer-unavailable")
    assert counts(db) == NOTHING


def test_invalid_parameters_in_production_answer_422_not_503(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    response = create(api, shop, ecom(amount=0), test_mode=False)

    assert_problem(api, response, 422, fields=["amount"])
    assert counts(db) == NOTHING


def test_every_offending_field_is_named_at_once(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    params = {"order_id": "", "amount": 10.001, "type": "ecom", "ammount": 1}

    response = create(api, shop, params)

    assert_problem(api, response, 422, fields=["order_id", "amount", "ammount"])
    assert counts(db) == NOTHING


# --- The payload (400 unless it opens; 422 when it opens into something other than an object) ----


def test_a_payload_that_is_not_base64_is_refused(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    envelope = {"app_id": shop.app_id, "test_mode": True, "payload": "not base64 at all!"}

    response = api.post(TRANSACTIONS, json=envelope)

    assert_problem(api, response, 400)
    assert counts(db) == NOTHING


@pytest.mark.parametrize("drop", [1, 16, 60])
def test_a_truncated_payload_is_refused(
    api: httpx.Client, db: Database, shop: Credentials, drop: int
) -> None:
    envelope = body(shop, ecom())
    envelope["payload"] = truncated_box(envelope["payload"], drop)

    response = api.post(TRANSACTIONS, json=envelope)

    assert_problem(api, response, 400, slug="payload-not-opened")
    assert counts(db) == NOTHING


def test_a_payload_with_its_base64_cut_short_is_refused(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    envelope = body(shop, ecom())
    envelope["payload"] = envelope["payload"][:-3]

    response = api.post(TRANSACTIONS, json=envelope)

    assert_problem(api, response, 400)
    assert counts(db) == NOTHING


def test_a_payload_sealed_for_another_key_is_refused(
    api: httpx.Client, db: Database, gateway: Gateway, shop: Credentials
) -> None:
    other = merchants.create_merchant(
        gateway, name="Other", domains=["other.example"], callbacks={}
    )

    response = create(api, shop, ecom(), app_key=other.app_key)

    assert_problem(api, response, 400, slug="payload-not-opened")
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "plaintext",
    [
        pytest.param(b"order_id=1&amount=1000", id="form encoded"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"order_id": "1", "amount": 1000, "type": "ecom"', id="unterminated"),
        pytest.param(b"\xff\xfe{}", id="not UTF-8"),
    ],
)
def test_a_payload_that_opens_but_is_not_json_is_refused(
    api: httpx.Client, db: Database, shop: Credentials, plaintext: bytes
) -> None:
    response = create(api, shop, plaintext)

    assert_problem(api, response, 400)
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "plaintext",
    [
        pytest.param(b'[{"order_id": "1", "amount": 1000, "type": "ecom"}]', id="array"),
        pytest.param(b'"order-1"', id="string"),
        pytest.param(b"1000", id="number"),
        pytest.param(b"null", id="null"),
    ],
)
def test_a_payload_that_is_json_but_not_an_object_is_refused(
    api: httpx.Client, db: Database, shop: Credentials, plaintext: bytes
) -> None:
    response = create(api, shop, plaintext)

    assert_problem(api, response, 422, slug="invalid-parameters", fields=["payload"])
    assert counts(db) == NOTHING


# --- The envelope --------------------------------------------------------------------------------


def test_an_unknown_app_id_answers_404(api: httpx.Client, db: Database, shop: Credentials) -> None:
    envelope = body(shop, ecom())
    envelope["app_id"] = secrets.token_hex(16)

    response = api.post(TRANSACTIONS, json=envelope)

    assert_problem(api, response, 404, slug="unknown-app")
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "app_id",
    [
        pytest.param("shop", id="word"),
        pytest.param("A" * 32, id="uppercase"),
        pytest.param("a" * 31, id="31 characters"),
        pytest.param("a" * 33, id="33 characters"),
        pytest.param(12345, id="number"),
        pytest.param(None, id="null"),
    ],
)
def test_a_malformed_app_id_answers_400(
    api: httpx.Client, db: Database, shop: Credentials, app_id: object
) -> None:
    envelope: dict[str, Any] = body(shop, ecom())
    envelope["app_id"] = app_id

    response = api.post(TRANSACTIONS, json=envelope)

    assert_problem(api, response, 400, slug="malformed-request")
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "test_mode",
    [
        pytest.param("missing", id="missing"),
        pytest.param("true", id="string"),
        pytest.param(1, id="number"),
        pytest.param(None, id="null"),
    ],
)
def test_test_mode_must_be_a_boolean(
    api: httpx.Client, db: Database, shop: Credentials, test_mode: object
) -> None:
    envelope: dict[str, Any] = body(shop, ecom())
    if test_mode == "missing":
        del envelope["test_mode"]
    else:
        envelope["test_mode"] = test_mode

    response = api.post(TRANSACTIONS, json=envelope)

    assert_problem(api, response, 400, slug="malformed-request")
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"payload": None}, id="payload null"),
        pytest.param({"payload": ""}, id="payload empty"),
        pytest.param({"payload": ["x"]}, id="payload list"),
        pytest.param({"extra": 1}, id="unknown envelope field"),
    ],
)
def test_the_envelope_must_carry_exactly_app_id_test_mode_and_payload(
    api: httpx.Client, db: Database, shop: Credentials, change: dict[str, Any]
) -> None:
    envelope = {**body(shop, ecom()), **change}

    response = api.post(TRANSACTIONS, json=envelope)

    assert_problem(api, response, 400, slug="malformed-request")
    assert counts(db) == NOTHING


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"app_id=1&test_mode=true", id="form encoded"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'{"app_id": ', id="unterminated"),
        pytest.param(b"\xff\xfe", id="not UTF-8"),
        pytest.param(b'{"test_mode": ' + b"9" * 5000 + b"}", id="5000-digit number"),
    ],
)
def test_a_body_that_is_not_a_json_object_answers_400(
    api: httpx.Client, db: Database, shop: Credentials, content: bytes
) -> None:
    response = api.post(TRANSACTIONS, content=content, headers={"Content-Type": "application/json"})

    assert_problem(api, response, 400, slug="malformed-request")
    assert counts(db) == NOTHING


def test_a_disabled_merchant_answers_403(
    api: httpx.Client, db: Database, gateway: Gateway, shop: Credentials
) -> None:
    merchants.update_merchant(gateway, shop.merchant_id, active=False)

    response = create(api, shop, ecom())

    assert_problem(api, response, 403, slug="merchant-disabled")
    assert counts(db) == NOTHING


# --- Size and rate limits -----------------------------------------------------------------------


def _oversized(settings: Settings, shop: Credentials) -> bytes:
    """A well-formed envelope, one byte over the limit."""
    envelope = (
        b'{"app_id": "'
        + shop.app_id.encode()
        + b'", "test_mode": true, "payload": "'
        + sealed(shop.app_key, ecom()).encode()
        + b'"}'
    )
    return envelope + b" " * (settings.max_body_bytes + 1 - len(envelope))


def test_an_oversized_body_with_content_length_answers_413(
    api: httpx.Client, db: Database, settings: Settings, shop: Credentials
) -> None:
    content = _oversized(settings, shop)

    response = api.post(TRANSACTIONS, content=content, headers={"Content-Type": "application/json"})

    assert_problem(api, response, 413, slug="payload-too-large")
    assert counts(db) == NOTHING


def test_an_oversized_chunked_body_answers_413(
    api: httpx.Client, db: Database, settings: Settings, shop: Credentials
) -> None:
    content = _oversized(settings, shop)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(content), 1000):
            yield content[start : start + 1000]

    response = api.post(
        TRANSACTIONS, content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert_problem(api, response, 413, slug="payload-too-large")
    assert counts(db) == NOTHING


def test_a_body_at_the_limit_is_accepted(
    api: httpx.Client, settings: Settings, shop: Credentials
) -> None:
    content = _oversized(settings, shop)[:-1]

    response = api.post(TRANSACTIONS, content=content, headers={"Content-Type": "application/json"})

    assert response.status_code == 201, response.text


def test_too_many_requests_from_one_client_answer_429(
    serve: Servers, db: Database, shop: Credentials
) -> None:
    client = serve(rate_limit_per_client=2)
    for n in (1, 2):
        assert create(client, shop, ecom(order_id=f"order-{n}")).status_code == 201
    before = counts(db)

    response = create(client, shop, ecom(order_id="order-3"))

    assert_problem(client, response, 429, slug="rate-limited")
    assert int(response.headers["Retry-After"]) >= 1
    assert counts(db) == before


def test_too_many_requests_for_one_app_answer_429(
    serve: Servers, db: Database, shop: Credentials
) -> None:
    client = serve(rate_limit_per_app=1)
    assert create(client, shop, ecom(order_id="order-1")).status_code == 201

    response = create(client, shop, ecom(order_id="order-2"))

    assert_problem(client, response, 429, slug="rate-limited")
    assert int(response.headers["Retry-After"]) >= 1
    assert counts(db)["transactions"] == 1


def test_a_payload_too_short_to_be_a_sealed_box_is_refused(
    api: httpx.Client, db: Database, shop: Credentials
) -> None:
    # 32 bytes: shorter than any sealed box (48 bytes of overhead).
    envelope = {"app_id": shop.app_id, "test_mode": True, "payload": shop.app_key}

    response = api.post(TRANSACTIONS, json=envelope)

    assert_problem(api, response, 400, slug="payload-not-opened")
    assert counts(db) == NOTHING
