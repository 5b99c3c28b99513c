"""Trading sessions for live runs: when a daily bar is final and when the next one is due.

UTC inside: every time here is an aware UTC datetime. The exchange's calendar (an
exchange_calendars name such as XNYS, as in ``data.calendar``) gives each session's close,
including early closes and holidays; with ``calendar: none`` sessions are weekdays closing at
21:00 UTC (16:00 in New York).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

UTC = dt.UTC
WEEKDAY_CLOSE = dt.time(21, 0)


@dataclass(frozen=True)
class SessionSchedule:
    """Session closes of one exchange.

    ``settle``: how long after the close a daily bar is taken as final (IB revises the day's bar
    for a few minutes after the close). ``grace``: how long after the next bar was final the
    runner waits before it calls the data stale and halts trading.
    """

    calendar: str = "XNYS"
    settle: dt.timedelta = dt.timedelta(minutes=10)
    grace: dt.timedelta = dt.timedelta(hours=2)

    @cached_property
    def _cal(self) -> Any:
        if self.calendar.lower() == "none":
            return None
        from algotrade.core.data import calendar_type, get_calendar

        # from 1990 (a replay of old data), or from the first date the calendar can be built for (XTKS: 1997)
        factory = calendar_type(self.calendar)
        bound = factory.bound_min() if factory is not None else None
        start = dt.date(1990, 1, 2) if bound is None else max(dt.date(1990, 1, 2), bound.date())
        return get_calendar(self.calendar, start)

    def is_session(self, date: dt.date) -> bool:
        if self._cal is None:
            return date.weekday() < 5
        return bool(self._cal.is_session(date.isoformat()))

    def close(self, date: dt.date) -> dt.datetime:
        """The session's close, UTC."""
        if self._cal is None:
            return dt.datetime.combine(date, WEEKDAY_CLOSE, UTC)
        return self._cal.session_close(date.isoformat()).to_pydatetime().astimezone(UTC)  # type: ignore[no-any-return]

    def next_session(self, date: dt.date) -> dt.date:
        nxt = date + dt.timedelta(days=1)
        while not self.is_session(nxt):
            nxt += dt.timedelta(days=1)
        return nxt

    def final_at(self, date: dt.date) -> dt.datetime:
        """When the daily bar of ``date`` is final: its close plus ``settle``."""
        return self.close(date) + self.settle

    def bar_due(self, date: dt.date) -> dt.datetime:
        """When the bar after ``date`` must have arrived; later, the data is stale."""
        return self.final_at(self.next_session(date)) + self.grace

    def last_final(self, now: dt.datetime) -> dt.date:
        """The latest session whose bar is final at ``now``."""
        day = now.astimezone(UTC).date() + dt.timedelta(days=1)
        while not (self.is_session(day) and self.final_at(day) <= now):
            day -= dt.timedelta(days=1)
        return day


@dataclass
class Backoff:
    """Exponential reconnect delays: ``initial``, doubled after each failure up to ``maximum``;
    reset by a success."""

    initial: float = 1.0
    maximum: float = 60.0
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * 2 ** self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


__all__ = ["Backoff", "SessionSchedule"]
