"""JSON that keeps money exact: numbers with a fraction decode to `Decimal` and encode back as-is."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson


class JSONDecodeError(ValueError):
    """The bytes are not a JSON document we accept."""


def _refuse_constant(name: str) -> object:
    raise JSONDecodeError(f"{name} is not a valid JSON number")


def loads(data: bytes | str) -> Any:
    """Decode JSON; fractions become `Decimal`, NaN and Infinity are refused."""
    try:
        return simplejson.loads(data, parse_float=Decimal, parse_constant=_refuse_constant)
    except simplejson.JSONDecodeError as exc:
        raise JSONDecodeError(str(exc)) from exc
    except RecursionError as exc:
        raise JSONDecodeError("document nested too deeply") from exc


def dumps(obj: object) -> bytes:
    """Encode compactly as UTF-8; `Decimal` is written as a JSON number."""
    text: str = simplejson.dumps(obj, use_decimal=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")
