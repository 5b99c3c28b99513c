"""The data layer: every source becomes one canonical frame per symbol, validated and repaired once.

Canonical frame: a tz-naive ``DatetimeIndex`` named ``date`` (one row per session) and float
columns ``open high low close volume`` (plus ``dividend`` and ``split`` from csvdir files).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.config import DataConfig
from algotrade.errors import ConfigError, DataError
from algotrade.host import FIELDS, Bars
from algotrade.registry import suggest
from algotrade.validation import Problem, check_calendar, check_rows, check_storage, repair

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
        from algotrade.synthetic import generate

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
                    f"available: {', '.join(available) or '(none)'}"
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
                    f"available: {', '.join(available)}"
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


def inspect(cfg: DataConfig) -> tuple[dict[str, pd.DataFrame], pd.DatetimeIndex, list[Problem]]:
    """Load the raw frames, cut them to the range and find every problem (repairs not applied)."""
    cal = None
    if cfg.calendar.lower() != "none":
        cal = get_calendar(cfg.calendar, cfg.start, cfg.end)

    def synthetic_sessions() -> pd.DatetimeIndex:
        start = pd.Timestamp(cfg.start or dt.date(2010, 1, 4))
        end = pd.Timestamp(cfg.end or dt.date(2019, 12, 31))
        if cal is not None:
            covering = get_calendar(cfg.calendar, start.date(), end.date())  # refused if it cannot be built
            start = max(start, covering.first_session)  # a start before the calendar's first session
            sessions = covering.sessions_in_range(start, end) if start <= end else pd.DatetimeIndex([])
            return sessions.tz_localize(None) if sessions.tz else sessions
        return pd.bdate_range(start, end)

    raw = _load_raw(cfg, synthetic_sessions)
    problems: list[Problem] = []
    for sym, frame in raw.items():
        problems += check_rows(sym, frame)
    if any(not p.repairable for p in problems):
        return raw, pd.DatetimeIndex([]), problems
    cut: dict[str, pd.DataFrame] = {}
    for sym, frame in raw.items():
        first, last = frame.index[0].date(), frame.index[-1].date()
        if (cfg.start and cfg.start > last) or (cfg.end and cfg.end < first):
            raise DataError(
                f"data.start/end: {cfg.start} to {cfg.end} lies outside the data of {sym} "
                f"({first} to {last}); choose dates within that range"
            )
        if cfg.start and cfg.start < first:
            raise DataError(
                f"data.start: {cfg.start} is before the first bar of {sym} ({first}); "
                f"set data.start to {first} or later"
            )
        if cfg.end and cfg.end > last:
            raise DataError(
                f"data.end: {cfg.end} is after the last bar of {sym} ({last}); set data.end to {last} or earlier"
            )
        lo = pd.Timestamp(cfg.start) if cfg.start else frame.index[0]
        hi = pd.Timestamp(cfg.end) if cfg.end else frame.index[-1]
        cut[sym] = frame.loc[lo:hi]
        if cut[sym].empty:
            raise DataError(f"data: {sym} has no bars between {lo.date()} and {hi.date()}; widen data.start/end")
    lo = min(f.index[0] for f in cut.values())
    hi = max(f.index[-1] for f in cut.values())
    if cal is not None:
        if lo < cal.first_session or hi > cal.last_session:  # data beyond the calendar's default range
            cal = get_calendar(cfg.calendar, lo.date(), hi.date())
        sessions = cal.sessions_in_range(lo, hi)
        if sessions.tz is not None:
            sessions = sessions.tz_localize(None)
    else:
        sessions = pd.DatetimeIndex(sorted(set().union(*(f.index for f in cut.values()))))
    sessions = pd.DatetimeIndex(sessions, name="date")
    for sym, frame in cut.items():
        problems += check_calendar(sym, frame, sessions)
        problems += check_storage(sym, frame)
    return cut, sessions, problems


def load_market(cfg: DataConfig) -> Market:
    """Load, validate and repair: the frames every engine will see."""
    frames, sessions, problems = inspect(cfg)
    fatal = [p for p in problems if not p.repairable or cfg.repair == "none"]
    if fatal:
        raise DataError(problem_summary(fatal, cfg.repair))
    repaired: dict[str, pd.DataFrame] = {}
    repairs: dict[str, dict[str, int]] = {}
    for sym, frame in frames.items():
        repaired[sym], counts = repair(frame, sessions)
        if counts:
            repairs[sym] = counts
    return Market(repaired, cfg.calendar, repairs, tuple(problems))


def problem_summary(problems: list[Problem], policy: str, limit: int = 12) -> str:
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
        lines.append("fix the data file (or data.start/end/calendar); `algotrade data validate X.yaml` lists every problem")
    return "\n".join(lines)


def sample_ranges() -> list[tuple[str, str, str, str, int]]:
    """(symbol, first, last, description, rows) for each sample symbol."""
    out = []
    for sym, (desc, loader) in SAMPLES.items():
        frame = loader()
        out.append((sym, str(frame.index[0].date()), str(frame.index[-1].date()), desc, len(frame)))
    return out
