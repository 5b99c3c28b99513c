"""Rolling OLS: a hedge ratio that follows the pair, estimated from the past only.

A hedge ratio fitted once on the whole history uses the future: at any earlier day it knows where
the prices went afterwards. A trading rule needs the ratio it could have known: the least-squares
line of y on x over the last ``window`` bars up to and including bar t (so the estimate at t
changes only when bars up to t change). Until ``window`` bars exist there is no estimate (NaN). A
short window follows a drifting relation and is noisy; a long one is steady and slow.

What to look at: the rolling beta of the planted pair around the planted 1.5, and the same
estimate recomputed after the later data are changed: identical up to that day.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from recipes.ch12_pairs_trading.r01_engle_granger import PLANTED, ols_hedge, planted_closes


def rolling_hedge(y: ArrayLike, x: ArrayLike, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``(beta, alpha)`` at each bar t from the least-squares fit on bars ``t - window + 1 .. t`` (NaN before)."""
    if window < 3:
        raise ValueError(f"window {window} is too short for a line through noisy prices; use 3 or more")
    ys, xs = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    beta, alpha = np.full(len(ys), np.nan), np.full(len(ys), np.nan)
    for t in range(window - 1, len(ys)):
        beta[t], alpha[t] = ols_hedge(ys[t - window + 1:t + 1], xs[t - window + 1:t + 1])
    return beta, alpha


def main(out: Path | None = None) -> dict[str, Any]:
    closes = planted_closes()
    beta, _ = rolling_hedge(closes["Y"], closes["X"], 120)
    print(f"rolling 120-day beta: median {np.nanmedian(beta):.4f}, 5-95% "
          f"{np.nanpercentile(beta, 5):.3f}..{np.nanpercentile(beta, 95):.3f} (planted {PLANTED['beta']})")
    changed = closes.copy()
    changed.iloc[1500:] *= 1.3
    later, _ = rolling_hedge(changed["Y"], changed["X"], 120)
    same = bool(np.array_equal(beta[:1500], later[:1500], equal_nan=True))
    print(f"data after day 1500 changed: every estimate up to it unchanged: {same}")
    return {"median_beta": float(np.nanmedian(beta)), "causal": same}


if __name__ == "__main__":
    main()
