"""Overlap studies with TA-Lib: SMA, EMA and Bollinger Bands on the S&P 500.

"Overlap" indicators are drawn on top of the price. TA-Lib computes each one over a whole NumPy
array in C; the first ``lookback`` values are NaN because there is not yet a full window:

* **SMA(n)** — the mean of the last n closes; lookback n - 1.
* **EMA(n)** — ``ema_t = ema_{t-1} + k (close_t - ema_{t-1})`` with ``k = 2 / (n + 1)``. TA-Lib
  seeds it with the SMA of the first n closes, so its lookback is also n - 1 and it follows the
  price more closely than the SMA of the same length (the weight of recent bars is higher).
* **BBANDS(n, k)** — the SMA(n) as the middle band, plus and minus k standard deviations of the
  last n closes. TA-Lib uses the *population* standard deviation (divide by n); pandas'
  ``rolling().std()`` divides by n - 1 unless told ``ddof=0``, which makes bands
  ``sqrt(n / (n - 1))`` wider — 2.6 % for n = 20. Two derived series are useful as features:
  ``%B = (close - lower) / (upper - lower)`` (above 1: a close above the upper band) and the
  bandwidth ``(upper - lower) / middle``.

The recipe checks each TA-Lib output against a one-line pandas formula, counts closes outside
the bands and crossings of the 50- and 200-day SMAs (the "golden" and "death" crosses), and
plots 2011-2012.

What to look at: the lookbacks, the agreement figures, the ``ddof`` trap, and
``talib_overlap.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import talib
from talib import abstract

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch02_indicators import out_dir

# --------------------------------------------------------------------------------------------
# ingredients


def overlap_indicators(close: pd.Series, fast: int = 20, slow: int = 50, trend: int = 200, nbdev: float = 2.0) -> pd.DataFrame:
    """SMA, EMA and Bollinger Bands (with %B and bandwidth) as columns aligned with ``close``."""
    x = close.to_numpy(np.float64)
    upper, middle, lower = talib.BBANDS(x, timeperiod=fast, nbdevup=nbdev, nbdevdn=nbdev, matype=talib.MA_Type.SMA)
    out = pd.DataFrame({
        "close": x,
        f"sma{fast}": talib.SMA(x, timeperiod=fast),
        f"ema{fast}": talib.EMA(x, timeperiod=fast),
        f"sma{slow}": talib.SMA(x, timeperiod=slow),
        f"sma{trend}": talib.SMA(x, timeperiod=trend),
        "bb_upper": upper, "bb_middle": middle, "bb_lower": lower,
    }, index=close.index)
    out["pct_b"] = (out["close"] - out["bb_lower"]) / (out["bb_upper"] - out["bb_lower"])
    out["bandwidth"] = (out["bb_upper"] - out["bb_lower"]) / out["bb_middle"]
    return out


def leading_nans(x: pd.Series | np.ndarray) -> int:
    values = np.asarray(x, dtype=np.float64)
    valid = np.flatnonzero(~np.isnan(values))
    return int(valid[0]) if valid.size else len(values)


def crossings(fast: pd.Series, slow: pd.Series) -> pd.DataFrame:
    """Dates where ``fast`` crosses ``slow``: +1 upwards (golden cross), -1 downwards (death cross)."""
    above = (fast > slow).where(fast.notna() & slow.notna())
    change = above.astype(float).diff()
    hits = change[change.abs() == 1]
    return pd.DataFrame({"direction": hits.astype(int)})


def max_rel_diff(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = ~(np.isnan(a) | np.isnan(b))
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300))) if ok.any() else 0.0


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    close = load_market(DataConfig(symbols=("SPX",))).frames["SPX"]["close"]
    ind = overlap_indicators(close)
    print(f"SPX {close.index[0].date()} .. {close.index[-1].date()}, {len(close)} closes")

    lookbacks = {c: leading_nans(ind[c]) for c in ("sma20", "ema20", "sma50", "sma200", "bb_upper")}
    declared = {"sma20": abstract.Function("SMA", timeperiod=20).lookback,
                "ema20": abstract.Function("EMA", timeperiod=20).lookback}
    print(f"leading NaNs (lookback): {lookbacks}; TA-Lib's own lookback for SMA(20), EMA(20): {declared}")

    # each TA-Lib output against the textbook formula in pandas
    std_pop = close.rolling(20).std(ddof=0)
    std_sample = close.rolling(20).std()  # pandas' default, ddof=1
    checks = {
        "sma20_vs_rolling_mean": max_rel_diff(ind["sma20"], close.rolling(20).mean()),
        "bb_middle_is_sma20": float(np.nanmax(np.abs(ind["bb_middle"] - ind["sma20"]))),
        "bb_upper_vs_pandas_ddof0": max_rel_diff(ind["bb_upper"], ind["sma20"] + 2 * std_pop),
    }
    x = close.to_numpy()
    seeded = np.full(len(x), np.nan)  # EMA by its definition, seeded with the first SMA(20)
    seeded[19] = x[:20].mean()
    k = 2 / 21
    for i in range(20, len(x)):
        seeded[i] = seeded[i - 1] + k * (x[i] - seeded[i - 1])
    checks["ema20_vs_recurrence"] = max_rel_diff(ind["ema20"], seeded)
    ddof_ratio = float((std_sample / std_pop).median())
    print("agreement with the textbook formulas (max relative difference): "
          + ", ".join(f"{k} {v:.1e}" for k, v in checks.items()))
    print(f"pandas' default rolling std (ddof=1) is {ddof_ratio:.4f}x TA-Lib's (sqrt(20/19) = {np.sqrt(20 / 19):.4f})")

    valid = ind.dropna()
    above, below = int((valid["pct_b"] > 1).sum()), int((valid["pct_b"] < 0).sum())
    print(f"closes above the upper band {above} ({above / len(valid):.1%}), below the lower band {below} "
          f"({below / len(valid):.1%}); a normal distribution would put 2.3% on each side")
    print(f"median bandwidth {valid['bandwidth'].median():.3f}, widest {valid['bandwidth'].max():.3f} "
          f"on {valid['bandwidth'].idxmax().date()}")
    crosses = crossings(ind["sma50"], ind["sma200"])
    print(f"SMA50/SMA200 crossings: {len(crosses)}; the last three:")
    print(crosses.tail(3).replace({1: "golden (up)", -1: "death (down)"}).to_string())
    last = ind.iloc[-1]
    print(f"on {close.index[-1].date()}: close {last['close']:.2f}, SMA20 {last['sma20']:.2f}, EMA20 {last['ema20']:.2f}, "
          f"bands {last['bb_lower']:.2f} .. {last['bb_upper']:.2f}")

    path = plot(ind.loc["2011-01-01":"2012-12-31"], folder / "talib_overlap.png")
    print(f"plot: {path}")
    return {
        "lookbacks": lookbacks,
        "declared_lookbacks": declared,
        "checks": checks,
        "ddof_ratio": ddof_ratio,
        "closes_above_upper": above,
        "closes_below_lower": below,
        "crossings": len(crosses),
        "last": {k: float(v) for k, v in last.items()},
        "plot": path,
    }


def plot(ind: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.fill_between(ind.index, ind["bb_lower"], ind["bb_upper"], color="tab:blue", alpha=0.12, label="BBANDS(20, 2)")
    top.plot(ind.index, ind["close"], color="black", lw=0.8, label="close")
    top.plot(ind.index, ind["sma20"], lw=0.9, label="SMA(20)")
    top.plot(ind.index, ind["ema20"], lw=0.9, label="EMA(20)")
    top.plot(ind.index, ind["sma50"], lw=0.9, label="SMA(50)")
    top.plot(ind.index, ind["sma200"], lw=0.9, label="SMA(200)")
    top.set_title("S&P 500 with TA-Lib overlap studies")
    top.legend(fontsize=8, ncol=3)
    bottom.plot(ind.index, ind["pct_b"], lw=0.8, color="tab:purple")
    bottom.axhline(1, color="grey", lw=0.6, ls="--")
    bottom.axhline(0, color="grey", lw=0.6, ls="--")
    bottom.set_ylabel("%B")
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
