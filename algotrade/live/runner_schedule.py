"""When a live runner expects its next bar and when it holds orders: its default session
schedule (weekdays, a bar due by 06:00 UTC the next day) and IB's daily server restart window.
Import these names from :mod:`algotrade.live.broker`, which re-exports them.
"""

from __future__ import annotations

import datetime as dt


def next_weekday(date: dt.date) -> dt.date:
    nxt = date + dt.timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += dt.timedelta(days=1)
    return nxt


def default_bar_due(date: dt.date) -> dt.datetime:
    """When the bar after ``date`` must have arrived: 06:00 UTC the day after the next weekday
    (a daily US-equity bar closes at about 21:00 UTC)."""
    nxt = next_weekday(date) + dt.timedelta(days=1)
    return dt.datetime.combine(nxt, dt.time(6, 0), tzinfo=dt.UTC)


def ib_restart_window(now: dt.datetime, start: dt.time = dt.time(23, 45), end: dt.time = dt.time(0, 45)) -> bool:
    """True inside IB's daily server restart (by default 23:45-00:45 New York time), when TWS and
    the Gateway disconnect and reconnect: no order is sent then."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo("America/New_York")).time() if now.tzinfo else now.time()
    return local >= start or local < end if start > end else start <= local < end
