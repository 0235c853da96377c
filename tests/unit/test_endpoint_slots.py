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
