"""What the SDK raises: one base class, API errors carrying the RFC 9457 problem document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ktwidget.domain.params import FieldError

INVALID_PARAMETERS_TYPE = "/problems/invalid-parameters"


class KtwidgetError(Exception):
    """Base of every error the SDK raises (besides `ValueError` for a misconfigured client)."""


class TransportError(KtwidgetError):
    """The request did not get an answer: connection refused, timeout, TLS, protocol error.

    Creating a transaction is idempotent by ``order_id``, so the same call may be repeated safely.
    """


class UnexpectedResponse(KtwidgetError):
    """The gateway answered a success status with a body the SDK does not understand."""

    def __init__(self, status: int, message: str, body: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


class ApiError(KtwidgetError):
    """The gateway refused the request; ``problem`` is its problem document as received."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem: dict[str, Any] = dict(problem)
        self.type = _text(problem.get("type"), "about:blank")
        self.title = _text(problem.get("title"), "")
        self.detail = _text(problem.get("detail"), "")
        head = f"{status} {self.title}".rstrip()
        super().__init__(f"{head}: {self.detail}" if self.detail else head)


class MalformedRequest(ApiError):
    """400: the body is malformed, or the payload does not open with this app's key."""


class Forbidden(ApiError):
    """403: untrusted origin, or the merchant is disabled."""


class NotFound(ApiError):
    """404: nothing at this address (for example, no transaction with this hash)."""


class UnknownApp(NotFound):
    """404: no app has this ``app_id``."""


class OrderConflict(ApiError):
    """409: the ``order_id`` was used with other parameters, or its payment is no longer open."""


class InvalidParameters(ApiError):
    """422: transaction parameters break the rules; ``errors`` names every offending field.

    Also raised before any request when the SDK's local check (the gateway's own validator) fails;
    ``local`` tells the two apart.
    """

    def __init__(self, status: int, problem: Mapping[str, Any], *, local: bool = False) -> None:
        super().__init__(status, problem)
        self.local = local
        self.errors: list[FieldError] = _field_errors(problem.get("errors"))

    @classmethod
    def from_local_check(cls, errors: Sequence[FieldError]) -> InvalidParameters:
        listed = "; ".join(f"{e.field}: {e.message}" for e in errors)
        problem = {
            "type": INVALID_PARAMETERS_TYPE,
            "title": "Invalid transaction parameters",
            "status": 422,
            "detail": f"refused before sending: {listed}",
            "errors": [{"field": e.field, "message": e.message} for e in errors],
        }
        return cls(422, problem, local=True)


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` is the wait in seconds the gateway asked for."""

    def __init__(
        self, status: int, problem: Mapping[str, Any], *, retry_after: float | None = None
    ) -> None:
        super().__init__(status, problem)
        self.retry_after = retry_after


class ServiceUnavailable(ApiError):
    """503: for instance ``test_mode=False`` while the operator has configured no acquirer."""


def _text(value: object, default: str) -> str:
    return value if isinstance(value, str) else default


def _field_errors(value: object) -> list[FieldError]:
    if not isinstance(value, list):
        return []
    return [
        FieldError(_text(item.get("field"), ""), _text(item.get("message"), ""))
        for item in value
        if isinstance(item, Mapping)
    ]
