"""Returns and resampling: simple, log and cumulative returns; daily bars to weekly and monthly;
minute bars to daily.

**Returns.** The simple return ``r = p_t / p_{t-1} - 1`` is what a portfolio earns: the return of
a portfolio is the weighted sum of its assets' simple returns. The log return
``l = ln(p_t / p_{t-1}) = ln(1 + r)`` is what adds up over *time*: the log return of a year is
the sum of its daily log returns, while summing simple returns overstates a volatile year.
Cumulative return is ``prod(1 + r) - 1 = exp(sum(l)) - 1 = p_t / p_0 - 1``; the recipe computes
it all three ways and measures how far apart they end after 20 years of compounding.

**Resampling bars.** A weekly or monthly bar is not the last daily row of the period: its open is
the *first* open, its high the *highest* high, its low the *lowest* low, its close the *last*
close and its volume the *sum*. Weeks are labelled by their Friday (``W-FRI``) even when the
exchange was closed that Friday; months by their last calendar day (``ME``). The weekly close
return must equal the daily simple returns of that week compounded — checked to the last bits.

**Minute bars to daily.** A short synthetic week of one-minute bars on the NYSE calendar (from
``exchange_calendars``, so the half day after Thanksgiving has 210 minutes, not 390) is
aggregated to 30-minute and daily bars. Minutes are converted to New York time before grouping
by date: grouped in UTC, a session that runs past midnight UTC (any Asian or Australian
exchange) would be split across two days.

What to look at: the agreement figures (all near 1e-12 or below), the 2008 row where the sum of
simple returns and the compounded return part ways, the minutes per session, and
``returns_and_resample.png``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data import get_calendar, load_market
from recipes.ch01_data import out_dir

#: how each OHLCV column is aggregated into a longer bar
OHLCV_AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


# --------------------------------------------------------------------------------------------
# ingredients: returns


def simple_returns(close: pd.Series) -> pd.Series:
    return close.pct_change()


def log_returns(close: pd.Series) -> pd.Series:
    return np.log(close).diff()


def cumulative_returns(close: pd.Series) -> pd.DataFrame:
    """Growth since the first bar, three ways that must agree."""
    r, lr = simple_returns(close).fillna(0.0), log_returns(close).fillna(0.0)
    return pd.DataFrame({
        "compounded": (1 + r).cumprod() - 1,
        "from_log": np.exp(lr.cumsum()) - 1,
        "from_prices": close / close.iloc[0] - 1,
    })


def yearly_returns(close: pd.Series) -> pd.DataFrame:
    """Per calendar year: the compounded return, the sum of log returns, the (wrong) sum of simple returns."""
    r, lr = simple_returns(close), log_returns(close)
    by_year = pd.DataFrame({"r": r, "lr": lr}).dropna().groupby(close.index[1:].year)
    return pd.DataFrame({
        "compounded": by_year["r"].apply(lambda x: (1 + x).prod() - 1),
        "exp_sum_log": np.exp(by_year["lr"].sum()) - 1,
        "sum_simple": by_year["r"].sum(),
    }).rename_axis("year")


# --------------------------------------------------------------------------------------------
# ingredients: resampling


def resample_ohlcv(bars: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Longer bars from shorter ones; periods without any bar are dropped, not filled."""
    return bars[list(OHLCV_AGG)].resample(rule).agg(OHLCV_AGG).dropna(subset=["close"])


def synthetic_minute_bars(
    minutes: pd.DatetimeIndex, seed: int = 11, start_price: float = 100.0, annual_vol: float = 0.2
) -> pd.DataFrame:
    """One-minute bars on the given minutes (a random walk in log price, cent prices, volume per minute)."""
    rng = np.random.default_rng(seed)
    n = len(minutes)
    minute_vol = annual_vol / np.sqrt(252 * 390)
    close = start_price * np.exp(np.cumsum(minute_vol * rng.standard_normal(n)))
    open_ = np.concatenate([[start_price], close[:-1]])
    wick = np.abs(minute_vol * rng.standard_normal((2, n))) * close
    bars = pd.DataFrame({
        "open": np.round(open_, 2),
        "high": np.round(np.maximum(open_, close) + wick[0], 2),
        "low": np.round(np.minimum(open_, close) - wick[1], 2),
        "close": np.round(close, 2),
        "volume": np.round(rng.lognormal(np.log(2_000), 0.6, n)),
    }, index=minutes)
    bars["high"] = bars[["open", "high", "close"]].max(axis=1)
    bars["low"] = bars[["open", "low", "close"]].min(axis=1)
    return bars


def minutes_to_daily(minutes: pd.DataFrame, tz: str = "America/New_York") -> pd.DataFrame:
    """Daily bars from minute bars, grouped by the exchange's local date; index = tz-naive session."""
    local = minutes.tz_convert(tz)
    daily = local.groupby(local.index.date).agg(OHLCV_AGG)
    daily["minutes"] = local.groupby(local.index.date).size()
    daily.index = pd.DatetimeIndex(daily.index, name="date")
    return daily


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    spx = load_market(DataConfig(symbols=("SPX",))).frames["SPX"]
    close = spx["close"]
    r, lr = simple_returns(close), log_returns(close)
    print(f"SPX daily closes {close.index[0].date()} .. {close.index[-1].date()} ({len(close)} sessions)")
    print(f"mean daily simple return {r.mean():+.5f}, log return {lr.mean():+.5f} "
          f"(log is lower by about variance/2 = {r.var() / 2:.5f})")
    log_vs_log1p = float((lr - np.log1p(r)).abs().max())

    cum = cumulative_returns(close)
    cum_gap = float((cum.max(axis=1) - cum.min(axis=1)).max())
    print(f"cumulative return to {close.index[-1].date()}: {cum['compounded'].iloc[-1]:+.2%}; "
          f"the three ways differ by at most {cum_gap:.1e}")
    years = yearly_returns(close)
    print("\nyearly returns: compounded = exp(sum of log returns); the sum of simple returns is not a return")
    print(years.loc[[2007, 2008, 2009, 2017]].map(lambda x: f"{x:+.2%}").to_string())
    year_gap = float((years["compounded"] - years["exp_sum_log"]).abs().max())

    weekly, monthly = resample_ohlcv(spx, "W-FRI"), resample_ohlcv(spx, "ME")
    compounded_weekly = (1 + r.fillna(0)).groupby(pd.Grouper(freq="W-FRI")).prod() - 1
    weekly_gap = float((weekly["close"].pct_change() - compounded_weekly.reindex(weekly.index)).iloc[1:].abs().max())
    bad_weeks = int(((weekly["high"] < weekly[["open", "close"]].max(axis=1)) | (weekly["low"] > weekly[["open", "close"]].min(axis=1))).sum())
    print(f"\nresampled: {len(spx)} daily -> {len(weekly)} weekly (W-FRI) -> {len(monthly)} monthly (ME) bars")
    print("the week of 2008-10-10 from its daily bars:")
    print(spx.loc["2008-10-06":"2008-10-10", list(OHLCV_AGG)].to_string())
    print("-> the weekly bar (SPX volume above 2**32 - 1 was clipped by the repair policy, see r03):")
    print(weekly.loc[["2008-10-10"]].to_string())
    print(f"weekly close return vs compounded daily returns: max difference {weekly_gap:.1e}; "
          f"inconsistent weekly bars {bad_weeks}")

    cal = get_calendar("XNYS", dt.date(2018, 1, 2))
    sessions = cal.sessions_in_range("2018-11-19", "2018-11-26")
    minutes = cal.sessions_minutes(sessions[0], sessions[-1])
    minute_bars = synthetic_minute_bars(minutes)
    daily = minutes_to_daily(minute_bars)
    half_hour = resample_ohlcv(minute_bars.tz_convert("America/New_York"), "30min")
    print(f"\nsynthetic minute bars: {len(minute_bars)} minutes over {len(sessions)} XNYS sessions -> daily:")
    print(daily.to_string())
    print(f"and {len(half_hour)} half-hour bars; the first two:")
    print(half_hour.head(2).to_string())
    first_day = minute_bars.tz_convert("America/New_York").loc[str(daily.index[0].date())]
    daily_checks = {
        "open_is_first_open": daily["open"].iloc[0] == first_day["open"].iloc[0],
        "high_is_max_high": daily["high"].iloc[0] == first_day["high"].max(),
        "low_is_min_low": daily["low"].iloc[0] == first_day["low"].min(),
        "close_is_last_close": daily["close"].iloc[0] == first_day["close"].iloc[-1],
        "volume_is_sum": daily["volume"].iloc[0] == first_day["volume"].sum(),
    }

    path = plot(cum, weekly, minute_bars, daily, folder / "returns_and_resample.png")
    print(f"plot: {path}")
    return {
        "sessions": len(close),
        "log_vs_log1p_max_diff": log_vs_log1p,
        "cumulative_max_diff": cum_gap,
        "final_cumulative_return": float(cum["compounded"].iloc[-1]),
        "yearly_log_vs_compounded_max_diff": year_gap,
        "sum_simple_2008": float(years.loc[2008, "sum_simple"]),
        "compounded_2008": float(years.loc[2008, "compounded"]),
        "weekly_bars": len(weekly),
        "monthly_bars": len(monthly),
        "weekly_return_max_diff": weekly_gap,
        "inconsistent_weekly_bars": bad_weeks,
        "minutes_per_session": {str(d.date()): int(m) for d, m in daily["minutes"].items()},
        "daily_from_minutes_checks": daily_checks,
        "plot": path,
    }


def plot(cum: pd.DataFrame, weekly: pd.DataFrame, minute_bars: pd.DataFrame, daily: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 9), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(3, 1)
    ax1.plot(cum.index, cum["compounded"] * 100, lw=0.8)
    ax1.set_title("SPX cumulative return (%)")
    span = weekly.loc["2008-06":"2009-06"]
    ax2.vlines(span.index, span["low"], span["high"], color="grey", lw=1)
    ax2.plot(span.index, span["close"], "o", ms=3, color="tab:blue", label="weekly close")
    ax2.set_title("SPX weekly bars, June 2008 - June 2009 (line: low-high, dot: close)")
    ax2.legend(fontsize=8)
    local = minute_bars.tz_convert("America/New_York")
    x = np.arange(len(local))
    ax3.plot(x, local["close"], lw=0.6, color="tab:blue", label="minute close")
    starts = np.flatnonzero(np.r_[True, local.index.date[1:] != local.index.date[:-1]])
    ends = np.r_[starts[1:], len(local)] - 1
    for s, e, (_, bar) in zip(starts, ends, daily.iterrows(), strict=True):
        ax3.hlines([bar["high"], bar["low"]], s, e, color="tab:red", lw=0.8)
        ax3.axvline(s, color="black", lw=0.4, ls=":")
    ax3.set_xticks(starts, [str(d.date()) for d in daily.index], fontsize=8)
    ax3.set_title("synthetic minute closes; red: each session's daily high and low (2018-11-23 is a half day)")
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
