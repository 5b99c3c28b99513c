"""Exchange calendars: the one place a calendar is looked up and built (a range it cannot be built
for is refused in one line), and tz-naive forms of its sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from algotrade.core.errors import ConfigError
from algotrade.core.registry import suggest


def calendar_type(name: str) -> Any:
    """The exchange_calendars class registered for ``name`` (a name or an alias), without building
    it (None for a calendar registered as an instance); ConfigError for an unknown name."""
    import exchange_calendars as xc
    from exchange_calendars.calendar_utils import global_calendar_dispatcher

    try:
        canonical = xc.resolve_alias(name)
        if not global_calendar_dispatcher.has_calendar(canonical):
            raise xc.errors.InvalidCalendarName(calendar_name=name)
    except xc.errors.InvalidCalendarName:
        names = sorted(n for n in xc.get_calendar_names() if n.isupper())
        raise ConfigError(
            f"data.calendar: {name!r} is not a known exchange calendar{suggest(name, names)} "
            f"use an exchange_calendars name such as XNYS, XNAS, XLON, XTKS, or none for the data's own dates"
        ) from None
    return global_calendar_dispatcher._calendar_factories.get(canonical)


def get_calendar(name: str, start: dt.date | None = None, end: dt.date | None = None) -> Any:
    """The exchange calendar ``name`` (an exchange_calendars name or alias), right-sided, covering
    ``start`` to ``end`` (without them: exchange_calendars' default range, XNYS from 1990).

    exchange_calendars spans only 20 years back from today unless told a start: the calendar is
    built from a month before ``start`` to its default end (or a week past ``end`` when later).
    XNYS starts in 1990 at the latest, exactly as zipline asks for it, so both share one cached
    calendar. A range the calendar cannot be built for (``bound_min``/``bound_max``) is refused
    in one line naming its first and last possible date.
    """
    import exchange_calendars as xc

    factory = calendar_type(name)
    canonical = xc.resolve_alias(name)
    if factory is None:  # registered as an instance, not a factory: it is what it is
        return xc.get_calendar(canonical)
    lo, hi = factory.bound_min(), factory.bound_max()
    first = pd.Timestamp(start) if start is not None else None
    last = pd.Timestamp(end) if end is not None else first  # the latest date the calendar must reach
    span = " ".join(([f"from {lo.date()}"] if lo is not None else []) + ([f"to {hi.date()}"] if hi is not None else []))
    for when, outside, fix in (
        (first, lo is not None and first is not None and first < lo, f"data.start to {lo and lo.date()} or later"),
        (last, hi is not None and last is not None and last > hi, f"data.end to {hi and hi.date()} or earlier"),
    ):
        if outside:
            raise ConfigError(
                f"data.calendar: {name} can be built only {span} (exchange_calendars {xc.__version__}), "
                f"not for {when and when.date()}; set {fix}, or use calendar: none to trade the data's own dates"
            )
    # XNYS from 1990 as zipline asks for it (one shared calendar); any other from a month before
    # `start` (a holiday start still lies inside), as far back as exchange_calendars allows
    first_ts = pd.Timestamp("1990-01-01") if canonical == "XNYS" else factory.default_start()
    if first is not None:
        margin = first - pd.Timedelta(days=31)
        first_ts = min(first_ts, margin) if canonical == "XNYS" else margin
    if lo is not None:
        first_ts = max(first_ts, lo)
    last_ts = None  # the default end (a year from today), or a week past the latest date needed
    if last is not None and last + pd.Timedelta(days=7) > factory.default_end():
        last_ts = last + pd.Timedelta(days=7)
        if hi is not None:
            last_ts = min(last_ts, hi)
    return xc.get_calendar(canonical, start=first_ts, end=last_ts, side="right")


def _naive(ts: Any) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize(None) if ts.tz is not None else ts


def _naive_index(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return index.tz_localize(None) if index.tz is not None else index
