"""Oscillator signals: RSI mean reversion and Bollinger breakouts, for arrays and for one bar.

Recipe 1 turned a moving-average crossover into a +1/-1/0 signal built from plain comparison
operators. Two more classic rules fit the same mould, and the production strategies
``algotrade.strategies.rsi_reversion`` and ``algotrade.strategies.bollinger_breakout`` call the
functions below on every bar:

* **RSI reversion** (:func:`rsi_reversion_signal`). Wilder's RSI measures the share of recent
  moves that were up, on a 0-100 scale. Below ``oversold`` (30) the market has fallen hard and a
  mean-reversion trader buys: +1. Above ``overbought`` (70) it has risen hard: -1, sell. Unlike a
  crossover this is a *level* rule — the signal stays +1 for as long as the RSI stays low, and the
  holdings of recipe 1 (carry the last non-zero signal forward) turn that into one entry.
* **Bollinger breakout** (:func:`bollinger_breakout_signal`). The bands are a 20-bar SMA of the
  close plus and minus two standard deviations. A close crossing *above the upper band* starts a
  trend-following entry (+1); a close crossing *below the middle band* ends it (-1). Both are
  crossings, so each needs the previous bar's close and bands too.

As before: TA-Lib computes the indicators (the same numbers every engine gets), the previous bar
comes from a one-bar shift, and NaN during warm-up compares False and gives 0. ``main`` checks
that a bar-by-bar loop over Python floats gives the same signals as the arrays, then shows what
each rule would have earned without costs on the index it is meant for (IXIC for the RSI, SPX for
the bands) against buy-and-hold, with ``oscillator_signals.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import talib

from recipes.ch03_vectorized import out_dir
from recipes.ch03_vectorized.r01_ma_crossover_signals import (
    FloatArray,
    IntArray,
    entries_exits,
    position,
    previous,
    strategy_returns,
)

RSI_PERIOD, OVERSOLD, OVERBOUGHT = 14, 30.0, 70.0
BB_PERIOD, BB_NBDEV = 20, 2.0


# --------------------------------------------------------------------------------------------
# ingredients


@overload
def rsi_reversion_signal(rsi: float, oversold: float, overbought: float) -> int: ...
@overload
def rsi_reversion_signal(rsi: FloatArray, oversold: float, overbought: float) -> IntArray: ...
def rsi_reversion_signal(rsi: Any, oversold: float, overbought: float) -> Any:
    """+1 (buy) where the RSI is below ``oversold``, -1 (sell) above ``overbought``, else 0.

    With ``oversold < overbought`` the two cases never overlap; NaN (warm-up) gives 0.
    """
    return (rsi < oversold) * 1 - (rsi > overbought) * 1


@overload
def bollinger_breakout_signal(close: float, upper: float, middle: float,
                              close_prev: float, upper_prev: float, middle_prev: float) -> int: ...
@overload
def bollinger_breakout_signal(close: FloatArray, upper: FloatArray, middle: FloatArray,
                              close_prev: FloatArray, upper_prev: FloatArray, middle_prev: FloatArray) -> IntArray: ...
def bollinger_breakout_signal(close: Any, upper: Any, middle: Any,
                              close_prev: Any, upper_prev: Any, middle_prev: Any) -> Any:
    """+1 where the close crosses above the upper band, -1 where it crosses below the middle one.

    The upper band is never below the middle one, so both cannot happen on the same bar.
    """
    breakout = (close > upper) & (close_prev <= upper_prev)
    breakdown = (close < middle) & (close_prev >= middle_prev)
    return breakout * 1 - breakdown * 1


def rsi(close: FloatArray, period: int = RSI_PERIOD) -> FloatArray:
    """Wilder's RSI from TA-Lib."""
    return talib.RSI(np.asarray(close, dtype=np.float64), timeperiod=period)


def bollinger_bands(close: FloatArray, period: int = BB_PERIOD, nbdev: float = BB_NBDEV
                    ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Upper, middle and lower band from TA-Lib's BBANDS over an SMA."""
    upper, middle, lower = talib.BBANDS(np.asarray(close, dtype=np.float64), timeperiod=period,
                                        nbdevup=nbdev, nbdevdn=nbdev, matype=talib.MA_Type.SMA)
    return upper, middle, lower


def rsi_signals(close: FloatArray, period: int = RSI_PERIOD, oversold: float = OVERSOLD,
                overbought: float = OVERBOUGHT) -> IntArray:
    return rsi_reversion_signal(rsi(close, period), oversold, overbought)


def bollinger_signals(close: FloatArray, period: int = BB_PERIOD, nbdev: float = BB_NBDEV) -> IntArray:
    close = np.asarray(close, dtype=np.float64)
    upper, middle, _ = bollinger_bands(close, period, nbdev)
    return bollinger_breakout_signal(close, upper, middle, previous(close), previous(upper), previous(middle))


# --------------------------------------------------------------------------------------------
# the page


def load_index(symbol: str, start: str = "2003-01-02", end: str = "2018-12-31") -> pd.DataFrame:
    """One of the sample indices (SPX or IXIC), validated like any experiment's data."""
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    cfg = DataConfig.model_validate({"source": "sample", "symbols": [symbol], "start": start, "end": end})
    return load_market(cfg).frames[symbol]


def scalar_loops_agree(close: FloatArray) -> bool:
    """Both rules evaluated bar by bar on Python floats equal the array versions."""
    r = rsi(close).tolist()
    up, mid, _ = (b.tolist() for b in bollinger_bands(close))
    c = np.asarray(close, dtype=np.float64).tolist()
    rsi_loop = [rsi_reversion_signal(x, OVERSOLD, OVERBOUGHT) for x in r]
    bb_loop = [0] + [bollinger_breakout_signal(c[t], up[t], mid[t], c[t - 1], up[t - 1], mid[t - 1])
                     for t in range(1, len(c))]
    return rsi_loop == rsi_signals(close).tolist() and bb_loop == bollinger_signals(close).tolist()


def summarise(name: str, frame: pd.DataFrame, signal: IntArray) -> dict[str, Any]:
    close = frame["close"].to_numpy()
    held = position(signal)
    entries, exits = entries_exits(signal)
    growth = np.cumprod(1 + strategy_returns(close, held))
    return {
        "name": name,
        "bars": len(close),
        "buy_signals": int((signal > 0).sum()),
        "sell_signals": int((signal < 0).sum()),
        "entries": len(entries),
        "exits": len(exits),
        "time_in_market": float(held.mean()),
        "strategy_return": float(growth[-1] - 1),
        "buy_hold_return": float(close[-1] / close[0] - 1),
        "growth": growth,
    }


def plot(panels: list[tuple[pd.DataFrame, dict[str, Any]]], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 7), layout="constrained")
    for ax, (frame, s) in zip(fig.subplots(len(panels), 1), panels, strict=True):
        close = frame["close"].to_numpy()
        ax.plot(frame.index, close / close[0], lw=0.8, color="grey", label="buy and hold")
        ax.plot(frame.index, s["growth"], lw=0.9, label="strategy (no costs)")
        ax.set_title(f"{s['name']}: {s['entries']} entries, in the market {s['time_in_market']:.0%} of bars")
        ax.set_ylabel("growth of 1")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    ixic, spx = load_index("IXIC"), load_index("SPX")
    agree = scalar_loops_agree(ixic["close"].to_numpy()) and scalar_loops_agree(spx["close"].to_numpy())

    rsi_summary = summarise(f"IXIC RSI({RSI_PERIOD}) below {OVERSOLD:g} / above {OVERBOUGHT:g}", ixic,
                            rsi_signals(ixic["close"].to_numpy()))
    bb_summary = summarise(f"SPX close through Bollinger({BB_PERIOD}, {BB_NBDEV:g})", spx,
                           bollinger_signals(spx["close"].to_numpy()))
    print(f"bar-by-bar float loops == array signals (RSI and Bollinger, IXIC and SPX): {agree}")
    for s in (rsi_summary, bb_summary):
        print(f"{s['name']}: {s['buy_signals']} buy and {s['sell_signals']} sell signals -> {s['entries']} entries, "
              f"{s['exits']} exits; in the market {s['time_in_market']:.0%}; return {s['strategy_return']:+.1%} "
              f"(buy and hold {s['buy_hold_return']:+.1%})")
    path = plot([(ixic, rsi_summary), (spx, bb_summary)], folder / "oscillator_signals.png")
    print(f"plot: {path}")
    strip = ("growth",)
    return {
        "scalar_equals_array": agree,
        "rsi": {k: v for k, v in rsi_summary.items() if k not in strip},
        "bollinger": {k: v for k, v in bb_summary.items() if k not in strip},
        "plot": path,
    }


if __name__ == "__main__":
    main()
