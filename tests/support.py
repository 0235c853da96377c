"""Small helpers the tests share."""

from __future__ import annotations

import base64
import json
from typing import Any

from nacl.public import PublicKey, SealedBox


def seal(app_key: str, params: Any) -> str:
    """What the widget does: JSON, crypto_box_seal for app_key, standard base64."""
    plaintext = params if isinstance(params, bytes) else json.dumps(params).encode()
    box = SealedBox(PublicKey(base64.b64decode(app_key))).encrypt(plaintext)
    return base64.b64encode(box).decode()


def envelope(app_id: str, app_key: str, params: Any, *, test_mode: bool = True) -> dict[str, Any]:
    return {"app_id": app_id, "test_mode": test_mode, "payload": seal(app_key, params)}
