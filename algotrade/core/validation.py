"""Data validation and the one repair policy every engine sees.

Checks run before any engine sees data. Each problem names the symbol, the date and the value.
Problems are either fatal (the data is wrong: fix it) or repairable by the named policy
``engine_safe``, which is applied once, identically for every engine, and recorded in run.json:

* ``missing_session`` — a session of the calendar with no bar: filled with the previous close as
  open/high/low/close and volume 0 (no trade that day).
* ``price_decimals`` — a price with more than 3 decimals: rounded to 3 (Zipline stores prices as
  integer thousandths; everyone gets the rounded number).
* ``volume_overflow`` — volume of 2**32 or more: clipped to 2**32 - 1 (Zipline stores volume as
  uint32 and would silently zero it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

PRICE_FIELDS = ("open", "high", "low", "close")
VOLUME_MAX = 2**32 - 1
REPAIRABLE = frozenset({"missing_session", "price_decimals", "volume_overflow"})


@dataclass(frozen=True)
class Problem:
    code: str
    symbol: str
    date: str
    field: str
    value: str
    message: str

    @property
    def repairable(self) -> bool:
        return self.code in REPAIRABLE

    def __str__(self) -> str:
        return f"{self.symbol} {self.date} {self.field}={self.value}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _day(ts: object) -> str:
    return str(pd.Timestamp(ts).date()) if ts is not None and not pd.isna(ts) else "?"  # type: ignore[arg-type]


def check_rows(symbol: str, frame: pd.DataFrame) -> list[Problem]:
    """Row-level checks that need no calendar."""
    out: list[Problem] = []
    idx = frame.index
    if not idx.is_monotonic_increasing:
        bad = np.flatnonzero(np.diff(idx.asi8) < 0)
        for k in bad[:5]:
            out.append(Problem("unsorted", symbol, _day(idx[k + 1]), "date", _day(idx[k + 1]),
                               f"comes after {_day(idx[k])}; sort the file by date"))
    dup = idx[idx.duplicated()]
    for d in dup.unique()[:5]:
        out.append(Problem("duplicate_date", symbol, _day(d), "date", _day(d),
                           "appears more than once; keep one row per date"))
    for field in PRICE_FIELDS:
        col = frame[field]
        for d in col.index[col.isna()]:
            out.append(Problem("nan_price", symbol, _day(d), field, "NaN", "missing price; fill or drop the row"))
        for d, v in col[col <= 0].items():
            out.append(Problem("nonpositive_price", symbol, _day(d), field, repr(float(v)),
                               "prices must be positive"))
        for d, v in col[np.isinf(col)].items():
            out.append(Problem("infinite_price", symbol, _day(d), field, repr(float(v)),
                               "prices must be finite numbers; fix or drop the row"))
    o, h, lo, c = (frame[f] for f in PRICE_FIELDS)
    for d in frame.index[(h < o) | (h < c)]:
        row = frame.loc[d]
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        out.append(Problem("high_below_open_close", symbol, _day(d), "high", repr(float(row["high"])),
                           f"high is below open {row['open']} or close {row['close']}; the bar is inconsistent"))
    for d in frame.index[(lo > o) | (lo > c)]:
        row = frame.loc[d]
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        out.append(Problem("low_above_open_close", symbol, _day(d), "low", repr(float(row["low"])),
                           f"low is above open {row['open']} or close {row['close']}; the bar is inconsistent"))
    vol = frame["volume"]
    for d in vol.index[vol.isna()]:
        out.append(Problem("nan_volume", symbol, _day(d), "volume", "NaN", "missing volume; use 0 for none"))
    for d, v in vol[np.isinf(vol)].items():
        out.append(Problem("infinite_volume", symbol, _day(d), "volume", repr(float(v)),
                           "volume must be a finite number; fix or drop the row"))
    for d, v in vol[vol < 0].items():
        out.append(Problem("negative_volume", symbol, _day(d), "volume", repr(float(v)), "volume cannot be negative"))
    return out


def check_calendar(symbol: str, frame: pd.DataFrame, sessions: pd.DatetimeIndex) -> list[Problem]:
    out: list[Problem] = []
    extra = frame.index.difference(sessions)
    for d in extra:
        out.append(Problem("outside_calendar", symbol, _day(d), "date", _day(d),
                           "is not a session of the chosen calendar; set data.calendar to the "
                           "data's exchange, or calendar: none to use the data's own dates"))
    missing = sessions.difference(frame.index)
    for d in missing:
        out.append(Problem("missing_session", symbol, _day(d), "date", _day(d),
                           "session has no bar (filled from the previous close by repair: engine_safe)"))
    return out


def check_storage(symbol: str, frame: pd.DataFrame) -> list[Problem]:
    """Values that Zipline's storage would change: more than 3 decimals, volume >= 2**32."""
    out: list[Problem] = []
    for field in PRICE_FIELDS:
        col = frame[field].to_numpy(dtype=np.float64)
        off = np.abs(col * 1000 - np.round(col * 1000)) > 1e-6 * np.maximum(1.0, np.abs(col))
        for k in np.flatnonzero(off):
            out.append(Problem("price_decimals", symbol, _day(frame.index[k]), field, repr(float(col[k])),
                               "has more than 3 decimals (rounded to 3 by repair: engine_safe)"))
    vol = frame["volume"].to_numpy(dtype=np.float64)
    for k in np.flatnonzero(vol > VOLUME_MAX):
        out.append(Problem("volume_overflow", symbol, _day(frame.index[k]), "volume", f"{vol[k]:.0f}",
                           "is 2**32 or more (clipped to 4294967295 by repair: engine_safe)"))
    return out


def repair(frame: pd.DataFrame, sessions: pd.DatetimeIndex) -> tuple[pd.DataFrame, dict[str, int]]:
    """Apply the engine_safe policy; return the repaired frame and counts per repair."""
    counts: dict[str, int] = {}
    missing = sessions.difference(frame.index)
    if len(missing):
        counts["missing_session"] = len(missing)
        out = frame.reindex(sessions)
        close = out["close"].ffill().bfill()
        for field in ("open", "high", "low"):
            out[field] = out[field].fillna(close)
        out["close"] = close
        out["volume"] = out["volume"].fillna(0.0)
        for extra in ("dividend",):
            if extra in out:
                out[extra] = out[extra].fillna(0.0)
        if "split" in out:
            out["split"] = out["split"].fillna(1.0)
        frame = out
    prices = frame[list(PRICE_FIELDS)].to_numpy(dtype=np.float64)
    rounded = np.round(prices, 3)
    changed = int(np.count_nonzero(rounded != prices))
    if changed:
        counts["price_decimals"] = changed
        frame = frame.copy()
        frame[list(PRICE_FIELDS)] = rounded
    vol = frame["volume"].to_numpy(dtype=np.float64)
    over = int(np.count_nonzero(vol > VOLUME_MAX))
    if over:
        counts["volume_overflow"] = over
        frame = frame.copy()
        frame["volume"] = np.minimum(vol, VOLUME_MAX)
    frame.index.name = "date"
    return frame, counts

