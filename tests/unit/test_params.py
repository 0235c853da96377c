"""SPEC section 4: the transaction parameters inside the sealed payload, rule by rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktwidget.domain import codec
from ktwidget.domain.params import (
    FIELDS,
    REDIRECT_FIELDS,
    ParamsInvalid,
    ServiceRef,
    ServiceRule,
    TransactionParams,
    TransactionType,
    ValidationRules,
    validate_params,
)
from ktwidget.domain.urls import parse_domains

KTPAY = ServiceRule(
    service_id=1,
    name="ktpay service",
    pattern=r"\d{7}",
    hint="a 7-digit contract number",
    min_amount=1_00,
    max_amount=100_000_00,
)
MOBILE = ServiceRule(
    service_id=2,
    name="Mobile top-up",
    pattern=r"^7\d{9}$",
    hint="10-digit phone number starting with 7",
    min_amount=100_00,
    max_amount=50_000_00,
)
RETIRED = ServiceRule(
    service_id=3,
    name="Retired",
    pattern=r".*",
    hint="anything",
    min_amount=1,
    max_amount=10**9,
    active=False,
)
CATALOG = {rule.service_id: rule for rule in (KTPAY, MOBILE, RETIRED)}
MAX_AMOUNT = 1_000_000_00  # 1,000,000.00 KZT

RULES = ValidationRules(
    max_amount=MAX_AMOUNT,
    services=CATALOG.get,
    trusted_domains=parse_domains(["widget.nplus.tech", "shop.example", "*.shop.example"]),
    production=False,
    allow_private_notify=False,
)
PRODUCTION = ValidationRules(
    max_amount=MAX_AMOUNT,
    services=CATALOG.get,
    trusted_domains=RULES.trusted_domains,
    production=True,
)

# The seed's example, unchanged.
SEED_PAYLOAD: dict[str, Any] = {
    "order_id": "1",
    "amount": 1000,
    "type": "service",
    "service": {"service_id": 1, "contract_value": "1111111"},
    "callback_back_url": "widget.nplus.tech",
    "description": "Transaction from KTPAY",
}
ECOM: dict[str, Any] = {"order_id": "A-1", "amount": 1000, "type": "ecom"}
MOBILE_PAYMENT: dict[str, Any] = {
    "order_id": "M-1",
    "amount": 500,
    "type": "service",
    "service": {"service_id": 2, "contract_value": "7011234567"},
}
ABSENT = object()


def payload(base: dict[str, Any] = ECOM, **changes: Any) -> dict[str, Any]:
    """``base`` with fields changed; a field set to ABSENT is left out."""
    result = {**base, **changes}
    return {k: v for k, v in result.items() if v is not ABSENT}


def errors(raw: object, rules: ValidationRules = RULES) -> dict[str, list[str]]:
    """Field -> messages of the `ParamsInvalid` that validating ``raw`` must raise."""
    with pytest.raises(ParamsInvalid) as info:
        validate_params(raw, rules)
    found: dict[str, list[str]] = {}
    for error in info.value.errors:
        found.setdefault(error.field, []).append(error.message)
    assert found, "ParamsInvalid without a single field error"
    return found


def refused_field(raw: object, field: str, rules: ValidationRules = RULES) -> list[str]:
    found = errors(raw, rules)
    assert field in found, f"expected {field!r} among {found}"
    return found[field]


# The seed


def test_the_seed_example_passes() -> None:
    params = validate_params(SEED_PAYLOAD, RULES)
    assert params == TransactionParams(
        order_id="1",
        amount=100000,
        type=TransactionType.SERVICE,
        service=ServiceRef(service_id=1, contract_value="1111111"),
        callback_back_url="https://widget.nplus.tech/",
        description="Transaction from KTPAY",
    )


def test_the_seed_example_passes_as_json_from_the_wire() -> None:
    raw = codec.loads(codec.dumps(SEED_PAYLOAD))
    assert validate_params(raw, RULES) == validate_params(SEED_PAYLOAD, RULES)


def test_the_sdk_side_knows_only_the_limits() -> None:
    """With nothing known but the maximum, the catalog and domains are left to the gateway."""
    sdk = ValidationRules(max_amount=MAX_AMOUNT)
    params = validate_params(
        payload(
            SEED_PAYLOAD,
            service={"service_id": 99, "contract_value": "x"},
            callback_back_url="https://elsewhere.example/",
        ),
        sdk,
    )
    assert params.service == ServiceRef(99, "x")
    assert params.callback_back_url == "https://elsewhere.example/"


# Required fields and JSON types


@pytest.mark.parametrize("field", ["order_id", "amount", "type"])
def test_required_fields(field: str) -> None:
    assert refused_field(payload(**{field: ABSENT}), field) == ["is required"]
    assert refused_field(payload(**{field: None}), field) == ["is required"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order_id", 1),
        ("order_id", ["1"]),
        ("type", 1),
        ("type", "subscription"),
        ("type", "ECOM"),
        ("amount", "1000"),
        ("amount", True),
        ("amount", [1000]),
        ("amount", {"value": 1000}),
        ("description", 5),
        ("description", ["x"]),
        ("callback_back_url", 5),
        ("callback_success_url", True),
        ("callback_failed_url", {"url": "https://shop.example/"}),
        ("callback_post_url", []),
    ],
)
def test_wrong_json_types(field: str, value: object) -> None:
    refused_field(payload(**{field: value}), field)


@pytest.mark.parametrize(
    ("service", "field"),
    [
        ("1", "service"),
        ([1, "1111111"], "service"),
        ({"service_id": "1", "contract_value": "1111111"}, "service.service_id"),
        ({"service_id": True, "contract_value": "1111111"}, "service.service_id"),
        ({"service_id": Decimal("1.5"), "contract_value": "1111111"}, "service.service_id"),
        ({"service_id": 0, "contract_value": "1111111"}, "service.service_id"),
        ({"service_id": -1, "contract_value": "1111111"}, "service.service_id"),
        ({"contract_value": "1111111"}, "service.service_id"),
        ({"service_id": None, "contract_value": "1111111"}, "service.service_id"),
        ({"service_id": 1, "contract_value": 1111111}, "service.contract_value"),
        ({"service_id": 1}, "service.contract_value"),
        ({"service_id": 1, "contract_value": ""}, "service.contract_value"),
        ({"service_id": 1, "contract_value": "111\n1111"}, "service.contract_value"),
    ],
)
def test_wrong_service_objects(service: object, field: str) -> None:
    refused_field(payload(SEED_PAYLOAD, service=service), field)


def test_the_payload_must_be_an_object() -> None:
    for raw in ([SEED_PAYLOAD], "payload", 1, None):
        assert errors(raw) == {"payload": ["must be a JSON object"]}


def test_every_offending_field_is_named_at_once() -> None:
    found = errors({"order_id": "", "amount": 0, "type": "x", "ammount": 1, "description": 1})
    assert set(found) == {"order_id", "amount", "type", "ammount", "description"}


# amount


@pytest.mark.parametrize(
    "amount",
    [
        Decimal("10.001"),
        Decimal("0.001"),
        0,
        Decimal("0.00"),
        -1,
        Decimal("-10.5"),
        True,
        False,
        "1000",
        "10.50",
        MAX_AMOUNT // 100 + 1,
        Decimal("1000000.01"),
        Decimal("1e-1000030"),
        Decimal("1e999999999"),
    ],
)
def test_bad_amounts(amount: object) -> None:
    refused_field(payload(amount=amount), "amount")


@pytest.mark.parametrize(
    ("amount", "minor"),
    [(1000, 100000), (Decimal("10.5"), 1050), (Decimal("10.50"), 1050), (Decimal("0.01"), 1)],
)
def test_good_amounts(amount: object, minor: int) -> None:
    assert validate_params(payload(amount=amount), RULES).amount == minor


def test_the_maximum_itself_is_allowed() -> None:
    assert validate_params(payload(amount=MAX_AMOUNT // 100), RULES).amount == MAX_AMOUNT


@pytest.mark.parametrize(
    "amount_json", ["NaN", "Infinity", "-Infinity", "1" * 5000, "1e999999999", "1e-999999999"]
)
def test_absurd_amounts_from_the_wire_are_field_errors(amount_json: str) -> None:
    raw = codec.loads_lenient_numbers(
        '{"order_id": "1", "type": "ecom", "amount": ' + amount_json + "}"
    )
    assert set(errors(raw)) == {"amount"}


@pytest.mark.parametrize("service_id_json", ["NaN", "Infinity", "1" * 5000, "1e999999999", "1.5"])
def test_absurd_service_ids_from_the_wire_are_field_errors(service_id_json: str) -> None:
    raw = codec.loads_lenient_numbers(
        '{"order_id": "1", "type": "service", "amount": 1000,'
        ' "service": {"service_id": ' + service_id_json + ', "contract_value": "1111111"}}'
    )
    assert set(errors(raw)) == {"service.service_id"}


# Unknown fields


@pytest.mark.parametrize("name", ["ammount", "orderId", "currency", "merchant_id", "Type"])
def test_unknown_fields_are_refused(name: str) -> None:
    assert refused_field(payload(**{name: 1}), name) == ["is not a known parameter"]


def test_a_typo_of_amount_names_both_fields() -> None:
    found = errors(payload(amount=ABSENT, ammount=1000))
    assert found["ammount"] == ["is not a known parameter"]
    assert found["amount"] == ["is required"]


def test_unknown_fields_inside_service_are_refused() -> None:
    service = {"service_id": 1, "contract_value": "1111111", "serviceId": 1}
    assert refused_field(payload(SEED_PAYLOAD, service=service), "service.serviceId") == [
        "is not a known parameter"
    ]


# type and service


def test_service_is_required_for_type_service() -> None:
    refused_field(payload(SEED_PAYLOAD, service=ABSENT), "service")
    refused_field(payload(SEED_PAYLOAD, service=None), "service")


def test_service_is_refused_for_type_ecom() -> None:
    refused_field(payload(SEED_PAYLOAD, type="ecom"), "service")


def test_a_null_service_is_absent_for_ecom() -> None:
    assert validate_params(payload(service=None), RULES).service is None


@pytest.mark.parametrize("service_id", [99, 3, 10**30, Decimal("1e999999999")])
def test_the_service_must_be_an_active_catalog_service(service_id: object) -> None:
    service = {"service_id": service_id, "contract_value": "1111111"}
    assert refused_field(payload(SEED_PAYLOAD, service=service), "service.service_id") == [
        "is not an active service"
    ]


def test_a_missing_catalog_entry_and_an_inactive_one_look_the_same() -> None:
    looked_up: list[int] = []

    def catalog(service_id: int) -> ServiceRule | None:
        looked_up.append(service_id)
        return CATALOG.get(service_id)

    rules = ValidationRules(services=catalog)
    for service_id in (3, 99):
        service = {"service_id": service_id, "contract_value": "1111111"}
        assert errors(payload(SEED_PAYLOAD, service=service), rules) == {
            "service.service_id": ["is not an active service"]
        }
    assert looked_up == [3, 99]


@pytest.mark.parametrize(
    "contract", ["12345", "8011234567", "70112345678", "7011234567 ", "７011234567"]
)
def test_the_contract_value_must_match_the_service_rule(contract: str) -> None:
    service = {"service_id": 2, "contract_value": contract}
    (message,) = refused_field(payload(MOBILE_PAYMENT, service=service), "service.contract_value")
    assert "10-digit phone number starting with 7" in message


def test_a_matching_contract_value_passes() -> None:
    params = validate_params(MOBILE_PAYMENT, RULES)
    assert params.service == ServiceRef(2, "7011234567")
    assert params.amount == 50000


@pytest.mark.parametrize("amount", [Decimal("99.99"), Decimal("50000.01"), 1])
def test_the_amount_must_be_within_the_service_limits(amount: object) -> None:
    (message,) = refused_field(payload(MOBILE_PAYMENT, amount=amount), "amount")
    assert "100.00" in message
    assert "50000.00" in message
    assert "Mobile top-up" in message


@pytest.mark.parametrize(("amount", "minor"), [(100, 100_00), (50000, 50_000_00)])
def test_the_service_limits_are_inclusive(amount: int, minor: int) -> None:
    assert validate_params(payload(MOBILE_PAYMENT, amount=amount), RULES).amount == minor


# order_id and description


def test_order_id_length() -> None:
    assert validate_params(payload(order_id="x" * 128), RULES).order_id == "x" * 128
    assert validate_params(payload(order_id="Заказ №1"), RULES).order_id == "Заказ №1"
    refused_field(payload(order_id="x" * 129), "order_id")
    refused_field(payload(order_id=""), "order_id")


@pytest.mark.parametrize(
    "order_id", ["a\x00b", "1\n", "\t1", "1\r\n2", "x\x7f", "x\x85", "\x1b[31m"]
)
def test_order_id_without_control_characters(order_id: str) -> None:
    refused_field(payload(order_id=order_id), "order_id")


def test_description_length() -> None:
    text = "д" * 1000
    assert validate_params(payload(description=text), RULES).description == text
    refused_field(payload(description="д" * 1001), "description")


# Redirect URLs


@pytest.mark.parametrize("field", REDIRECT_FIELDS)
@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/",
        "https://shop.example.evil.example/",
        "https://evilshop.example/",
        "https://shop.example@evil.example/",
        "https://evil.example\\.shop.example/",
        "evil.example",
        "//evil.example/",
        "ftp://shop.example/",
    ],
)
def test_redirect_urls_stay_on_trusted_domains(field: str, url: str) -> None:
    refused_field(payload(**{field: url}), field)


@pytest.mark.parametrize("field", REDIRECT_FIELDS)
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "javascript://shop.example/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
    ],
)
def test_script_urls_are_refused(field: str, url: str) -> None:
    refused_field(payload(**{field: url}), field)
    refused_field(payload(**{field: url}), field, ValidationRules())


@pytest.mark.parametrize("field", REDIRECT_FIELDS)
@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/thanks?order=1",
        "http://shop.example:8080/back",
        "https://pay.shop.example/ok",
        "https://widget.nplus.tech/",
    ],
)
def test_redirect_urls_on_trusted_domains_pass(field: str, url: str) -> None:
    assert getattr(validate_params(payload(**{field: url}), RULES), field) == url


@pytest.mark.parametrize("field", REDIRECT_FIELDS)
def test_a_bare_host_means_https(field: str) -> None:
    params = validate_params(payload(**{field: "widget.nplus.tech"}), RULES)
    assert getattr(params, field) == "https://widget.nplus.tech/"
    params = validate_params(payload(**{field: "shop.example/back?x=1"}), RULES)
    assert getattr(params, field) == "https://shop.example/back?x=1"


# Notification URL


def test_the_notification_url_must_be_https_in_production() -> None:
    refused_field(
        payload(callback_post_url="http://hooks.shop.example/kt"), "callback_post_url", PRODUCTION
    )
    params = validate_params(payload(callback_post_url="https://hooks.shop.example/kt"), PRODUCTION)
    assert params.callback_post_url == "https://hooks.shop.example/kt"


def test_a_plain_http_notification_url_is_fine_outside_production() -> None:
    params = validate_params(payload(callback_post_url="http://hooks.shop.example/kt"), RULES)
    assert params.callback_post_url == "http://hooks.shop.example/kt"


PRIVATE_URLS = [
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://10.0.0.5/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fd00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost:8443/hook",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_notification_urls_stay_off_private_networks(url: str) -> None:
    refused_field(payload(callback_post_url=url), "callback_post_url")
    refused_field(payload(callback_post_url=url), "callback_post_url", PRODUCTION)


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_the_operator_may_allow_private_notification_urls(url: str) -> None:
    rules = ValidationRules(allow_private_notify=True)
    assert validate_params(payload(callback_post_url=url), rules).callback_post_url == url


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://hooks.shop.example/", "/hook"])
def test_the_notification_url_must_be_http(url: str) -> None:
    rules = ValidationRules(allow_private_notify=True)
    refused_field(payload(callback_post_url=url), "callback_post_url", rules)


def test_the_notification_url_need_not_be_on_a_trusted_domain() -> None:
    params = validate_params(payload(callback_post_url="https://hooks.example.com/kt"), PRODUCTION)
    assert params.callback_post_url == "https://hooks.example.com/kt"


# Optional fields


def test_null_optional_fields_are_absent() -> None:
    optional = dict.fromkeys((*REDIRECT_FIELDS, "callback_post_url", "description"))
    params = validate_params(payload(**optional, service=None), RULES)
    assert params == TransactionParams(order_id="A-1", amount=100000, type=TransactionType.ECOM)


def test_all_fields_together() -> None:
    raw = payload(
        MOBILE_PAYMENT,
        callback_back_url="shop.example",
        callback_success_url="https://shop.example/ok",
        callback_failed_url="https://shop.example/fail",
        callback_post_url="https://hooks.shop.example/kt",
        description="Пополнение",
    )
    params = validate_params(raw, PRODUCTION)
    assert params.callback_back_url == "https://shop.example/"
    assert params.callback_post_url == "https://hooks.shop.example/kt"


# to_wire


def test_to_wire_of_the_seed_example() -> None:
    wire = validate_params(SEED_PAYLOAD, RULES).to_wire()
    assert wire == {**SEED_PAYLOAD, "callback_back_url": "https://widget.nplus.tech/"}
    assert list(wire)[:3] == ["order_id", "amount", "type"]


def test_to_wire_leaves_absent_fields_out() -> None:
    assert validate_params(ECOM, RULES).to_wire() == ECOM


safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=128
)
wire_params = st.builds(
    TransactionParams,
    order_id=safe_text,
    amount=st.integers(min_value=1, max_value=MAX_AMOUNT),
    type=st.just(TransactionType.ECOM),
    callback_back_url=st.none()
    | st.sampled_from(["https://shop.example/", "http://a.shop.example:81/x?y=1"]),
    callback_success_url=st.none() | st.just("https://widget.nplus.tech/ok"),
    callback_failed_url=st.none() | st.just("https://shop.example/fail#why"),
    callback_post_url=st.none() | st.just("https://hooks.example.com/kt"),
    description=st.none()
    | st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=1000,
    ),
) | st.builds(
    TransactionParams,
    order_id=safe_text,
    amount=st.integers(min_value=MOBILE.min_amount, max_value=MOBILE.max_amount),
    type=st.just(TransactionType.SERVICE),
    service=st.builds(
        ServiceRef, service_id=st.just(2), contract_value=st.from_regex(r"7\d{9}", fullmatch=True)
    ),
)


@given(params=wire_params)
def test_to_wire_round_trips_through_validation(params: TransactionParams) -> None:
    assert validate_params(params.to_wire(), PRODUCTION) == params
    sealed_json = codec.dumps(params.to_wire())
    assert validate_params(codec.loads(sealed_json), PRODUCTION) == params


# Whatever arrives, the validator answers with field errors, never with a crash.

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals()  # NaN and infinities included: `codec.loads_lenient_numbers` yields them
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.sampled_from(sorted(FIELDS)) | st.text(max_size=8)
service_objects = st.fixed_dictionaries(
    {}, optional={"service_id": json_values | st.integers(0, 4), "contract_value": json_values}
)


@given(
    raw=st.dictionaries(field_names, json_values, max_size=6),
    service=st.none() | service_objects,
    tx_type=st.sampled_from(["ecom", "service", None]),
)
def test_any_payload_gives_params_or_field_errors(
    raw: dict[str, Any], service: dict[str, Any] | None, tx_type: str | None
) -> None:
    raw = {**raw, "type": tx_type, "service": service} if tx_type else raw
    try:
        params = validate_params(raw, RULES)
    except ParamsInvalid as exc:
        found = exc.errors
        assert found
        assert all(isinstance(error.field, str) and error.message for error in found)
        return
    assert validate_params(params.to_wire(), RULES) == params
