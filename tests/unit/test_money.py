"""SPEC section 4, `amount`: a JSON number, > 0, at most 2 decimal places, at most the configured
maximum; booleans, strings, NaN and infinities are refused. Section 2: money is integer minor units."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ktwidget.domain import codec, money

MAX_LIMIT = 10**15

# Values as `codec.loads` yields them: `int` for integers, `Decimal` for anything with a fraction
# or an exponent. Bounded exponents keep the exact reference arithmetic below cheap.
json_numbers = st.one_of(
    st.integers(min_value=-(10**22), max_value=10**22),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**20), max_value=10**20),
    st.builds(
        lambda digits, exponent: Decimal(f"{digits}e{exponent}"),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.integers(min_value=-40, max_value=40),
    ),
    st.integers(min_value=-(10**6), max_value=10**6).flatmap(
        lambda n: st.sampled_from([Decimal(n).scaleb(-k) for k in range(6)])
    ),
)
limits = st.none() | st.integers(min_value=1, max_value=MAX_LIMIT)


def spec_minor(value: int | Decimal, limit: int | None) -> int | None:
    """The rule of section 4 in exact rational arithmetic: minor units, or None when refused."""
    exact = Fraction(value) * 100
    ceiling = money.MAX_MINOR if limit is None else limit
    if exact <= 0 or exact.denominator != 1 or exact > ceiling:
        return None
    return int(exact)


def parse_or_none(value: object, limit: int | None = None) -> int | None:
    try:
        return money.parse_amount(value, max_minor=limit)
    except money.AmountError:
        return None


@given(value=json_numbers, limit=limits)
@example(value=Decimal("10.001"), limit=None)
@example(value=Decimal("0.001"), limit=None)
@example(value=Decimal("0"), limit=None)
@example(value=Decimal("-0.00"), limit=None)
@example(value=Decimal("-10.5"), limit=None)
@example(value=Decimal("0.01"), limit=None)
@example(value=Decimal("1E+3"), limit=None)
@example(value=Decimal("10.500000"), limit=None)
@example(value=Decimal("1000000000000000000000000000.001"), limit=None)
@example(value=Decimal("1000000000000000000000000000.001"), limit=MAX_LIMIT)
@example(value=Decimal(money.MAX_MINOR).scaleb(-2), limit=None)
@example(value=Decimal(money.MAX_MINOR + 1).scaleb(-2), limit=None)
@example(value=1001, limit=100000)
def test_accepted_exactly_when_positive_two_decimals_and_within_the_limit(
    value: int | Decimal, limit: int | None
) -> None:
    assert parse_or_none(value, limit) == spec_minor(value, limit)


@given(value=json_numbers, limit=limits)
def test_nothing_accepted_is_zero_negative_fractional_cents_or_above_the_limit(
    value: int | Decimal, limit: int | None
) -> None:
    minor = parse_or_none(value, limit)
    if minor is not None:
        assert isinstance(minor, int)
        assert not isinstance(minor, bool)
        assert minor > 0
        assert Fraction(value) == Fraction(minor, 100)
        assert minor <= (money.MAX_MINOR if limit is None else limit)


@pytest.mark.parametrize(
    "text",
    [
        "1e-1000030",  # underflows to 0 in Decimal arithmetic
        "1e999999",  # overflows Decimal arithmetic
        "1e-999999999",
        "1e999999999",
        "1" + "0" * 4000,
        "0." + "0" * 4000 + "1",
        "1." + "0" * 4000 + "1",
    ],
)
def test_absurd_magnitudes_are_refused_as_amount_errors(text: str) -> None:
    with pytest.raises(money.AmountError):
        money.parse_amount(Decimal(text), max_minor=MAX_LIMIT)
    with pytest.raises(money.AmountError):
        money.parse_amount(Decimal(text))


def test_many_trailing_zeros_are_still_whole() -> None:
    assert money.parse_amount(Decimal("1." + "0" * 4000)) == 100
    assert money.parse_amount(codec.loads("10.50000000000000000000000000000000")) == 1050


@given(minor=st.integers(min_value=1, max_value=money.MAX_MINOR))
@example(minor=1)
@example(minor=100000)
@example(minor=1050)
@example(minor=money.MAX_MINOR)
def test_accepted_amounts_round_trip_through_the_wire(minor: int) -> None:
    number = money.to_json_number(minor)
    wire = codec.dumps({"amount": number})
    # A plain JSON number in major units: 1000, 10.5, 0.01 (never 1E+3, never 10.50).
    assert re.fullmatch(rb'\{"amount":(0|[1-9]\d*)(\.\d?[1-9])?\}', wire)
    assert money.parse_amount(codec.loads(wire)["amount"]) == minor


@given(value=json_numbers, limit=limits)
def test_round_trip_from_any_accepted_value(value: int | Decimal, limit: int | None) -> None:
    minor = parse_or_none(value, limit)
    if minor is not None:
        wire = codec.dumps(money.to_json_number(minor))
        assert money.parse_amount(codec.loads(wire), max_minor=limit) == minor


@given(
    value=st.one_of(
        st.booleans(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(),
        st.none(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(), st.integers(), max_size=2),
    )
)
def test_non_numbers_booleans_floats_and_strings_are_refused(value: object) -> None:
    with pytest.raises(money.AmountError):
        money.parse_amount(value)


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        "1000",
        "10.50",
        10.5,
        1000.0,
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
    ],
)
def test_refused_kinds(value: object) -> None:
    with pytest.raises(money.AmountError):
        money.parse_amount(value, max_minor=MAX_LIMIT)


@pytest.mark.parametrize(
    ("value", "minor"),
    [(1000, 100000), (Decimal("10.5"), 1050), (Decimal("10.50"), 1050), (Decimal("0.01"), 1)],
)
def test_seed_amounts(value: int | Decimal, minor: int) -> None:
    assert money.parse_amount(value) == minor


def test_the_limit_is_inclusive_and_named_in_the_message() -> None:
    assert money.parse_amount(Decimal("1000000.00"), max_minor=100_000_000) == 100_000_000
    with pytest.raises(money.AmountError, match=r"at most 1000000\.00"):
        money.parse_amount(Decimal("1000000.01"), max_minor=100_000_000)


@pytest.mark.parametrize(
    ("minor", "wire"),
    [(100000, b"1000"), (1050, b"10.5"), (1001, b"10.01"), (1, b"0.01"), (10, b"0.1")],
)
def test_wire_numbers(minor: int, wire: bytes) -> None:
    assert codec.dumps(money.to_json_number(minor)) == wire


def test_whole_amounts_go_on_the_wire_as_integers() -> None:
    assert type(money.to_json_number(100000)) is int
    assert money.to_major(100000) == Decimal(1000)
    assert money.to_major(1050) == Decimal("10.5")


@pytest.mark.parametrize(("minor", "text"), [(100, "1.00"), (1050, "10.50"), (1, "0.01")])
def test_format_amount(minor: int, text: str) -> None:
    assert money.format_amount(minor) == text


@pytest.mark.parametrize(("text", "minor"), [("100", 10000), (" 99.50 ", 9950), ("0.01", 1)])
def test_operator_amounts(text: str, minor: int) -> None:
    assert money.parse_major(text) == minor


@pytest.mark.parametrize("text", ["", "abc", "0", "-1", "1.005", "NaN", "Infinity", "1,5"])
def test_bad_operator_amounts(text: str) -> None:
    with pytest.raises(money.AmountError):
        money.parse_major(text)


def test_currency_is_tenge() -> None:
    assert money.CURRENCY == "KZT"
    assert money.MINOR_PER_MAJOR == 100
