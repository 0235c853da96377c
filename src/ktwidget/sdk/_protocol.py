"""The SDK without I/O: build requests and read answers. The sync and async clients only send."""

from __future__ import annotations

import base64
import binascii
import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Generic, TypeVar

import httpx

from ktwidget.adapters.crypto import seal
from ktwidget.domain import codec, ids
from ktwidget.domain.params import ParamsInvalid, ValidationRules, validate_params
from ktwidget.sdk.errors import (
    ApiError,
    Forbidden,
    InvalidParameters,
    MalformedRequest,
    NotFound,
    OrderConflict,
    RateLimited,
    ServiceUnavailable,
    UnexpectedResponse,
    UnknownApp,
)
from ktwidget.sdk.models import CreatedTransaction, TransactionInfo

T = TypeVar("T")

TRANSACTIONS_PATH = "/api/v1/widget/transactions"
APP_KEY_LENGTH = 44
_EXCERPT = 500

try:
    _VERSION = version("ktwidget")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    _VERSION = "0"

USER_AGENT = f"ktwidget-python/{_VERSION}"
_ACCEPT = {"Accept": "application/json, application/problem+json", "User-Agent": USER_AGENT}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP exchange: what to send, and how to read the answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    content: bytes | None = None
    headers: Mapping[str, str] | None = None


def check_credentials(app_key: str, app_id: str, test_mode: bool) -> None:
    """Refuse a misconfigured client at once, with a message that says what is expected."""
    if not isinstance(app_key, str) or len(app_key) != APP_KEY_LENGTH:
        raise ValueError(
            "app_key must be the 44-character standard base64 of a 32-byte public key, "
            "as `ktwidget merchant create` prints it"
        )
    try:
        raw = base64.b64decode(app_key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("app_key is not standard padded base64 (A-Z a-z 0-9 + / =)") from exc
    if len(raw) != 32:
        raise ValueError("app_key must decode to a 32-byte public key")
    if not ids.is_app_id(app_id):
        raise ValueError("app_id must be 32 lowercase hex characters")
    if not isinstance(test_mode, bool):
        raise ValueError("test_mode must be True or False")


def _amount(value: object) -> object:
    # A float is taken by its shortest repr (10.5 -> Decimal("10.5")), never by float arithmetic;
    # anything else goes to the validator as given, which refuses booleans, strings and the like.
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def create_call(
    *, app_key: str, app_id: str, test_mode: bool, params: Mapping[str, Any]
) -> Call[CreatedTransaction]:
    """Validate with the gateway's own validator, seal for ``app_key``, and wrap the envelope.

    Only what the SDK can know is checked here: the catalog, the merchant's trusted domains, the
    configured maximum and whether private notification addresses are allowed are the gateway's.
    """
    raw = {name: value for name, value in params.items() if value is not None}
    if "amount" in raw:
        raw["amount"] = _amount(raw["amount"])
    if isinstance(raw.get("service"), Mapping):
        raw["service"] = dict(raw["service"])
    rules = ValidationRules(production=not test_mode, allow_private_notify=True)
    try:
        checked = validate_params(raw, rules)
    except ParamsInvalid as exc:
        raise InvalidParameters.from_local_check(exc.errors) from None
    box = seal(app_key, codec.dumps(checked.to_wire()))
    envelope = {
        "app_id": app_id,
        "test_mode": test_mode,
        "payload": base64.b64encode(box).decode("ascii"),
    }
    return Call(
        method="POST",
        path=TRANSACTIONS_PATH,
        parse=_parse_created,
        content=codec.dumps(envelope),
        headers={**_ACCEPT, "Content-Type": "application/json"},
    )


def get_call(transaction_hash: str) -> Call[TransactionInfo]:
    if not ids.is_transaction_hash(transaction_hash):
        raise ValueError("transaction_hash must be 40 lowercase hex characters")
    return Call(
        method="GET",
        path=f"{TRANSACTIONS_PATH}/{transaction_hash}",
        parse=_parse_info,
        headers=_ACCEPT,
    )


# Reading answers


_BY_TYPE: dict[str, type[ApiError]] = {"unknown-app": UnknownApp}
_BY_STATUS: dict[int, type[ApiError]] = {
    400: MalformedRequest,
    403: Forbidden,
    404: NotFound,
    409: OrderConflict,
    422: InvalidParameters,
    429: RateLimited,
    503: ServiceUnavailable,
}


def _excerpt(response: httpx.Response) -> str:
    return response.text[:_EXCERPT]


def _problem(response: httpx.Response) -> dict[str, Any]:
    """The problem document, or one made up from the status when a proxy answered with HTML."""
    try:
        body = codec.loads(response.content)
    except (codec.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        return body
    return {
        "type": "about:blank",
        "title": response.reason_phrase,
        "status": response.status_code,
        "detail": _excerpt(response),
    }


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: delta-seconds, or an HTTP date (RFC 9110 section 10.2.3)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - now)


def api_error(response: httpx.Response) -> ApiError:
    """The exception for a refusal: chosen by status, refined by the problem ``type`` (404)."""
    problem = _problem(response)
    cls = _BY_STATUS.get(response.status_code, ApiError)
    slug = str(problem.get("type", "")).rstrip("/").rsplit("/", 1)[-1]
    refined = _BY_TYPE.get(slug)
    if refined is not None and issubclass(refined, cls):
        cls = refined
    if cls is RateLimited:
        wait = retry_after(response.headers.get("retry-after"))
        return RateLimited(response.status_code, problem, retry_after=wait)
    return cls(response.status_code, problem)


def _body(response: httpx.Response, expected: tuple[int, ...]) -> dict[str, Any]:
    if response.status_code not in expected:
        if response.is_success:
            raise UnexpectedResponse(response.status_code, "unexpected status", _excerpt(response))
        raise api_error(response)
    try:
        body = codec.loads(response.content)
    except (codec.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UnexpectedResponse(response.status_code, "not JSON", _excerpt(response)) from exc
    if not isinstance(body, dict):
        raise UnexpectedResponse(response.status_code, "not a JSON object", _excerpt(response))
    return body


def _field(body: Mapping[str, Any], name: str, kind: type[T], response: httpx.Response) -> T:
    value = body.get(name)
    if isinstance(value, bool) and kind is not bool:
        value = None
    if not isinstance(value, kind):
        raise UnexpectedResponse(
            response.status_code, f"{name} is missing or not a {kind.__name__}", _excerpt(response)
        )
    return value


def _time(body: Mapping[str, Any], name: str, response: httpx.Response) -> datetime:
    text = _field(body, name, str, response)
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise UnexpectedResponse(
            response.status_code, f"{name} is not an ISO 8601 time", _excerpt(response)
        ) from exc


def _parse_created(response: httpx.Response) -> CreatedTransaction:
    body = _body(response, (200, 201))
    return CreatedTransaction(
        transaction_hash=_field(body, "transaction_hash", str, response),
        status=_field(body, "status", str, response),
        payment_url=_field(body, "payment_url", str, response),
        created_at=_time(body, "created_at", response),
        created=response.status_code == 201,
    )


def _parse_info(response: httpx.Response) -> TransactionInfo:
    body = _body(response, (200,))
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise UnexpectedResponse(response.status_code, "amount is not a number", _excerpt(response))
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise UnexpectedResponse(
            response.status_code, "description is not a string", _excerpt(response)
        )
    return TransactionInfo(
        transaction_hash=_field(body, "transaction_hash", str, response),
        status=_field(body, "status", str, response),
        amount=Decimal(amount),
        currency=_field(body, "currency", str, response),
        merchant_name=_field(body, "merchant_name", str, response),
        order_id=_field(body, "order_id", str, response),
        description=description,
        type=_field(body, "type", str, response),
        test_mode=_field(body, "test_mode", bool, response),
        created_at=_time(body, "created_at", response),
    )
