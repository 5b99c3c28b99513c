"""Momentum indicators with TA-Lib: RSI, MACD, the stochastic oscillator and PPO.

Momentum oscillators turn a price path into a bounded or centred number that says how strongly
the price has been moving:

* **RSI(14)** — Wilder's relative strength index, ``100 - 100 / (1 + avg gain / avg loss)``, the
  averages smoothed with ``alpha = 1/14``; between 0 and 100, "overbought" above 70 and
  "oversold" below 30 by convention.
* **MACD(12, 26, 9)** — the 12-day EMA minus the 26-day EMA, its 9-day EMA as the signal line,
  and their difference as the histogram. TA-Lib *aligns* the two EMAs: both start at bar 25
  (the slow one's lookback), the fast one seeded from the 12 closes before it, and all three
  outputs start at bar 33, when the signal line has its 9 values. So for the first 150 or so bars TA-Lib's MACD is **not** ``EMA(12) - EMA(26)`` computed separately — the
  recipe measures the gap and how quickly it dies out (as ``(11/13)**k``).
* **STOCH(14, 3, 3)** — where the close sits in the last 14 bars' range,
  ``100 (close - lowest low) / (highest high - lowest low)`` (fast %K), smoothed by a 3-bar SMA
  (slow %K) and smoothed again (slow %D).
* **PPO(12, 26)** — the MACD idea as a percentage of the slow average, comparable across price
  levels. Careful: TA-Lib's ``PPO`` uses **simple** moving averages unless ``matype=1`` (EMA).

Each one is re-derived from its definition in pandas and the difference printed. A small study
closes the page: the mean 10-day return after an RSI below 30, against all days.

What to look at: the MACD seeding gap, the PPO ``matype`` trap, and ``talib_momentum.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import talib

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch02_indicators import out_dir
from recipes.ch02_indicators.r01_talib_overlap import crossings, leading_nans, max_rel_diff

# --------------------------------------------------------------------------------------------
# ingredients


def momentum_indicators(bars: pd.DataFrame) -> pd.DataFrame:
    """RSI, MACD (line, signal, histogram), slow stochastic and PPO, aligned with ``bars``."""
    h, lo, c = (bars[f].to_numpy(np.float64) for f in ("high", "low", "close"))
    macd, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    slowk, slowd = talib.STOCH(h, lo, c, fastk_period=14, slowk_period=3, slowk_matype=talib.MA_Type.SMA,
                               slowd_period=3, slowd_matype=talib.MA_Type.SMA)
    return pd.DataFrame({
        "close": c,
        "rsi14": talib.RSI(c, timeperiod=14),
        "macd": macd, "macd_signal": signal, "macd_hist": hist,
        "slowk": slowk, "slowd": slowd,
        "ppo_sma": talib.PPO(c, fastperiod=12, slowperiod=26, matype=talib.MA_Type.SMA),  # TA-Lib's default
        "ppo_ema": talib.PPO(c, fastperiod=12, slowperiod=26, matype=talib.MA_Type.EMA),
    }, index=bars.index)


def stochastic_by_hand(bars: pd.DataFrame, k: int = 14, smooth: int = 3) -> pd.DataFrame:
    lowest, highest = bars["low"].rolling(k).min(), bars["high"].rolling(k).max()
    fast_k = 100 * (bars["close"] - lowest) / (highest - lowest)
    slow_k = fast_k.rolling(smooth).mean()
    return pd.DataFrame({"slowk": slow_k, "slowd": slow_k.rolling(smooth).mean()})


def bars_until_below(gap: np.ndarray, tol: float) -> int:
    """The first bar from which ``gap`` stays below ``tol`` (NaNs ignored)."""
    above = np.flatnonzero(np.nan_to_num(gap, nan=0.0) >= tol)
    return int(above[-1] + 1) if above.size else 0


def max_abs_diff(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> float:
    """For series that cross zero, where a relative difference means nothing."""
    return float(np.nanmax(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def forward_returns(close: pd.Series, horizon: int) -> pd.Series:
    """Return from today's close to the close ``horizon`` bars later (for studying a signal, not for trading on it)."""
    return close.shift(-horizon) / close - 1


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    bars = load_market(DataConfig(symbols=("SPX",))).frames["SPX"]
    close = bars["close"]
    ind = momentum_indicators(bars)
    first = {c: leading_nans(ind[c]) for c in ind if c != "close"}
    print(f"SPX {len(bars)} bars; first valid bar of each output: {first}")

    # MACD: aligned seeding vs two independent EMAs
    separate = talib.EMA(close.to_numpy(), 12) - talib.EMA(close.to_numpy(), 26)
    gap = np.abs(ind["macd"].to_numpy() - separate)
    macd_gap = {"first_bar": float(gap[33]), "max": float(np.nanmax(gap)),
                "bars_until_below_1e-8": bars_until_below(gap, 1e-8)}
    theory = 33 + int(np.ceil(np.log(1e-8 / macd_gap["first_bar"]) / np.log(11 / 13)))
    macd_gap["theory_bar"] = theory
    print(f"MACD vs EMA(12) - EMA(26): {macd_gap['first_bar']:.3f} index points apart on bar 33, "
          f"below 1e-8 from bar {macd_gap['bars_until_below_1e-8']} on "
          f"(theory: the gap shrinks by 11/13 a bar, so below 1e-8 from bar {theory})")
    hist_check = float(np.nanmax(np.abs(ind["macd_hist"] - (ind["macd"] - ind["macd_signal"]))))

    sma12, sma26 = close.rolling(12).mean(), close.rolling(26).mean()
    ema26 = talib.EMA(close.to_numpy(), 26)
    checks = {
        "macd_hist_is_macd_minus_signal": hist_check,
        "ppo_sma_vs_formula": max_abs_diff(ind["ppo_sma"], 100 * (sma12 - sma26) / sma26),
        "ppo_ema_vs_formula": max_abs_diff(ind["ppo_ema"], 100 * separate / ema26),
        "stoch_slowk_vs_pandas": max_rel_diff(ind["slowk"], stochastic_by_hand(bars)["slowk"]),
        "stoch_slowd_vs_pandas": max_rel_diff(ind["slowd"], stochastic_by_hand(bars)["slowd"]),
    }
    print("agreement with the definitions (max difference; relative for STOCH, in points for PPO): " + ", ".join(f"{k} {v:.1e}" for k, v in checks.items()))
    ppo_gap = float((ind["ppo_sma"] - ind["ppo_ema"]).abs().max())
    print(f"PPO with SMAs (TA-Lib's default) vs with EMAs: up to {ppo_gap:.2f} percentage points apart")

    rsi = ind["rsi14"].dropna()
    share = {"above_70": float((rsi > 70).mean()), "below_30": float((rsi < 30).mean())}
    macd_crosses = crossings(ind["macd"], ind["macd_signal"])
    print(f"RSI above 70 on {share['above_70']:.1%} of days, below 30 on {share['below_30']:.1%}; "
          f"MACD crossed its signal line {len(macd_crosses)} times ({len(macd_crosses) / (len(bars) / 252):.1f} a year)")
    fwd = forward_returns(close, 10)
    oversold = fwd[(ind["rsi14"] < 30) & fwd.notna()]
    study = {"oversold_days": len(oversold), "mean_after_oversold": float(oversold.mean()),
             "mean_all_days": float(fwd.mean()), "share_up_after_oversold": float((oversold > 0).mean())}
    print(f"mean 10-day return after RSI < 30: {study['mean_after_oversold']:+.2%} over {study['oversold_days']} days "
          f"({study['share_up_after_oversold']:.0%} up), after any day: {study['mean_all_days']:+.2%}. "
          "Overlapping windows: far fewer independent cases than days.")

    path = plot(ind.loc["2018-01-01":], folder / "talib_momentum.png")
    print(f"plot: {path}")
    return {"first_valid": first, "macd_gap": macd_gap, "checks": checks, "ppo_sma_vs_ema_max": ppo_gap,
            "rsi_share": share, "macd_crossings": len(macd_crosses), "rsi_study": study,
            "rsi_range": (float(rsi.min()), float(rsi.max())), "plot": path}


def plot(ind: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 9), layout="constrained")
    ax = fig.subplots(4, 1, sharex=True, height_ratios=[2, 1, 1, 1])
    ax[0].plot(ind.index, ind["close"], color="black", lw=0.8)
    ax[0].set_title("S&P 500, 2018, with TA-Lib momentum indicators")
    ax[1].plot(ind.index, ind["rsi14"], color="tab:purple", lw=0.8)
    for level in (30, 70):
        ax[1].axhline(level, color="grey", lw=0.6, ls="--")
    ax[1].set_ylabel("RSI(14)")
    ax[2].plot(ind.index, ind["macd"], lw=0.8, label="MACD")
    ax[2].plot(ind.index, ind["macd_signal"], lw=0.8, label="signal")
    ax[2].bar(ind.index, ind["macd_hist"], color="grey", width=1.0, label="histogram")
    ax[2].legend(fontsize=7)
    ax[2].set_ylabel("MACD(12,26,9)")
    ax[3].plot(ind.index, ind["slowk"], lw=0.8, label="slow %K")
    ax[3].plot(ind.index, ind["slowd"], lw=0.8, label="slow %D")
    ax[3].legend(fontsize=7)
    ax[3].set_ylabel("STOCH(14,3,3)")
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
