"""SPEC section 7: retries after 15 s, 60 s, 5 min, 10 min, 30 min, 60 min; configurable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ktwidget.domain.retry import DEFAULT_SCHEDULE, RetrySchedule


def test_the_default_schedule() -> None:
    assert DEFAULT_SCHEDULE == (15, 60, 300, 600, 1800, 3600)
    assert RetrySchedule().delays == (15, 60, 300, 600, 1800, 3600)


def test_delays_after_each_failure_then_none() -> None:
    schedule = RetrySchedule()
    delays = [schedule.delay_after(n) for n in range(1, 8)]
    assert delays == [
        timedelta(seconds=15),
        timedelta(seconds=60),
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(minutes=60),
        None,
    ]
    assert schedule.max_attempts == 7  # the first attempt and six retries


def test_failures_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        RetrySchedule().delay_after(0)


@pytest.mark.parametrize(
    ("text", "delays"),
    [
        ("15,60,300,600,1800,3600", (15, 60, 300, 600, 1800, 3600)),
        (" 1, 2 ,3 ", (1, 2, 3)),
        ("0", (0,)),
        ("5,", (5,)),
    ],
)
def test_parse(text: str, delays: tuple[int, ...]) -> None:
    assert RetrySchedule.parse(text).delays == delays


@pytest.mark.parametrize("text", ["15,x", "1.5", "15;60", "1e3", "-1", "15,-60", "15s"])
def test_parse_errors(text: str) -> None:
    with pytest.raises(ValueError, match="retry schedule"):
        RetrySchedule.parse(text)


def test_an_empty_schedule_means_a_single_attempt() -> None:
    schedule = RetrySchedule.parse("")
    assert schedule.max_attempts == 1
    assert schedule.delay_after(1) is None
