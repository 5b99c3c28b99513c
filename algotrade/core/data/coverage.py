"""Whether dates cover a requested start/end: a stretch outside the data is a calendar gap (a
weekend, a holiday) or missing sessions, by the exchange calendar or by the data's own dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.data.calendars import _naive, _naive_index, get_calendar
from algotrade.core.errors import DataError

#: a stretch of this many days without a bar is always a calendar gap (Good Friday to Easter
#: Monday), whatever the data's own dates say (calendar: none)
MIN_GAP_DAYS = 4


@dataclass(frozen=True)
class _Gaps:
    """Whether a stretch of days outside the data holds a session: by the exchange calendar,
    or, with calendar: none, by the data's own dates (a stretch no longer than the longest gap
    between two of its bars, and at least a long weekend, is a calendar gap, not missing data)."""

    cal: Any | None
    dates: pd.DatetimeIndex

    @staticmethod
    def of(calendar: str, dates: pd.DatetimeIndex, earliest: pd.Timestamp) -> _Gaps:
        if calendar.lower() == "none":
            return _Gaps(None, dates)
        return _Gaps(get_calendar(calendar, earliest.date()), dates)

    @property
    def name(self) -> str:
        return "the data's own dates" if self.cal is None else f"calendar {self.cal.name}"

    def sessions(self, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DatetimeIndex:
        """The sessions from lo to hi (both included) that the calendar knows."""
        if self.cal is None:
            return self.dates[(self.dates >= lo) & (self.dates <= hi)]
        lo, hi = max(lo, _naive(self.cal.first_session)), min(hi, _naive(self.cal.last_session))
        return _naive_index(self.cal.sessions_in_range(lo, hi)) if lo <= hi else pd.DatetimeIndex([])

    def holds_session(self, lo: pd.Timestamp, hi: pd.Timestamp) -> bool:
        """Whether lo .. hi (both included, outside the data) holds a session; days beyond what
        the exchange calendar can tell are judged as with calendar: none."""
        if lo > hi:
            return False
        if self.cal is None:
            return self._longer_than_a_gap(lo, hi)
        if len(self.sessions(lo, hi)):
            return True
        day = pd.Timedelta(days=1)
        first, last = _naive(self.cal.first_session), _naive(self.cal.last_session)
        unknown = ((lo, min(hi, first - day)), (max(lo, last + day), hi))
        return any(a <= b and self._longer_than_a_gap(a, b) for a, b in unknown)

    def _longer_than_a_gap(self, lo: pd.Timestamp, hi: pd.Timestamp) -> bool:
        longest = int(np.diff(self.dates.asi8).max() // 86_400_000_000_000) - 1 if len(self.dates) > 1 else 0
        return (hi - lo).days + 1 > max(MIN_GAP_DAYS, longest)


def check_covered(
    field: str, what: str, start: dt.date | None, end: dt.date | None, dates: pd.DatetimeIndex, gaps: _Gaps
) -> None:
    """Refuse a ``field.start``/``field.end`` that the dates do not cover: one outside them, one that
    holds no session, or one that starts before the first date (ends after the last) by more than
    a calendar gap. Calendar dates next to the data (a weekend, a holiday, a month's first day)
    pass: the range is then cut at the nearest sessions."""
    first, last = dates[0], dates[-1]
    span = f"{what}, which runs {first.date()} .. {last.date()}"
    lo = pd.Timestamp(start) if start else first
    hi = pd.Timestamp(end) if end else last
    asked = f"{start or 'the first bar'} .. {end or 'the last bar'}"
    if lo > last or hi < first:
        raise DataError(f"{field}.start/end: {asked} lies outside {span}; choose dates within that range")
    if not len(gaps.sessions(max(lo, first), min(hi, last))):
        raise DataError(
            f"{field}.start/end: {asked} holds no session of {gaps.name}, only weekends or holidays "
            f"({span}); widen the range"
        )
    if lo < first and gaps.holds_session(lo, first - pd.Timedelta(days=1)):
        raise DataError(
            f"{field}.start: {start} is before {span}, by more than a weekend or holiday; "
            f"set {field}.start to {first.date()} or later, or leave it out"
        )
    if hi > last and gaps.holds_session(last + pd.Timedelta(days=1), hi):
        raise DataError(
            f"{field}.end: {end} is after {span}, by more than a weekend or holiday; "
            f"set {field}.end to {last.date()} or earlier, or leave it out"
        )
