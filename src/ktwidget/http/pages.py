"""Customer pages (SPEC section 6): the way to the bank, the return, the receipt, default results."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from ktwidget.domain import money
from ktwidget.domain.status import Status
from ktwidget.domain.urls import allowed, frame_ancestors
from ktwidget.http import i18n
from ktwidget.services import payments
from ktwidget.services.context import Gateway
from ktwidget.services.errors import GatewayError, MalformedRequest, NotFound
from ktwidget.services.transactions import TransactionView, get_transaction
from ktwidget.storage import catalog as catalog_repo

router = APIRouter(include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

IN_PROGRESS = (Status.PENDING, Status.AUTHORIZED)
SUCCEEDED = (Status.SUCCESS, Status.COMPLETED)


def page_headers(ancestors: str, *, cache: bool = False) -> dict[str, str]:
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )
    headers = {"Content-Security-Policy": csp}
    if not cache:
        headers["Cache-Control"] = "no-store"
    return headers


def render(
    request: Request, name: str, status_code: int = 200, ancestors: str = "'none'", **context: Any
) -> HTMLResponse:
    lang = i18n.pick(request.query_params.get("lang"), request.headers.get("accept-language"))
    html = templates.get_template(name).render(lang=lang, t=i18n.translator(lang), **context)
    return HTMLResponse(html, status_code=status_code, headers=page_headers(ancestors))


def message_page(
    request: Request,
    title_key: str,
    text_key: str,
    *,
    status_code: int = 200,
    css: str = "",
    reason: str | None = None,
    back_url: str | None = None,
    ancestors: str = "'none'",
) -> HTMLResponse:
    lang = i18n.pick(request.query_params.get("lang"), request.headers.get("accept-language"))
    t = i18n.translator(lang)
    return render(
        request,
        "message.html",
        status_code,
        ancestors,
        title=t(title_key),
        text=t(text_key),
        css=css,
        reason=reason,
        back_url=back_url,
    )


def _gw(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


async def _view(request: Request, transaction_hash: str) -> TransactionView | HTMLResponse:
    try:
        return await run_in_threadpool(get_transaction, _gw(request), transaction_hash)
    except NotFound:
        return message_page(
            request, "not_found_title", "not_found_text", status_code=404, css="bad"
        )


def continue_url(gw: Gateway, view: TransactionView) -> str | None:
    """Where "Продолжить" leads: the transaction's URL, else the merchant's, else our default page."""
    tx, merchant = view.transaction, view.merchant
    base = f"{gw.settings.public_url}/pay/{tx.transaction_hash}"

    def trusted(*urls: str | None) -> str | None:
        # Checked again now: a domain the merchant dropped since is no redirect target.
        return next((u for u in urls if u and allowed(u, merchant.domains)), None)

    if tx.status in SUCCEEDED:
        return trusted(tx.callback_success_url, merchant.callback_success_url) or f"{base}/success"
    if tx.status in (Status.ERROR, Status.DENIED):
        return trusted(tx.callback_failed_url, merchant.callback_failed_url) or f"{base}/failed"
    return None


@router.get("/pay/{transaction_hash}")
async def pay(request: Request, transaction_hash: str) -> Response:
    """The page the widget's iframe loads: on to the bank's card page while the payment is open."""
    view = await _view(request, transaction_hash)
    if isinstance(view, HTMLResponse):
        return view
    origin = request.query_params.get("origin")
    lang = request.query_params.get("lang")
    lang = lang if lang in i18n.LANGUAGES else None
    card_page = await run_in_threadpool(
        payments.start_payment, _gw(request), transaction_hash, origin, lang
    )
    target = card_page or f"/receipt/{transaction_hash}"
    if lang is not None:
        target += ("&" if "?" in target else "?") + f"lang={lang}"
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


def _decode_result(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedRequest("the bank's result is not readable") from exc


@router.get("/pay/{transaction_hash}/return")
async def bank_return(request: Request, transaction_hash: str) -> Response:
    """The customer back from the bank, carrying its signed result (applied once)."""
    view = await _view(request, transaction_hash)
    if isinstance(view, HTMLResponse):
        return view
    try:
        body = _decode_result(request.query_params.get("result", ""))
        await run_in_threadpool(
            payments.accept_hold_result,
            _gw(request),
            view.transaction.acquirer,
            body,
            request.query_params.get("sig", ""),
        )
    except GatewayError as exc:
        return message_page(
            request, "bad_request_title", "not_found_text", status_code=400, css="bad",
            reason=exc.detail, ancestors=frame_ancestors(view.merchant.domains),
        )  # fmt: skip
    lang = request.query_params.get("lang")
    suffix = f"?lang={lang}" if lang in i18n.LANGUAGES else ""
    return RedirectResponse(
        f"/receipt/{transaction_hash}{suffix}",
        status_code=303,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/receipt/{transaction_hash}")
async def receipt(request: Request, transaction_hash: str) -> Response:
    view = await _view(request, transaction_hash)
    if isinstance(view, HTMLResponse):
        return view
    gw = _gw(request)
    tx = view.transaction
    service = None
    if tx.service_id is not None:

        def load() -> Any:
            with gw.db.read() as conn:
                return catalog_repo.get(conn, tx.service_id)  # type: ignore[arg-type]

        service = await run_in_threadpool(load)
    last = view.history[-1] if view.history else None
    in_progress = tx.status in IN_PROGRESS
    return render(
        request,
        "receipt.html",
        ancestors=frame_ancestors(view.merchant.domains),
        tx=tx,
        merchant=view.merchant,
        service=service,
        amount=money.format_amount(tx.amount),
        created=tx.created_at.astimezone(gw.settings.timezone).strftime("%d.%m.%Y %H:%M"),
        error=last.error if last is not None else None,
        in_progress=in_progress,
        refresh=2 if in_progress else None,
        continue_url=continue_url(gw, view),
        widget_origin=tx.widget_origin,
    )


@router.get("/pay/{transaction_hash}/success")
async def default_success(request: Request, transaction_hash: str) -> Response:
    view = await _view(request, transaction_hash)
    if isinstance(view, HTMLResponse):
        return view
    return message_page(
        request, "success_title", "success_text", css="ok",
        back_url=view.transaction.callback_back_url or view.merchant.callback_back_url,
    )  # fmt: skip


@router.get("/pay/{transaction_hash}/failed")
async def default_failed(request: Request, transaction_hash: str) -> Response:
    view = await _view(request, transaction_hash)
    if isinstance(view, HTMLResponse):
        return view
    last = view.history[-1] if view.history else None
    return message_page(
        request, "failed_title", "failed_text", css="bad",
        reason=last.error.error_message if last is not None and last.error else None,
        back_url=view.transaction.callback_back_url or view.merchant.callback_back_url,
    )  # fmt: skip


@router.post("/api/v1/acquirers/{acquirer}/results")
async def acquirer_result(request: Request, acquirer: str) -> JSONResponse:
    """Server-to-server: the bank's signed result. Applying it twice changes nothing."""
    body = await request.body()
    signature = request.headers.get("x-signature", "")
    await run_in_threadpool(payments.accept_hold_result, _gw(request), acquirer, body, signature)
    return JSONResponse({"status": "ok"})
