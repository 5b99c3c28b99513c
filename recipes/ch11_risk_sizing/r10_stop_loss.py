"""Stop-loss: a level below the entry, and the one rule that says when and where it fills.

A stop-loss caps what one trade may lose: sell if the price falls a fixed fraction below the
entry (:func:`stop_loss_level`), or a multiple of the recent average true range below it
(:func:`atr_stop_level` — a wider stop for a jumpier market), rounded to the cent
(:func:`to_tick`, a price a broker accepts). The level is the easy part; what matters for a backtest is *when* a daily bar says the stop was hit and *at what price* it filled,
because that is where engines differ. This page states the rule once (:func:`touch_price`) and
every engine of algotrade fills its protective exits by it (``algotrade.core.exits.exit_fill``):

* the stop rests from the bar *after* the entry fill (a stop placed today can only act tomorrow);
* for a long position: if the bar **opens at or below** the stop, it fills at the open — the market
  gapped through the level and nobody could sell at it; else if the bar's **low reaches** the
  stop, it fills at the stop itself;
* a take-profit limit (recipe 11) works the same way upwards (open at or above: the open; high
  reaches it: the limit), and when one bar touches both the stop wins — a daily bar does not say
  which came first, so the rule assumes the worse one;
* a short position's exit is the mirror image.

:func:`first_exit` applies the rule to whole arrays: it marks every bar that touches a level and
takes the first. ``main`` enters SPX on each moving-average crossover of chapter 3 and compares
the trades with and without a 5% stop: how many were stopped, how many gapped through, and the
average and worst trade return.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
#: (entry price, entry bar, first bar, end bar) -> the (stops, limits) resting on bars first..end-1
Levels = Callable[[float, int, int, int], tuple[FloatArray | None, FloatArray | None]]

STOP_FRACTION = 0.05
#: levels are prices a broker accepts: whole cents
TICK_DIGITS = 2


# --------------------------------------------------------------------------------------------
# ingredients


def to_tick(price: float) -> float:
    """A level rounded to the cent (Python's correctly rounded ``round``, ties to even)."""
    return round(price, TICK_DIGITS)


def stop_loss_level(entry: float, fraction: float, side: int = 1) -> float:
    """The stop ``fraction`` below the entry price of a long (``side`` +1), above it for a short (-1)."""
    return to_tick(entry * (1 - fraction) if side > 0 else entry * (1 + fraction))


def atr_stop_level(entry: float, atr: float, mult: float, side: int = 1) -> float:
    """The stop ``mult`` average true ranges below the entry of a long, above it for a short."""
    return to_tick(entry - mult * atr if side > 0 else entry + mult * atr)


def touch_price(open_: float, high: float, low: float, stop: float | None, limit: float | None,
                side: int = 1) -> tuple[float, str] | None:
    """Where a resting exit fills on one bar, and which level did it ("stop" or "limit"), or None.

    ``side`` is the position's: +1, a long closed by a sell (stop below, limit above); -1, a short
    closed by a buy (stop above, limit below). Gaps fill at the open; both touched: the stop."""
    if side > 0:
        if stop is not None and open_ <= stop:
            return open_, "stop"
        if limit is not None and open_ >= limit:
            return open_, "limit"
        if stop is not None and low <= stop:
            return stop, "stop"
        if limit is not None and high >= limit:
            return limit, "limit"
        return None
    if stop is not None and open_ >= stop:
        return open_, "stop"
    if limit is not None and open_ <= limit:
        return open_, "limit"
    if stop is not None and high >= stop:
        return stop, "stop"
    if limit is not None and low <= limit:
        return limit, "limit"
    return None


def first_exit(open_: FloatArray, high: FloatArray, low: FloatArray, stops: FloatArray | None,
               limits: FloatArray | None, side: int = 1) -> tuple[int, float, str] | None:
    """The first bar whose range touches its level (``stops[k]``/``limits[k]``: the level resting
    on bar k; NaN or None: none), with the fill price and the level by :func:`touch_price`."""
    touched = np.zeros(len(open_), dtype=bool)
    with np.errstate(invalid="ignore"):
        if stops is not None:
            touched |= (low <= stops) if side > 0 else (high >= stops)
        if limits is not None:
            touched |= (high >= limits) if side > 0 else (low <= limits)
    if not touched.any():
        return None
    k = int(np.argmax(touched))

    def level(x: FloatArray | None) -> float | None:
        return None if x is None or np.isnan(x[k]) else float(x[k])

    hit = touch_price(float(open_[k]), float(high[k]), float(low[k]), level(stops), level(limits), side)
    if hit is None:  # pragma: no cover - a bar whose range touches a level always fills by the rule
        raise AssertionError(f"bar {k} touches a level but does not fill")
    return k, hit[0], hit[1]


def stopped_trades(frame: Any, entries: list[int], exits: list[int], levels: Levels) -> list[dict[str, Any]]:
    """Long trades entered at the close of each ``entries`` bar and closed at the close of the next
    ``exits`` bar, unless a level is touched first (from the bar after the entry)."""
    o, h, lo, c = (frame[f].to_numpy(dtype=np.float64) for f in ("open", "high", "low", "close"))
    trades = []
    for e in entries:
        later = [x for x in exits if x > e]
        end = later[0] if later else len(c) - 1
        if end <= e:
            continue
        k0 = e + 1
        stops, limits = levels(float(c[e]), e, k0, end + 1)
        hit = first_exit(o[k0 : end + 1], h[k0 : end + 1], lo[k0 : end + 1], stops, limits)
        if hit is None:
            trades.append({"entry": e, "exit": end, "ret": c[end] / c[e] - 1, "how": "signal", "gap": False})
        else:
            k, price, which = hit
            trades.append({"entry": e, "exit": k0 + k, "ret": price / c[e] - 1, "how": which,
                           "gap": bool(price == o[k0 + k])})
    return trades


def crossover_trades(frame: Any, fast: int = 20, slow: int = 50) -> tuple[list[int], list[int]]:
    """Entry and exit bars of chapter 3's moving-average crossover on ``frame``."""
    from recipes.ch03_vectorized.r01_ma_crossover_signals import crossover_signals, sma

    close = frame["close"].to_numpy(dtype=np.float64)
    signal = crossover_signals(sma(close, fast), sma(close, slow))
    return [int(k) for k in np.flatnonzero(signal > 0)], [int(k) for k in np.flatnonzero(signal < 0)]


def summary(trades: list[dict[str, Any]]) -> dict[str, Any]:
    rets = [t["ret"] for t in trades]
    return {
        "trades": len(trades),
        "stopped": sum(t["how"] == "stop" for t in trades),
        "took_profit": sum(t["how"] == "limit" for t in trades),
        "gapped": sum(t["gap"] for t in trades),
        "mean_return": float(np.mean(rets)) if rets else 0.0,
        "worst_return": float(np.min(rets)) if rets else 0.0,
    }


def main(out: Path | None = None) -> dict[str, Any]:
    from recipes.ch03_vectorized.r01_ma_crossover_signals import load_spx

    frame = load_spx()
    entries, exits = crossover_trades(frame)
    plain = summary(stopped_trades(frame, entries, exits, lambda p, e, k0, k1: (None, None)))

    def fixed_stop(price: float, e: int, k0: int, k1: int) -> tuple[FloatArray, None]:
        return np.full(k1 - k0, stop_loss_level(price, STOP_FRACTION)), None

    stopped = summary(stopped_trades(frame, entries, exits, fixed_stop))
    print(f"SPX 20/50 crossover, {plain['trades']} trades")
    print(f"  no stop : mean {plain['mean_return']:+.2%}, worst {plain['worst_return']:+.2%}")
    print(f"  {STOP_FRACTION:.0%} stop: mean {stopped['mean_return']:+.2%}, worst {stopped['worst_return']:+.2%}, "
          f"{stopped['stopped']} stopped ({stopped['gapped']} gapped through the level)")
    return {"no_stop": plain, "stop_loss": stopped}


if __name__ == "__main__":
    main()
