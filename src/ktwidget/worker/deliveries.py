"""The notification dispatcher: claims due deliveries, sends them, records every attempt.

Isolation (SPEC section 7: a slow or dead endpoint never delays the others):

- at most ``concurrency`` attempts in flight in this worker (in-flight requests are cheap in
  asyncio, so the default is generous), and at most ``per_endpoint`` to one endpoint
  (``scheme://host:port``);
- an endpoint earns more than one slot only by answering quickly: one that is new, or whose last
  attempt took longer than ``slow_after`` seconds or timed out, or whose attempt in flight has
  run past ``slow_after``, gets one slot, and all such endpoints together get at most half of
  ``concurrency``, so endpoints that answer keep at least the other half;
- claims leave endpoints with no room out in SQL, so a backlog for a hanging endpoint never hides
  the deliveries queued behind it.

So a hanging endpoint holds one slot, not its backlog's worth. Healthy endpoints can be delayed
only when more than half of the slots are held at once by endpoints that do not answer (with the
defaults, 128 new hanging endpoints, or 16 fast ones that all start hanging together), and then
for at most one timeout.

Throughput: an endpoint that answers quickly may hold ``ahead`` more deliveries, claimed ahead of
its slots; a slot that frees starts the next one at once, and claims come in batches (when the
endpoints being served have room for half of what they may hold, or slots idle with nothing
queued). A queued delivery starts only while its lease still outlasts a whole attempt; one that
cannot, and the queue of an endpoint that turns slow, are given back to the database.

Crash safety: a claim takes a lease longer than one attempt can last, and an attempt is recorded
only after it ends; a worker killed at any moment leaves its deliveries to be claimed again when the
lease runs out, or at once by a worker of the same machine that sees the holder is dead (at least
once; receivers dedupe on ``webhook-id``). Outcomes are written in small batches, so one database
commit serves many deliveries.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Self

from ktwidget.adapters.webhook_sender import DEFAULT_TIMEOUT, HttpSender, Reply, WebhookSender
from ktwidget.domain import webhooks
from ktwidget.services.context import Gateway
from ktwidget.storage import deliveries as repo
from ktwidget.storage.deliveries import AttemptRecord, Claimed, Finished
from ktwidget.worker import owners
from ktwidget.worker.slots import EndpointSlots

log = logging.getLogger("ktwidget.notifications")


class _SecretCache:
    """Decrypted secrets by their ciphertext: rotation shows up at once, decryption happens once."""

    def __init__(self, gw: Gateway, size: int = 1024) -> None:
        self._gw = gw
        self._size = size
        self._plain: OrderedDict[bytes, str] = OrderedDict()

    def get(self, encrypted: bytes) -> str:
        plain = self._plain.get(encrypted)
        if plain is None:
            plain = self._gw.master_key.decrypt(encrypted).decode("utf-8")
            self._plain[encrypted] = plain
            while len(self._plain) > self._size:
                self._plain.popitem(last=False)
        else:
            self._plain.move_to_end(encrypted)
        return plain


@dataclass(frozen=True)
class _Ready:
    """A claimed delivery, with its signing secrets and the loop time by which it must start."""

    claimed: Claimed
    secrets: list[str]
    start_by: float


class DeliveryDispatcher:
    """Sends due deliveries. Tests drive it with `run_once` / `run_until_idle` and the gateway's
    clock; a worker process runs `run(stop)`.
    """

    def __init__(
        self,
        gateway: Gateway,
        *,
        sender: WebhookSender | None = None,
        concurrency: int = 256,
        per_endpoint: int = 8,
        ahead: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        lease: timedelta | None = None,
        slow_after: float | None = None,
        poll_interval: float = 0.25,
        flush_interval: float = 0.02,
        sweep_interval: float = 5.0,
        owner: str | None = None,
    ) -> None:
        self.gateway = gateway
        self.schedule = gateway.settings.notify_retry_schedule
        self.timeout = timeout
        # Longer than any attempt can last, so a live worker never loses a lease mid-attempt.
        self.lease = lease or timedelta(seconds=2 * timeout + 10)
        if self.lease.total_seconds() <= timeout:
            raise ValueError("the lease must outlast the timeout of an attempt")
        self.slow_after = min(2.0, timeout / 2) if slow_after is None else slow_after
        self.poll_interval = poll_interval
        self.flush_interval = flush_interval
        self.sweep_interval = sweep_interval
        self.owner = owner or owners.owner_id()
        self._sender = sender
        self._own_sender = sender is None
        self._slots = EndpointSlots(
            concurrency, per_endpoint, 4 * per_endpoint if ahead is None else ahead
        )
        self._secrets = _SecretCache(gateway)
        self._queues: dict[str, deque[_Ready]] = {}  # claimed ahead, by endpoint
        self._running: set[asyncio.Task[Finished]] = set()
        self._outcomes: list[Finished] = []
        self._give_back: list[Claimed] = []
        self._slot_freed = asyncio.Event()
        self.stats: Counter[str] = Counter()  # claims, claimed, flushes, recorded, given_back

    @property
    def concurrency(self) -> int:
        return self._slots.concurrency

    # --- the pieces ---------------------------------------------------------------------------

    def _get_sender(self) -> WebhookSender:
        if self._sender is None:
            self._sender = HttpSender(
                allow_private=self.gateway.settings.notify_allow_private,
                timeout=self.timeout,
                connections_per_endpoint=self._slots.per_endpoint,
            )
        return self._sender

    async def aclose(self) -> None:
        if self._own_sender and self._sender is not None:
            await self._sender.aclose()
            self._sender = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _claim(self, slots: EndpointSlots) -> tuple[list[tuple[Claimed, list[str]]], bool]:
        """Lease what may start or queue now (``slots`` is a snapshot: this runs in a thread);
        and whether everything due that the claim was shown was taken."""
        limit = slots.claim_limit()
        if limit <= 0:
            return [], False
        now = self.gateway.clock.now()
        with self.gateway.db.write() as conn:
            result = repo.claim(
                conn,
                now=now,
                owner=self.owner,
                lease=self.lease,
                limit=limit,
                admit=slots.admitter(),
                exclude_endpoints=slots.saturated(),
            )
            claimed = result.claimed
            encrypted = repo.secrets_for(conn, {c.merchant_id for c in claimed}, now)
        batch = [(c, [self._secrets.get(s) for s in encrypted[c.merchant_id]]) for c in claimed]
        return batch, result.drained

    async def _claim_now(self) -> tuple[int, bool]:
        """Claim, queue and start what fits; how many were claimed, and whether that drained
        what is due."""
        loop = asyncio.get_running_loop()
        # The lease runs from a moment after this one; a queued attempt must end within it, with a
        # quarter of the lease to spare for a busy event loop and clocks that disagree.
        lease = self.lease.total_seconds()
        start_by = loop.time() + lease - self.timeout - lease / 4
        batch, drained = await asyncio.to_thread(self._claim, self._slots.snapshot())
        self.stats["claims"] += 1
        self.stats["claimed"] += len(batch)
        for claimed, secrets in batch:
            self._queues.setdefault(claimed.endpoint, deque()).append(
                _Ready(claimed, secrets, start_by)
            )
            self._slots.enqueue(claimed.endpoint)
        self._pump()
        return len(batch), drained

    def _pump(self) -> None:
        """Start queued deliveries where slots allow; give back those that may not wait."""
        now = asyncio.get_running_loop().time()
        for endpoint in list(self._queues):
            queue = self._queues[endpoint]
            while queue and self._slots.can_start(endpoint):
                ready = queue.popleft()
                self._slots.dequeue(endpoint)
                if now > ready.start_by:
                    self._give_back.append(ready.claimed)
                    continue
                self._launch(ready)
            if queue and endpoint not in self._slots.fast:
                # It turned slow: its queue would wait a timeout per delivery. Others may take it.
                while queue:
                    self._give_back.append(queue.popleft().claimed)
                    self._slots.dequeue(endpoint)
            if not queue:
                del self._queues[endpoint]

    def _demote(self, endpoint: str) -> None:
        self._slots.demote(endpoint)
        self._pump()  # gives its queue back

    def _launch(self, ready: _Ready) -> None:
        unproven = self._slots.start(ready.claimed.endpoint)
        task = asyncio.create_task(self._send(ready.claimed, ready.secrets, unproven))
        self._running.add(task)
        task.add_done_callback(self._collect)

    def _collect(self, task: asyncio.Task[Finished]) -> None:
        self._running.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("notification_attempt_crashed", exc_info=exc)
            return
        self._outcomes.append(task.result())

    def release_dead_leases(self) -> int:
        """Give back leases held by dead worker processes of this machine; how many."""
        return owners.release_dead_leases(
            self.gateway,
            self.owner,
            repo.lease_owners,
            repo.release_owner,
            "notification_leases_released",
        )

    def _record(self, outcomes: list[Finished], give_back: list[Claimed]) -> None:
        with self.gateway.db.write() as conn:
            lost = repo.record_attempts(conn, outcomes)
            repo.release(conn, give_back)
        for o in lost:
            log.warning(
                "notification_lease_lost",
                extra={"delivery_id": o.claimed.id, "webhook_id": o.claimed.webhook_id},
            )

    async def _attempt(self, claimed: Claimed, secrets: list[str]) -> Finished:
        clock = self.gateway.clock
        started_at = clock.now()
        try:
            headers = webhooks.headers(
                secrets, claimed.webhook_id, int(started_at.timestamp()), claimed.body
            )
        except webhooks.SecretError as exc:
            reply = Reply(None, None, b"", 0, None, f"cannot sign: {exc}")
        else:
            reply = await self._get_sender().post(claimed.url, headers, claimed.body)
        if reply.status_code is None:
            verdict = webhooks.Verdict(False, reply.error)
        else:
            verdict = webhooks.judge_reply(reply.status_code, reply.content_type, reply.body)
        attempt = AttemptRecord(
            started_at=started_at,
            latency_ms=reply.latency_ms,
            address=reply.address,
            status_code=reply.status_code,
            accepted=verdict.accepted,
            reply_excerpt=webhooks.excerpt(reply.body) if reply.body else None,
            error=verdict.reason,
        )
        finished_at = clock.now()
        retry_at = None
        if not verdict.accepted:
            delay = self.schedule.delay_after(claimed.attempts + 1)
            retry_at = None if delay is None else finished_at + delay
        self._log(claimed, attempt, retry_at)
        return Finished(claimed, attempt, finished_at, retry_at)

    def _log(self, claimed: Claimed, attempt: AttemptRecord, retry_at: datetime | None) -> None:
        fields = {
            "delivery_id": claimed.id,
            "webhook_id": claimed.webhook_id,
            "merchant_id": claimed.merchant_id,
            "status_code": attempt.status_code,
            "latency_ms": attempt.latency_ms,
        }
        if attempt.accepted:
            log.debug("notification_delivered", extra=fields)
        elif retry_at is not None:
            log.info(
                "notification_attempt_failed",
                extra={**fields, "error": attempt.error, "retry_at": retry_at.isoformat()},
            )
        else:
            log.warning("notification_failed", extra={**fields, "error": attempt.error})

    async def _send(self, claimed: Claimed, secrets: list[str], unproven: bool) -> Finished:
        quick = False
        # An attempt still running after slow_after demotes its endpoint at once, not at timeout.
        demote = asyncio.get_running_loop().call_later(
            self.slow_after, self._demote, claimed.endpoint
        )
        try:
            outcome = await self._attempt(claimed, secrets)
            # A refused connection is quick too: what matters is how long the slot was held.
            quick = (outcome.attempt.latency_ms or 0) <= self.slow_after * 1000
            return outcome
        finally:
            demote.cancel()
            self._slots.finish(claimed.endpoint, unproven, quick)
            self._pump()
            self._slot_freed.set()

    async def _flush(self) -> None:
        """Write the finished attempts and give back the leases of what was not sent."""
        if self._outcomes or self._give_back:
            outcomes, self._outcomes = self._outcomes, []
            give_back, self._give_back = self._give_back, []
            await asyncio.to_thread(self._record, outcomes, give_back)
            self.stats["flushes"] += 1
            self.stats["recorded"] += len(outcomes)
            self.stats["given_back"] += len(give_back)

    # --- for tests: one round at a time, on the injected clock -------------------------------

    async def run_once(self) -> int:
        """Send every delivery due now that fits, wait for the attempts, record them."""
        total = 0
        while True:
            claimed, _drained = await self._claim_now()
            if not claimed:
                break
            total += claimed
        while self._running:  # finishing attempts start the queued ones
            await asyncio.gather(*list(self._running), return_exceptions=True)
        await self._flush()
        return total

    async def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Rounds until nothing is due at the clock's time; the number of attempts made."""
        total = 0
        for _ in range(max_rounds):
            sent = await self.run_once()
            if sent == 0:
                return total
            total += sent
        raise RuntimeError("deliveries keep falling due without the clock moving")

    # --- the worker process ------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Keep deliveries flowing until ``stop`` is set; then finish and record those in flight,
        and give back what was claimed ahead."""
        log.info(
            "notification_dispatcher_started",
            extra={"owner": self.owner, "concurrency": self.concurrency},
        )
        slot_freed = self._slot_freed
        writer = asyncio.create_task(self._write_outcomes(stop))
        stopping = asyncio.create_task(stop.wait())
        loop = asyncio.get_running_loop()
        next_sweep = next_poll = 0.0
        drained = True
        try:
            while not stop.is_set():
                now = loop.time()
                if now >= next_sweep:
                    next_sweep = now + self.sweep_interval
                    try:
                        await asyncio.to_thread(self.release_dead_leases)
                    except Exception:
                        log.exception("notification_sweep_failed")
                # Cleared before the claim, not after: an attempt that ends while the claim runs
                # (in a thread) must wake the wait below, or its slot idles for a poll interval.
                slot_freed.clear()
                if loop.time() >= next_poll or (not drained and self._slots.wants_claim()):
                    next_poll = loop.time() + self.poll_interval
                    try:
                        claimed, drained = await self._claim_now()
                    except Exception:
                        log.exception("notification_claim_failed")
                        claimed, drained = 0, True
                    if claimed and not drained:
                        await asyncio.sleep(0)
                        continue
                freed = asyncio.create_task(slot_freed.wait())
                await asyncio.wait(
                    {stopping, freed},
                    timeout=max(0.0, next_poll - loop.time()),
                    return_when="FIRST_COMPLETED",
                )
                freed.cancel()
        finally:
            stopping.cancel()
            for queue in self._queues.values():
                self._give_back.extend(ready.claimed for ready in queue)
            self._queues.clear()
            self._slots.queued.clear()
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
            await writer
            await self._flush()
            await self.aclose()
            log.info("notification_dispatcher_stopped", extra={"owner": self.owner, **self.stats})

    async def _write_outcomes(self, stop: asyncio.Event) -> None:
        """Write finished attempts in batches until stopped and everything in flight is written."""
        while True:
            if self._outcomes or self._give_back:
                try:
                    await self._flush()
                except Exception:
                    # The leases will run out and the deliveries be sent again: at least once.
                    log.exception("notification_record_failed")
            elif stop.is_set() and self._slots.total == 0:
                return
            else:
                await asyncio.sleep(self.flush_interval)
