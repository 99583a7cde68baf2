"""The one injectable clock.

Every time-dependent rule (challenge expiry, the 24-hour viewing window, the
certificate grace period, token lifetimes) asks this clock, never
``datetime.now()`` directly, so that tests can drive the boundaries exactly and
so that the server's clock is the single authority for every window.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The default clock: the system's time as an aware UTC datetime."""
    return datetime.now(UTC)


class FrozenClock:
    """A settable clock for tests and demos (aware UTC)."""

    def __init__(self, now: datetime) -> None:
        self.set(now)

    def set(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = now.astimezone(UTC)

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self._now += timedelta(**delta)

    def __call__(self) -> datetime:
        return self._now
