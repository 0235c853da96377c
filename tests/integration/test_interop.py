"""Sealed boxes from libsodium-wrappers (what the browser widget uses) and from PyNaCl (what the
Python SDK uses) both open in the gateway."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.public import PublicKey, SealedBox

from ktwidget.domain.model import Service, Transaction
from ktwidget.services.merchants import Credentials
from ktwidget.storage import transactions as repo
from ktwidget.storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
SEAL_SCRIPT = Path(__file__).with_name("seal.cjs")
NODE = shutil.which("node")
TRANSACTIONS = "/api/v1/widget/transactions"

needs_node = pytest.mark.skipif(
    NODE is None or not (ROOT / "node_modules" / "libsodium-wrappers").is_dir(),
    reason="needs `node` on PATH and node_modules/libsodium-wrappers (run `npm ci`)",
)


def seal_with_node(app_key: str, plaintext: str) -> str:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(SEAL_SCRIPT), app_key],
        input=plaintext,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def seal_with_pynacl(app_key: str, plaintext: str) -> str:
    box = SealedBox(PublicKey(base64.b64decode(app_key))).encrypt(plaintext.encode("utf-8"))
    return base64.b64encode(box).decode("ascii")


def post(api: httpx.Client, shop: Credentials, payload: str) -> dict[str, Any]:
    body = {"app_id": shop.app_id, "test_mode": True, "payload": payload}
    response = api.post(TRANSACTIONS, json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def stored(db: Database, transaction_hash: str) -> Transaction:
    with db.read() as conn:
        tx = repo.get_by_hash(conn, transaction_hash)
    assert tx is not None
    return tx


# Non-ASCII text and a fractional amount: UTF-8 and the JSON number must survive both libraries.
ECOM = {
    "order_id": "заказ-№1",
    "amount": 10.5,
    "type": "ecom",
    "description": "Билеты в кино — 2 шт.",
}


@pytest.mark.node
@needs_node
def test_a_payload_sealed_by_libsodium_wrappers_opens(
    api: httpx.Client, shop: Credentials, db: Database
) -> None:
    answer = post(api, shop, seal_with_node(shop.app_key, json.dumps(ECOM, ensure_ascii=False)))

    tx = stored(db, answer["transaction_hash"])
    assert (tx.order_id, tx.amount, tx.description) == ("заказ-№1", 1050, ECOM["description"])


@pytest.mark.node
@needs_node
def test_a_service_payload_sealed_by_libsodium_wrappers_opens(
    api: httpx.Client, shop: Credentials, db: Database, mobile_service: Service
) -> None:
    params = {
        "order_id": "topup-7",
        "amount": 1000,
        "type": "service",
        "service": {"service_id": mobile_service.id, "contract_value": "7011234567"},
    }
    answer = post(api, shop, seal_with_node(shop.app_key, json.dumps(params)))

    tx = stored(db, answer["transaction_hash"])
    assert (tx.order_id, tx.amount, tx.service_id) == ("topup-7", 100_000, 1)
    assert tx.contract_value == "7011234567"


def test_a_payload_sealed_by_pynacl_opens(
    api: httpx.Client, shop: Credentials, db: Database
) -> None:
    answer = post(api, shop, seal_with_pynacl(shop.app_key, json.dumps(ECOM, ensure_ascii=False)))

    tx = stored(db, answer["transaction_hash"])
    assert (tx.order_id, tx.amount, tx.description) == ("заказ-№1", 1050, ECOM["description"])


@pytest.mark.node
@needs_node
def test_libsodium_wrappers_and_pynacl_boxes_are_the_same_construction(shop: Credentials) -> None:
    # Both are 48 bytes longer than the message: a 32-byte ephemeral key and a 16-byte tag.
    plaintext = json.dumps(ECOM, ensure_ascii=False)
    size = len(plaintext.encode("utf-8")) + 48
    from_node = base64.b64decode(seal_with_node(shop.app_key, plaintext), validate=True)
    from_pynacl = base64.b64decode(seal_with_pynacl(shop.app_key, plaintext), validate=True)
    assert len(from_node) == len(from_pynacl) == size
