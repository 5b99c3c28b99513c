"""Fetch daily bars online (optional): yfinance into the same canonical frame and the same store.

Everything else in this cookbook runs offline, on the sample and synthetic bars. This is the one
recipe that goes to the internet, and it is written so that it never fails because of that:

* if ``yfinance`` is not installed (it is not part of the project's lock), it says so and returns;
* if ``ALGOTRADE_OFFLINE=1`` is set, or Yahoo's server cannot be reached within a few seconds,
  it says so and returns;
* if the download raises or comes back empty (Yahoo changes its API from time to time), it says
  so and returns.

In each case ``main()`` returns ``{"status": "skipped", "reason": ...}``. When the fetch works,
the bars go through exactly the path every other source takes: ``to_canonical`` from recipe 02
(Yahoo's dates are midnight New York time, so they are converted to UTC and normalised to the
session date), the checks of recipe 03 against the XNYS calendar, the ``engine_safe`` repair,
and the idempotent upsert into the SQLite store of recipe 02 — run it twice and the row count
does not change.

What to look at: the status line, and when online, the problems found and the rows in
``<out>/store/bars.sqlite``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import socket
from pathlib import Path
from typing import Any

import pandas as pd

from algotrade.core.data import get_calendar
from algotrade.core.validation import check_calendar, check_rows, repair
from recipes.ch01_data import out_dir
from recipes.ch01_data.r02_load_and_store import SqliteBars, to_canonical

YAHOO_HOST = "query1.finance.yahoo.com"


# --------------------------------------------------------------------------------------------
# ingredients


def offline_requested() -> bool:
    return os.environ.get("ALGOTRADE_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def network_available(host: str = YAHOO_HOST, port: int = 443, timeout: float = 3.0) -> bool:
    """Can a TCP connection to ``host`` be opened within ``timeout`` seconds?"""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def why_not_online() -> str | None:
    """None when a fetch can be tried, else the reason it cannot."""
    if importlib.util.find_spec("yfinance") is None:
        return ("yfinance is not installed (it is optional and not in requirements.lock); "
                "install it in a separate environment to try this recipe")
    if offline_requested():
        return "ALGOTRADE_OFFLINE is set"
    if not network_available():
        return f"no network: cannot reach {YAHOO_HOST}:443"
    return None


def fetch_yahoo(symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Adjusted daily bars from Yahoo through yfinance, as the raw vendor table."""
    import yfinance as yf

    # ``end`` is exclusive in Yahoo's API: ask for one day more
    raw = yf.Ticker(symbol).history(start=start.isoformat(), end=(end + dt.timedelta(days=1)).isoformat(),
                                    interval="1d", auto_adjust=True)
    if raw is None or raw.empty:
        raise ValueError(f"Yahoo returned no bars for {symbol!r} between {start} and {end}")
    return raw.reset_index()


def ingest(symbol: str, raw: pd.DataFrame, store: SqliteBars) -> dict[str, Any]:
    """Canonical frame -> checks against XNYS -> engine_safe repair -> upsert."""
    frame = to_canonical(raw, adjust=False)  # auto_adjust=True already adjusted OHLC
    cal = get_calendar("XNYS", frame.index[0].date())
    sessions = cal.sessions_in_range(frame.index[0], frame.index[-1])
    sessions = pd.DatetimeIndex(sessions.tz_localize(None) if sessions.tz else sessions, name="date")
    problems = check_rows(symbol, frame) + check_calendar(symbol, frame, sessions)
    fatal = [p for p in problems if not p.repairable]
    if fatal:
        return {"symbol": symbol, "stored": 0, "problems": [str(p) for p in problems]}
    frame, repairs = repair(frame, sessions)
    store.upsert(symbol, frame)
    return {"symbol": symbol, "stored": len(frame), "repairs": repairs, "problems": [str(p) for p in problems],
            "rows_in_store": store.count(symbol)}


# --------------------------------------------------------------------------------------------
# the page


def main(
    out: Path | None = None,
    symbols: tuple[str, ...] = ("SPY", "QQQ"),
    start: dt.date = dt.date(2019, 1, 2),
    end: dt.date = dt.date(2019, 12, 31),
) -> dict[str, Any]:
    reason = why_not_online()
    if reason:
        print(f"skipped: {reason}. Nothing else in the cookbook needs the network.")
        return {"status": "skipped", "reason": reason}
    folder = out_dir(out) / "store"
    folder.mkdir(parents=True, exist_ok=True)
    store = SqliteBars(folder / "bars.sqlite")  # the store of recipe 02
    results = []
    for symbol in symbols:
        try:
            raw = fetch_yahoo(symbol, start, end)
        except Exception as exc:  # a vendor's API can fail in any way; this recipe must not
            print(f"skipped: fetching {symbol} failed ({type(exc).__name__}: {exc})")
            return {"status": "skipped", "reason": f"fetch of {symbol} failed: {exc}"}
        result = ingest(symbol, raw, store)
        results.append(result)
        print(f"{symbol}: {result['stored']} bars stored, {len(result['problems'])} problem(s), "
              f"repairs {result.get('repairs', {})}")
        for line in result["problems"][:5]:
            print(f"  {line}")
    print(f"store: {store.path} ({store.count()} rows)")
    return {"status": "ok", "results": results, "store": store.path}


if __name__ == "__main__":
    main()
