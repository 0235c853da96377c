"""Everything a use case needs from the outside, built once per process."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ktwidget.adapters.acquirers.base import Acquirer
from ktwidget.adapters.acquirers.sandbox import SandboxAcquirer
from ktwidget.adapters.clock import Clock, SystemClock
from ktwidget.adapters.crypto import MasterKey, Opener, load_master_key
from ktwidget.adapters.providers.base import Provider
from ktwidget.config import Settings
from ktwidget.domain.params import ServiceRule
from ktwidget.sandbox.bank import Bank
from ktwidget.sandbox.provider import SandboxProvider
from ktwidget.services.cache import AppAuth, TTLCache
from ktwidget.storage.db import Database

log = logging.getLogger("ktwidget")


@dataclass
class Gateway:
    settings: Settings
    db: Database
    master_key: MasterKey
    clock: Clock = field(default_factory=SystemClock)
    _keys: OrderedDict[int, Opener] = field(default_factory=OrderedDict, repr=False)
    apps: TTLCache[str, AppAuth | None] = field(default_factory=TTLCache, repr=False)
    services: TTLCache[int, ServiceRule | None] = field(default_factory=TTLCache, repr=False)
    _keys_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> Gateway:
        db = Database.from_url(settings.resolved_database_url)
        master = load_master_key(
            settings.secret_key, settings.data_dir, allow_generate=db.is_sqlite
        )
        return cls(settings=settings, db=db, master_key=master, clock=clock or SystemClock())

    def acquirer(self, name: str) -> Acquirer:
        """The acquirer a transaction was created with. Only the sandbox ships today."""
        if name == "sandbox":
            return SandboxAcquirer(self.sandbox_bank(), self.clock, self.settings.public_url)
        raise LookupError(f"no acquirer named {name!r}")

    def provider(self, name: str) -> Provider:
        if name == "sandbox":
            return SandboxProvider(self.db, self.clock, self.settings.sandbox_credit_delay)
        raise LookupError(f"no service provider named {name!r}")

    def sandbox_bank(self) -> Bank:
        return Bank(self.db, self.master_key.derive("ktwidget sandbox bank"))

    def opener(self, key_id: int, encrypted: bytes) -> Opener:
        """What opens an app key's sealed boxes; a few hundred are kept for the hot path."""
        with self._keys_lock:
            cached = self._keys.get(key_id)
            if cached is not None:
                self._keys.move_to_end(key_id)
                return cached
        opener = Opener(self.master_key.decrypt(encrypted))
        with self._keys_lock:
            self._keys[key_id] = opener
            while len(self._keys) > 512:
                self._keys.popitem(last=False)
        return opener
