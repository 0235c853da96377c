"""Running the gateway: the HTTP server, and the demo's preparation."""

from __future__ import annotations

import os
from dataclasses import replace

import click
import uvicorn

from ktwidget.http.app import create_app
from ktwidget.http.static_files import missing_widget_files, widget_not_built_message
from ktwidget.services.context import Gateway
from ktwidget.services.demo import ensure_demo


def _with_public_url(gw: Gateway, host: str, port: int) -> Gateway:
    if os.environ.get("KTWIDGET_PUBLIC_URL"):
        return gw
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - comparing only
    return replace(gw, settings=replace(gw.settings, public_url=f"http://{shown}:{port}"))


def require_widget() -> None:
    """Refuse to serve without the built browser widget: merchant pages would load nothing."""
    missing = missing_widget_files()
    if missing:
        raise click.ClickException(widget_not_built_message(missing))


def run_server(gw: Gateway, host: str, port: int, *, with_worker: bool = True) -> None:
    require_widget()
    gw = _with_public_url(gw, host, port)
    uvicorn.run(
        create_app(gw, with_worker=with_worker),
        host=host,
        port=port,
        log_config=None,
        proxy_headers=bool(gw.settings.trusted_proxies),
        forwarded_allow_ips=list(gw.settings.trusted_proxies) or None,
        server_header=False,
    )


def run_demo(gw: Gateway, host: str, port: int) -> None:
    """The gateway (with its worker) and the demo shop on the next port, in one process."""
    import asyncio

    from ktwidget.demo.shop import shop_app

    shop_port = port + 1
    shop_url = f"http://localhost:{shop_port}"
    # The shop's receiver is on this machine: let notifications reach loopback for the demo.
    gw = _with_public_url(gw, host, port)
    gw = replace(gw, settings=replace(gw.settings, notify_allow_private=True))
    setup = ensure_demo(gw, callback_post_url=f"{shop_url}/notifications")
    url = gw.settings.public_url
    shop = shop_app(
        gateway_url=url,
        shop_url=shop_url,
        app_id=setup.app_id,
        app_key=setup.app_key,
        secret=setup.webhook_secret,
    )
    click.echo(
        f"""
ktwidget demo
  open the shop:  {shop_url}/            (card 4111 1111 1111 1111, any future expiry, any CVC)
  notifications:  {shop_url}/notifications
  gateway:        {url}   (API docs {url}/docs)

  merchant_id {setup.merchant_id}{" (created)" if setup.created else ""}   app_id {setup.app_id}
  app_key     {setup.app_key}

Pay from Python:
  from ktwidget import ApiClient
  client = ApiClient("{setup.app_key}", "{setup.app_id}", test_mode=True, base_url="{url}")
  print(client.create_transaction(order_id="demo-1", amount=1000, type="ecom"))

Stop with Ctrl+C.
"""
    )
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                create_app(gw, with_worker=True), host=host, port=port, log_config=None,
                server_header=False,
            )
        ),
        uvicorn.Server(
            uvicorn.Config(shop, host=host, port=shop_port, log_config=None, server_header=False)
        ),
    ]  # fmt: skip

    async def serve_all() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(serve_all())
