"""Fractional Kelly: bet the growth-optimal fraction, scaled down.

For returns with mean ``mu`` and variance ``sigma**2`` per period, the fraction of wealth that
maximises the expected log growth is (for small returns) ``f* = mu / sigma**2``. It is notoriously
aggressive and the inputs are noisy, so practitioners bet a *fraction* of it. Here:

    f = fraction * mean(r) / var(r, ddof=1),   clipped to [0, cap]

with ``r`` the symbol's last ``window`` daily simple returns up to and including the decision bar
(``window + 1`` closes). A negative edge gives 0 (no entry: long only), and the cap (1.0: never
more than the account) bounds the rest; too little history or flat closes give 0.

What to look at: the raw Kelly fraction (often far above 1) and what half Kelly capped at 1 holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from recipes.ch11_risk_sizing.r01_fixed_shares import sample_bars
from recipes.ch11_risk_sizing.r04_volatility_target import trailing_returns


def kelly_raw(closes: ArrayLike, window: int) -> float:
    """``mean(r) / var(r, ddof=1)`` of the trailing ``window`` returns (NaN if too short or flat)."""
    r = trailing_returns(closes, window)
    if len(r) < 2:
        return float("nan")
    var = float(np.var(r, ddof=1))
    return float(np.mean(r)) / var if var > 0 else float("nan")


def kelly_fraction(closes: ArrayLike, window: int, fraction: float = 0.5, cap: float = 1.0, side: int = 1) -> float:
    """The fraction of equity to hold: ``fraction * kelly_raw`` clipped to ``[0, cap]``; 0 when unknown.

    A short (``side=-1``) earns the negated returns: its edge is ``-mean(r)`` over the same
    variance, so a market drifting up gives a short no Kelly stake at all."""
    raw = kelly_raw(closes, window)
    if raw != raw:  # NaN
        return 0.0
    return min(max(fraction * side * raw, 0.0), cap)


def main(out: Path | None = None) -> dict[str, Any]:
    closes = sample_bars(end="2012-12-31")["close"].to_numpy()
    raw, half = kelly_raw(closes, 60), kelly_fraction(closes, 60, 0.5, 1.0)
    print(f"SPX, 60 days to 2012-12-31: full Kelly {raw:.2f} x equity; half Kelly capped at 1 -> {half:.2f}")
    return {"raw": raw, "half_kelly": half}


if __name__ == "__main__":
    main()
