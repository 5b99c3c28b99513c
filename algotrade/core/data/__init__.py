"""The data layer: every source becomes one canonical frame per symbol, validated and repaired once.

Canonical frame: a tz-naive ``DatetimeIndex`` named ``date`` (one row per session) and float
columns ``open high low close volume`` (plus ``dividend`` and ``split`` from csvdir files).
"""

from algotrade.core.data.sources import (
    MIN_GAP_DAYS,
    REQUIRED,
    SAMPLES,
    Market,
    _Gaps,
    calendar_type,
    check_covered,
    get_calendar,
    inspect,
    load_market,
    problem_summary,
    sample_ranges,
    snapped,
)

__all__ = [
    "MIN_GAP_DAYS",
    "REQUIRED",
    "SAMPLES",
    "Market",
    "_Gaps",
    "calendar_type",
    "check_covered",
    "get_calendar",
    "inspect",
    "load_market",
    "problem_summary",
    "sample_ranges",
    "snapped",
]
