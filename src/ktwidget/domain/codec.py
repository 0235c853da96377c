"""JSON that keeps money exact: numbers with a fraction decode to `Decimal` and encode back as-is."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson


class JSONDecodeError(ValueError):
    """The bytes are not a JSON document we accept."""


def _refuse_constant(name: str) -> object:
    raise JSONDecodeError(f"{name} is not a valid JSON number")


def _int_or_decimal(text: str) -> int | Decimal:
    try:
        return int(text)
    except ValueError:  # longer than Python's int digit limit
        return Decimal(text)


def loads(data: bytes | str) -> Any:
    """Decode JSON; fractions become `Decimal`, NaN and Infinity are refused."""
    return _loads(data, parse_float=Decimal, parse_constant=_refuse_constant)


def loads_lenient_numbers(data: bytes | str) -> Any:
    """Like `loads`, but ``NaN``, ``Infinity`` and integers too long for `int` decode to `Decimal`.

    For documents a validator checks field by field (transaction parameters): it can then name
    the offending field ("amount must be a finite number") instead of refusing the whole document.
    """
    return _loads(data, parse_float=Decimal, parse_constant=Decimal, parse_int=_int_or_decimal)


def _loads(data: bytes | str, **options: Any) -> Any:
    try:
        return simplejson.loads(data, **options)
    except JSONDecodeError:
        raise
    except ValueError as exc:
        # simplejson.JSONDecodeError, and also the plain ValueError of an integer longer than
        # Python's int digit limit (4300 digits) and the UnicodeDecodeError of bad UTF-8 bytes.
        raise JSONDecodeError(str(exc)) from exc
    except RecursionError as exc:
        raise JSONDecodeError("document nested too deeply") from exc


def dumps(obj: object) -> bytes:
    """Encode compactly as UTF-8; `Decimal` is written as a JSON number."""
    text: str = simplejson.dumps(obj, use_decimal=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")
