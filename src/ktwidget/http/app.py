"""The ASGI application: routes, error handlers and middleware, built around one `Gateway`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from ktwidget.http import problems, widget_api
from ktwidget.http.middleware import SecurityHeaders, WidgetCORS
from ktwidget.http.ratelimit import RateLimiter
from ktwidget.services.context import Gateway
from ktwidget.services.errors import GatewayError


def create_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(
        title="ktwidget gateway",
        version="1",
        description="Widget API of the ktwidget payment gateway. Errors are RFC 9457 problem documents.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.gateway = gateway
    app.state.rate_limits = (
        RateLimiter(gateway.settings.rate_limit_per_app),
        RateLimiter(gateway.settings.rate_limit_per_client),
    )
    app.add_exception_handler(GatewayError, problems.handle_gateway_error)
    app.add_exception_handler(HTTPException, problems.handle_http_exception)
    app.include_router(widget_api.router)

    @app.get("/healthz", tags=["operations"], summary="Liveness and database reachability")
    async def healthz(request: Request) -> JSONResponse:
        from sqlalchemy import text
        from starlette.concurrency import run_in_threadpool

        def ping() -> None:
            with gateway.db.read() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception:  # any failure means "not healthy"
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/problems/{slug}", include_in_schema=False, response_class=HTMLResponse)
    async def problem_type(slug: str) -> HTMLResponse:
        text = problems.PROBLEM_TYPES.get(slug)
        if text is None:
            raise HTTPException(404)
        return HTMLResponse(
            f"<!doctype html><meta charset=utf-8><title>{slug}</title><h1>{slug}</h1><p>{text}</p>"
        )

    app.add_middleware(WidgetCORS, gateway=gateway)
    app.add_middleware(SecurityHeaders, hsts=gateway.settings.public_url.startswith("https://"))
    return app
