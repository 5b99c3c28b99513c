"""Efficient-frontier weights to whole-share orders: max-Sharpe, min-volatility, bounds, L2, clean-up.

r01 showed that the estimated expected returns are mostly noise. An unconstrained max-Sharpe
optimiser takes that noise at face value and piles into the two or three symbols that happened
to do best. This page builds the optimiser the production strategy uses, then turns its weights
into orders a broker accepts:

1. **The optimiser.** ``EfficientFrontier(mu, Sigma, weight_bounds=..., solver=...)`` with
   ``max_sharpe()`` (the tangency portfolio) or ``min_volatility()``. ``weight_bounds`` caps
   (and can floor) every weight; ``objective_functions.L2_reg`` with ``gamma > 0`` adds
   ``gamma * sum(w**2)``, which pushes towards equal weights and more holdings. (For max-Sharpe
   PyPortfolioOpt optimises a rescaled variable, so the same ``gamma`` acts with a different
   strength than for min-volatility; it warns about this, and we silence exactly that warning.)
2. **Determinism.** The solver is named (``CLARABEL``, an interior-point method) rather than left
   to CVXPY's choice, and ``clean_weights`` zeroes weights below 1e-4 and rounds to 5 decimals:
   the same closes give the same weights in every run and every engine, so backtests repeat
   trade for trade.
3. **When max-Sharpe has no answer.** The tangency portfolio needs a portfolio within the
   bounds whose expected return beats the risk-free rate. In a bear market there may be none
   (with a 25% cap, one rising symbol is not enough); the ingredient then falls back to the
   minimum-volatility portfolio instead of failing.
4. **Weights to shares.** Two rules for a portfolio value ``V`` and the latest closes:
   algotrade's own, ``trunc(w * V / price)`` per symbol (``algotrade.core.strategy.shares_for_value``:
   each symbol on its own, never more than its share of ``V``, the rule every engine uses), and
   PyPortfolioOpt's ``DiscreteAllocation.greedy_portfolio``, which after truncating buys one
   more share at a time of the most underweight symbol while the cash lasts.
5. **Shares to orders.** The difference between target and current shares, position-reducing
   orders first so that their cash is there for the buys.

What to look at: the number of holdings and the largest weight of each portfolio, how bounds and
L2 spread the weights (``efficient_frontier_weights.png``), the cash each share rule leaves and
how far its achieved weights are from the targets, and the order list of a rebalance.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pypfopt import DiscreteAllocation, EfficientFrontier, objective_functions

from algotrade.core.strategy import shares_for_value
from recipes.ch07_portfolio_opt import out_dir
from recipes.ch07_portfolio_opt.r01_mu_sigma_estimates import estimate_cov, estimate_mu, load_closes

FrontierMethod = Literal["max_sharpe", "min_volatility"]
#: a named solver, so that the same inputs give the same weights everywhere
SOLVER = "CLARABEL"
#: clean_weights: weights below CUTOFF become 0, the rest are rounded to ROUNDING decimals
CUTOFF, ROUNDING = 1e-4, 5
SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH")


# --------------------------------------------------------------------------------------------
# ingredients


def check_bounds(weight_bounds: tuple[float, float], n: int) -> None:
    """Raise ValueError unless ``n`` long-only weights within the bounds can sum to 1."""
    low, high = weight_bounds
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"weight_bounds {weight_bounds}: need 0 <= low < high <= 1 (long only)")
    if n * high < 1.0 - 1e-12 or n * low > 1.0 + 1e-12:
        raise ValueError(
            f"weight_bounds {weight_bounds} cannot sum to 1 over {n} symbols: "
            f"need low <= 1/{n} <= high"
        )


def best_bounded_return(mu: pd.Series, weight_bounds: tuple[float, float]) -> float:
    """The highest expected return of long-only weights within the bounds that sum to 1.

    Every symbol starts at the lower bound; what is left goes to the highest expected returns
    first, each up to the upper bound (the exact solution of this small linear programme).
    """
    low, high = weight_bounds
    left = 1.0 - low * len(mu)
    total = low * float(mu.sum())
    for value in sorted(mu.to_numpy(dtype=float), reverse=True):
        take = min(high - low, max(left, 0.0))
        total += take * value
        left -= take
    return total


def frontier_method(
    mu: pd.Series, method: FrontierMethod, weight_bounds: tuple[float, float] = (0.0, 1.0),
    risk_free_rate: float = 0.0,
) -> FrontierMethod:
    """The method actually used: max_sharpe falls back to min_volatility when no portfolio within
    the bounds expects to beat the risk-free rate (the tangency portfolio does not exist then)."""
    if method == "max_sharpe" and best_bounded_return(mu, weight_bounds) <= risk_free_rate + 1e-9:
        return "min_volatility"
    return method


def frontier_weights(
    mu: pd.Series,
    cov: pd.DataFrame,
    method: FrontierMethod = "max_sharpe",
    weight_bounds: tuple[float, float] = (0.0, 1.0),
    gamma: float = 0.0,
    risk_free_rate: float = 0.0,
    solver: str = SOLVER,
) -> dict[str, float]:
    """Long-only efficient-frontier weights, cleaned (cut below 1e-4, rounded to 5 decimals)."""
    check_bounds(weight_bounds, len(mu))
    ef = EfficientFrontier(mu, cov, weight_bounds=weight_bounds, solver=solver)
    if gamma > 0:
        ef.add_objective(objective_functions.L2_reg, gamma=gamma)
    if frontier_method(mu, method, weight_bounds, risk_free_rate) == "max_sharpe":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="max_sharpe transforms the optimization problem")
            ef.max_sharpe(risk_free_rate=risk_free_rate)
    else:
        ef.min_volatility()
    cleaned = ef.clean_weights(cutoff=CUTOFF, rounding=ROUNDING)
    return {str(s): float(w) for s, w in cleaned.items()}


def portfolio_stats(weights: Mapping[str, float], mu: pd.Series, cov: pd.DataFrame) -> dict[str, float]:
    """Expected annual return, volatility and Sharpe ratio (risk-free 0) of ``weights``."""
    w = pd.Series(weights).reindex(mu.index).fillna(0.0)
    ret = float(w @ mu)
    vol = float(np.sqrt(w @ cov @ w))
    return {"return": ret, "volatility": vol, "sharpe": ret / vol if vol > 0 else float("nan")}


def shares_by_trunc(
    weights: Mapping[str, float], prices: Mapping[str, float], value: float, gross: float = 1.0
) -> dict[str, int]:
    """algotrade's rule: ``trunc(gross * w * value / price)`` shares of each symbol, independently."""
    return {s: shares_for_value((gross * w) * value, prices[s]) for s, w in weights.items()}


def shares_by_greedy(
    weights: Mapping[str, float], prices: Mapping[str, float], value: float
) -> tuple[dict[str, int], float]:
    """PyPortfolioOpt's greedy allocation: shares per symbol (zeros included) and the cash left."""
    latest = pd.Series({s: float(prices[s]) for s in weights})
    allocation, leftover = DiscreteAllocation(dict(weights), latest, total_portfolio_value=value).greedy_portfolio()
    return {s: int(allocation.get(s, 0)) for s in weights}, float(leftover)


def cost(shares: Mapping[str, int], prices: Mapping[str, float]) -> float:
    return float(sum(n * prices[s] for s, n in shares.items()))


def achieved_weights(shares: Mapping[str, int], prices: Mapping[str, float], value: float) -> dict[str, float]:
    return {s: n * prices[s] / value for s, n in shares.items()}


def rebalance_orders(current: Mapping[str, int], target: Mapping[str, int]) -> list[tuple[str, int]]:
    """Signed share orders from ``current`` to ``target``: position-reducing ones first.

    Within each group the order of ``target`` is kept (symbols missing from ``target`` go to
    zero, after it), which is how algotrade's host sends one bar's orders on every engine.
    """
    symbols = list(target) + [s for s in current if s not in target]
    deltas = [(s, target.get(s, 0) - current.get(s, 0)) for s in symbols]
    deltas = [(s, q) for s, q in deltas if q != 0]

    def reduces(symbol: str, quantity: int) -> bool:
        position = current.get(symbol, 0)
        return abs(position + quantity) < abs(position)

    return [o for o in deltas if reduces(*o)] + [o for o in deltas if not reduces(*o)]


def plot(portfolios: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax = fig.subplots()
    frame = pd.DataFrame(portfolios)
    width = 0.8 / frame.shape[1]
    x = np.arange(len(frame))
    for k, name in enumerate(frame.columns):
        ax.bar(x + k * width, frame[name], width, label=name)
    ax.set_xticks(x + 0.4 - width / 2, frame.index)
    ax.set_ylabel("weight")
    ax.set_title("efficient-frontier weights: bounds and L2 regularisation spread the bets")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    closes = load_closes(SYMBOLS, seed=11, correlation=0.3)
    window = closes.loc[:"2011-12-30"].iloc[-252:]
    mu, cov = estimate_mu(window), estimate_cov(window, "ledoit_wolf")
    print(f"estimates from {len(window)} sessions {window.index[0].date()} .. {window.index[-1].date()}, "
          "Ledoit-Wolf covariance")
    print("mu: " + ", ".join(f"{s} {v:+.1%}" for s, v in mu.items()))

    specs: dict[str, tuple[FrontierMethod, tuple[float, float], float]] = {
        "max-Sharpe": ("max_sharpe", (0.0, 1.0), 0.0),
        "max-Sharpe <=25%": ("max_sharpe", (0.0, 0.25), 0.0),
        "max-Sharpe <=25% L2": ("max_sharpe", (0.0, 0.25), 0.1),
        "min-vol": ("min_volatility", (0.0, 1.0), 0.0),
        "min-vol 5-20% L2": ("min_volatility", (0.05, 0.20), 0.1),
    }
    portfolios: dict[str, dict[str, Any]] = {}
    for name, (method, bounds, gamma) in specs.items():
        weights = frontier_weights(mu, cov, method, bounds, gamma)
        portfolios[name] = {
            "method": method, "bounds": bounds, "gamma": gamma, "weights": weights,
            "holdings": sum(1 for w in weights.values() if w > 0), "largest": max(weights.values()),
            **portfolio_stats(weights, mu, cov),
        }
    table = pd.DataFrame({n: p["weights"] for n, p in portfolios.items()})
    print("\nweights (cleaned: cut below 1e-4, rounded to 5 decimals; solver " + SOLVER + ")")
    print(table.round(4).to_string())
    print("\nin sample (scored with the same estimates they were optimised on):")
    print(f"{'':<20} {'holdings':>8} {'largest':>8} {'exp. return':>11} {'volatility':>10} {'Sharpe':>6}")
    for n, p in portfolios.items():
        print(f"{n:<20} {p['holdings']:>8} {p['largest']:>8.4f} {p['return']:>11.2%} {p['volatility']:>10.2%}"
              f" {p['sharpe']:>6.2f}")
    again = frontier_weights(mu, cov, "max_sharpe", (0.0, 0.25), 0.1)
    print(f"the same inputs again give the same weights: {again == portfolios['max-Sharpe <=25% L2']['weights']}")

    chosen = portfolios["max-Sharpe <=25% L2"]["weights"]
    prices = {s: float(p) for s, p in window.iloc[-1].items()}
    value = 25_000.0
    trunc = shares_by_trunc(chosen, prices, value)
    greedy, greedy_left = shares_by_greedy(chosen, prices, value)
    rmse = {}
    for rule, shares in (("trunc", trunc), ("greedy", greedy)):
        got = achieved_weights(shares, prices, value)
        rmse[rule] = float(np.sqrt(np.mean([(got[s] - chosen[s]) ** 2 for s in chosen])))
    print(f"\n'max-Sharpe <=25% L2' for a portfolio of {value:,.0f} at the closes of {window.index[-1].date()}:")
    print(pd.DataFrame({"price": prices, "weight": chosen, "trunc shares": trunc, "greedy shares": greedy}).to_string())
    print(f"trunc : cost {cost(trunc, prices):>10,.2f}  cash left {value - cost(trunc, prices):>8,.2f}  "
          f"weight RMSE {rmse['trunc']:.5f}")
    print(f"greedy: cost {cost(greedy, prices):>10,.2f}  cash left {greedy_left:>8,.2f}  "
          f"weight RMSE {rmse['greedy']:.5f}")

    # a month later: re-estimate, re-optimise, and trade from the trunc holdings to the new targets
    later = closes.loc[:"2012-01-31"].iloc[-252:]
    new_weights = frontier_weights(estimate_mu(later), estimate_cov(later, "ledoit_wolf"), "max_sharpe", (0.0, 0.25), 0.1)
    new_prices = {s: float(p) for s, p in later.iloc[-1].items()}
    new_value = float(sum(n * new_prices[s] for s, n in trunc.items()) + value - cost(trunc, prices))
    new_target = shares_by_trunc(new_weights, new_prices, new_value, gross=0.95)
    orders = rebalance_orders(trunc, new_target)
    print(f"\nrebalance on {later.index[-1].date()} (value {new_value:,.2f}, 95% invested): "
          + ", ".join(f"{s} {q:+d}" for s, q in orders))

    path = plot({n: p["weights"] for n, p in portfolios.items()}, folder / "efficient_frontier_weights.png")
    print(f"plot: {path}")
    return {
        "portfolios": portfolios,
        "deterministic": again == portfolios["max-Sharpe <=25% L2"]["weights"],
        "value": value,
        "prices": prices,
        "shares_trunc": trunc,
        "cost_trunc": cost(trunc, prices),
        "shares_greedy": greedy,
        "cost_greedy": cost(greedy, prices),
        "leftover_greedy": greedy_left,
        "rmse": rmse,
        "orders": orders,
        "plot": path,
    }


if __name__ == "__main__":
    main()
