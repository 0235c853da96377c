"""Running the gateway: the HTTP server, and the demo's preparation."""

from __future__ import annotations

import os
from dataclasses import replace

import click
import uvicorn

from ktwidget.http.app import create_app
from ktwidget.services.context import Gateway
from ktwidget.services.demo import ensure_demo


def _with_public_url(gw: Gateway, host: str, port: int) -> Gateway:
    if os.environ.get("KTWIDGET_PUBLIC_URL"):
        return gw
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - comparing only
    return replace(gw, settings=replace(gw.settings, public_url=f"http://{shown}:{port}"))


def run_server(gw: Gateway, host: str, port: int) -> None:
    gw = _with_public_url(gw, host, port)
    uvicorn.run(
        create_app(gw),
        host=host,
        port=port,
        log_config=None,
        proxy_headers=bool(gw.settings.trusted_proxies),
        forwarded_allow_ips=list(gw.settings.trusted_proxies) or None,
        server_header=False,
    )


def prepare_demo(gw: Gateway, host: str, port: int) -> None:
    gw = _with_public_url(gw, host, port)
    setup = ensure_demo(gw)
    url = gw.settings.public_url
    click.echo(
        f"""
ktwidget demo gateway: {url}
  merchant_id     {setup.merchant_id}{" (created)" if setup.created else ""}
  app_id          {setup.app_id}
  app_key         {setup.app_key}
  webhook_secret  {setup.webhook_secret}

Pay from Python:
  from ktwidget import ApiClient
  client = ApiClient("{setup.app_key}", "{setup.app_id}", test_mode=True, base_url="{url}")
  print(client.create_transaction(order_id="demo-1", amount=1000, type="ecom"))

API docs: {url}/docs    health: {url}/healthz    stop: Ctrl+C
"""
    )
