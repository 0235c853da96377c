"""When captures run: at the next clearing boundary, so a whole interval's captures go together."""

from __future__ import annotations

from datetime import UTC, datetime


def next_clearing(now: datetime, interval_seconds: int) -> datetime:
    """The first boundary strictly after ``now`` of a grid of ``interval_seconds`` from the epoch."""
    if interval_seconds <= 0:
        raise ValueError("the clearing interval must be positive")
    seconds = int(now.timestamp())
    boundary = (seconds // interval_seconds + 1) * interval_seconds
    return datetime.fromtimestamp(boundary, UTC)
