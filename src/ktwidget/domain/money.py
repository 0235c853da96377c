"""Money as integer minor units (tiyn); `Decimal` only at the edges, never `float`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

CURRENCY = "KZT"
MINOR_PER_MAJOR = 100
_CENT = Decimal(1) / MINOR_PER_MAJOR
# The largest amount a signed 64-bit column holds; also what `parse_amount` allows without a limit.
MAX_MINOR = 2**63 - 1
_MAX_ADJUSTED = 18  # 10**19 major units: far above MAX_MINOR, small enough to compute exactly


class AmountError(ValueError):
    """An amount that cannot be money: the message is meant for a person."""


def parse_amount(value: object, *, max_minor: int | None = None) -> int:
    """Turn a JSON number (``int`` or ``Decimal``, as `codec.loads` yields) into minor units.

    Refuses booleans, strings, floats, NaN and infinities, zero and negatives, more than two
    decimal places, and anything above ``max_minor`` (never above `MAX_MINOR`).
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise AmountError("must be a number")
    number = Decimal(value)
    if not number.is_finite():
        raise AmountError("must be a finite number")
    if number <= 0:
        raise AmountError("must be greater than 0")
    limit = MAX_MINOR if max_minor is None else min(max_minor, MAX_MINOR)
    # Exact integer arithmetic on the digits: `Decimal` arithmetic rounds to the context's 28
    # digits (so 1000000000000000000000000000.001 would pass as whole) and underflows tiny
    # values to 0 (so 1e-1000030 would pass as zero). Absurd exponents stop here, cheaply.
    if number.adjusted() > _MAX_ADJUSTED:
        raise AmountError(f"must be at most {format_amount(limit)}")
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    significant = list(digits)
    while len(significant) > 1 and significant[-1] == 0:
        significant.pop()
        exponent += 1
    if exponent < -2:
        raise AmountError("must have at most 2 decimal places")
    result: int = int("".join(map(str, significant))) * 10 ** (exponent + 2)
    if result > limit:
        raise AmountError(f"must be at most {format_amount(limit)}")
    return result


def to_major(minor: int) -> Decimal:
    """Minor units as a `Decimal` in major units without trailing zeros: 100000 -> 1000, 1050 -> 10.5."""
    value = Decimal(minor) / MINOR_PER_MAJOR
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def to_json_number(minor: int) -> int | Decimal:
    """What goes on the wire: an integer when whole, else a `Decimal` the codec writes as a number."""
    major = to_major(minor)
    if major == major.to_integral_value():
        return int(major)
    return major


def format_amount(minor: int) -> str:
    """Human form with two decimals, as on receipts and in messages: ``1 000.00``-free ``1000.00``."""
    return f"{Decimal(minor) / MINOR_PER_MAJOR:.2f}"


def parse_major(text: str) -> int:
    """Parse an operator's amount such as ``100`` or ``99.50`` (CLI, configuration)."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation as exc:
        raise AmountError(f"{text!r} is not a number") from exc
    return parse_amount(number)
