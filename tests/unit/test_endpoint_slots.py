"""The isolation policy: a hanging endpoint holds one slot, and never more than half of them in all."""

from __future__ import annotations

import pytest

from ktwidget.worker.slots import EndpointSlots


def admit_all(slots: EndpointSlots, endpoints: list[str]) -> list[str]:
    admit = slots.admitter()
    return [e for e in endpoints if admit(e)]


def test_a_new_endpoint_gets_one_slot_until_it_answers_quickly() -> None:
    slots = EndpointSlots(concurrency=16, per_endpoint=4)
    assert admit_all(slots, ["a"] * 10) == ["a"]
    unproven = slots.start("a")
    assert unproven
    assert slots.saturated() == ["a"]
    slots.finish("a", unproven, quick=True)
    assert admit_all(slots, ["a"] * 10) == ["a"] * 4
    for _ in range(4):
        slots.start("a")
    assert slots.saturated() == ["a"]


def test_a_slow_answer_or_a_long_attempt_takes_the_slots_back() -> None:
    slots = EndpointSlots(concurrency=16, per_endpoint=4)
    slots.fast.add("a")
    slots.finish("a", slots.start("a"), quick=False)
    assert slots.limit("a") == 1
    slots.fast.add("b")
    slots.start("b")
    slots.demote("b")  # still in flight past slow_after
    assert admit_all(slots, ["b"]) == []


def test_unproven_endpoints_share_at_most_half() -> None:
    slots = EndpointSlots(concurrency=8, per_endpoint=4)
    slots.fast.add("healthy")
    hanging = [f"hang-{i}" for i in range(10)]
    admitted = admit_all(slots, hanging + ["healthy"] * 4)
    assert admitted == hanging[:4] + ["healthy"] * 4
    for e in admitted:
        slots.start(e)
    assert slots.free == 0


def test_the_global_bound_holds_across_one_claim() -> None:
    slots = EndpointSlots(concurrency=4, per_endpoint=8)
    slots.fast.update({"a", "b"})
    assert len(admit_all(slots, ["a"] * 8 + ["b"] * 8)) == 4


def test_a_snapshot_is_independent() -> None:
    slots = EndpointSlots(concurrency=4, per_endpoint=2)
    copy = slots.snapshot()
    slots.start("a")
    assert copy.total == 0
    assert slots.total == 1


def test_bounds_must_make_sense() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        EndpointSlots(concurrency=1, per_endpoint=1)


def test_a_fast_endpoint_may_hold_deliveries_ahead_of_its_slots() -> None:
    slots = EndpointSlots(concurrency=16, per_endpoint=2, ahead=3)
    slots.fast.add("a")
    assert admit_all(slots, ["a"] * 10) == ["a"] * 5  # two to start, three to queue
    for _ in range(2):
        slots.start("a")
    for _ in range(3):
        slots.enqueue("a")
    assert slots.saturated() == ["a"]
    assert not slots.can_start("a")
    slots.finish("a", False, quick=True)
    assert slots.can_start("a")
    slots.dequeue("a")
    slots.start("a")
    assert slots.room("a") == 1


def test_only_endpoints_known_fast_queue() -> None:
    slots = EndpointSlots(concurrency=16, per_endpoint=2, ahead=3)
    assert slots.can_start("new")  # one slot from the unproven half
    assert admit_all(slots, ["new"] * 5) == ["new"]
    slots.fast.add("a")
    slots.start("a")
    slots.demote("a")
    assert admit_all(slots, ["a"] * 5) == []
    assert not slots.can_start("a")


def test_queues_are_bounded_in_all_and_wait_when_every_slot_is_taken() -> None:
    slots = EndpointSlots(concurrency=4, per_endpoint=8, ahead=8)
    slots.fast.update({"a", "b"})
    admitted = admit_all(slots, ["a"] * 8 + ["b"] * 8)
    assert admitted == ["a"] * 8  # four start, four queue: no more in all
    for _ in range(4):
        slots.start("a")
    assert not slots.can_start("b")  # every slot in use, however much room b has


def test_a_claim_is_worth_it_when_half_of_the_room_is_free_or_slots_idle() -> None:
    slots = EndpointSlots(concurrency=64, per_endpoint=4, ahead=4)
    assert slots.wants_claim()  # idle
    assert slots.claim_limit() == 8  # one fast endpoint's worth
    slots.fast.add("a")
    for _ in range(4):
        slots.start("a")
    for _ in range(4):
        slots.enqueue("a")
    assert not slots.wants_claim()
    assert slots.claim_limit() == 8
    for _ in range(3):
        slots.dequeue("a")
    assert not slots.wants_claim()  # room for 3 of 8
    slots.dequeue("a")
    assert slots.wants_claim()  # room for 4 of 8, and idle slots with nothing queued
    assert slots.claim_limit() == 12


def test_without_ahead_nothing_queues() -> None:
    slots = EndpointSlots(concurrency=4, per_endpoint=2)
    slots.fast.add("a")
    assert admit_all(slots, ["a"] * 5) == ["a"] * 2
    assert slots.claim_limit() == 2
