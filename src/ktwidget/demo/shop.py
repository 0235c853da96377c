"""The demo shop: the seed's example page on its own origin, and a notification receiver.

It is what a merchant would build: a page with the widget's script tag, and a server endpoint that
verifies the gateway's signed notifications and answers ``{"status": "ok"}``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

HERE = Path(__file__).parent
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)


@dataclass(frozen=True)
class Received:
    received: str
    webhook_id: str
    order_id: str
    amount: str
    status: str
    error: str | None


class Inbox:
    """What the shop's server received, newest first; a real shop would keep it in its database."""

    def __init__(self) -> None:
        self._items: list[Received] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def add(self, item: Received) -> None:
        with self._lock:
            if item.webhook_id in self._seen:  # receivers dedupe on webhook-id
                return
            self._seen.add(item.webhook_id)
            self._items.insert(0, item)

    def items(self) -> list[Received]:
        with self._lock:
            return list(self._items)


def shop_app(
    *, gateway_url: str, shop_url: str, app_id: str, app_key: str, secret: str
) -> Starlette:
    from ktwidget.notifications import InvalidNotification, parse_notification

    inbox = Inbox()
    csp = (
        f"default-src 'self'; script-src 'self' 'unsafe-inline' {gateway_url}; "
        f"connect-src {gateway_url}; frame-src {gateway_url}; style-src 'self' 'unsafe-inline'"
    )

    async def index(request: Request) -> Response:
        html = templates.get_template("shop.html").render(
            gateway=gateway_url,
            shop=shop_url,
            app_id=app_id,
            app_key=app_key,
            order_prefix=datetime.now(UTC).strftime("%Y%m%d-%H%M%S"),
        )
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            notification = parse_notification(body, dict(request.headers), secret)
        except InvalidNotification as exc:
            return JSONResponse({"status": "error", "detail": str(exc)}, status_code=400)
        status = notification.status
        inbox.add(
            Received(
                received=datetime.now(UTC).astimezone().strftime("%H:%M:%S"),
                webhook_id=request.headers.get("webhook-id", ""),
                order_id=notification.order_id,
                amount=f"{notification.amount} KZT",
                status=status.status,
                error=None if status.error is None else status.error.error_message,
            )
        )
        return JSONResponse({"status": "ok"})

    async def listing(request: Request) -> Response:
        html = templates.get_template("notifications.html").render(notifications=inbox.items())
        return HTMLResponse(html)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    async def css(request: Request) -> Response:
        return FileResponse(HERE / "shop.css", media_type="text/css")

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/notifications", receive, methods=["POST"]),
            Route("/notifications", listing, methods=["GET"]),
            Route("/shop.css", css),
            Route("/favicon.ico", favicon),
        ]
    )
    app.state.inbox = inbox
    return app
