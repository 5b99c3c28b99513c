"""Streaming bars into SQLite: keepUpToDate history, a snapshot quote, and an idempotent store.

A live strategy on daily bars does not poll for history: it asks once with
``reqHistoricalData(..., endDateTime="", keepUpToDate=True)`` and gets the history *and* a
subscription. ib_async keeps the returned ``BarDataList`` current: the bar of the running session
is updated in place, and a new session appends a bar; each change fires
``bars.updateEvent(bars, hasNewBar)``. This page stores every bar it sees in SQLite with the
standard library's ``sqlite3``, as a data recorder would:

1. **The table.** ``bars(symbol, date, open, high, low, close, volume)`` with the primary key
   ``(symbol, date)`` and ``INSERT OR REPLACE``: a bar revised during its session is
   overwritten, never duplicated, and a recorder restarted over the same history writes the
   same rows again.
2. **History first.** The initial list is written in one transaction.
3. **Then the stream.** A handler on ``updateEvent`` writes the last bar of the list; the
   simulator replays sessions (``sim.advance()``; a real TWS would do this in real time) and
   the page waits until every symbol's list ends on the new session.
4. **A snapshot.** ``ib.reqTickers(*contracts)`` asks for one snapshot of each contract's
   quote (bid, ask, last, the day's high and low, yesterday's close): a check of the bars
   against the quotes.
5. **Read back.** A plain SQL query shows what the recorder holds, and the page compares it
   with the market frame the simulator replayed.

What to look at: the rows per symbol (history plus one per streamed session), that the last
stored close equals the snapshot's last price, and that the stored bars equal the replayed ones.
The database is ``streaming_bars.sqlite``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
from ib_async import Stock

from recipes.ch09_ib_api import out_dir
from recipes.ch09_ib_api.r01_connect_and_account_summary import ib_session

SESSIONS = 10
SCHEMA = """
CREATE TABLE IF NOT EXISTS bars (
    symbol TEXT NOT NULL,
    date   TEXT NOT NULL,
    open   REAL NOT NULL,
    high   REAL NOT NULL,
    low    REAL NOT NULL,
    close  REAL NOT NULL,
    volume REAL NOT NULL,
    PRIMARY KEY (symbol, date)
)
"""


# --------------------------------------------------------------------------------------------
# ingredients


def open_store(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute(SCHEMA)
    return db


def store_bars(db: sqlite3.Connection, symbol: str, bars: list[Any]) -> int:
    """Write (or overwrite) bars in one transaction; returns how many rows were written."""
    rows = [(symbol, str(b.date)[:10], b.open, b.high, b.low, b.close, b.volume) for b in bars]
    with db:
        db.executemany("INSERT OR REPLACE INTO bars VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def read_store(db: sqlite3.Connection, symbol: str) -> pd.DataFrame:
    frame = pd.read_sql_query("SELECT date, open, high, low, close, volume FROM bars WHERE symbol = ? ORDER BY date",
                              db, params=(symbol,))
    return frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame.pop("date")), name="date"))


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    path = folder / "streaming_bars.sqlite"
    path.unlink(missing_ok=True)
    db = open_store(path)
    with ib_session() as s:
        contracts = s.ib.qualifyContracts(*(Stock(sym, "SMART", "USD") for sym in s.symbols))
        streams = {}
        written = {c.symbol: 0 for c in contracts}
        updates = {c.symbol: 0 for c in contracts}
        for c in contracts:
            bars = s.ib.reqHistoricalData(c, endDateTime="", durationStr="1 M", barSizeSetting="1 day",
                                          whatToShow="TRADES", useRTH=True, formatDate=1, keepUpToDate=True)
            written[c.symbol] += store_bars(db, c.symbol, list(bars))
            print(f"{c.symbol}: {len(bars)} bars of history stored, the last {bars[-1].date}")

            def on_update(bars: Any, has_new_bar: bool, symbol: str = c.symbol) -> None:
                updates[symbol] += 1
                written[symbol] += store_bars(db, symbol, [bars[-1]])

            bars.updateEvent += on_update
            streams[c.symbol] = bars

        for _ in range(SESSIONS if s.simulated else 1):
            before = {sym: bars[-1].date for sym, bars in streams.items()}
            s.advance(until=lambda before=before: not s.simulated or all(
                bars[-1].date != before[sym] for sym, bars in streams.items()))
            if s.sim is not None:
                line = ", ".join(f"{sym} {bars[-1].close:,.2f}" for sym, bars in streams.items())
                print(f"session {s.sim.current_date} closed: {line}")

        tickers = s.ib.reqTickers(*contracts)
        snapshot = {t.contract.symbol: {"bid": t.bid, "ask": t.ask, "last": t.last, "high": t.high, "low": t.low,
                                        "close": t.close} for t in tickers}
        print("\nsnapshot quotes: " + "; ".join(f"{sym} last {q['last']:,.2f} (prev close {q['close']:,.2f})"
                                                 for sym, q in snapshot.items()))
        for bars in streams.values():
            s.ib.cancelHistoricalData(bars)

        stored = {c.symbol: read_store(db, c.symbol) for c in contracts}
        count = db.execute("SELECT symbol, COUNT(*), MIN(date), MAX(date) FROM bars GROUP BY symbol ORDER BY symbol").fetchall()
        print("\nSELECT symbol, COUNT(*), MIN(date), MAX(date) FROM bars GROUP BY symbol:")
        for row in count:
            print(f"  {row}")
        equal = {}
        if s.sim is not None:
            for sym, frame in stored.items():
                replayed = s.sim.market.frames[sym].loc[frame.index[0]: pd.Timestamp(s.sim.current_date)]
                equal[sym] = bool(frame.equals(replayed[frame.columns.tolist()].astype("float64")))
            print(f"stored bars equal the replayed market: {equal}")
        result = {
            "simulated": s.simulated,
            "rows": {row[0]: row[1] for row in count},
            "last_date": {row[0]: row[3] for row in count},
            "updates": updates,
            "written": written,
            "stored": stored,
            "snapshot": snapshot,
            "equal_to_market": equal,
            "database": path,
        }
    db.close()
    print(f"database: {path}")
    return result


if __name__ == "__main__":
    main()
