"""Sealed boxes (libsodium ``crypto_box_seal``) and encryption at rest under the master key."""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

log = logging.getLogger(__name__)

KEY_FILE = "secret.key"


class MasterKeyError(RuntimeError):
    """The master key is missing, malformed, or does not open what the database holds."""


class MasterKey:
    """Encrypts secrets at rest. ``KTWIDGET_SECRET_KEY`` may list several keys, comma-separated:
    the first encrypts, all decrypt, so the operator can rotate the master key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise MasterKeyError("no master key given")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode("ascii")) for k in keys])
            self._primary = base64.urlsafe_b64decode(keys[0].strip().encode("ascii"))
        except (ValueError, binascii.Error) as exc:
            raise MasterKeyError(
                "KTWIDGET_SECRET_KEY must be url-safe base64 of 32 bytes "
                "(make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from exc

    @classmethod
    def parse(cls, text: str) -> MasterKey:
        return cls([k for k in text.split(",") if k.strip()])

    def derive(self, label: str) -> bytes:
        """A 32-byte key for one purpose, derived from the current master key (HKDF-SHA256)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        material = self._primary
        return HKDF(hashes.SHA256(), 32, salt=None, info=label.encode()).derive(material)

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise MasterKeyError("a stored secret does not open with KTWIDGET_SECRET_KEY") from exc


def load_master_key(secret_key: str | None, data_dir: Path, *, allow_generate: bool) -> MasterKey:
    """The operator's key; in local use (SQLite) one is generated into the data folder, mode 0600."""
    if secret_key:
        return MasterKey.parse(secret_key)
    path = data_dir / KEY_FILE
    if path.exists():
        return MasterKey.parse(path.read_text().strip())
    if not allow_generate:
        raise MasterKeyError(
            "KTWIDGET_SECRET_KEY is not set; with a shared database every process needs the same "
            "key, so set it explicitly"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    log.warning(
        "master_key_generated",
        extra={"path": str(path), "hint": "set KTWIDGET_SECRET_KEY in production and back it up"},
    )
    return MasterKey([key.decode("ascii")])


class SealError(ValueError):
    """The payload is not a sealed box that opens with this app's key."""


def generate_app_keypair() -> tuple[str, bytes]:
    """A new X25519 pair: the public key as padded base64 (44 characters), the raw private key."""
    private = PrivateKey.generate()
    return base64.b64encode(bytes(private.public_key)).decode("ascii"), bytes(private)


def decode_public_key(app_key: str) -> bytes:
    try:
        raw = base64.b64decode(app_key, validate=True)
    except binascii.Error as exc:
        raise SealError("app_key is not base64") from exc
    if len(raw) != 32:
        raise SealError("app_key must be the base64 of a 32-byte public key")
    return raw


def seal(app_key: str, plaintext: bytes) -> bytes:
    """``crypto_box_seal``: what the widget and the SDK do before sending."""
    return bytes(SealedBox(PublicKey(decode_public_key(app_key))).encrypt(plaintext))


class Opener:
    """Opens sealed boxes for one app key. Built once per key: deriving the public half from the
    private key is an X25519 scalar multiplication, as costly as opening a box."""

    def __init__(self, private_key: bytes) -> None:
        self._box = SealedBox(PrivateKey(private_key))

    def open(self, box: bytes) -> bytes:
        try:
            return bytes(self._box.decrypt(box))
        except CryptoError as exc:
            raise SealError("the payload does not open with this app's key") from exc
