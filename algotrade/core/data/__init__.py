"""The data layer: every source becomes one canonical frame per symbol, validated and repaired once.

Canonical frame: a tz-naive ``DatetimeIndex`` named ``date`` (one row per session) and float
columns ``open high low close volume`` (plus ``dividend`` and ``split`` from csvdir files).

A package of one module a job: ``sources`` (reading each source), ``calendars`` (building exchange
calendars), ``coverage`` (whether dates cover a range), ``market`` (the :class:`Market` a run sees)
and ``loading`` (``inspect`` and ``load_market``). Every name is importable from here, as it was
from the one module.
"""

from algotrade.core.data.calendars import calendar_type, get_calendar
from algotrade.core.data.coverage import MIN_GAP_DAYS, check_covered
from algotrade.core.data.coverage import _Gaps as _Gaps  # for the tests of a calendar gap
from algotrade.core.data.loading import inspect, load_market, problem_summary, snapped
from algotrade.core.data.market import Market
from algotrade.core.data.sources import REQUIRED, SAMPLES, sample_ranges

__all__ = [
    "MIN_GAP_DAYS",
    "REQUIRED",
    "SAMPLES",
    "Market",
    "calendar_type",
    "check_covered",
    "get_calendar",
    "inspect",
    "load_market",
    "problem_summary",
    "sample_ranges",
    "snapped",
]
