"""Regime-filtered momentum: follow the trend only while the market is calm, stand aside otherwise.

Time-series momentum (hold an index while its trailing return is positive) earns its keep in
steady trends and gives much of it back in turbulent markets, where the trend flips faster than a
126-day return can follow. The walk-forward HMM of r02 says, each day and from the past alone,
which regime the market is in. The rule combines the two:

- **long** when the trailing ``lookback``-day return is positive *and* the filtered probability
  that the day is in a tradable regime (regimes ``0 .. max_regime``; 0: the calm one only) is
  above ``enter_prob``;
- once long, **stay** while the return stays positive and that probability stays at or above
  ``exit_prob`` (default: ``enter_prob``);
- **flat** otherwise, including before the first model exists and while the return is not known.

With ``enter_prob = exit_prob = 0.5`` and two regimes this is "long in the calm label". The
filtered probability hovers around one half at a regime's edge, and a single threshold then flips
the position back and forth on noise, paying costs each time; a gap between the two thresholds
(hysteresis) trades only once the model is fairly sure. On SPX 2003-2018 (the shipped
experiment's data), 0.5/0.5 makes 172 round trips and 0.7/0.3 about 76.

:func:`regime_momentum_position` is the rule for one day; the production strategy
``regime_momentum`` calls it bar by bar with the probabilities of its own :class:`WalkForwardHMM`.

The vectorized check below trades the rule on SPX 2005-2012, filled at the next close (the
engines' ``next_close``): a decision made after day ``t`` closes earns the return from ``t + 1``
to ``t + 2``, so positions are shifted by two days before they meet returns. All three lines are
measured over the same days, from the first labelled one.

What to look at: plain momentum against the regime-filtered one (with and without hysteresis)
against buy-and-hold: the filter should cut the volatility and the drawdown of 2008 at the price
of time in the market, and the hysteresis the number of round trips.
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


def tradable_probability(probs: ArrayLike, max_regime: int = 0) -> float:
    """The filtered probability of regimes ``0 .. max_regime`` (NaN before a model: ``probs`` NaN)."""
    return float(np.sum(np.asarray(probs, dtype=np.float64)[: max_regime + 1]))


def regime_momentum_position(
    previous: int, tradable: float, momentum: float, enter_prob: float = 0.5, exit_prob: float | None = None
) -> int:
    """1 (long) or 0 (flat) after this day, from yesterday's position and today's figures.

    Enter when ``momentum > 0`` and ``tradable > enter_prob``; once long, stay while
    ``momentum > 0`` and ``tradable >= exit_prob`` (default ``enter_prob``). NaN means flat.
    """
    if not (math.isfinite(tradable) and math.isfinite(momentum)) or momentum <= 0:
        return 0
    if previous > 0:
        return 1 if tradable >= (enter_prob if exit_prob is None else exit_prob) else 0
    return 1 if tradable > enter_prob else 0


def positions(
    closes: ArrayLike, probs: ArrayLike, lookback: int, max_regime: int = 0, enter_prob: float = 0.5,
    exit_prob: float | None = None,
) -> np.ndarray:
    """The rule applied day after day: ``probs`` holds each day's filtered regime probabilities (rows)."""
    c = np.asarray(closes, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    out = np.zeros(len(c), dtype=np.int64)
    previous = 0
    for t in range(len(c)):
        previous = out[t] = regime_momentum_position(
            previous, tradable_probability(p[t], max_regime), trailing_return(c[: t + 1], lookback),
            enter_prob, exit_prob)
    return out


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
    probs = np.asarray(wf.probs)
    always_calm = np.where(labels[:, None] >= 0, 1.0, np.nan) * np.ones_like(probs)
    plans = {"buy_and_hold": np.where(labels >= 0, 1, 0),
             "momentum": positions(closes, always_calm, lookback),
             "regime_momentum": positions(closes, probs, lookback),
             "regime_momentum_0.7/0.3": positions(closes, probs, lookback, enter_prob=0.7, exit_prob=0.3)}
    returns = np.r_[np.diff(closes) / closes[:-1], 0.0]  # returns[t]: from close t to close t + 1
    first = wf.first_fit_bar
    result: dict[str, Any] = {}
    for name, held in plans.items():
        # decided after close t, filled at close t + 1, earning returns[t + 1]
        earned = np.r_[0.0, held[:-1]][first + 1: -1]
        s = stats(returns[first + 1: -1] * earned, earned)
        result[name] = s
        s["round_trips"] = int(np.sum(np.diff(held[first:]) == 1))
        print(f"{name:23s} total {s['total_return']:+7.1%}  vol {s['volatility']:5.1%}  sharpe {s['sharpe']:+.2f}  "
              f"max drawdown {s['max_drawdown']:5.1%}  in the market {s['exposure']:4.0%}  round trips {s['round_trips']}")
    print(f"(SPX {dates[first + 1].date()} .. {dates[-2].date()}, {len(wf.fits)} walk-forward fits)")
    return result


if __name__ == "__main__":
    main()
