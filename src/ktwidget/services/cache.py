"""What the widget API reads on every request (the app's merchant and keys, the catalog), kept in
memory for a few seconds. Changes made in this process drop the entry at once; changes made by
another process are seen within `TTL` seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ktwidget.domain.model import AppKey, Merchant

TTL = 5.0
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class AppAuth:
    """An app's merchant and the keys that may open its payloads (current one first)."""

    merchant: Merchant
    keys: tuple[tuple[AppKey, bytes], ...]


class TTLCache(Generic[K, V]):
    def __init__(
        self, ttl: float = TTL, monotonic: Callable[[], float] = time.monotonic, size: int = 10_000
    ) -> None:
        self.ttl = ttl
        self._now = monotonic
        self._size = size
        self._items: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by forget(): a load that raced with it is not stored

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = self._now()
        with self._lock:
            hit = self._items.get(key)
            generation = self._generation
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        with self._lock:
            if generation == self._generation:
                if len(self._items) >= self._size:
                    self._items.clear()
                self._items[key] = (now + self.ttl, value)
        return value

    def fresh(self, key: K) -> bool:
        with self._lock:
            hit = self._items.get(key)
        return hit is not None and hit[0] > self._now()

    def forget(self, key: K | None = None) -> None:
        with self._lock:
            self._generation += 1
            if key is None:
                self._items.clear()
            else:
                self._items.pop(key, None)
