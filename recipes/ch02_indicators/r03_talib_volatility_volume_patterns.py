"""Volatility, volume and candlestick patterns: ATR, NATR, OBV, VWAP in pandas, every CDL* pattern.

This page uses the NASDAQ Composite (IXIC) rather than the S&P 500: in the sample file the S&P's
open is simply the previous close on most days before 2006, which makes gaps — and so many
candlestick patterns — meaningless, and its volume exceeds 2**32 on 800 days and is clipped by
the repair policy (chapter 1, recipe 03), which would flatten OBV. Know your data before you
compute features from it.

* **ATR(14)** — Wilder's average true range. The true range of a bar is the largest of
  ``high - low``, ``|high - previous close|`` and ``|low - previous close|`` (so an overnight
  gap counts); ATR smooths it with ``alpha = 1/14``, seeded with the mean of the first 14 true
  ranges. It is in price units: stops and position sizes are often set in ATRs.
* **NATR** — ATR as a percentage of the close, comparable across price levels and years.
* **OBV** — on-balance volume: add the day's volume when the close rises, subtract it when it
  falls. Only its changes and divergences from price mean anything; its level depends on the
  first day (TA-Lib starts it at the first day's volume).
* **VWAP** — the volume-weighted average price, ``sum(typical price x volume) / sum(volume)``,
  is not in TA-Lib: it is a few lines of pandas. Intraday it is anchored at each session's open
  (the benchmark execution desks are measured against); on daily bars a rolling 20-day VWAP is
  the usual stand-in.
* **Candlestick patterns** — TA-Lib has 61 ``CDL*`` functions in its "Pattern Recognition"
  group. Each returns, per bar, 0 (no pattern), +100 (bullish) or -100 (bearish); a few return
  +-200 for a confirmed pattern or +-80 for a weaker one, and the doji family always returns
  +100: "found", not "bullish". The recipe runs all of them, counts the hits, and measures
  the mean 5-day return after each pattern's bullish and bearish signals.

What to look at: the agreement of ATR, NATR and OBV with their definitions, the session VWAP,
the pattern table (most patterns are rare, and their average follow-through is small next to
the 5-day noise), and ``talib_volatility_volume_patterns.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import talib

from algotrade.core.config import DataConfig
from algotrade.core.data import get_calendar, load_market
from recipes.ch01_data.r04_returns_and_resample import synthetic_minute_bars
from recipes.ch02_indicators import out_dir
from recipes.ch02_indicators.r01_talib_overlap import max_rel_diff
from recipes.ch02_indicators.r02_talib_momentum import forward_returns

# --------------------------------------------------------------------------------------------
# ingredients: volatility and volume


def volatility_volume(bars: pd.DataFrame, period: int = 14) -> pd.DataFrame:
    h, lo, c, v = (bars[f].to_numpy(np.float64) for f in ("high", "low", "close", "volume"))
    return pd.DataFrame({
        "close": c,
        "trange": talib.TRANGE(h, lo, c),
        "atr": talib.ATR(h, lo, c, timeperiod=period),
        "natr": talib.NATR(h, lo, c, timeperiod=period),
        "obv": talib.OBV(c, v),
    }, index=bars.index)


def true_range(bars: pd.DataFrame) -> pd.Series:
    prev = bars["close"].shift()
    ranges = pd.concat([bars["high"] - bars["low"], (bars["high"] - prev).abs(), (bars["low"] - prev).abs()], axis=1)
    return ranges.max(axis=1, skipna=False)


def wilder_atr(bars: pd.DataFrame, period: int = 14) -> pd.Series:
    """ATR from its definition: the mean of the first ``period`` true ranges, then Wilder smoothing."""
    tr = true_range(bars).to_numpy()
    atr = np.full(len(tr), np.nan)
    atr[period] = tr[1 : period + 1].mean()
    for i in range(period + 1, len(tr)):
        atr[i] = (atr[i - 1] * (period - 1) + tr[i]) / period
    return pd.Series(atr, index=bars.index)


def on_balance_volume(bars: pd.DataFrame) -> pd.Series:
    direction = np.sign(bars["close"].diff()).fillna(1.0)  # TA-Lib counts the first day's volume as added
    return (direction * bars["volume"]).cumsum()


def rolling_vwap(bars: pd.DataFrame, window: int = 20) -> pd.Series:
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3
    return (typical * bars["volume"]).rolling(window).sum() / bars["volume"].rolling(window).sum()


def session_vwap(minutes: pd.DataFrame, tz: str = "America/New_York") -> pd.Series:
    """Intraday VWAP anchored at each session's first minute."""
    local = minutes.tz_convert(tz)
    typical = (local["high"] + local["low"] + local["close"]) / 3
    day = local.index.date
    return (typical * local["volume"]).groupby(day).cumsum() / local["volume"].groupby(day).cumsum()


# --------------------------------------------------------------------------------------------
# ingredients: candlestick patterns


def pattern_names() -> list[str]:
    return sorted(talib.get_function_groups()["Pattern Recognition"])


def scan_patterns(bars: pd.DataFrame) -> pd.DataFrame:
    """Every CDL* function over the bars: one column per pattern, values 0, +-100 or +-200."""
    o, h, lo, c = (bars[f].to_numpy(np.float64) for f in ("open", "high", "low", "close"))
    return pd.DataFrame({name: getattr(talib, name)(o, h, lo, c) for name in pattern_names()}, index=bars.index)


def pattern_table(signals: pd.DataFrame, fwd: pd.Series) -> pd.DataFrame:
    """Hits per pattern and the mean forward return after bullish and bearish hits."""
    rows = []
    for name in signals:
        s = signals[name]
        bull, bear = s > 0, s < 0
        rows.append({
            "pattern": name.removeprefix("CDL").lower(),
            "bullish": int(bull.sum()), "bearish": int(bear.sum()),
            "fwd_after_bullish": float(fwd[bull].mean()) if bull.any() else np.nan,
            "fwd_after_bearish": float(fwd[bear].mean()) if bear.any() else np.nan,
        })
    table = pd.DataFrame(rows).set_index("pattern")
    table["hits"] = table["bullish"] + table["bearish"]
    return table.sort_values("hits", ascending=False)


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    bars = load_market(DataConfig(symbols=("IXIC",))).frames["IXIC"]
    ind = volatility_volume(bars)
    print(f"IXIC {bars.index[0].date()} .. {bars.index[-1].date()}, {len(bars)} bars")

    checks = {
        "trange_vs_pandas": max_rel_diff(ind["trange"], true_range(bars)),
        "atr_vs_wilder": max_rel_diff(ind["atr"], wilder_atr(bars)),
        "natr_is_100_atr_over_close": max_rel_diff(ind["natr"], 100 * ind["atr"] / ind["close"]),
        "obv_vs_pandas": max_rel_diff(ind["obv"], on_balance_volume(bars)),
    }
    print("agreement with the definitions (max relative difference): " + ", ".join(f"{k} {v:.1e}" for k, v in checks.items()))
    natr = ind["natr"].dropna()
    by_year = natr.groupby(natr.index.year).median()
    print(f"NATR(14): median {natr.median():.2f}% of the close; calmest year {by_year.idxmin()} ({by_year.min():.2f}%), "
          f"wildest {by_year.idxmax()} ({by_year.max():.2f}%)")
    gap_share = float(((true_range(bars) > bars["high"] - bars["low"] + 1e-9).iloc[1:]).mean())
    print(f"on {gap_share:.1%} of days an overnight gap made the true range larger than high - low")

    vwap20 = rolling_vwap(bars)
    print(f"rolling 20-day VWAP on {bars.index[-1].date()}: {vwap20.iloc[-1]:.2f} (close {bars['close'].iloc[-1]:.2f})")
    cal = get_calendar("XNYS", pd.Timestamp("2018-11-19").date())
    sessions = cal.sessions_in_range("2018-11-19", "2018-11-23")
    minutes = synthetic_minute_bars(cal.sessions_minutes(sessions[0], sessions[-1]))
    vwap = session_vwap(minutes)
    local = minutes.tz_convert("America/New_York")
    last_minute = local.groupby(local.index.date).tail(1)
    session_table = pd.DataFrame({"close": last_minute["close"].to_numpy(), "vwap": vwap.loc[last_minute.index].to_numpy()},
                                 index=pd.Index([d.date() for d in last_minute.index], name="session"))
    first_minute_equal = bool(np.allclose(vwap.groupby(local.index.date).head(1),
                                          ((local["high"] + local["low"] + local["close"]) / 3).groupby(local.index.date).head(1)))
    print("session-anchored VWAP of synthetic minute bars (chapter 1, recipe 04) at each close:")
    print(session_table.round(3).to_string())

    signals = scan_patterns(bars)
    fwd = forward_returns(bars["close"], 5)
    table = pattern_table(signals, fwd)
    values = sorted({int(v) for v in np.unique(signals.to_numpy())})
    print(f"\n{signals.shape[1]} CDL* patterns scanned; output values seen: {values}; "
          f"patterns that never fired: {int((table['hits'] == 0).sum())}")
    print(f"mean 5-day return after any day: {fwd.mean():+.3%} (its standard deviation {fwd.std():.2%})")
    print(table.head(10).to_string(float_format=lambda x: f"{x:+.3%}"))
    recent = signals.iloc[-20:]
    fired = [(str(d.date()), name.removeprefix("CDL").lower(), int(v)) for d, row in recent.iterrows() for name, v in row.items() if v]
    print(f"patterns in the last 20 sessions: {fired[-6:]}")

    path = plot(bars, ind, table, folder / "talib_volatility_volume_patterns.png")
    print(f"plot: {path}")
    return {
        "checks": checks,
        "natr_median": float(natr.median()),
        "gap_share": gap_share,
        "vwap20_last": float(vwap20.iloc[-1]),
        "session_vwap": session_table,
        "session_vwap_starts_at_typical_price": first_minute_equal,
        "patterns_scanned": signals.shape[1],
        "pattern_values": values,
        "pattern_table": table,
        "plot": path,
    }


def plot(bars: pd.DataFrame, ind: pd.DataFrame, table: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 10), layout="constrained")
    ax = fig.subplots(4, 1, height_ratios=[2, 1, 1, 1.4])
    span = ind.loc["2008-01-01":"2009-12-31"]
    ax[0].plot(span.index, span["close"], color="black", lw=0.8, label="close")
    ax[0].fill_between(span.index, span["close"] - 2 * span["atr"], span["close"] + 2 * span["atr"], alpha=0.15, label="close +- 2 ATR(14)")
    ax[0].legend(fontsize=8)
    ax[0].set_title("NASDAQ Composite 2008-2009")
    ax[1].plot(ind.index, ind["natr"], lw=0.6, color="tab:red")
    ax[1].set_ylabel("NATR(14) %")
    ax[2].plot(ind.index, ind["obv"] / 1e9, lw=0.8, color="tab:green")
    ax[2].set_ylabel("OBV (bn shares)")
    top = table.head(15)
    y = np.arange(len(top))
    ax[3].barh(y - 0.2, top["bullish"], height=0.4, color="tab:green", label="bullish")
    ax[3].barh(y + 0.2, top["bearish"], height=0.4, color="tab:red", label="bearish")
    ax[3].set_yticks(y, top.index, fontsize=7)
    ax[3].invert_yaxis()
    ax[3].legend(fontsize=8)
    ax[3].set_title("the 15 most frequent TA-Lib candlestick patterns (hits 1999-2018)")
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
