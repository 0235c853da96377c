"""How many notification attempts may be in flight, in all and per endpoint (the isolation policy),
and how many more may wait, claimed ahead, for a slot.

An endpoint (``scheme://host:port``) gets ``per_endpoint`` slots once it has shown it answers
quickly; until then, and again as soon as an attempt to it is slow or times out, it gets one. All
the endpoints that have not shown they answer quickly share at most half of the slots, so those
that do always keep the other half.

An endpoint known to answer quickly may also hold up to ``ahead`` deliveries claimed ahead of its
slots (its queue), so a slot that frees starts the next delivery at once, without waiting for the
database, and claims come in batches. An endpoint that stops answering quickly loses its queue
(the dispatcher gives those leases back), so claimed-ahead deliveries never wait behind a slow
endpoint. All the queues together hold at most ``concurrency`` deliveries.

Pure bookkeeping, used from the event loop's thread only; a claim running in another thread works
on a `snapshot`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class EndpointSlots:
    concurrency: int
    per_endpoint: int
    ahead: int = 0
    in_flight: dict[str, int] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    fast: set[str] = field(default_factory=set)
    unproven_in_flight: int = 0  # attempts started while their endpoint was not known fast

    def __post_init__(self) -> None:
        if self.concurrency < 2 or self.per_endpoint < 1 or self.ahead < 0:
            raise ValueError(
                "concurrency must be at least 2, per_endpoint at least 1, ahead at least 0"
            )

    @property
    def total(self) -> int:
        return sum(self.in_flight.values())

    @property
    def queued_total(self) -> int:
        return sum(self.queued.values())

    @property
    def free(self) -> int:
        return self.concurrency - self.total

    @property
    def unproven_cap(self) -> int:
        return self.concurrency // 2

    def limit(self, endpoint: str) -> int:
        """Attempts that may be in flight to ``endpoint`` at once."""
        return self.per_endpoint if endpoint in self.fast else 1

    def hold_limit(self, endpoint: str) -> int:
        """Deliveries ``endpoint`` may hold: in flight, and queued if it is known fast."""
        return self.limit(endpoint) + (self.ahead if endpoint in self.fast else 0)

    def held(self, endpoint: str) -> int:
        return self.in_flight.get(endpoint, 0) + self.queued.get(endpoint, 0)

    def room(self, endpoint: str) -> int:
        """How many more deliveries a claim may take for ``endpoint``."""
        return self.hold_limit(endpoint) - self.held(endpoint)

    def saturated(self) -> list[str]:
        """Endpoints with no room: a claim leaves their deliveries out in SQL."""
        return [e for e in self.in_flight.keys() | self.queued.keys() if self.room(e) <= 0]

    def _holding(self) -> tuple[int, int]:
        """Over the endpoints holding deliveries: how many they may hold, and their room."""
        held = self.in_flight.keys() | self.queued.keys()
        return sum(self.hold_limit(e) for e in held), sum(max(0, self.room(e)) for e in held)

    def wants_claim(self) -> bool:
        """Worth a claim now: slots are free with nothing queued to fill them, or the endpoints
        holding deliveries have room for at least half of what they may hold."""
        if self.free > 0 and not self.queued_total:
            return True
        capacity, room = self._holding()
        return room > 0 and 2 * room >= capacity

    def claim_limit(self) -> int:
        """How many deliveries a claim should look for: the room of the endpoints holding some,
        and one fast endpoint's worth for the others; never more than could start or queue."""
        wanted = self._holding()[1] + self.per_endpoint + self.ahead
        could = self.free + (self.concurrency - self.queued_total if self.ahead else 0)
        return max(0, min(wanted, could))

    def snapshot(self) -> EndpointSlots:
        return EndpointSlots(
            self.concurrency,
            self.per_endpoint,
            self.ahead,
            dict(self.in_flight),
            dict(self.queued),
            set(self.fast),
            self.unproven_in_flight,
        )

    def admitter(self) -> Callable[[str], bool]:
        """Asked once per due delivery, oldest first: may it be claimed now? Counts what it admits.

        A delivery is admitted if it can start at once (a slot free for its endpoint and in all,
        and for an endpoint not known fast, room in the unproven half), or else if its endpoint is
        known fast and has room in its queue.
        """
        taken: dict[str, int] = {}
        starting = unproven_starting = queueing = 0

        def admit(endpoint: str) -> bool:
            nonlocal starting, unproven_starting, queueing
            held = self.held(endpoint) + taken.get(endpoint, 0)
            if held >= self.hold_limit(endpoint):
                return False
            fast = endpoint in self.fast
            if held < self.limit(endpoint) and self.total + starting < self.concurrency:
                if not fast and self.unproven_in_flight + unproven_starting >= self.unproven_cap:
                    return False
                starting += 1
                unproven_starting += not fast
            elif fast and self.ahead and self.queued_total + queueing < self.concurrency:
                queueing += 1
            else:
                return False
            taken[endpoint] = taken.get(endpoint, 0) + 1
            return True

        return admit

    def can_start(self, endpoint: str) -> bool:
        """May a claimed delivery for ``endpoint`` start now?"""
        return (
            self.in_flight.get(endpoint, 0) < self.limit(endpoint)
            and self.total < self.concurrency
            and (endpoint in self.fast or self.unproven_in_flight < self.unproven_cap)
        )

    def enqueue(self, endpoint: str) -> None:
        self.queued[endpoint] = self.queued.get(endpoint, 0) + 1

    def dequeue(self, endpoint: str) -> None:
        left = self.queued.get(endpoint, 0) - 1
        if left > 0:
            self.queued[endpoint] = left
        else:
            self.queued.pop(endpoint, None)

    def start(self, endpoint: str) -> bool:
        """Count an attempt in; returns whether it counts against the unproven half."""
        self.in_flight[endpoint] = self.in_flight.get(endpoint, 0) + 1
        unproven = endpoint not in self.fast
        self.unproven_in_flight += unproven
        return unproven

    def demote(self, endpoint: str) -> None:
        """An attempt is taking long: one slot for this endpoint from now on, and no queue."""
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
