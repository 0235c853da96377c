"""The JSON codec keeps money exact: fractions decode to `Decimal`, never `float`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ktwidget.domain import codec


def test_fractions_decode_to_decimal_and_integers_to_int() -> None:
    data = codec.loads(b'{"a": 10.5, "b": 1000, "c": 1e3, "d": 0.10}')
    assert data == {"a": Decimal("10.5"), "b": 1000, "c": Decimal("1e3"), "d": Decimal("0.10")}
    assert type(data["a"]) is Decimal
    assert type(data["b"]) is int


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "Infinity",
        "-Infinity",
        '{"amount": NaN}',
        "{",
        "",
        "[1,]",
        "1" * 5000,  # longer than Python's int digit limit
        "[" * 100_000,
    ],
)
def test_refused_documents_raise_the_codec_error(text: str) -> None:
    with pytest.raises(codec.JSONDecodeError):
        codec.loads(text)


def test_bad_utf8_raises_the_codec_error() -> None:
    with pytest.raises(codec.JSONDecodeError):
        codec.loads(b'{"a": "\xff"}')


def test_dumps_is_compact_utf8_with_decimals_as_numbers() -> None:
    data = {"amount": Decimal("10.5"), "name": "Оплата", "n": None}
    assert codec.dumps(data) == '{"amount":10.5,"name":"Оплата","n":null}'.encode()
    assert codec.loads(codec.dumps(data)) == data


def test_lenient_numbers_leave_the_verdict_to_the_field_validator() -> None:
    data = codec.loads_lenient_numbers('{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1.5}')
    assert data["a"].is_nan()
    assert data["b"] == Decimal("Infinity")
    assert data["c"] == Decimal("-Infinity")
    assert data["d"] == Decimal("1.5")
    assert codec.loads_lenient_numbers("1" * 5000) == Decimal("1" * 5000)
    assert type(codec.loads_lenient_numbers("1000")) is int


@pytest.mark.parametrize("text", ["{", "[1,]", "[" * 100_000])
def test_lenient_numbers_still_refuse_broken_documents(text: str) -> None:
    with pytest.raises(codec.JSONDecodeError):
        codec.loads_lenient_numbers(text)
