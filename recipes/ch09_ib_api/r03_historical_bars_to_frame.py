"""Historical bars from IB into the canonical OHLCV frame, then the same checks as any data file.

``reqHistoricalData`` is the TWS API's history request: a contract, an end (``""`` means now),
a duration (``"1 Y"``, ``"6 M"``, ``"30 D"``), a bar size (``"1 day"``), what to show
(``TRADES``, ``MIDPOINT``, ``ADJUSTED_LAST``...), regular trading hours only or not, and the date
format (1: ``yyyymmdd`` strings that ib_async turns into ``datetime.date`` for daily bars).
ib_async returns a ``BarDataList`` of ``BarData(date, open, high, low, close, volume, average,
barCount)``; ``util.df`` makes it a DataFrame.

The rest of the project speaks one frame: a ``DatetimeIndex`` named ``date``, float columns
``open high low close volume``, sorted, one row per session. :func:`bars_to_frame` converts
(dropping IB's ``average`` and ``barCount``), and then the frame goes through
:mod:`algotrade.core.validation` exactly as a CSV file would (chapter 1's ``r03_validate_ohlcv``):
row checks (sorted, unique, positive, high/low consistent), calendar checks against the
exchange's sessions, and storage checks (more than 3 decimals, volume overflow).

What to look at: the number of bars each duration returns (the simulator, like TWS, never
serves a bar from after its clock), that the frame from IB equals the market frame the
simulator replays, and the (empty) problem lists. The closes are plotted in ``ib_history.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from ib_async import Contract, Stock, util

from algotrade.core.validation import Problem, check_calendar, check_rows, check_storage
from recipes.ch09_ib_api import out_dir
from recipes.ch09_ib_api.r01_connect_and_account_summary import Session, ib_session

FIELDS = ("open", "high", "low", "close", "volume")


# --------------------------------------------------------------------------------------------
# ingredients


def daily_history(s: Session, contract: Contract, duration: str = "1 Y", end: str = "") -> list[Any]:
    """Daily TRADES bars of regular trading hours, ending at ``end`` ("" = now)."""
    return list(s.ib.reqHistoricalData(contract, endDateTime=end, durationStr=duration, barSizeSetting="1 day",
                                       whatToShow="TRADES", useRTH=True, formatDate=1))


def bars_to_frame(bars: list[Any]) -> pd.DataFrame:
    """ib_async bars -> the canonical frame: DatetimeIndex 'date', float open/high/low/close/volume."""
    frame = util.df(bars)
    if frame is None or frame.empty:
        return pd.DataFrame(columns=list(FIELDS), index=pd.DatetimeIndex([], name="date"), dtype=float)
    frame = frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame["date"]), name="date"))
    return frame[list(FIELDS)].astype("float64").sort_index()


def validate(symbol: str, frame: pd.DataFrame, sessions: pd.DatetimeIndex) -> list[Problem]:
    """Row, calendar and storage checks (chapter 1's), in that order."""
    return check_rows(symbol, frame) + check_calendar(symbol, frame, sessions) + check_storage(symbol, frame)


def plot(frames: dict[str, pd.DataFrame], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    for sym, frame in frames.items():
        ax.plot(frame.index, frame["close"] / frame["close"].iloc[0], label=sym)
    ax.set_ylabel("close / first close")
    ax.set_title("daily bars from reqHistoricalData")
    ax.legend()
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    with ib_session() as s:
        contracts = s.ib.qualifyContracts(*(Stock(sym, "SMART", "USD") for sym in s.symbols))
        counts = {d: len(daily_history(s, contracts[0], d)) for d in ("5 D", "1 M", "1 Y")}
        print(f"{contracts[0].symbol} bars by duration: " + ", ".join(f"{d!r} {n}" for d, n in counts.items()))
        raw = daily_history(s, contracts[0])
        print(f"first BarData: {raw[0]}")

        frames = {c.symbol: bars_to_frame(daily_history(s, c)) for c in contracts}
        problems: dict[str, list[Problem]] = {}
        equal: dict[str, bool] = {}
        for sym, frame in frames.items():
            if s.sim is not None:
                replayed = s.sim.market.frames[sym].loc[: pd.Timestamp(s.sim.current_date)]
                sessions = pd.DatetimeIndex(replayed.index, name="date")
                equal[sym] = bool(frame.equals(replayed[list(FIELDS)].astype("float64")))
            else:
                sessions = frame.index
            problems[sym] = validate(sym, frame, sessions)
            print(f"\n{sym}: {len(frame)} bars {frame.index[0].date()} .. {frame.index[-1].date()}, "
                  f"dtypes {sorted(set(map(str, frame.dtypes)))}, problems {len(problems[sym])}"
                  + (f", equal to the replayed market frame: {equal[sym]}" if sym in equal else ""))
            for p in problems[sym][:5]:
                print(f"  {p}")
        print("\n" + frames[contracts[0].symbol].tail(3).to_string())
        path = plot(frames, folder / "ib_history.png")
        print(f"plot: {path}")
        return {"simulated": s.simulated, "counts": counts, "frames": frames, "problems": problems,
                "equal_to_market": equal, "plot": path}


if __name__ == "__main__":
    main()
