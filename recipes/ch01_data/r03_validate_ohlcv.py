"""Validate OHLCV bars: every check, on a deliberately broken copy, and what gets repaired.

A backtest believes its bars. A duplicated date makes an engine trade twice on one day, a high
below the close lets a stop fill at an impossible price, a missing session shifts every
"next bar" fill by a day on one engine and not on another. So the data layer checks bars before
any engine sees them:

* **index** — dates sorted, each date once;
* **prices** — no NaN, nothing zero or negative, ``high >= max(open, close)``,
  ``low <= min(open, close)``;
* **volume** — no NaN, nothing negative (zero is fine: indices have none);
* **calendar** — against ``exchange_calendars`` (XNYS here): no bar on a day the exchange was
  closed, no session without a bar;
* **storage** — prices with at most 3 decimals and volume below 2**32, because Zipline stores
  prices as integer thousandths and volume as uint32.

The recipe writes those checks as one small function, plants one defect of each kind in three
years of S&P 500 bars, and shows that both its checks and ``algotrade.core.validation`` catch every
planted defect. Then the **repair policy** (``data.repair: engine_safe``): a missing session is
filled from the previous close with volume 0, extra decimals are rounded to 3, volume is clipped
to 2**32 - 1 — the same for every engine, counted in run.json. Everything else is a data error
that stops the run with the symbol, date and value; ``repair: none`` makes the repairable
problems errors too. Finally a by-hand clean-up (drop the rows that cannot be trusted, let the
policy fill the sessions) gives bars that pass every check.

What to look at: the planted-vs-caught table, the error message ``load_market`` raises, the
repair counts, and ``problems.csv``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data import get_calendar, load_market
from algotrade.core.errors import DataError
from algotrade.core.validation import VOLUME_MAX, check_calendar, check_rows, check_storage, repair
from recipes.ch01_data import out_dir

PRICES = ["open", "high", "low", "close"]
FIELDS = [*PRICES, "volume"]


# --------------------------------------------------------------------------------------------
# ingredients


def find_problems(frame: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Every problem as a row (check, date, field, value), the codes named as algotrade names them."""
    rows: list[tuple[str, pd.Timestamp, str, float]] = []
    idx = frame.index
    # index: each date later than the one before, and only once
    for k in np.flatnonzero(np.diff(idx.asi8) < 0):
        rows.append(("unsorted", idx[k + 1], "date", np.nan))
    for d in idx[idx.duplicated()].unique():
        rows.append(("duplicate_date", d, "date", np.nan))
    # prices and volume, cell by cell
    for field in PRICES:
        col = frame[field]
        rows += [("nan_price", d, field, v) for d, v in col[col.isna()].items()]
        rows += [("nonpositive_price", d, field, v) for d, v in col[col <= 0].items()]
    body_top = frame[["open", "close"]].max(axis=1)
    body_bottom = frame[["open", "close"]].min(axis=1)
    rows += [("high_below_open_close", d, "high", v) for d, v in frame["high"][frame["high"] < body_top].items()]
    rows += [("low_above_open_close", d, "low", v) for d, v in frame["low"][frame["low"] > body_bottom].items()]
    vol = frame["volume"]
    rows += [("nan_volume", d, "volume", v) for d, v in vol[vol.isna()].items()]
    rows += [("negative_volume", d, "volume", v) for d, v in vol[vol < 0].items()]
    # the calendar, both ways
    rows += [("outside_calendar", d, "date", np.nan) for d in idx.difference(sessions)]
    rows += [("missing_session", d, "date", np.nan) for d in sessions.difference(idx)]
    # what Zipline's storage would change
    for field in PRICES:
        col = frame[field].dropna()
        thousandths = col * 1000
        off = (thousandths - thousandths.round()).abs() > 1e-6 * np.maximum(1.0, col.abs())
        rows += [("price_decimals", d, field, v) for d, v in col[off].items()]
    rows += [("volume_overflow", d, "volume", v) for d, v in vol[vol > VOLUME_MAX].items()]
    return pd.DataFrame(rows, columns=["check", "date", "field", "value"])


def library_problems(symbol: str, frame: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """The same checks through algotrade.core.validation (what `algotrade data validate` prints)."""
    problems = check_rows(symbol, frame) + check_calendar(symbol, frame, sessions) + check_storage(symbol, frame)
    return pd.DataFrame([p.as_dict() for p in problems], columns=["code", "symbol", "date", "field", "value", "message"])


def inside_bar(frame: pd.DataFrame, start: int) -> int:
    """The first bar from ``start`` whose open lies a cent or more inside its high-low range."""
    o, h, lo = (frame[f].to_numpy() for f in ("open", "high", "low"))
    return next(i for i in range(start, len(frame)) if lo[i] + 0.01 < o[i] < h[i] - 0.01)


def plant_defects(clean: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, pd.Timestamp]]]:
    """A broken copy of ``clean`` and the list of (check, date) planted in it, one of each kind."""
    frame = clean[FIELDS].copy()
    day = frame.index
    planted: list[tuple[str, pd.Timestamp]] = []

    def plant(check: str, when: pd.Timestamp) -> None:
        planted.append((check, when))

    frame.loc[day[40], "close"] = np.nan
    plant("nan_price", day[40])
    frame.loc[day[80], ["open", "low"]] = 0.0  # a vendor's "no trade" written as zero prices
    plant("nonpositive_price", day[80])
    frame.loc[day[120], "high"] = frame.loc[day[120], ["open", "close"]].min() - 1.0
    plant("high_below_open_close", day[120])
    frame.loc[day[160], "low"] = frame.loc[day[160], ["open", "close"]].max() + 1.0
    plant("low_above_open_close", day[160])
    frame.loc[day[200], "volume"] = -100.0
    plant("negative_volume", day[200])
    frame.loc[day[240], "volume"] = np.nan
    plant("nan_volume", day[240])
    k = inside_bar(frame, 280)
    frame.loc[day[k], "open"] += 0.0004  # a fourth decimal, inside the bar
    plant("price_decimals", day[k])
    frame.loc[day[320], "volume"] = 5e9
    plant("volume_overflow", day[320])
    frame = frame.drop(day[360])
    plant("missing_session", day[360])
    saturday = day[400] + pd.offsets.Week(weekday=5)
    frame.loc[saturday] = frame.loc[day[400]]
    plant("outside_calendar", saturday)
    frame = pd.concat([frame, frame.loc[[day[440]]]])  # the same date twice
    plant("duplicate_date", day[440])
    frame = frame.sort_index(kind="stable")
    # finally swap two rows, so one date comes after a later one
    order = np.arange(len(frame))
    k = frame.index.get_loc(day[500])
    order[[k, k + 1]] = order[[k + 1, k]]
    frame = frame.iloc[order]
    plant("unsorted", frame.index[k + 1])
    return frame, planted


def caught(planted: list[tuple[str, pd.Timestamp]], found: pd.DataFrame, code_column: str) -> dict[str, bool]:
    """Which planted defects appear among the problems found (same check, same date)."""
    keys = {(str(c), pd.Timestamp(d)) for c, d in zip(found[code_column], found["date"], strict=True)}
    return {check: (check, when) in keys for check, when in planted}


def clean_by_hand(broken: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """A conservative fix of the fatal problems: sort, keep the first of duplicated dates, drop
    days the exchange was closed, drop every bar that fails a row check. The dropped sessions
    are then missing sessions, which the repair policy fills from the previous close."""
    frame = broken.sort_index(kind="stable")
    frame = frame[~frame.index.duplicated(keep="first")]
    frame = frame[frame.index.isin(sessions)]
    bad = find_problems(frame, pd.DatetimeIndex(frame.index))  # row checks only: calendar = own dates
    fatal = bad[~bad["check"].isin({"price_decimals", "volume_overflow"})]
    return frame.drop(pd.DatetimeIndex(fatal["date"].unique()))


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    start, end = dt.date(2010, 1, 4), dt.date(2012, 12, 31)
    clean = load_market(DataConfig(symbols=("SPX",), start=start, end=end)).frames["SPX"][FIELDS]
    sessions = get_calendar("XNYS", start).sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    sessions = pd.DatetimeIndex(sessions.tz_localize(None) if sessions.tz else sessions, name="date")
    print(f"clean SPX {start} .. {end}: {len(clean)} bars, {len(sessions)} XNYS sessions, "
          f"problems found: ours {len(find_problems(clean, sessions))}, "
          f"algotrade {len(library_problems('SPX', clean, sessions))}")

    broken, planted = plant_defects(clean)
    ours = find_problems(broken, sessions)
    theirs = library_problems("SPX", broken, sessions)
    theirs.to_csv(folder / "problems.csv", index=False)
    by_us, by_library = caught(planted, ours, "check"), caught(planted, theirs, "code")
    print(f"\nplanted {len(planted)} defects; our checks report {len(ours)} problems, algotrade {len(theirs)}:")
    print(f"  {'defect':<24}{'date':<12}{'ours':>6}{'algotrade':>11}  repairable")
    for check, when in planted:
        repairable = check in {"missing_session", "price_decimals", "volume_overflow"}
        print(f"  {check:<24}{when.date()!s:<12}{by_us[check]!s:>6}{by_library[check]!s:>11}  {'yes' if repairable else 'no'}")
    extra = sorted(set(ours["check"]) - {c for c, _ in planted})
    if extra:
        print(f"  also reported, as consequences of the planted defects: {', '.join(extra)}")

    # the data layer refuses the broken file, naming symbol, date and value
    csv = folder / "SPX_broken.csv"
    broken.rename(columns=str.title).to_csv(csv, index_label="Date")
    try:
        load_market(DataConfig(source="csv", symbols=("SPX",), path=str(csv)))
        refused = ""
    except DataError as exc:
        refused = str(exc)
    print("\nload_market on the broken file raises DataError:\n  " + "\n  ".join(refused.splitlines()[:6]) + "\n  ...")

    # only the repairable defects: engine_safe fixes them, repair none refuses them
    repairable = clean.drop(clean.index[360])
    repairable.loc[repairable.index[inside_bar(repairable, 280)], "open"] += 0.0004
    repairable.loc[repairable.index[320], "volume"] = 5e9
    csv_ok = folder / "SPX_repairable.csv"
    repairable.rename(columns=str.title).to_csv(csv_ok, index_label="Date")
    repaired = load_market(DataConfig(source="csv", symbols=("SPX",), path=str(csv_ok)))
    filled = repaired.frames["SPX"].loc[clean.index[359] : clean.index[361]]
    print(f"\nengine_safe repairs: {repaired.repairs['SPX']}")
    print("the filled session sits between its neighbours (previous close, volume 0):")
    print(filled.to_string())
    try:
        load_market(DataConfig(source="csv", symbols=("SPX",), path=str(csv_ok), repair="none"))
        refused_none = ""
    except DataError as exc:
        refused_none = str(exc)
    print(f"repair: none -> DataError: {refused_none.splitlines()[-1] if refused_none else '(none)'}")

    # a by-hand clean-up of the broken copy, then the policy: no problem left
    cleaned, counts = repair(clean_by_hand(broken, sessions), sessions)
    left = find_problems(cleaned, sessions)
    print(f"\nby-hand clean-up + engine_safe repair: {len(broken)} -> {len(cleaned)} rows, repairs {counts}, "
          f"problems left {len(left)}")
    print(f"problems written to {folder / 'problems.csv'}")
    return {
        "planted": [c for c, _ in planted],
        "caught_by_recipe": by_us,
        "caught_by_algotrade": by_library,
        "problems_recipe": len(ours),
        "problems_algotrade": len(theirs),
        "load_market_refused": refused,
        "repairs": repaired.repairs["SPX"],
        "filled_bar": filled.iloc[1].to_dict(),
        "previous_close": float(clean["close"].iloc[359]),
        "repair_none_refused": refused_none,
        "problems_after_cleanup": len(left),
        "cleanup_repairs": counts,
    }


if __name__ == "__main__":
    main()
