"""SPEC section 5: the lifecycle table, and no other transition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktwidget.domain import status
from ktwidget.domain.status import ErrorType, Event, IllegalTransition, Status

ANY_ERROR = "any error type"  # the spec names none for `denied`; the seed says it carries an error

# SPEC section 5, row by row: from, to, error type, when.
SPEC_TABLE: list[tuple[str, str, str | None, Event]] = [
    ("pending", "authorized", None, Event.HOLD_PLACED),  # the acquirer approved and placed a hold
    ("pending", "error", "ERROR_PAYMENT", Event.DECLINED),  # the acquirer declined
    ("pending", "error", "ERROR_INPUT", Event.INPUT_REFUSED),  # card data refused too many times
    ("pending", "denied", ANY_ERROR, Event.EXPIRED),  # the session expired unpaid, or refused
    ("authorized", "success", None, Event.CREDITED),  # ecom at once; service once credited
    ("authorized", "denied", ANY_ERROR, Event.CREDIT_REFUSED),  # the provider refused
    ("authorized", "error", "ERROR_SYSTEM", Event.SYSTEM_FAILURE),  # internal failure after hold
    ("success", "completed", None, Event.CAPTURED),  # clearing: the capture confirmed
    ("success", "error", "ERROR_SYSTEM", Event.CAPTURE_FAILED),  # the capture kept failing
]
SPEC_PAIRS = {(source, target) for source, target, _, _ in SPEC_TABLE}
STATUSES = {"pending", "authorized", "success", "completed", "error", "denied"}
FINAL = {"completed", "error", "denied"}
CARRY_ERROR = {"error", "denied"}


def test_the_statuses_are_the_specs() -> None:
    assert {s.value for s in Status} == STATUSES
    assert {s.value for s in status.FINAL_STATUSES} == FINAL
    assert {s.value for s in Status if s.is_final} == FINAL
    assert {e.value for e in ErrorType} == {"ERROR_PAYMENT", "ERROR_INPUT", "ERROR_SYSTEM"}


def _error_column(rule: status.Rule) -> str | None:
    if rule.error_type is None:
        return None
    return ANY_ERROR if rule.target is Status.DENIED else rule.error_type.value


def test_the_table_is_the_specs_table() -> None:
    table = {
        (source.value, rule.target.value, _error_column(rule), event)
        for (source, event), rule in status.TABLE.items()
    }
    assert table == set(SPEC_TABLE)
    assert len(status.TABLE) == len(SPEC_TABLE)


def test_transitions_are_the_specs_pairs() -> None:
    assert set(status.TRANSITIONS) == set(Status)
    pairs = {(s.value, t.value) for s, targets in status.TRANSITIONS.items() for t in targets}
    assert pairs == SPEC_PAIRS


@pytest.mark.parametrize("source", list(Status))
@pytest.mark.parametrize("target", list(Status))
def test_can_transition_only_along_the_table(source: Status, target: Status) -> None:
    assert status.can_transition(source, target) == ((source.value, target.value) in SPEC_PAIRS)


@pytest.mark.parametrize(("source", "target", "etype", "event"), SPEC_TABLE)
def test_each_row(source: str, target: str, etype: str | None, event: Event) -> None:
    change = status.apply(Status(source), event)
    assert (change.source, change.target) == (Status(source), Status(target))
    if etype is None:
        assert change.error is None
    else:
        assert change.error is not None
        assert change.error.error_message
        if etype != ANY_ERROR:
            assert change.error.error_type == ErrorType(etype)


@pytest.mark.parametrize("final", sorted(FINAL))
@pytest.mark.parametrize("event", list(Event))
def test_final_statuses_accept_no_event(final: str, event: Event) -> None:
    with pytest.raises(IllegalTransition) as info:
        status.apply(Status(final), event)
    assert info.value.current == Status(final)
    assert info.value.event == event


def test_the_error_message_is_the_callers() -> None:
    change = status.apply(Status.PENDING, Event.DECLINED, "KKB rejected payment")
    assert change.error == status.StatusError(ErrorType.ERROR_PAYMENT, "KKB rejected payment")


def test_statuses_without_an_error_ignore_a_message() -> None:
    assert status.apply(Status.PENDING, Event.HOLD_PLACED, "ignored").error is None


@given(start=st.sampled_from(Status), events=st.lists(st.sampled_from(Event), max_size=30))
def test_no_sequence_of_events_leaves_the_table(start: Status, events: list[Event]) -> None:
    current = start
    for event in events:
        try:
            change = status.apply(current, event)
        except IllegalTransition:
            assert (current, event) not in status.TABLE
            continue
        assert change.source == current
        assert (change.source.value, change.target.value) in SPEC_PAIRS
        assert not current.is_final
        if change.target.value in CARRY_ERROR:
            assert change.error is not None
            row = next(r for r in SPEC_TABLE if r[0] == current.value and r[3] == event)
            assert row[1] == change.target.value
            if row[2] != ANY_ERROR:
                assert change.error.error_type.value == row[2]
        else:
            assert change.error is None
        current = change.target
    # Whatever happened, a final status stays put.
    if current.is_final:
        for event in Event:
            with pytest.raises(IllegalTransition):
                status.apply(current, event)
