"""Regime-filtered momentum: follow the trend only while the market is calm, stand aside otherwise.

Time-series momentum (hold an index while its trailing return is positive) earns its keep in
steady trends and gives much of it back in turbulent markets, where the trend flips faster than a
126-day return can follow. The walk-forward HMM of r02 says, each day and from the past alone,
which regime the market is in. The rule combines the two:

- **long** when the day's regime is at most ``max_regime`` (0: the calm regime only) *and* the
  trailing ``lookback``-day return is positive;
- **flat** otherwise, including before the first model exists (label -1) and while the
  return is not known yet.

:func:`regime_momentum_position` is the rule for one day; the production strategy
``regime_momentum`` calls it bar by bar with the label of its own :class:`WalkForwardHMM`.

The vectorized check below trades the rule on SPX 2005-2012, filled at the next close (the
engines' ``next_close``): a decision made after day ``t`` closes earns the return from ``t + 1``
to ``t + 2``, so positions are shifted by two days before they meet returns. All three lines are
measured over the same days, from the first labelled one.

What to look at: plain momentum against the regime-filtered one against buy-and-hold: the filter
should cut the volatility and the drawdown of 2008 at the price of time in the market.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from recipes.ch13_regimes.r01_gaussian_hmm import check_positive, sample_closes
from recipes.ch13_regimes.r02_walk_forward_regimes import walk_forward_regimes

TRADING_DAYS = 252


def trailing_return(closes: ArrayLike, lookback: int) -> float:
    """``close[-1] / close[-1 - lookback] - 1`` (NaN when fewer than ``lookback + 1`` closes)."""
    check_positive("lookback", lookback)
    c = np.asarray(closes, dtype=np.float64)
    return float(c[-1] / c[-1 - lookback] - 1.0) if len(c) > lookback else math.nan


def regime_momentum_position(label: int, momentum: float, max_regime: int = 0) -> int:
    """1 (long) when ``0 <= label <= max_regime`` and ``momentum > 0``; 0 (flat) otherwise."""
    return 1 if 0 <= label <= max_regime and math.isfinite(momentum) and momentum > 0 else 0


def positions(closes: ArrayLike, labels: ArrayLike, lookback: int, max_regime: int = 0) -> np.ndarray:
    """The rule applied day by day (each day from its own trailing return and label)."""
    c = np.asarray(closes, dtype=np.float64)
    lab = np.asarray(labels)
    return np.array([regime_momentum_position(int(lab[t]), trailing_return(c[: t + 1], lookback), max_regime)
                     for t in range(len(c))], dtype=np.int64)


def stats(daily: np.ndarray, held: np.ndarray) -> dict[str, float]:
    equity = np.cumprod(1.0 + daily)
    drawdown = 1.0 - equity / np.maximum.accumulate(equity)
    vol = float(np.std(daily, ddof=1) * math.sqrt(TRADING_DAYS))
    mean = float(np.mean(daily) * TRADING_DAYS)
    return {"total_return": float(equity[-1] - 1.0), "volatility": vol, "sharpe": mean / vol if vol > 0 else math.nan,
            "max_drawdown": float(drawdown.max()), "exposure": float(np.mean(held))}


def main(out: Path | None = None) -> dict[str, Any]:
    lookback = 126
    closes, dates = sample_closes(start="2005-01-03", end="2012-12-31")
    wf = walk_forward_regimes(closes, vol_window=20, train_bars=504, refit_every=126, seed=7, n_iter=25)
    labels = np.asarray(wf.labels)
    always_calm = np.where(labels >= 0, 0, -1)
    plans = {"buy_and_hold": np.where(labels >= 0, 1, 0),
             "momentum": positions(closes, always_calm, lookback),
             "regime_momentum": positions(closes, labels, lookback)}
    returns = np.r_[np.diff(closes) / closes[:-1], 0.0]  # returns[t]: from close t to close t + 1
    first = wf.first_fit_bar
    result: dict[str, Any] = {}
    for name, held in plans.items():
        # decided after close t, filled at close t + 1, earning returns[t + 1]
        earned = np.r_[0.0, held[:-1]][first + 1: -1]
        s = stats(returns[first + 1: -1] * earned, earned)
        result[name] = s
        print(f"{name:16s} total {s['total_return']:+7.1%}  vol {s['volatility']:5.1%}  sharpe {s['sharpe']:+.2f}  "
              f"max drawdown {s['max_drawdown']:5.1%}  in the market {s['exposure']:4.0%}")
    print(f"(SPX {dates[first + 1].date()} .. {dates[-2].date()}, {len(wf.fits)} walk-forward fits)")
    return result


if __name__ == "__main__":
    main()
