"""Trading calendars Zipline can use for the data's sessions.

XNYS is used as zipline names it. Any other exchange_calendars name is registered once more with
a start at the data's first session (exchange_calendars otherwise spans only 20 years back from
today). ``calendar: none`` (the data's own dates) becomes a calendar whose sessions are exactly
the data's dates: weekdays missing from the data are holidays, and weekend dates are refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from algotrade.data import Market
from algotrade.errors import DataError


def _own_dates_calendar(name: str, dates: pd.DatetimeIndex) -> Any:
    from exchange_calendars import ExchangeCalendar
    from exchange_calendars.exchange_calendar import HolidayCalendar

    weekend = dates[dates.dayofweek >= 5]
    if len(weekend):
        raise DataError(
            f"data: {len(weekend)} bar(s) fall on a weekend (first {weekend[0].date()}); zipline "
            "cannot trade weekend sessions. Use the backtrader engine for this data, or drop those rows"
        )
    weekdays = pd.bdate_range(dates[0], dates[-1])
    holidays = list(weekdays.difference(dates))

    class OwnDates(ExchangeCalendar):  # type: ignore[misc]
        open_times = ((None, dt.time(9, 31)),)
        close_times = ((None, dt.time(16)),)

        @property
        def name(self) -> str:
            return name

        @property
        def tz(self) -> Any:
            from zoneinfo import ZoneInfo

            return ZoneInfo("America/New_York")

        @property
        def regular_holidays(self) -> Any:
            return HolidayCalendar([])

        @property
        def adhoc_holidays(self) -> list[pd.Timestamp]:
            return holidays

    return _starting_at(OwnDates, dates[0], dates[-1] + pd.Timedelta(days=7))


def _starting_at(base: type, first: pd.Timestamp, last: pd.Timestamp | None = None) -> type:
    """A calendar factory whose default range covers the data (zipline passes only ``side``)."""

    class Ranged(base):  # type: ignore[misc, valid-type]
        def __init__(self, start: Any = None, end: Any = None, side: str = "right") -> None:
            # exchange_calendars passes start=None, end=None explicitly: default to the data's range
            super().__init__(start=start or first, end=end or last, side=side)

    return Ranged


def calendar_for(market: Market) -> str:
    """Register (when needed) and return the calendar name zipline should use."""
    from exchange_calendars import get_calendar, register_calendar_type

    dates = market.dates
    if market.calendar == "XNYS" and dates[0] >= pd.Timestamp("1990-01-02"):
        return "XNYS"  # zipline itself starts XNYS in 1990
    name = f"ALGOTRADE-{market.calendar.upper()}-{market.data_hash[:8]}"
    if market.calendar.lower() == "none":
        factory = _own_dates_calendar(name, dates)
    else:
        factory = _starting_at(type(get_calendar(market.calendar, start=dates[0])), dates[0])
    register_calendar_type(name, factory, force=True)
    return name
