"""Trailing stop: a stop that follows the price up and never moves back down.

A fixed stop (recipe 10) protects the entry; a trailing stop protects the gain. It sits a fraction
below the *highest close since entry* (:func:`trailing_level`): each new high close lifts it, a
fall leaves it where it was, so a trade that ran up 30% and turns gives back at most about the
fraction. Computed at each bar's close from closes up to that bar, it rests on the next bar, and
fills by recipe 10's rule (at the level, or at the open on a gap down through it).

:func:`trailing_stops` is the whole path at once: a running maximum of the closes since entry
(``np.maximum.accumulate``) times ``1 - fraction``, shifted one bar so that bar k sees the level
set at the close of bar k-1. algotrade's core recomputes the same level bar by bar and replaces the
resting stop only when it tightens (:func:`ratchet`). ``main`` runs recipe 10's crossover trades on
SPX with an 8% trailing stop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recipes.ch11_risk_sizing.r10_stop_loss import (
    FloatArray,
    crossover_trades,
    stopped_trades,
    summary,
    to_tick,
)

TRAIL_FRACTION = 0.08


def trailing_level(extreme: float, fraction: float, side: int = 1) -> float:
    """The stop ``fraction`` below the highest close since entry of a long (``extreme``), above the
    lowest close of a short (``side`` -1)."""
    return to_tick(extreme * (1 - fraction) if side > 0 else extreme * (1 + fraction))


def ratchet(resting: float | None, new: float, side: int = 1) -> float:
    """The stop after an update: the tighter of the resting one and ``new`` (never loosened)."""
    if resting is None:
        return new
    return max(resting, new) if side > 0 else min(resting, new)


def trailing_stops(close: FloatArray, fraction: float) -> FloatArray:
    """The long stop resting on each bar after the first: from the highest close up to the bar before.

    ``close[0]`` is the entry bar's close; the result has ``len(close) - 1`` levels, for bars 1.."""
    return np.array([trailing_level(float(x), fraction) for x in np.maximum.accumulate(close[:-1])])


def main(out: Path | None = None) -> dict[str, Any]:
    from recipes.ch03_vectorized.r01_ma_crossover_signals import load_spx

    frame = load_spx()
    close = frame["close"].to_numpy(dtype=np.float64)
    entries, exits = crossover_trades(frame)

    def trail(price: float, e: int, k0: int, k1: int) -> tuple[FloatArray, None]:
        return trailing_stops(close[e:k1], TRAIL_FRACTION), None

    tr = summary(stopped_trades(frame, entries, exits, trail))
    print(f"SPX 20/50 crossover, {tr['trades']} trades")
    print(f"  {TRAIL_FRACTION:.0%} trailing stop: {tr['stopped']} stopped ({tr['gapped']} gapped), "
          f"mean {tr['mean_return']:+.2%}, worst {tr['worst_return']:+.2%}")
    return {"trailing": tr}


if __name__ == "__main__":
    main()
