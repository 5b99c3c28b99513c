"""The value-at-risk limit: 1-day VaR and CVaR of the portfolio an order would leave.

The portfolio is the positions after the order, valued at the current bar's close, as signed
exposures ``w_s = shares_s x close_s / equity``; its return on each of the last ``window`` days is
``sum_s w_s r_s`` with ``r_s`` the symbol's simple daily close-to-close returns up to and including
the current bar (never a later one). VaR and CVaR are positive fractions of equity (a loss), from
the cookbook's chapter 11 functions (imported, never copied):

* ``historical`` — minus the empirical ``1 - confidence`` quantile of those returns, numpy's
  default ``'linear'`` definition (Hyndman-Fan type 7, as pandas, empyrical and quantstats), and
  minus the mean of the returns at or below it (recipes/ch11_risk_sizing/r07_var_historical.py);
* ``parametric`` — the normal fitted to them (mean, ``ddof=1`` standard deviation) through
  ``scipy.stats.norm`` (r08_var_parametric.py);
* ``monte_carlo`` — ``draws`` one-day returns from that normal, drawn by
  ``numpy.random.default_rng(seed)`` and read as the historical method reads the past
  (r09_var_monte_carlo.py).

The estimate needs at least :data:`MIN_RETURNS` past returns (fewer trailing returns than
``window`` at the start of the data are used as they are); before that the limit is not evaluated.
An order is breached when the VaR after it is above the limit
and above the VaR before it: an order that lowers the portfolio's VaR always passes. The numbers
are computed in float64 from the same bars and positions on every engine, so every engine takes
the same decision; the comparison with the limit is on those floats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recipes.ch11_risk_sizing.r07_var_historical import historical_var_cvar, portfolio_returns
from recipes.ch11_risk_sizing.r08_var_parametric import parametric_var_cvar
from recipes.ch11_risk_sizing.r09_var_monte_carlo import monte_carlo_var_cvar

#: each symbol's closes so far: the host's lists, or arrays
Closes = Mapping[str, Sequence[float] | np.ndarray]
VarMethod = Literal["historical", "parametric", "monte_carlo"]
MIN_RETURNS = 20


@dataclass(frozen=True)
class VarModel:
    """How the VaR is estimated (the ``risk.var`` settings other than the limits)."""

    method: VarMethod = "historical"
    confidence: float = 0.99
    window: int = 250
    draws: int = 100_000
    seed: int = 7

    def describe(self) -> str:
        """``1-day 99% historical VaR, trailing 250 days`` (plus draws and seed for Monte Carlo)."""
        mc = f" ({self.draws:,} draws, seed {self.seed})" if self.method == "monte_carlo" else ""
        return (f"1-day {self.confidence:.1%}".replace(".0%", "%") + f" {self.method.replace('_', ' ')}{mc} VaR, "
                f"trailing {self.window} days")

    def estimate(self, returns: np.ndarray) -> tuple[float, float]:
        """(VaR, CVaR) of a portfolio return series, as positive fractions (losses)."""
        if self.method == "historical":
            return historical_var_cvar(returns, self.confidence)
        if self.method == "parametric":
            return parametric_var_cvar(returns, self.confidence)
        return monte_carlo_var_cvar(returns, self.confidence, self.draws, self.seed)


def asset_returns(closes: Closes, symbols: Sequence[str], index: int, window: int) -> np.ndarray:
    """Days x symbols simple returns of the ``window`` days up to bar ``index`` (fewer at the start)."""
    start = max(index - window, 0)
    cols = []
    for s in symbols:
        c = np.asarray(closes[s][start:index + 1], dtype=float)
        cols.append(c[1:] / c[:-1] - 1.0)
    return np.column_stack(cols) if cols else np.empty((max(index - start, 0), 0))


def portfolio_var(model: VarModel, positions: Mapping[str, int], prices: Mapping[str, float],
                  equity: float, closes: Closes, index: int) -> tuple[float, float] | None:
    """(VaR, CVaR) of ``positions`` at ``prices`` on ``equity``, or None when it cannot be estimated
    (fewer than :data:`MIN_RETURNS` past returns, or equity not positive). No position: (0, 0)."""
    if index < MIN_RETURNS or not equity > 0:
        return None
    held = sorted(s for s, q in positions.items() if q)
    if not held:
        return 0.0, 0.0
    weights = np.array([positions[s] * prices[s] / equity for s in held])
    returns = portfolio_returns(weights, asset_returns(closes, held, index, model.window))
    var, cvar = model.estimate(returns)
    return (var, cvar) if math.isfinite(var) and math.isfinite(cvar) else None
