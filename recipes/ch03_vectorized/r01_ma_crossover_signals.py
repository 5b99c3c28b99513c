"""Moving-average crossover signals, whole arrays at once, without looking ahead.

A crossover strategy buys when a fast moving average of the close rises through a slow one and
sells when it falls back through it. Written with arrays instead of a loop over bars, the whole
strategy is four steps:

1. **Averages.** TA-Lib's ``SMA`` of the close, fast and slow. We use TA-Lib rather than
   ``pandas.rolling().mean()`` on purpose: with two-decimal prices the two averages are often
   *exactly* equal, and different summation orders break such ties differently in the last bit,
   which flips a crossover. The engines all get their indicators from the same TA-Lib call, so
   this recipe's signals are theirs bit for bit (``main`` counts how many signals pandas' rolling
   mean would flip on the same data).
2. **Crossings.** A cross up on bar t means ``fast > slow`` now and ``fast <= slow`` one bar
   earlier. :func:`crossover` is written with plain operators only — ``(a > b) & (c <= d)`` — so
   the same function takes four Python floats (the production strategy
   ``algotrade.strategies.sma_cross`` calls it on every bar) or four numpy arrays or pandas Series
   (this page). It returns +1 for a cross up, -1 for a cross down, 0 otherwise; while an average
   is still warming up it is NaN, every comparison with NaN is False, and the answer is 0.
3. **Holdings.** After bar t closes we want to be long if the last cross was up, flat if it was
   down: carry the last non-zero signal forward (:func:`holdings`). A second cross up while long
   changes nothing — exactly what the event-driven strategy does when it ignores an entry signal
   because it already holds the stock.
4. **No look-ahead.** The decision is made after bar t's close, so it can only earn bar t+1's
   return: the position held *during* bar t is the holding decided at t-1, i.e. the holdings
   shifted by one bar (:func:`position`). Forget the shift and the backtest buys at yesterday's
   close with today's knowledge; ``main`` shows how much better that impossible strategy looks.

What to look at: the number of entries and exits, the time spent in the market, the strategy's
return next to buy-and-hold and next to the look-ahead version, the scalar/array agreement check,
and ``ma_crossover_signals.png`` (the close with both averages and the trades, and the equity
curves).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
import talib

from recipes.ch03_vectorized import out_dir

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FAST, SLOW = 10, 30  # the quickstart's SMA(10/30)
TRADING_DAYS = 252


# --------------------------------------------------------------------------------------------
# ingredients


@overload
def crossover(a: float, b: float, a_prev: float, b_prev: float) -> int: ...
@overload
def crossover(a: FloatArray, b: FloatArray, a_prev: FloatArray, b_prev: FloatArray) -> IntArray: ...
def crossover(a: Any, b: Any, a_prev: Any, b_prev: Any) -> Any:
    """+1 where ``a`` crosses above ``b``, -1 where it crosses below, 0 elsewhere (and on NaN).

    Works element-wise on numpy arrays and pandas Series, and on plain floats (cheaply: a few
    comparisons, no numpy call), because it uses nothing but operators.
    """
    up = (a > b) & (a_prev <= b_prev)
    down = (a < b) & (a_prev >= b_prev)
    return up * 1 - down * 1


def sma(close: FloatArray, period: int) -> FloatArray:
    """TA-Lib's simple moving average (period 1 is the close itself, as in the engines)."""
    close = np.asarray(close, dtype=np.float64)
    return close.copy() if period == 1 else talib.SMA(close, timeperiod=period)


def previous(x: FloatArray) -> FloatArray:
    """The series one bar back: NaN on the first bar (there is no earlier value)."""
    x = np.asarray(x, dtype=np.float64)
    return np.concatenate(([np.nan], x[:-1]))


def crossover_signals(fast: FloatArray, slow: FloatArray) -> IntArray:
    """The crossover signal of every bar: +1 cross up, -1 cross down, 0 nothing."""
    return crossover(fast, slow, previous(fast), previous(slow))


def holdings(signal: IntArray) -> IntArray:
    """1 when the last non-zero signal up to and including bar t was +1, else 0.

    This is what we want to hold *after* bar t closes: repeated signals in the same direction
    change nothing, and before the first signal we are flat.
    """
    signal = np.asarray(signal)
    bars = np.arange(len(signal))
    last = np.maximum.accumulate(np.where(signal != 0, bars, -1))  # index of the last signal so far
    return np.where(last >= 0, signal[np.maximum(last, 0)] > 0, False).astype(np.int64)


def position(signal: IntArray) -> IntArray:
    """What is held *during* bar t: the holding decided at bar t-1's close (shift by one bar)."""
    held = holdings(signal)
    return np.concatenate(([0], held[:-1])).astype(np.int64)


def entries_exits(signal: IntArray) -> tuple[IntArray, IntArray]:
    """Bars whose close triggers an entry (flat -> long) and an exit (long -> flat)."""
    held = holdings(signal)
    change = np.diff(np.concatenate(([0], held)))
    return np.flatnonzero(change > 0), np.flatnonzero(change < 0)


def strategy_returns(close: FloatArray, held: IntArray) -> FloatArray:
    """Daily returns of holding ``held[t]`` units of exposure during bar t (no costs)."""
    close = np.asarray(close, dtype=np.float64)
    returns = np.concatenate(([0.0], close[1:] / close[:-1] - 1.0))
    return returns * held


# --------------------------------------------------------------------------------------------
# the page


def load_spx(start: str = "2005-01-03", end: str = "2012-12-31") -> pd.DataFrame:
    """The S&P 500 sample shipped with the install, validated like any experiment's data."""
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    cfg = DataConfig.model_validate({"source": "sample", "symbols": ["SPX"], "start": start, "end": end})
    return load_market(cfg).frames["SPX"]


def scalar_loop_signals(fast: FloatArray, slow: FloatArray) -> list[int]:
    """The same signals computed one bar at a time with Python floats, as a strategy would."""
    f, s = fast.tolist(), slow.tolist()
    return [0] + [crossover(f[t], s[t], f[t - 1], s[t - 1]) for t in range(1, len(f))]


def pandas_rolling_flips(close: pd.Series, fast: int, slow: int) -> tuple[int, int]:
    """Bars where pandas' rolling mean differs from TA-Lib's SMA, and signals that it changes."""
    values = close.to_numpy()
    ours = (sma(values, fast), sma(values, slow))
    theirs = (close.rolling(fast).mean().to_numpy(), close.rolling(slow).mean().to_numpy())
    differ = int(sum(((a != b) & ~np.isnan(a)).sum() for a, b in zip(ours, theirs, strict=True)))
    flips = int((crossover_signals(*theirs) != crossover_signals(*ours)).sum())
    return differ, flips


def synthetic_closes(symbols: tuple[str, ...] = ("AAA", "BBB", "CCC")) -> dict[str, pd.Series]:
    """Closes from the synthetic generator (two-decimal prices, 2010-2019), one per symbol."""
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    cfg = DataConfig.model_validate({"source": "synthetic", "symbols": symbols, "start": "2010-01-04",
                                     "end": "2019-12-31"})
    return {s: frame["close"] for s, frame in load_market(cfg).frames.items()}


def plot(frame: pd.DataFrame, fast: FloatArray, slow: FloatArray, signal: IntArray,
         curves: dict[str, np.ndarray], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    dates = frame.index
    top.plot(dates, frame["close"], lw=0.7, color="black", label="close")
    top.plot(dates, fast, lw=0.8, label=f"SMA {FAST}")
    top.plot(dates, slow, lw=0.8, label=f"SMA {SLOW}")
    ins, outs = entries_exits(signal)
    top.scatter(dates[ins], frame["close"].to_numpy()[ins], marker="^", color="tab:green", s=22, label="entry")
    top.scatter(dates[outs], frame["close"].to_numpy()[outs], marker="v", color="tab:red", s=22, label="exit")
    top.set_title("SPX with its crossover trades (decided at the close, held from the next bar)")
    top.legend(fontsize=8, ncol=5)
    for label, curve in curves.items():
        bottom.plot(dates, curve, lw=0.9, label=label)
    bottom.set_ylabel("growth of 1")
    bottom.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    frame = load_spx()
    close = frame["close"].to_numpy()

    # 1-2: averages and their crossings, for every bar at once
    fast, slow = sma(close, FAST), sma(close, SLOW)
    signal = crossover_signals(fast, slow)
    # the same function, one bar at a time on Python floats, gives the same answer
    same_as_scalar_loop = signal.tolist() == scalar_loop_signals(fast, slow)
    # the tie problem: pandas' rolling mean sums in another order than TA-Lib
    differ, flips = pandas_rolling_flips(frame["close"], FAST, SLOW)
    synthetic_flips = sum(pandas_rolling_flips(c, FAST, SLOW)[1] for c in synthetic_closes().values())

    # 3-4: holdings after each close, and the position actually held during each bar
    held_after_close = holdings(signal)
    held = position(signal)
    entries, exits = entries_exits(signal)
    honest = np.cumprod(1 + strategy_returns(close, held))
    look_ahead = np.cumprod(1 + strategy_returns(close, held_after_close))  # the bug, on purpose
    buy_hold = close / close[0]

    figures = {
        "bars": len(close),
        "first": str(frame.index[0].date()),
        "last": str(frame.index[-1].date()),
        "cross_ups": int((signal > 0).sum()),
        "cross_downs": int((signal < 0).sum()),
        "entries": len(entries),
        "exits": len(exits),
        "time_in_market": float(held.mean()),
        "strategy_return": float(honest[-1] - 1),
        "look_ahead_return": float(look_ahead[-1] - 1),
        "buy_hold_return": float(buy_hold[-1] - 1),
        "same_as_scalar_loop": same_as_scalar_loop,
        "rolling_mean_differs": differ,
        "pandas_rolling_flips": flips,
        "synthetic_rolling_flips": synthetic_flips,
    }
    print(f"SPX {figures['first']} .. {figures['last']}: {figures['bars']} bars, SMA({FAST}) vs SMA({SLOW})")
    print(f"crosses: {figures['cross_ups']} up, {figures['cross_downs']} down -> "
          f"{figures['entries']} entries, {figures['exits']} exits; in the market {figures['time_in_market']:.0%} of bars")
    print(f"return without costs: strategy {figures['strategy_return']:+.1%}, buy and hold "
          f"{figures['buy_hold_return']:+.1%}, strategy WITH look-ahead (no shift) {figures['look_ahead_return']:+.1%}")
    print(f"array signals == bar-by-bar scalar signals: {same_as_scalar_loop}")
    print(f"pandas' rolling mean differs from TA-Lib's SMA in the last bits on {differ} values; "
          f"signals it would change: {flips} here, {synthetic_flips} on three synthetic symbols 2010-2019")
    figures["plot"] = plot(frame, fast, slow, signal, {
        "strategy": honest, "buy and hold": buy_hold, "look-ahead (wrong)": look_ahead,
    }, folder / "ma_crossover_signals.png")
    print(f"plot: {figures['plot']}")
    return figures


if __name__ == "__main__":
    main()
