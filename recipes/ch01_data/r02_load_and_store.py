"""Load bars from CSV or Parquet into one canonical frame, and keep them in SQLite or Parquet.

Vendors disagree on almost everything: Yahoo writes ``Date,Open,High,Low,Close,Adj Close,Volume``,
Backtrader's sample files ``Date,Open,High,Low,Close,Volume,OpenInterest``, Zipline's csvdir
lower-case names with ``dividend`` and ``split``. The rest of the cookbook sees only one shape,
the **canonical frame**: a tz-naive ``DatetimeIndex`` named ``date`` with one row per session,
sorted, and float64 columns ``open high low close volume``.

This recipe

1. writes the S&P 500 sample bars in the Yahoo and the Backtrader layouts and reads both back
   through a small ``to_canonical`` function (and through ``algotrade.core.data.load_market``, which
   does the same and validates too) — all three frames are identical to the original;
2. stores bars in **SQLite** (the standard library's ``sqlite3``) with a primary key on
   ``(symbol, date)`` and ``INSERT ... ON CONFLICT DO UPDATE``: an *upsert*. Loading overlapping
   chunks, or the same chunk twice, leaves exactly one row per session, and a corrected bar
   replaces the old one — the store is idempotent, so a daily job can simply reload the last
   few weeks every day;
3. stores the same bars in **Parquet**, one file per symbol, with the same upsert semantics
   (read, append, keep the last row per date, sort, replace the file atomically), and a long
   Parquet file with a ``symbol`` column that ``load_market`` reads directly;
4. reads every store back and checks the frames are identical, value for value (floats
   round-trip exactly through SQLite's REAL and Parquet's DOUBLE).

What to look at: the row counts staying put under repeated upserts, ``identical: True`` for
every round trip, and the files under ``<out>/store/``.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch01_data import out_dir

FIELDS = ["open", "high", "low", "close", "volume"]

# vendor column names -> canonical names (case and surrounding spaces are ignored)
COLUMN_ALIASES = {
    "date": "date", "datetime": "date", "timestamp": "date",
    "open": "open", "high": "high", "low": "low", "close": "close",
    "adj close": "adj_close", "adj_close": "adj_close", "volume": "volume",
}


# --------------------------------------------------------------------------------------------
# ingredients: the canonical frame


def to_canonical(raw: pd.DataFrame, adjust: bool = True) -> pd.DataFrame:
    """Any vendor table -> the canonical frame.

    Rename columns by alias, parse the dates (an aware timestamp is converted to UTC and its
    time dropped), scale OHLC by ``Adj Close / Close`` when there is an adjusted close (so splits
    and dividends do not show up as jumps), sort by date and keep float64 OHLCV.
    """
    frame = raw.rename(columns=lambda c: COLUMN_ALIASES.get(str(c).strip().lower(), str(c).strip().lower()))
    dates = pd.to_datetime(frame["date"], format="mixed")
    if dates.dt.tz is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    out = frame[FIELDS].astype(np.float64)
    out.index = pd.DatetimeIndex(dates.dt.normalize(), name="date")
    if adjust and "adj_close" in frame:
        factor = frame["adj_close"].to_numpy(np.float64) / out["close"].to_numpy()
        for col in ("open", "high", "low", "close"):
            out[col] = out[col].to_numpy() * factor
    return out.sort_index()


def write_yahoo_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The Yahoo layout (Adj Close equal to Close: the sample is already adjusted)."""
    table = frame[FIELDS].rename(columns=str.title)
    table.insert(4, "Adj Close", frame["close"])
    table.index = table.index.strftime("%Y-%m-%d")
    table.to_csv(path, index_label="Date")
    return path


def write_backtrader_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Backtrader's sample layout, with an OpenInterest column of zeros."""
    table = frame[FIELDS].rename(columns=str.title).assign(OpenInterest=0.0)
    table.index = table.index.strftime("%Y-%m-%d")
    table.to_csv(path, index_label="Date")
    return path


# --------------------------------------------------------------------------------------------
# ingredients: an idempotent SQLite store


class SqliteBars:
    """Daily bars of many symbols in one SQLite table keyed by (symbol, date)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS bars (
            symbol TEXT NOT NULL,
            date   TEXT NOT NULL,          -- ISO YYYY-MM-DD sorts as text
            open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
            volume REAL NOT NULL,
            PRIMARY KEY (symbol, date)
        ) WITHOUT ROWID
    """
    UPSERT = """
        INSERT INTO bars (symbol, date, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (symbol, date) DO UPDATE SET
            open = excluded.open, high = excluded.high, low = excluded.low,
            close = excluded.close, volume = excluded.volume
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as con:
            con.execute(self.SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path)

    def upsert(self, symbol: str, frame: pd.DataFrame) -> int:
        """Insert new sessions, overwrite existing ones; one transaction. Returns rows written."""
        rows = [
            (symbol, day, *values)
            for day, values in zip(frame.index.strftime("%Y-%m-%d"), frame[FIELDS].itertuples(index=False, name=None), strict=True)
        ]
        with self._connect() as con:  # the context manager commits, or rolls back on error
            con.executemany(self.UPSERT, rows)
        return len(rows)

    def count(self, symbol: str | None = None) -> int:
        with self._connect() as con:
            if symbol is None:
                return int(con.execute("SELECT COUNT(*) FROM bars").fetchone()[0])
            return int(con.execute("SELECT COUNT(*) FROM bars WHERE symbol = ?", (symbol,)).fetchone()[0])

    def read(self, symbol: str, start: str | None = None, end: str | None = None) -> pd.DataFrame:
        query = "SELECT date, open, high, low, close, volume FROM bars WHERE symbol = ? AND date >= ? AND date <= ? ORDER BY date"
        with self._connect() as con:
            table = pd.read_sql_query(query, con, params=(symbol, start or "0000-00-00", end or "9999-99-99"))
        frame = table[FIELDS].astype(np.float64)
        frame.index = pd.DatetimeIndex(pd.to_datetime(table["date"]), name="date")
        return frame


# --------------------------------------------------------------------------------------------
# ingredients: an idempotent Parquet store


class ParquetBars:
    """One Parquet file per symbol; an upsert rewrites the file, atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def file(self, symbol: str) -> Path:
        return self.folder / f"{symbol}.parquet"

    def read(self, symbol: str) -> pd.DataFrame:
        file = self.file(symbol)
        if not file.exists():
            return pd.DataFrame(columns=FIELDS, index=pd.DatetimeIndex([], name="date"), dtype=np.float64)
        return pd.read_parquet(file)

    def upsert(self, symbol: str, frame: pd.DataFrame) -> int:
        merged = pd.concat([self.read(symbol), frame[FIELDS]])
        merged = merged[~merged.index.duplicated(keep="last")].sort_index()  # the new row wins
        merged.index.name = "date"
        tmp = self.file(symbol).with_suffix(".parquet.tmp")
        merged.to_parquet(tmp)
        os.replace(tmp, self.file(symbol))  # readers see the old file or the new one, never half
        return len(frame)

    def count(self, symbol: str) -> int:
        return len(self.read(symbol))


def write_long_parquet(frames: dict[str, pd.DataFrame], path: Path) -> Path:
    """All symbols in one 'long' table with a symbol column (the layout load_market reads)."""
    long = pd.concat([f[FIELDS].assign(symbol=s) for s, f in frames.items()]).reset_index()
    long.to_parquet(path, index=False)
    return path


def upsert_demo(store: Any, symbol: str, frame: pd.DataFrame) -> dict[str, Any]:
    """Overlapping chunks, a repeated load and a corrected bar: the row count never moves."""
    half = len(frame) // 2
    store.upsert(symbol, frame.iloc[: half + 100])  # first chunk ...
    store.upsert(symbol, frame.iloc[half - 100 :])  # ... and a second one overlapping it by 200 sessions
    after_chunks = store.count(symbol)
    store.upsert(symbol, frame)  # the whole history again
    after_reload = store.count(symbol)
    fixed = frame.iloc[[half]].copy()
    fixed["close"] += 1.0  # a vendor correction to one bar
    store.upsert(symbol, fixed)
    corrected = float(store.read(symbol).loc[fixed.index[0], "close"])
    store.upsert(symbol, frame.iloc[[half]])  # and back
    back = store.read(symbol)
    return {
        "rows_after_overlapping_chunks": after_chunks,
        "rows_after_reload": after_reload,
        "correction_applied": corrected == float(fixed["close"].iloc[0]),
        "rows_after_correction": store.count(symbol),
        "identical": back.equals(frame[FIELDS]),
    }


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out) / "store"
    folder.mkdir(parents=True, exist_ok=True)
    market = load_market(DataConfig(symbols=("SPX", "IXIC"), start=dt.date(2005, 1, 3), end=dt.date(2012, 12, 31)))
    frames = {s: f[FIELDS] for s, f in market.frames.items()}
    spx = frames["SPX"]
    print(f"SPX sample bars: {len(spx)} sessions {spx.index[0].date()} .. {spx.index[-1].date()}")

    # 1. two vendor layouts -> the canonical frame, by hand and through the data layer
    yahoo = write_yahoo_csv(spx, folder / "SPX_yahoo.csv")
    backtrader = write_backtrader_csv(spx, folder / "SPX_backtrader.csv")
    print(f"Yahoo header:      {yahoo.read_text().splitlines()[0]}")
    print(f"Backtrader header: {backtrader.read_text().splitlines()[0]}")
    from_yahoo = to_canonical(pd.read_csv(yahoo))
    from_backtrader = to_canonical(pd.read_csv(backtrader))
    via_library = load_market(DataConfig(source="csv", symbols=("SPX",), path=str(yahoo))).frames["SPX"][FIELDS]
    csv_identical = {
        "yahoo": from_yahoo.equals(spx),
        "backtrader": from_backtrader.equals(spx),
        "load_market": via_library.equals(spx),
    }
    print(f"CSV -> canonical frame identical to the original: {csv_identical}")

    # 2. SQLite with upserts
    sqlite = SqliteBars(folder / "bars.sqlite")
    sqlite_result = {s: upsert_demo(sqlite, s, f) for s, f in frames.items()}
    print(f"SQLite {sqlite.path}: {sqlite.count()} rows for {len(frames)} symbols")
    for s, r in sqlite_result.items():
        print(f"  {s}: {r}")
    window = sqlite.read("SPX", "2008-09-01", "2008-09-30")
    print(f"  read back 2008-09: {len(window)} sessions, worst close {window['close'].min():.2f}")

    # 3. Parquet with the same semantics, and a long file read by load_market
    parquet = ParquetBars(folder / "parquet")
    parquet_result = {s: upsert_demo(parquet, s, f) for s, f in frames.items()}
    print(f"Parquet {parquet.folder}:")
    for s, r in parquet_result.items():
        print(f"  {s}: {r}")
    long = write_long_parquet(frames, folder / "bars_long.parquet")
    from_long = load_market(DataConfig(source="parquet", symbols=("SPX", "IXIC"), path=str(long))).frames
    long_identical = all(from_long[s][FIELDS].equals(f) for s, f in frames.items())
    print(f"long Parquet -> load_market identical: {long_identical}")

    sizes = {p.name: p.stat().st_size for p in (yahoo, backtrader, sqlite.path, parquet.file("SPX"), long)}
    print("file sizes (bytes): " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    return {
        "sessions": len(spx),
        "csv_identical": csv_identical,
        "sqlite": sqlite_result,
        "sqlite_rows": sqlite.count(),
        "parquet": parquet_result,
        "long_parquet_identical": long_identical,
        "sizes": sizes,
        "folder": folder,
    }


if __name__ == "__main__":
    main()
