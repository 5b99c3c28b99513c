"""Trading calendars Zipline can use for the data's sessions: the same sessions algotrade uses.

XNYS (and its aliases) from 1990 on is used as zipline names it. Any other case gets a calendar
registered under its own name, ``ALGOTRADE-<CALENDAR>-<first>-<last>`` (or
``ALGOTRADE-NONE-<hash of the dates>``), that covers exactly the data's range:

* an exchange_calendars name: the exchange's own calendar class, built from the data's first
  session (exchange_calendars otherwise starts 20 years before today, zipline's XNYS in 1990);
* ``calendar: none`` (the data's own dates): a calendar whose sessions are exactly the data's
  dates, on any day of the week (every other day of the range is a holiday).

The registered calendar reports the registered name as its own ``name``. Zipline stores that
name in the bundle and looks it up again when it reads the bundle, so the readers and the
simulation share one calendar object (otherwise zipline asserts "All readers must share target
trading_calendar"), in this process and in any later one that reuses the cached bundle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pandas as pd

from algotrade.core.data import Market, calendar_type
from algotrade.core.errors import DataError

#: calendars zipline builds itself from 1990 (zipline.utils.calendar_utils.get_calendar)
ZIPLINE_OWN = frozenset({"XNYS", "NYSE"})
ZIPLINE_OWN_FIRST = pd.Timestamp("1990-01-02")
#: sessions the registered calendar has after the data's last one (zipline looks past the end)
TAIL = pd.Timedelta(days=7)
PREFIX = "ALGOTRADE-"


def _named(base: type, name: str, first: pd.Timestamp, last: pd.Timestamp) -> type:
    """A subclass of ``base`` that calls itself ``name`` and defaults to ``first``..``last``
    (zipline passes only ``side``; exchange_calendars passes start=None, end=None explicitly)."""

    class Named(base):  # type: ignore[misc, valid-type]
        def __init__(self, start: Any = None, end: Any = None, side: str = "right") -> None:
            super().__init__(start=start or first, end=end or last, side=side)

        @property
        def name(self) -> str:
            return name

    return Named


def _own_dates(name: str, dates: pd.DatetimeIndex) -> type:
    """Sessions exactly ``dates``: every day of the week trades, every other day is a holiday."""
    from zoneinfo import ZoneInfo

    from exchange_calendars import ExchangeCalendar
    from exchange_calendars.exchange_calendar import HolidayCalendar

    holidays = list(pd.date_range(dates[0], dates[-1]).difference(dates))

    class OwnDates(ExchangeCalendar):  # type: ignore[misc]
        open_times = ((None, dt.time(9, 31)),)
        close_times = ((None, dt.time(16)),)
        weekmask = "1111111"

        @property
        def tz(self) -> Any:
            return ZoneInfo("America/New_York")

        @property
        def regular_holidays(self) -> Any:
            return HolidayCalendar([])

        @property
        def adhoc_holidays(self) -> list[pd.Timestamp]:
            return holidays

    return _named(OwnDates, name, dates[0], dates[-1] + TAIL)


def calendar_name(market: Market) -> str:
    """The name zipline should use for the market's calendar (pure: registers nothing)."""
    dates = market.dates
    requested = market.calendar
    if requested.lower() == "none":
        digest = hashlib.sha256(dates.asi8.tobytes()).hexdigest()[:12]
        return f"{PREFIX}NONE-{digest}"
    if requested in ZIPLINE_OWN and dates[0] >= ZIPLINE_OWN_FIRST:
        return "XNYS"
    return f"{PREFIX}{requested.upper()}-{dates[0]:%Y%m%d}-{dates[-1]:%Y%m%d}"


def calendar_for(market: Market) -> str:
    """Register (once per process) and return the calendar name zipline should use.

    The calendar's sessions over the data's range are checked to be exactly the data's dates.
    """
    from exchange_calendars import register_calendar_type
    from exchange_calendars.calendar_utils import global_calendar_dispatcher

    dates = market.dates
    name = calendar_name(market)
    if name.startswith(PREFIX) and not global_calendar_dispatcher.has_calendar(name):
        if market.calendar.lower() == "none":
            factory = _own_dates(name, dates)
        else:
            base = calendar_type(market.calendar)
            bound = base.bound_max()
            last = dates[-1] + TAIL if bound is None else min(dates[-1] + TAIL, pd.Timestamp(bound))
            factory = _named(base, name, dates[0], last)
        register_calendar_type(name, factory)
    from zipline.utils.calendar_utils import get_calendar as zl_get_calendar

    sessions = zl_get_calendar(name).sessions_in_range(dates[0], dates[-1])
    if not sessions.equals(pd.DatetimeIndex(dates)):
        extra = sessions.difference(dates)
        missing = pd.DatetimeIndex(dates).difference(sessions)
        raise DataError(
            f"data.calendar: zipline's {market.calendar} sessions differ from the data's dates "
            f"({len(missing)} data date(s) not sessions, first {missing[0].date() if len(missing) else '-'}; "
            f"{len(extra)} session(s) without data, first {extra[0].date() if len(extra) else '-'}); "
            "use calendar: none to trade the data's own dates"
        )
    return name
