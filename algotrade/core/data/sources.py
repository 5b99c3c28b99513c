"""The data layer: every source becomes one canonical frame per symbol, validated and repaired once.

Canonical frame: a tz-naive ``DatetimeIndex`` named ``date`` (one row per session) and float
columns ``open high low close volume`` (plus ``dividend`` and ``split`` from csvdir files).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig, symbols_text
from algotrade.core.errors import ConfigError, DataError
from algotrade.core.registry import suggest
from algotrade.core.strategy import FIELDS, Bars
from algotrade.core.validation import Problem, check_calendar, check_rows, check_storage, repair

# --------------------------------------------------------------------------------------------
# sources


def _arch_loader(name: str) -> Callable[[], pd.DataFrame]:
    """Read a data set shipped inside the installed ``arch`` package (without importing arch,
    which would pull in scipy and statsmodels)."""

    def load() -> pd.DataFrame:
        import importlib.util

        spec = importlib.util.find_spec("arch")
        if spec is None or not spec.submodule_search_locations:
            raise DataError("data.source sample needs the 'arch' package; run bin/algotrade to set up the environment")
        path = Path(spec.submodule_search_locations[0]) / "data" / name / f"{name}.csv.gz"
        return pd.read_csv(path, index_col="Date", parse_dates=["Date"])

    return load


#: sample symbols: real daily bars shipped inside the ``arch`` package
SAMPLES: dict[str, tuple[str, Callable[[], pd.DataFrame]]] = {
    "SPX": ("S&P 500 index, daily, 1999-01-04 to 2018-12-31 (arch.data.sp500)", _arch_loader("sp500")),
    "IXIC": ("NASDAQ Composite index, daily, 1999-01-04 to 2018-12-31 (arch.data.nasdaq)", _arch_loader("nasdaq")),
}

_ALIASES = {
    "date": "date", "datetime": "date", "timestamp": "date", "time": "date",
    "open": "open", "high": "high", "low": "low", "close": "close",
    "adj close": "adj_close", "adj_close": "adj_close", "adjclose": "adj_close",
    "volume": "volume", "vol": "volume",
    "openinterest": "openinterest", "open interest": "openinterest",
    "dividend": "dividend", "split": "split", "symbol": "symbol", "ticker": "symbol",
}
REQUIRED = ("date", "open", "high", "low", "close", "volume")


def _canonical(raw: pd.DataFrame, where: str, adjust: bool) -> pd.DataFrame:
    """Rename a raw table's columns, parse dates, adjust by Adj Close when asked."""
    renamed = raw.rename(columns={c: _ALIASES.get(str(c).strip().lower(), str(c)) for c in raw.columns})
    if "date" not in renamed.columns and isinstance(raw.index, pd.DatetimeIndex):
        renamed = renamed.reset_index().rename(columns={renamed.index.name or "index": "date"})
        renamed = renamed.rename(columns={c: _ALIASES.get(str(c).strip().lower(), str(c)) for c in renamed.columns})
    missing = [c for c in REQUIRED if c not in renamed.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, raw.columns))}. "
            "Expected Date,Open,High,Low,Close[,Adj Close],Volume (Yahoo) or "
            "Date,Open,High,Low,Close,Volume,OpenInterest (Backtrader)"
        )
    dates = pd.to_datetime(renamed["date"], errors="coerce", format="mixed")
    bad = dates.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{where}: line {row + 2} has a date that cannot be read: {renamed['date'].iloc[row]!r}; "
            "write dates as YYYY-MM-DD"
        )
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    keep = ["open", "high", "low", "close", "volume"] + [c for c in ("dividend", "split") if c in renamed]
    frame = renamed[keep].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    frame.index = pd.DatetimeIndex(dates.dt.normalize(), name="date")
    if adjust and "adj_close" in renamed.columns:
        factor = pd.to_numeric(renamed["adj_close"], errors="coerce").to_numpy() / frame["close"].to_numpy()
        for col in ("open", "high", "low", "close"):
            frame[col] = frame[col].to_numpy() * factor
    return frame


def _read_csv(path: Path, where: str) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{where}: file {str(path)!r} does not exist; check data.path")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{where}: {path} is not a readable CSV ({exc}); check the file") from None


def _load_raw(cfg: DataConfig, sessions: Callable[[], pd.DatetimeIndex]) -> dict[str, pd.DataFrame]:
    if cfg.source == "sample":
        frames = {}
        for sym in cfg.symbols:
            if sym not in SAMPLES:
                raise ConfigError(
                    f"data.symbols: {sym!r} is not a sample symbol{suggest(sym, tuple(SAMPLES))} "
                    f"available: {', '.join(SAMPLES)}"
                )
            frames[sym] = _canonical(SAMPLES[sym][1](), f"sample {sym}", cfg.adjust)
        return frames
    if cfg.source == "synthetic":
        from algotrade.core.synthetic import generate

        return generate(cfg.symbols, sessions(), cfg.synthetic)
    path = Path(cfg.path or "")
    if cfg.source == "csv":
        if len(cfg.symbols) != 1:
            raise ConfigError(
                f"data.symbols: a csv source holds one symbol, got {len(cfg.symbols)}; "
                "list one symbol, or use source: csvdir for several"
            )
        return {cfg.symbols[0]: _canonical(_read_csv(path, "data.path"), str(path), cfg.adjust)}
    if cfg.source == "csvdir":
        if not path.is_dir():
            raise DataError(f"data.path: {str(path)!r} is not a folder; csvdir wants a folder of SYMBOL.csv files")
        folder = path / "daily" if (path / "daily").is_dir() else path
        available = sorted(p.stem for p in folder.glob("*.csv"))
        frames = {}
        for sym in cfg.symbols:
            file = folder / f"{sym}.csv"
            if not file.exists():
                raise ConfigError(
                    f"data.symbols: {sym!r} has no file {file.name} in {folder}{suggest(sym, available)} "
                    f"available: {symbols_text(available, 20) or '(none)'}"
                )
            frames[sym] = _canonical(_read_csv(file, f"data.path {file.name}"), str(file), cfg.adjust)
        return frames
    # parquet
    if not path.exists():
        raise DataError(f"data.path: file {str(path)!r} does not exist; check data.path")
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise DataError(f"data.path: {path} is not a readable Parquet file ({exc})") from None
    table = table.rename(columns={c: _ALIASES.get(str(c).strip().lower(), str(c)) for c in table.columns})
    if "symbol" in table.columns:
        available = sorted(map(str, table["symbol"].unique()))
        frames = {}
        for sym in cfg.symbols:
            part = table[table["symbol"] == sym]
            if part.empty:
                raise ConfigError(
                    f"data.symbols: {sym!r} is not in {path.name}{suggest(sym, available)} "
                    f"available: {symbols_text(available, 20)}"
                )
            frames[sym] = _canonical(part.drop(columns="symbol"), f"{path.name} {sym}", cfg.adjust)
        return frames
    if len(cfg.symbols) != 1:
        raise ConfigError("data.symbols: this parquet file has no symbol column, so list exactly one symbol")
    return {cfg.symbols[0]: _canonical(table, str(path), cfg.adjust)}


# --------------------------------------------------------------------------------------------
# calendars


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


# --------------------------------------------------------------------------------------------
# the market a run sees


@dataclass(frozen=True)
class Market:
    frames: dict[str, pd.DataFrame]
    calendar: str
    repairs: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    @property
    def dates(self) -> pd.DatetimeIndex:
        return next(iter(self.frames.values())).index

    def bars(self) -> Bars:
        dates = tuple(d.date() for d in self.dates)
        arrays = {s: {f: np.ascontiguousarray(fr[f].to_numpy(np.float64)) for f in FIELDS} for s, fr in self.frames.items()}
        return Bars(dates, arrays)

    def between(self, start: dt.date | None, end: dt.date | None) -> Market:
        """The sessions from ``start`` to ``end`` (both included, None: the first/last): a window
        of the loaded data, as a walk-forward run sees it. ``repairs`` still describe the load."""
        dates = self.dates
        lo = pd.Timestamp(start) if start else dates[0]
        hi = pd.Timestamp(end) if end else dates[-1]
        if lo == dates[0] and hi == dates[-1]:
            return self
        if lo < dates[0] or hi > dates[-1]:  # calendar dates just outside the loaded sessions snap to them
            check_covered("window", "the loaded sessions", start, end, dates, _Gaps.of(self.calendar, dates, lo))
        frames = {s: f.loc[lo:hi] for s, f in self.frames.items()}
        if not len(next(iter(frames.values()))):
            raise ConfigError(
                f"window: {start or 'first'} .. {end or 'last'} holds no session of the data "
                f"({dates[0].date()} .. {dates[-1].date()}); choose dates within it"
            )
        return Market(frames, self.calendar, self.repairs, self.problems)

    def session_index(self, day: dt.date) -> int:
        """Row of the first session on or after ``day``."""
        k = int(self.dates.searchsorted(pd.Timestamp(day)))
        if k >= len(self.dates):
            raise ConfigError(
                f"window.evaluate_from: {day} is after the last session of the run ({self.dates[-1].date()}); "
                "choose an earlier date"
            )
        return k

    @property
    def data_hash(self) -> str:
        h = hashlib.sha256(self.calendar.encode())
        for sym, frame in self.frames.items():
            h.update(sym.encode())
            h.update(frame.index.asi8.tobytes())
            h.update(np.ascontiguousarray(frame[list(FIELDS)].to_numpy(np.float64)).tobytes())
        return h.hexdigest()[:16]


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


def _naive(ts: Any) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize(None) if ts.tz is not None else ts


def _naive_index(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return index.tz_localize(None) if index.tz is not None else index


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


def sample_ranges() -> list[tuple[str, str, str, str, int]]:
    """(symbol, first, last, description, rows) for each sample symbol."""
    out = []
    for sym, (desc, loader) in SAMPLES.items():
        frame = loader()
        out.append((sym, str(frame.index[0].date()), str(frame.index[-1].date()), desc, len(frame)))
    return out
