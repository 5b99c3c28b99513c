"""A Zipline bundle from our own validated frames: register, ingest, inspect, read back.

Zipline never reads a CSV or a DataFrame during a backtest. It reads a *bundle*: a folder under
``$ZIPLINE_ROOT/data/<name>/<ingestion timestamp>/`` holding three stores, written once by an
*ingest function* that we register under a name:

1. **The asset database** (SQLite): one row per equity with its ``sid`` (Zipline's integer id),
   symbol, first and last trading day, the day Zipline closes any open position
   (``auto_close_date``) and its exchange. The exchange row carries a country code, which is how
   Pipeline's ``US_EQUITIES`` domain finds the assets later.
2. **The daily bars** (a bcolz ctable): open, high, low and close stored as *unsigned 32-bit
   integers in thousandths of a dollar*, and volume as a uint32. A price with a fourth decimal is
   rounded; a volume above 4,294,967,295 does not fit, and the writer sets it to 0 with a
   warning — and Zipline never fills an order on a bar with zero volume. ``algotrade.core.data.load_market``
   repairs both beforehand (rounded to 3 decimals, volume clipped) so that every engine sees the
   same numbers.
3. **The adjustments** (SQLite): splits, mergers and dividends. Our prices are already adjusted,
   so the tables are written empty.

The bundle is tied to a **trading calendar**: the writer refuses bars on a day that is not a
session, and stores a missing session as zeros, which is why the frames must have exactly one row
per session (the data layer fills gaps before any engine sees them).

The ingest function below is the whole recipe. ``adapters.zipline.bundle.ensure_bundle`` does
the same work for ``algotrade run --engine zipline``, names the bundle by a hash of the data and
skips the ingestion when it is already cached; the other recipes of this chapter use it.

What to look at: the asset table, the calendar's first and last session, the raw uint32 values on
disk next to the prices they encode, and the bars read back — equal to the frames once rounded to
3 decimals, but not bit for bit (``1234567 * 0.001`` is not the double nearest ``1234.567``).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adapters.zipline.calendars import calendar_for
from algotrade.core.config import DataConfig, symbols_text
from algotrade.core.data import Market, load_market
from recipes.ch05_zipline import zipline_root

OHLC = ("open", "high", "low", "close")
FIELDS = (*OHLC, "volume")


# --------------------------------------------------------------------------------------------
# ingredients


def asset_table(symbols: list[str], first: pd.Timestamp, last: pd.Timestamp, exchange: str) -> pd.DataFrame:
    """The equities table of the asset db: ``sid`` is the symbol's position in the list.

    ``auto_close_date`` is the day after the last session: a simulation that runs to the last
    session never sees Zipline close the position for us (an extra, unwanted transaction).
    """
    return pd.DataFrame(
        {
            "symbol": symbols,
            "asset_name": symbols,
            "start_date": [first] * len(symbols),
            "end_date": [last] * len(symbols),
            "auto_close_date": [last + pd.Timedelta(days=1)] * len(symbols),
            "exchange": [exchange] * len(symbols),
        },
        index=pd.Index(range(len(symbols)), name="sid"),
    )


def make_ingest(market: Market, calendar_name: str, country_code: str = "US") -> Any:
    """An ingest function for ``zipline.data.bundles.register``, closed over validated frames.

    Zipline calls it with writers for each store; it fills them and returns nothing.
    """
    symbols = list(market.frames)

    def ingest(environ: Any, asset_db_writer: Any, minute_bar_writer: Any, daily_bar_writer: Any,
               adjustment_writer: Any, calendar: Any, start_session: Any, end_session: Any,
               cache: Any, show_progress: bool, output_dir: str) -> None:
        # 1. assets, and the exchange they trade on (its country puts them in a Pipeline domain)
        equities = asset_table(symbols, market.dates[0], market.dates[-1], calendar_name)
        exchanges = pd.DataFrame({"exchange": [calendar_name], "canonical_name": [calendar_name],
                                  "country_code": [country_code]})
        asset_db_writer.write(equities=equities, exchanges=exchanges)
        # 2. daily bars: an iterable of (sid, frame) pairs, one row per calendar session
        daily_bar_writer.write(
            ((sid, market.frames[s][list(FIELDS)]) for sid, s in enumerate(symbols)), show_progress=False
        )
        # 3. no splits or dividends: our prices are already adjusted
        adjustment_writer.write()

    return ingest


def register_and_ingest(name: str, market: Market, calendar_name: str) -> tuple[pd.Timestamp, float]:
    """Register ``name`` and ingest it now; keep only this ingestion. Returns (timestamp, seconds)."""
    from zipline.data import bundles

    if name in bundles.bundles:  # registering twice in one process only warns; make it explicit
        bundles.unregister(name)
    bundles.register(name, make_ingest(market, calendar_name), calendar_name=calendar_name,
                     start_session=market.dates[0], end_session=market.dates[-1])
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # zipline's asset writer trips pandas deprecation notices
        warnings.simplefilter("ignore", FutureWarning)
        bundles.ingest(name, show_progress=False)
    seconds = time.perf_counter() - t0
    # every ingest adds a timestamped folder: keep the newest only
    bundles.clean(name, keep_last=1)
    return bundles.ingestions_for_bundle(name)[0], seconds


def stored_thousandths(frame: pd.DataFrame) -> pd.DataFrame:
    """What the daily bar writer stores for OHLC: ``round(price * 1000)`` as uint32."""
    return (frame[list(OHLC)] * 1000).round().astype("uint32")


def raw_daily_table(name: str, timestamp: pd.Timestamp, columns: tuple[str, ...] = ("close", "volume")) -> dict[str, np.ndarray]:
    """The uint32 columns exactly as they lie on disk (all sids one after the other)."""
    import bcolz
    from zipline.data.bundles.core import daily_equity_path, to_bundle_ingest_dirname

    table = bcolz.open(daily_equity_path(name, to_bundle_ingest_dirname(timestamp)), mode="r")
    return {c: table[c][:] for c in columns}


def read_back(name: str, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Load the bundle as a backtest would and return one frame per symbol (float64 prices)."""
    from zipline.data import bundles

    bundle = bundles.load(name)
    assets = bundle.asset_finder.lookup_symbols(symbols, as_of_date=None)
    reader = bundle.equity_daily_bar_reader
    arrays = reader.load_raw_arrays(list(FIELDS), start, end, [a.sid for a in assets])
    sessions = reader.sessions[reader.sessions.slice_indexer(start, end)]
    return {
        s: pd.DataFrame({f: arrays[k][:, j] for k, f in enumerate(FIELDS)}, index=pd.DatetimeIndex(sessions, name="date"))
        for j, s in enumerate(symbols)
    }


def asset_rows(name: str) -> pd.DataFrame:
    """The asset db as Zipline reads it: sid, symbol, dates and exchange of every equity."""
    from zipline.data import bundles

    finder = bundles.load(name).asset_finder
    rows = [
        {"sid": a.sid, "symbol": a.symbol, "start_date": a.start_date.date(), "end_date": a.end_date.date(),
         "auto_close_date": a.auto_close_date.date(), "exchange": a.exchange,
         "country": a.exchange_info.country_code}
        for a in finder.retrieve_all(finder.sids)
    ]
    return pd.DataFrame(rows).set_index("sid")


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    # this page saves no file of its own (``out`` is accepted, as on every page)
    root = zipline_root()
    market = load_market(DataConfig.model_validate(
        {"source": "sample", "symbols": ["SPX", "IXIC"], "start": "2016-01-04", "end": "2018-12-31"}))
    symbols = list(market.frames)
    print(f"validated frames: {symbols_text(symbols)}, {len(market.dates)} sessions "
          f"({market.dates[0].date()} .. {market.dates[-1].date()}); repairs {market.repairs}")

    # the calendar: XNYS as Zipline knows it (other names and `none` get a registered calendar)
    calendar_name = calendar_for(market)
    from zipline.utils.calendar_utils import get_calendar

    calendar = get_calendar(calendar_name)
    sessions = calendar.sessions_in_range(market.dates[0], market.dates[-1])
    print(f"calendar {calendar_name}: {len(sessions)} sessions in range, the frames have {len(market.dates)}")

    name = f"cookbook-ch05-{market.data_hash}"
    timestamp, seconds = register_and_ingest(name, market, calendar_name)
    folder = root / "data" / name
    print(f"ingested bundle {name!r} in {seconds:.2f} s into {folder}")
    print("stores:", ", ".join(sorted(p.name for p in next(folder.iterdir()).iterdir())))

    assets = asset_rows(name)
    print("\nthe asset db:\n" + assets.to_string())

    # what lies on disk: SPX (sid 0) first, then IXIC; both as uint32
    raw = raw_daily_table(name, timestamp)
    spx = market.frames["SPX"]
    expected = stored_thousandths(spx)["close"].to_numpy()
    print(f"\nraw close column: dtype {raw['close'].dtype}, first SPX values {raw['close'][:3].tolist()} "
          f"for closes {spx['close'].iloc[:3].tolist()}")
    raw_matches = bool(np.array_equal(raw["close"][: len(spx)], expected))
    clipped = int((spx["volume"] == np.iinfo(np.uint32).max).sum())
    print(f"raw closes equal round(close * 1000): {raw_matches}; SPX volumes clipped to 2**32 - 1 by the "
          f"repair: {clipped} (the writer would have stored 0 for those volumes)")

    back = read_back(name, symbols, market.dates[0], market.dates[-1])
    diffs = {s: float(np.abs(back[s][list(OHLC)].to_numpy() - market.frames[s][list(OHLC)].to_numpy()).max())
             for s in symbols}
    exact = all(back[s][list(OHLC)].equals(market.frames[s][list(OHLC)]) for s in symbols)
    rounded = all(back[s][list(OHLC)].round(3).equals(market.frames[s][list(OHLC)]) for s in symbols)
    volume_same = all(np.array_equal(back[s]["volume"].to_numpy(), market.frames[s]["volume"].to_numpy())
                      for s in symbols)
    print("\nread back through bundles.load(...).equity_daily_bar_reader:")
    print(back["SPX"].head(3).to_string())
    print(f"bit-for-bit equal to the frames: {exact}; largest difference {max(diffs.values()):.2e}; "
          f"equal after rounding to 3 decimals: {rounded}; volumes equal: {volume_same}")
    return {
        "bundle": name,
        "calendar": calendar_name,
        "symbols": symbols,
        "sessions": len(back["SPX"]),
        "calendar_sessions": len(sessions),
        "assets": assets.reset_index().to_dict("records"),
        "stored_dtype": str(raw["close"].dtype),
        "raw_first_close": int(raw["close"][0]),
        "raw_equals_thousandths": raw_matches,
        "volume_clipped": clipped,
        "bit_exact": exact,
        "max_abs_diff": max(diffs.values()),
        "equal_rounded_3": rounded,
        "volume_equal": volume_same,
        "ingest_s": round(seconds, 3),
    }


if __name__ == "__main__":
    main()
