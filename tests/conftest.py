"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL when
KTWIDGET_TEST_DATABASE_URL names one), a `Gateway` on it with a fake clock, merchants, servers."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ktwidget.adapters.clock import FakeClock
from ktwidget.adapters.crypto import MasterKey
from ktwidget.config import Settings
from ktwidget.domain.model import Service
from ktwidget.http.app import create_app
from ktwidget.services import catalog, merchants
from ktwidget.services.context import Gateway
from ktwidget.storage.db import Database, normalize_url
from ktwidget.storage.migrations import upgrade
from ktwidget.storage.schema import metadata

PG_URL = os.environ.get("KTWIDGET_TEST_DATABASE_URL", "").strip()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test session, dropped afterwards."""
    if not PG_URL:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'ktwidget.sqlite3'}"
        db = Database.from_url(url)
        upgrade(db.engine)
        db.dispose()
        yield url
        return
    # A database of our own, so concurrent runs on the same server never meet.
    admin_url = make_url(normalize_url(PG_URL))
    name = f"ktwidget_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    db = Database.from_url(url)
    upgrade(db.engine)
    db.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def session_db(database_url: str) -> Iterator[Database]:
    db = Database.from_url(database_url)
    yield db
    db.dispose()


def _wipe(db: Database) -> None:
    with db.write() as conn:
        if db.is_sqlite:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        else:
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
def db(session_db: Database) -> Database:
    _wipe(session_db)
    return session_db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return replace(
        Settings.from_env({}),
        data_dir=tmp_path,
        database_url=database_url,
        public_url="http://testserver",
        rate_limit_per_app=0,
        rate_limit_per_client=0,
    )


@pytest.fixture
def gateway(db: Database, settings: Settings, clock: FakeClock) -> Gateway:
    return Gateway(
        settings=settings,
        db=db,
        master_key=MasterKey([Fernet.generate_key().decode()]),
        clock=clock,
    )


@pytest.fixture
def shop(gateway: Gateway) -> merchants.Credentials:
    """A merchant trusting shop.example and localhost, with a notification URL."""
    return merchants.create_merchant(
        gateway,
        name="Shop",
        domains=["shop.example", "localhost"],
        callbacks={"callback_post_url": "https://hooks.shop.example/ktwidget"},
    )


MOBILE = Service(
    id=1,
    name="Mobile top-up",
    category="mobile",
    pattern=r"^7\d{9}$",
    hint="10-digit phone number starting with 7",
    min_amount=100_00,
    max_amount=50_000_00,
    provider="sandbox",
    active=True,
)


@pytest.fixture
def mobile_service(gateway: Gateway) -> Service:
    return catalog.add_service(gateway, MOBILE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, gateway: Gateway) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gateway = replace(gateway, settings=replace(gateway.settings, public_url=self.url))
        config = uvicorn.Config(
            create_app(self.gateway), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(gateway: Gateway) -> Iterator[LiveServer]:
    """The real ASGI app served by uvicorn on a loopback port, in a thread."""
    with LiveServer(gateway) as server:
        yield server


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client talking to the live server."""
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client
