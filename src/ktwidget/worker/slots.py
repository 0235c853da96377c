"""How many notification attempts may be in flight, in all and per endpoint (the isolation policy).

An endpoint (``scheme://host:port``) gets ``per_endpoint`` slots once it has shown it answers
quickly; until then, and again as soon as an attempt to it is slow or times out, it gets one. All
the endpoints that have not shown they answer quickly share at most half of the slots, so those
that do always keep the other half. Pure bookkeeping, used from the event loop's thread only;
a claim running in another thread works on a `snapshot`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class EndpointSlots:
    concurrency: int
    per_endpoint: int
    in_flight: dict[str, int] = field(default_factory=dict)
    fast: set[str] = field(default_factory=set)
    unproven_in_flight: int = 0  # attempts started while their endpoint was not known fast

    def __post_init__(self) -> None:
        if self.concurrency < 2 or self.per_endpoint < 1:
            raise ValueError("concurrency must be at least 2 and per_endpoint at least 1")

    @property
    def total(self) -> int:
        return sum(self.in_flight.values())

    @property
    def free(self) -> int:
        return self.concurrency - self.total

    @property
    def unproven_cap(self) -> int:
        return self.concurrency // 2

    def limit(self, endpoint: str) -> int:
        return self.per_endpoint if endpoint in self.fast else 1

    def room(self, endpoint: str) -> int:
        return self.limit(endpoint) - self.in_flight.get(endpoint, 0)

    def saturated(self) -> list[str]:
        """Endpoints with no room: a claim leaves their deliveries out in SQL."""
        return [e for e in self.in_flight if self.room(e) <= 0]

    def snapshot(self) -> EndpointSlots:
        return EndpointSlots(
            self.concurrency,
            self.per_endpoint,
            dict(self.in_flight),
            set(self.fast),
            self.unproven_in_flight,
        )

    def admitter(self) -> Callable[[str], bool]:
        """Asked once per due delivery, oldest first: may it start now? Counts what it admits."""
        taken: dict[str, int] = {}
        unproven_taken = 0
        total_taken = 0

        def admit(endpoint: str) -> bool:
            nonlocal unproven_taken, total_taken
            if self.total + total_taken >= self.concurrency:
                return False
            if self.room(endpoint) - taken.get(endpoint, 0) <= 0:
                return False
            unproven = endpoint not in self.fast
            if unproven and self.unproven_in_flight + unproven_taken >= self.unproven_cap:
                return False
            taken[endpoint] = taken.get(endpoint, 0) + 1
            unproven_taken += unproven
            total_taken += 1
            return True

        return admit

    def start(self, endpoint: str) -> bool:
        """Count an attempt in; returns whether it counts against the unproven half."""
        self.in_flight[endpoint] = self.in_flight.get(endpoint, 0) + 1
        unproven = endpoint not in self.fast
        self.unproven_in_flight += unproven
        return unproven

    def demote(self, endpoint: str) -> None:
        """An attempt is taking long: one slot for this endpoint from now on."""
        self.fast.discard(endpoint)

    def finish(self, endpoint: str, counted_unproven: bool, quick: bool) -> None:
        left = self.in_flight.get(endpoint, 0) - 1
        if left > 0:
            self.in_flight[endpoint] = left
        else:
            self.in_flight.pop(endpoint, None)
        self.unproven_in_flight -= counted_unproven
        if quick:
            self.fast.add(endpoint)
        else:
            self.fast.discard(endpoint)
