"""The README's first payment, as a newcomer types it: the real `ktwidget` command in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from ktwidget import ApiClient
from ktwidget.storage.db import Database
from tests.conftest import free_port

KTWIDGET = [sys.executable, "-m", "ktwidget"]


@pytest.fixture
def env(db: Database, database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KTWIDGET_DATA_DIR": str(tmp_path),
        "KTWIDGET_DATABASE_URL": database_url,
        "KTWIDGET_SECRET_KEY": Fernet.generate_key().decode(),
    }


def ktwidget(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*KTWIDGET, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*KTWIDGET, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ktwidget serve did not start"
            assert server.poll() is None, "ktwidget serve exited"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_merchant_create_then_sdk_payment_then_transaction_list(
    env: dict[str, str], served: str
) -> None:
    merchant = json.loads(
        ktwidget(env, "merchant", "create", "--name", "Shop", "--domain", "localhost", "--json")
    )
    with ApiClient(merchant["app_key"], merchant["app_id"], base_url=served) as client:
        created = client.create_transaction(order_id="order-1", amount=1000, type="ecom")
    assert created.status == "pending"
    assert created.payment_url == f"{served}/pay/{created.transaction_hash}"
    listed = json.loads(ktwidget(env, "transaction", "list", "--json"))
    assert [(t["transaction_hash"], t["status"]) for t in listed] == [
        (created.transaction_hash, "pending")
    ]
    assert created.transaction_hash in ktwidget(env, "transaction", "list")
