"""Half-life: how long a spread takes to come halfway back.

A mean-reverting spread is modelled as an Ornstein-Uhlenbeck process; sampled once a day it is an
AR(1): ``s[t] = c + phi * s[t-1] + e[t]``. Regressing the change ``s[t] - s[t-1]`` on the level
``s[t-1]`` gives the slope ``b = phi - 1`` (negative when the spread reverts), and a gap decays
by ``phi`` a day, so it halves after ``-ln 2 / ln phi`` days. The half-life sets the time scale of
the trade: the look-back of the z-score and how long a position may be expected to last. A spread
with ``phi >= 1`` does not revert: its half-life is infinite.

What to look at: the half-life estimated from the planted pair's spread (fitted with the
Engle-Granger hedge ratio) next to the planted 5 days.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from recipes.ch12_pairs_trading.r01_engle_granger import PLANTED, engle_granger, planted_closes


def ar1_phi(spread: ArrayLike) -> float:
    """``phi`` of the AR(1) fit ``s[t] = c + phi * s[t-1]``: 1 + the slope of the change on the lagged level."""
    s = np.asarray(spread, dtype=float)
    if len(s) < 3:
        raise ValueError(f"an AR(1) fit needs at least 3 values, got {len(s)}")
    slope, _ = np.polyfit(s[:-1], np.diff(s), 1)
    return 1.0 + float(slope)


def half_life(spread: ArrayLike) -> float:
    """Days for a gap to decay by half, ``-ln 2 / ln phi``; ``inf`` when the spread does not revert."""
    phi = ar1_phi(spread)
    return -math.log(2) / math.log(phi) if 0 < phi < 1 else math.inf


def main(out: Path | None = None) -> dict[str, Any]:
    closes = planted_closes()
    eg = engle_granger(closes["Y"], closes["X"])
    spread = closes["Y"] - eg.alpha - eg.beta * closes["X"]
    hl = half_life(spread)
    print(f"Y - {eg.alpha:.2f} - {eg.beta:.4f} X: half-life {hl:.2f} days (planted {PLANTED['half_life']})")
    control = half_life(closes["A"] - np.polyval(np.polyfit(closes["B"], closes["A"], 1), closes["B"]))
    print(f"control A on B: half-life {control:.1f} days")
    return {"half_life": hl, "control": control}


if __name__ == "__main__":
    main()
