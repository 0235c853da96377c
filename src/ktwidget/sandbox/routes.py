"""The sandbox bank's pages: card form, 3-D Secure code, and the result sent back to the gateway.

The card number is read from the form, checked and classified, and forgotten: only its mask
(first 6, last 4) is kept. Nothing here logs form fields.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from ktwidget.domain import money
from ktwidget.sandbox import bank as bank_module
from ktwidget.sandbox.bank import Bank, Order, Step
from ktwidget.sandbox.cards import CardForm
from ktwidget.services.context import Gateway

log = logging.getLogger("ktwidget.sandbox")
router = APIRouter(prefix="/sandbox-bank", include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

FIELD_MESSAGES = {
    "card_number_required": "Введите номер карты",
    "card_number_invalid": "Неверный номер карты",
    "expiry_invalid": "Укажите срок в формате ММ/ГГ",
    "expiry_past": "Срок действия карты истёк",
    "cvc_invalid": "CVC: три цифры с обратной стороны карты",
    "holder_required": "Введите имя, как на карте",
}


def _html(name: str, order: Order, status_code: int = 200, **context: object) -> HTMLResponse:
    csp = (
        "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {order.frame_ancestors}"
    )
    html = templates.get_template(name).render(
        ref=order.ref, amount=money.format_amount(order.amount), **context
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"},
    )


def _bank(request: Request) -> Bank:
    gw: Gateway = request.app.state.gateway
    return gw.sandbox_bank()


def _now(request: Request) -> datetime:
    gw: Gateway = request.app.state.gateway
    return gw.clock.now()


async def _finish(request: Request, order: Order, bank: Bank) -> Response:
    """Tell the gateway, server to server, then send the customer back with the same result."""
    body, signature = bank.result_message(order)
    client: httpx.AsyncClient = request.app.state.http
    try:
        reply = await client.post(
            order.notify_url,
            content=body,
            headers={"Content-Type": "application/json", "X-Signature": signature},
        )
        reply.raise_for_status()
    except httpx.HTTPError as exc:
        # The redirect below carries the same signed result, so the gateway still learns it.
        log.warning("sandbox_result_not_delivered", extra={"ref": order.ref, "error": str(exc)})
    joiner = "&" if "?" in order.return_url else "?"
    target = f"{order.return_url}{joiner}result={bank.encode_for_url(body)}&sig={signature}"
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


def _card_page(order: Order, step_errors: dict[str, str], form: CardForm) -> HTMLResponse:
    return _html(
        "card.html",
        order,
        422 if step_errors else 200,
        form=form,
        errors=step_errors,
        messages=FIELD_MESSAGES,
        attempts_left=bank_module.MAX_REFUSED_SUBMISSIONS - order.refused_submissions,
    )


def _challenge_page(bank: Bank, order: Order, error: bool) -> HTMLResponse:
    return _html(
        "challenge.html",
        order,
        422 if error else 200,
        card_mask=order.card_mask,
        code=bank_module.challenge_code(bank.key, order.ref),
        error=error,
        attempts_left=bank_module.MAX_CHALLENGE_FAILURES - order.challenge_failures,
    )


def _closed(order: Order | None = None) -> HTMLResponse:
    ancestors = "'none'" if order is None else order.frame_ancestors
    html = templates.get_template("closed.html").render()
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": f"default-src 'none'; style-src 'self'; frame-ancestors {ancestors}",
    }
    return HTMLResponse(html, status_code=410, headers=headers)


@router.get("/orders/{ref}")
async def card_page(request: Request, ref: str) -> Response:
    bank = _bank(request)
    order = await run_in_threadpool(bank.get, ref)
    if order is None or order.state not in ("open", "challenge"):
        return _closed(order)
    if order.state == "challenge":
        return _challenge_page(bank, order, error=False)
    return _card_page(order, {}, CardForm("", "", "", ""))


@router.post("/orders/{ref}")
async def submit_card(request: Request, ref: str) -> Response:
    bank = _bank(request)
    data = await request.form()
    form = CardForm(
        number=str(data.get("number", ""))[:40],
        expiry=str(data.get("expiry", ""))[:10],
        cvc=str(data.get("cvc", ""))[:8],
        holder=str(data.get("holder", ""))[:100],
    )
    try:
        step: Step = await run_in_threadpool(bank.submit_card, ref, form, _now(request))
    except LookupError:
        return _closed()
    if step.kind == "form":
        # Give the number back for correction, never the CVC.
        return _card_page(
            step.order, step.errors, CardForm(form.number, form.expiry, "", form.holder)
        )
    if step.kind == "challenge":
        return RedirectResponse(f"/sandbox-bank/orders/{ref}/3ds", status_code=303)
    return await _finish(request, step.order, bank)


@router.get("/orders/{ref}/3ds")
async def challenge_page(request: Request, ref: str) -> Response:
    bank = _bank(request)
    order = await run_in_threadpool(bank.get, ref)
    if order is None or order.state != "challenge":
        return _closed(order)
    return _challenge_page(bank, order, error=False)


@router.post("/orders/{ref}/3ds")
async def submit_code(request: Request, ref: str) -> Response:
    bank = _bank(request)
    data = await request.form()
    try:
        step = await run_in_threadpool(
            bank.submit_code, ref, str(data.get("code", ""))[:12], _now(request)
        )
    except LookupError:
        return _closed()
    if step.kind == "challenge":
        return _challenge_page(bank, step.order, error=True)
    return await _finish(request, step.order, bank)
