"""Monte Carlo value at risk of the portfolio you hold, from a seeded generator.

Simulate many one-day outcomes of the portfolio and read VaR and CVaR off the simulated returns
exactly as the historical method reads them off the past (chapter 8's ``historical_var_cvar``).
The model here is the normal fitted to the portfolio's trailing returns (recipe 7's
``portfolio_returns``; mean and ``ddof=1`` standard deviation as in recipe 8), so the answer
converges to recipe 8's closed form as the draws grow — the page shows by how much it misses at
1,000 to 1,000,000 draws. Why simulate what has a formula? Because the simulation is the part that
generalises: swap the normal for a Student-t, a GARCH path or a bootstrap of whole days and the
quantile step stays the same.

The draws come from ``numpy.random.default_rng(seed)``: the same seed gives the same VaR on every
engine and every run, which a risk *limit* needs (an order must not pass on one run and fail on
the next). The standard normal draws for a (draws, seed) pair are made once and reused.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch08_performance_risk.r03_var_cvar import historical_var_cvar
from recipes.ch11_risk_sizing import out_dir
from recipes.ch11_risk_sizing.r07_var_historical import CONFIDENCE, WEIGHTS, WINDOW, portfolio_returns
from recipes.ch11_risk_sizing.r08_var_parametric import parametric_var_cvar

DRAWS = 100_000
SEED = 7

__all__ = ["main", "monte_carlo_var_cvar", "standard_draws"]


@lru_cache(maxsize=8)
def standard_draws(draws: int, seed: int) -> np.ndarray:
    """``draws`` standard normal numbers from ``default_rng(seed)`` (read-only, cached)."""
    z = np.random.default_rng(seed).standard_normal(draws)
    z.flags.writeable = False
    return z


def monte_carlo_var_cvar(returns: np.ndarray, confidence: float, draws: int = DRAWS, seed: int = SEED) -> tuple[float, float]:
    """VaR and CVaR of ``draws`` simulated one-day returns from the normal fitted to ``returns``."""
    mu, sigma = float(np.mean(returns)), float(np.std(returns, ddof=1))
    return historical_var_cvar(mu + sigma * standard_draws(draws, seed), confidence)


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    market = load_market(DataConfig.model_validate({"symbols": tuple(WEIGHTS)}))
    closes = pd.DataFrame({s: f["close"] for s, f in market.frames.items()}).loc["2011-01-01":"2012-12-31"]
    rets = closes[list(WEIGHTS)].pct_change().iloc[1:].to_numpy()[-WINDOW:]
    past = portfolio_returns(np.array(list(WEIGHTS.values())), rets)
    exact_var, exact_cvar = parametric_var_cvar(past, CONFIDENCE)
    print(f"{WEIGHTS} position, {CONFIDENCE:.0%} one-day VaR from the last {WINDOW} days of 2012: "
          f"normal closed form VaR {exact_var:.4%}, CVaR {exact_cvar:.4%}")
    rows = []
    for draws in (1_000, 10_000, 100_000, 1_000_000):
        var, cvar = monte_carlo_var_cvar(past, CONFIDENCE, draws, SEED)
        rows.append({"draws": draws, "VaR": var, "CVaR": cvar,
                     "VaR_error": var / exact_var - 1, "CVaR_error": cvar / exact_cvar - 1})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, formatters={"VaR": "{:.4%}".format, "CVaR": "{:.4%}".format,
                                                    "VaR_error": "{:+.2%}".format, "CVaR_error": "{:+.2%}".format}))
    again = monte_carlo_var_cvar(past, CONFIDENCE, DRAWS, SEED)
    print(f"same seed again: {again == tuple(table.loc[2, ['VaR', 'CVaR']])}")
    path = plot(past, exact_var, table, folder / "var_monte_carlo.png")
    print(f"plot: {path}")
    return {"table": table, "parametric": (exact_var, exact_cvar), "repeatable": again == tuple(table.loc[2, ["VaR", "CVaR"]]),
            "plot": path}


def plot(past: np.ndarray, exact_var: float, table: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    sims = float(np.mean(past)) + float(np.std(past, ddof=1)) * standard_draws(DRAWS, SEED)
    left.hist(sims * 100, bins=200, color="lightgrey", density=True, label="simulated")
    left.hist(past * 100, bins=40, histtype="step", color="C0", density=True, label="past 250 days")
    left.axvline(-exact_var * 100, color="C1", label="-VaR 99% (normal)")
    left.set_title("one-day returns (%)")
    left.legend(fontsize=7)
    right.semilogx(table["draws"], table["VaR_error"].abs() * 100, "o-")
    right.set_title("|Monte Carlo VaR / normal VaR - 1| (%) by draws")
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
