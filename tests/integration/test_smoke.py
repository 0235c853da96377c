from __future__ import annotations

import base64
import json

import httpx
from nacl.public import PublicKey, SealedBox

from ktwidget.services.merchants import Credentials


def seal(app_key: str, params: dict[str, object]) -> str:
    box = SealedBox(PublicKey(base64.b64decode(app_key))).encrypt(json.dumps(params).encode())
    return base64.b64encode(box).decode()


def test_create(api: httpx.Client, shop: Credentials) -> None:
    params = {"order_id": "1", "amount": 1000, "type": "ecom"}
    body = {"app_id": shop.app_id, "test_mode": True, "payload": seal(shop.app_key, params)}
    r = api.post("/api/v1/widget/transactions", json=body)
    assert r.status_code == 201, r.text
    r2 = api.post("/api/v1/widget/transactions", json=body)
    assert r2.status_code == 200, r2.text
    assert r2.json()["transaction_hash"] == r.json()["transaction_hash"]
    h = r.json()["transaction_hash"]
    g = api.get(f"/api/v1/widget/transactions/{h}")
    assert g.json()["amount"] == 1000, g.text
