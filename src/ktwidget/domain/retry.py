"""When to try a merchant notification again: the one place the schedule lives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# The seed: 15 s, 60 s, (blank), 10 min, 30 min, 60 min; SPEC section 7 fills the blank with 5 min.
DEFAULT_SCHEDULE: tuple[int, ...] = (15, 60, 300, 600, 1800, 3600)


@dataclass(frozen=True)
class RetrySchedule:
    """Delays in seconds after each failed attempt; after the last one the delivery has failed."""

    delays: tuple[int, ...] = DEFAULT_SCHEDULE

    @classmethod
    def parse(cls, text: str) -> RetrySchedule:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            delays = tuple(int(p) for p in parts)
        except ValueError as exc:
            raise ValueError(
                f"retry schedule {text!r}: give whole seconds, comma-separated"
            ) from exc
        if any(d < 0 for d in delays):
            raise ValueError(f"retry schedule {text!r}: delays must not be negative")
        return cls(delays)

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def delay_after(self, failed_attempts: int) -> timedelta | None:
        """How long to wait after the ``failed_attempts``-th failure; None when it was the last."""
        if failed_attempts < 1:
            raise ValueError("count failed attempts from 1")
        if failed_attempts > len(self.delays):
            return None
        return timedelta(seconds=self.delays[failed_attempts - 1])
