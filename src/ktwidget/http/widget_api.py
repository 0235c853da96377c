"""The widget API of SPEC section 3: thin routes that parse, call one use case, and render."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ktwidget.domain import money
from ktwidget.domain.notification import format_time
from ktwidget.http.problems import ExactJSONResponse, responses
from ktwidget.http.ratelimit import RateLimiter
from ktwidget.services import errors
from ktwidget.services import transactions as use_cases
from ktwidget.services.context import Gateway

router = APIRouter(prefix="/api/v1/widget", tags=["widget"])


class CreateTransactionBody(BaseModel):
    app_id: str = Field(pattern="^[0-9a-f]{32}$", description="The merchant app's identifier")
    test_mode: bool = Field(description="true: sandbox acquirer, no real money")
    payload: str = Field(description="base64 of crypto_box_seal(JSON parameters, app_key)")


class CreatedTransaction(BaseModel):
    transaction_hash: str
    status: str
    payment_url: str
    created_at: str


class WidgetTransaction(BaseModel):
    transaction_hash: str
    status: str
    amount: float | int = Field(description="major units, at most two decimals")
    currency: str
    merchant_name: str
    order_id: str
    description: str | None
    type: str
    test_mode: bool
    created_at: str


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.PayloadTooLarge(f"the body must be at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(f"the body must be at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/transactions",
    status_code=201,
    summary="Create a transaction from a sealed payload",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CreateTransactionBody.model_json_schema()}},
        }
    },
    responses={
        201: {"model": CreatedTransaction, "description": "Created"},
        200: {
            "model": CreatedTransaction,
            "description": "The same order_id with identical parameters, still pending",
        },
        **responses(
            errors.MalformedRequest,
            errors.PayloadNotOpened,
            errors.UntrustedOrigin,
            errors.MerchantDisabled,
            errors.UnknownApp,
            errors.OrderConflict,
            errors.PayloadTooLarge,
            errors.InvalidParameters,
            errors.RateLimited,
            errors.AcquirerUnavailable,
        ),
    },
)
async def create_transaction(request: Request) -> JSONResponse:
    gw: Gateway = request.app.state.gateway
    body = await read_body(request, gw.settings.max_body_bytes)
    envelope = use_cases.parse_envelope(body, request.headers.get("origin"))
    limits: tuple[RateLimiter, RateLimiter] = request.app.state.rate_limits
    for limiter, key in zip(
        limits, (envelope.app_id, f"{envelope.app_id}|{_client(request)}"), strict=True
    ):
        wait = limiter.check(key)
        if wait is not None:
            raise errors.RateLimited("too many requests for this app; slow down", wait)
    # With the app's keys cached, the checks are a fraction of a millisecond of CPU: run them here
    # and send only the database write to a thread, so fewer threads contend for the GIL while
    # SQLite's single writer holds its lock.
    if use_cases.reads_cached(gw, envelope):
        prepared = use_cases.prepare_transaction(gw, envelope)
    else:
        prepared = await run_in_threadpool(use_cases.prepare_transaction, gw, envelope)
    result = await use_cases.store_transaction_async(gw, prepared)
    tx = result.transaction
    content: dict[str, Any] = {
        "transaction_hash": tx.transaction_hash,
        "status": tx.status.value,
        "payment_url": result.payment_url,
        "created_at": format_time(tx.created_at, gw.settings.timezone),
    }
    return ExactJSONResponse(content, status_code=201 if result.created else 200)


@router.get(
    "/transactions/{transaction_hash}",
    summary="What the widget may show about a transaction",
    response_model=WidgetTransaction,
    responses=responses(errors.NotFound),
)
async def get_transaction(transaction_hash: str, request: Request) -> JSONResponse:
    gw: Gateway = request.app.state.gateway
    view = await run_in_threadpool(use_cases.get_transaction, gw, transaction_hash)
    tx = view.transaction
    content = {
        "transaction_hash": tx.transaction_hash,
        "status": tx.status.value,
        "amount": money.to_json_number(tx.amount),
        "currency": tx.currency,
        "merchant_name": view.merchant.name,
        "order_id": tx.order_id,
        "description": tx.description,
        "type": tx.type.value,
        "test_mode": tx.test_mode,
        "created_at": format_time(tx.created_at, gw.settings.timezone),
    }
    return ExactJSONResponse(content, headers={"Vary": "Origin"})
