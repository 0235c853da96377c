"""End-to-end fixtures: real Chromium (Debian's, never a downloaded one) driven by Playwright, a
real gateway and a real demo shop on loopback, on two different origins."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from ktwidget.demo.shop import shop_app
from ktwidget.services.context import Gateway
from ktwidget.services.demo import ensure_demo
from tests.conftest import LiveServer, free_port

CHROMIUM = os.environ.get("KTWIDGET_CHROMIUM", "/usr/bin/chromium")
STATIC = Path(__file__).parents[2] / "src" / "ktwidget" / "http" / "static"

if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
    pytest.skip(
        f"no Chromium at {CHROMIUM}: 'make test' installs Debian's", allow_module_level=True
    )


# Module scope: Playwright's sync API keeps an event loop running in this thread while it lives,
# and later tests that start their own loop must not meet it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


class ThreadServer:
    def __init__(self, app: object, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the shop server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Stack:
    gateway: Gateway
    gateway_url: str
    shop_url: str
    merchant_id: int
    inbox: object


@pytest.fixture
def stack(gateway: Gateway) -> Iterator[Stack]:
    """The gateway on 127.0.0.1 and the demo shop on localhost: two origins, as in real life."""
    assert (STATIC / "ktwidget.js").exists(), "build the widget first: npm run build"
    shop_port = free_port()
    shop_url = f"http://localhost:{shop_port}"
    gw = replace(gateway, settings=replace(gateway.settings, notify_allow_private=True))
    setup = ensure_demo(gw, callback_post_url=f"{shop_url}/notifications")
    with LiveServer(gw) as server:
        shop = shop_app(
            gateway_url=server.url,
            shop_url=shop_url,
            app_id=setup.app_id,
            app_key=setup.app_key,
            secret=setup.webhook_secret,
        )
        with ThreadServer(shop, shop_port):
            yield Stack(server.gateway, server.url, shop_url, setup.merchant_id, shop.state.inbox)
