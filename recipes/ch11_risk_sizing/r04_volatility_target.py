"""Volatility target: size each position so that it would have run at a chosen annual volatility.

A position's risk is its weight times its volatility. Volatility targeting turns that around: hold
``annual / realized`` of the account, where ``realized`` is the symbol's trailing realized
volatility — the sample standard deviation (ddof=1) of its last ``window`` daily simple returns up
to and including the decision bar (so ``window + 1`` closes), times ``sqrt(252)``. Calm markets get
a bigger position, turbulent ones a smaller one; the fraction is capped at ``max_leverage`` (1.0:
never more than the account), and it is 0 (no entry) until ``window + 1`` closes exist or when
the closes never moved.

What to look at: realized volatility of SPX in a calm year (2006) and a wild one (2008) and the
fraction of equity a 15 % target holds in each.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from recipes.ch11_risk_sizing.r01_fixed_shares import sample_bars

TRADING_DAYS = 252


def trailing_returns(closes: ArrayLike, window: int) -> np.ndarray:
    """The last ``window`` daily simple returns of ``closes`` (empty if fewer than ``window + 1`` closes)."""
    c = np.asarray(closes, dtype=float)[-(window + 1):]
    if len(c) < window + 1:
        return np.empty(0)
    return c[1:] / c[:-1] - 1.0


def realized_vol(closes: ArrayLike, window: int) -> float:
    """Annualised trailing realized volatility: ``std(returns, ddof=1) * sqrt(252)`` (NaN if too short)."""
    r = trailing_returns(closes, window)
    return float(np.std(r, ddof=1) * math.sqrt(TRADING_DAYS)) if len(r) >= 2 else math.nan


def vol_target_fraction(closes: ArrayLike, window: int, annual: float, max_leverage: float = 1.0) -> float:
    """The fraction of equity to hold: ``min(annual / realized_vol, max_leverage)``; 0 when unknown."""
    vol = realized_vol(closes, window)
    if not math.isfinite(vol) or vol <= 0:
        return 0.0
    return min(annual / vol, max_leverage)


def main(out: Path | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for end in ("2006-12-29", "2008-12-31"):
        closes = sample_bars(end=end)["close"].to_numpy()
        vol, frac = realized_vol(closes, 20), vol_target_fraction(closes, 20, 0.15, 1.0)
        print(f"SPX to {end}: 20-day realized vol {vol:.1%} -> hold {frac:.1%} of equity for a 15% target")
        result[end[:4]] = {"vol": vol, "fraction": frac}
    return result


if __name__ == "__main__":
    main()
