"""Loading a market: the raw frames cut to data.start/end at the sessions of the calendar, every
problem found, then repaired by policy (or refused in one message naming the fix)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data.calendars import _naive, _naive_index, get_calendar
from algotrade.core.data.coverage import _Gaps, check_covered
from algotrade.core.data.market import Market
from algotrade.core.data.sources import _load_raw
from algotrade.core.errors import DataError
from algotrade.core.validation import Problem, check_calendar, check_rows, check_storage, repair


def inspect(cfg: DataConfig) -> tuple[dict[str, pd.DataFrame], pd.DatetimeIndex, list[Problem]]:
    """Load the raw frames, cut them to the range and find every problem (repairs not applied).

    ``data.start``/``data.end`` may be any calendar dates: the range is cut at the first session on
    or after start and the last on or before end (of the calendar, or of the data's own dates with
    calendar: none). It is refused when the data does not cover it (see :func:`check_covered`)."""
    cal = None
    def synthetic_sessions() -> pd.DatetimeIndex:
        nonlocal cal
        # 2010-01-04 .. 2019-12-31 by default; ten years before end or after start when only one is set
        ten_years = pd.DateOffset(years=10)
        start = pd.Timestamp(cfg.start) if cfg.start else pd.Timestamp("2010-01-04")
        end = pd.Timestamp(cfg.end) if cfg.end else max(pd.Timestamp("2019-12-31"), start + ten_years)
        if not cfg.start and start > end:
            start = end - ten_years
        if cfg.calendar.lower() != "none":
            # a calendar built for the generator's range (refused in one line when it cannot be built)
            cal = get_calendar(cfg.calendar, start.date(), end.date())
            start = max(start, _naive(cal.first_session))
        whose = "the weekdays (calendar: none)" if cal is None else f"calendar {cal.name}"
        if cal is not None and end > _naive(cal.last_session):
            if cfg.end:
                raise DataError(
                    f"data.end: {cfg.end} is after the last session {whose} knows "
                    f"({_naive(cal.last_session).date()}); set data.end to that date or earlier"
                )
            end = _naive(cal.last_session)
        sessions = _Gaps(cal, pd.bdate_range(start, end)).sessions(start, end)
        if not len(sessions):
            raise DataError(
                f"data.start/end: {cfg.start or 'default'} .. {cfg.end or 'default'} holds no session of "
                f"{whose}, only weekends or holidays; widen the range"
            )
        return pd.DatetimeIndex(sessions, name="date")

    raw = _load_raw(cfg, synthetic_sessions)
    problems: list[Problem] = []
    for sym, frame in raw.items():
        problems += check_rows(sym, frame)
    if any(not p.repairable for p in problems):
        return raw, pd.DatetimeIndex([]), problems
    earliest = min(f.index[0] for f in raw.values())
    if cfg.start and pd.Timestamp(cfg.start) < earliest:  # far enough back to tell a calendar gap from missing data
        earliest = max(pd.Timestamp(cfg.start), earliest - pd.Timedelta(days=40))
    if cal is None and cfg.calendar.lower() != "none":
        cal = get_calendar(cfg.calendar, earliest.date())
    union = pd.DatetimeIndex(sorted(set().union(*(f.index for f in raw.values()))))
    gaps = _Gaps(cal, union)
    for sym, frame in raw.items():
        check_covered("data", f"the data of {sym}", cfg.start, cfg.end, frame.index, gaps)
    cut: dict[str, pd.DataFrame] = {}
    for sym, frame in raw.items():
        lo = pd.Timestamp(cfg.start) if cfg.start else frame.index[0]
        hi = pd.Timestamp(cfg.end) if cfg.end else frame.index[-1]
        cut[sym] = frame.loc[lo:hi]
        if cut[sym].empty:
            raise DataError(f"data: {sym} has no bars between {lo.date()} and {hi.date()}; widen data.start/end")
    lo = min(f.index[0] for f in cut.values())
    hi = max(f.index[-1] for f in cut.values())
    if cal is not None:
        if lo < _naive(cal.first_session) or hi > _naive(cal.last_session):  # data beyond the calendar's default range
            cal = get_calendar(cfg.calendar, lo.date(), hi.date())
        sessions = _naive_index(cal.sessions_in_range(lo, hi))
    else:
        sessions = pd.DatetimeIndex(sorted(set().union(*(f.index for f in cut.values()))))
    sessions = pd.DatetimeIndex(sessions, name="date")
    for sym, frame in cut.items():
        problems += check_calendar(sym, frame, sessions)
        problems += check_storage(sym, frame)
    return cut, sessions, problems


def snapped(cfg: DataConfig, data: Market | pd.DatetimeIndex) -> str:
    """How data.start/end were cut to the sessions of ``data`` (a market, or its sessions) — ''
    when they are sessions or unset — e.g. 'data.start 2006-01-01 -> 2006-01-03 (the nearest
    sessions of XNYS)'."""
    dates = data.dates if isinstance(data, Market) else data
    if not len(dates):
        return ""
    first, last = dates[0].date(), dates[-1].date()
    moves = [f"data.{name} {asked} -> {used}" for name, asked, used in (("start", cfg.start, first), ("end", cfg.end, last))
             if asked is not None and asked != used]
    if not moves:
        return ""
    whose = "the data's own dates" if cfg.calendar.lower() == "none" else cfg.calendar
    return f"{', '.join(moves)} (the nearest sessions of {whose})"


def load_market(cfg: DataConfig, experiment_file: str | os.PathLike[str] | None = None,
                overrides: Sequence[str] = ()) -> Market:
    """Load, validate and repair: the frames every engine will see. ``experiment_file`` and
    ``overrides`` (--set items) name the experiment in the message of a data error."""
    frames, sessions, problems = inspect(cfg)
    fatal = [p for p in problems if not p.repairable or cfg.repair == "none"]
    if fatal:
        again = [os.fspath(experiment_file), *(a for o in overrides for a in ("--set", o))] if experiment_file else []
        raise DataError(problem_summary(fatal, cfg.repair, again=again))
    repaired: dict[str, pd.DataFrame] = {}
    repairs: dict[str, dict[str, int]] = {}
    for sym, frame in frames.items():
        repaired[sym], counts = repair(frame, sessions)
        if counts:
            repairs[sym] = counts
    return Market(repaired, cfg.calendar, repairs, tuple(problems))


def problem_summary(problems: list[Problem], policy: str, limit: int = 12, again: Sequence[str] = ()) -> str:
    """The problems, and the fix; ``again`` names the experiment for the command that lists every
    problem (its file, then --set items)."""
    lines = [f"the data has {len(problems)} problem(s):"]
    lines += [f"  {p}" for p in problems[:limit]]
    if len(problems) > limit:
        counts: dict[str, int] = {}
        for p in problems:
            counts[p.code] = counts.get(p.code, 0) + 1
        lines.append(f"  ... and {len(problems) - limit} more ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})")
    if policy == "none" and all(p.repairable for p in problems):
        lines.append("these are repairable: set data.repair: engine_safe to repair them the same way for every engine")
    else:
        from algotrade.core.shell import command

        listing = command("data", "validate", *(again or ["X.yaml"]))
        lines.append(f"fix the data file (or data.start/end/calendar); `{listing}` lists every problem")
    return "\n".join(lines)
