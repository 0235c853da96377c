"""RFC 9457 problem documents for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from ktwidget.domain import codec
from ktwidget.services.errors import GatewayError, InvalidParameters, RateLimited

PROBLEM_TYPES: dict[str, str] = {
    "malformed-request": "The request body is not the JSON envelope the API expects.",
    "payload-not-opened": "The payload is not a sealed box that opens with this app's key.",
    "not-found": "Nothing is at this address.",
    "unknown-app": "No app has this app_id.",
    "untrusted-origin": "The page's origin is not one of the merchant's trusted domains.",
    "merchant-disabled": "The merchant has been disabled by the operator.",
    "order-conflict": "The order_id was already used with other parameters or is no longer open.",
    "invalid-parameters": "One or more transaction parameters break the rules; see errors.",
    "payload-too-large": "The request body is larger than the gateway accepts.",
    "rate-limited": "Too many requests; try again after Retry-After seconds.",
    "acquirer-unavailable": "Production payments need an acquirer the operator has not configured.",
    "method-not-allowed": "The method is not allowed at this address.",
    "internal-error": "The gateway failed; the problem was logged.",
}

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("ktwidget.http")


class ExactJSONResponse(JSONResponse):
    """JSON with money kept exact: `Decimal` amounts are written as JSON numbers."""

    def render(self, content: Any) -> bytes:
        return codec.dumps(content)


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


def problem_response(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def from_error(error: GatewayError) -> JSONResponse:
    extra: dict[str, Any] = {}
    if isinstance(error, InvalidParameters):
        extra["errors"] = [{"field": e.field, "message": e.message} for e in error.errors]
    response = problem_response(error.status, error.slug, error.title, error.detail, **extra)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


async def handle_gateway_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    return from_error(exc)


async def handle_http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        response = problem_response(
            405, "method-not-allowed", "Method not allowed", str(exc.detail)
        )
    elif exc.status_code == 404:
        response = problem_response(404, "not-found", "Not found", "nothing is at this address")
    else:
        response = problem_response(exc.status_code, "http-error", "HTTP error", str(exc.detail))
    if exc.headers:  # e.g. the Allow header a 405 must carry (RFC 9110)
        response.headers.update(exc.headers)
    return response


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", exc_info=exc, extra={"path": request.url.path})
    return problem_response(
        500, "internal-error", "Internal error", "the gateway failed; the problem was logged"
    )


def responses(*errors: type[GatewayError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem documents an operation really returns."""
    documented: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        entry = documented.setdefault(
            error.status,
            {"description": "", "content": {MEDIA_TYPE: {"schema": Problem.model_json_schema()}}},
        )
        entry["description"] = "; ".join(filter(None, [entry["description"], error.title]))
    return documented
