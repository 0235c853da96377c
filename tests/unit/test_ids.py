"""SPEC section 2: app_id, transaction_hash and webhook secret formats."""

from __future__ import annotations

import base64
import re

import pytest

from ktwidget.domain import ids


def test_app_id_is_32_lowercase_hex() -> None:
    values = {ids.new_app_id() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert re.fullmatch(r"[0-9a-f]{32}", value)
        assert ids.is_app_id(value)


def test_transaction_hash_is_40_lowercase_hex() -> None:
    values = {ids.new_transaction_hash() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert re.fullmatch(r"[0-9a-f]{40}", value)
        assert ids.is_transaction_hash(value)


def test_webhook_secret_is_whsec_and_base64_of_32_bytes() -> None:
    values = {ids.new_webhook_secret() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert value.startswith("whsec_")
        key = value.removeprefix("whsec_")
        assert len(key) == 44
        assert len(base64.b64decode(key, validate=True)) == 32


def test_the_seeds_identifiers() -> None:
    assert ids.is_app_id("e2d3d70d53c67bcd377266f74e98587c")
    assert ids.is_transaction_hash("af7ed500aa9f2132fae4b63e936af641bcc4ebaf")


@pytest.mark.parametrize(
    "value",
    [
        "E2D3D70D53C67BCD377266F74E98587C",
        "e2d3d70d53c67bcd377266f74e98587",
        "e2d3d70d53c67bcd377266f74e98587c0",
        "g2d3d70d53c67bcd377266f74e98587c",
        "e2d3d70d53c67bcd377266f74e98587c\n",
        "",
        None,
        0xE2D3,
        b"e2d3d70d53c67bcd377266f74e98587c",
    ],
)
def test_not_app_ids(value: object) -> None:
    assert not ids.is_app_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "AF7ED500AA9F2132FAE4B63E936AF641BCC4EBAF",
        "af7ed500aa9f2132fae4b63e936af641bcc4eba",
        "af7ed500aa9f2132fae4b63e936af641bcc4ebaf0",
        "af7ed500aa9f2132fae4b63e936af641bcc4ebaf\n",
        "e2d3d70d53c67bcd377266f74e98587c",
        None,
    ],
)
def test_not_transaction_hashes(value: object) -> None:
    assert not ids.is_transaction_hash(value)
