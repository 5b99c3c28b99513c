"""Hierarchical risk parity against 1/N and the efficient frontier, out of sample.

The efficient frontier inverts the covariance matrix and trusts the expected returns; r01 showed
why both are fragile. Hierarchical risk parity (López de Prado, 2016) uses neither an inverse nor
expected returns:

1. **Cluster.** Turn correlations into distances ``sqrt((1 - rho) / 2)`` and build a
   single-linkage tree, so that symbols that move together sit next to each other.
2. **Quasi-diagonalise.** Reorder the covariance matrix in the tree's leaf order.
3. **Bisect.** Split the ordered list in halves again and again; at each split give each half a
   share of the weight inversely proportional to its (inverse-variance portfolio's) variance.

``HRPOpt(cov_matrix=...)`` does all three. It has no weight bounds and no expected returns, and
the 1/N portfolio has neither either, which makes 1/N the fair benchmark (DeMiguel et al. 2009
found it hard to beat out of sample).

This page also defines ``target_weights``: one call from closes to cleaned long-only weights for
``max_sharpe``, ``min_volatility`` or ``hrp``, with ``sample`` or ``ledoit_wolf`` covariance.
It is the function the production strategy ``pfopt_rebalance`` and r04's native Backtrader
strategy both call.

The data: three synthetic groups drawn independently of each other ("bond-like": 6% volatility,
correlation 0.8; "stock-like": 18%, 0.6; "commodity-like": 30%, 0.4). Every symbol has the same
drift on every date, so in this world a lower-risk allocation also has the higher Sharpe ratio;
the comparison to look at is the risk each allocation actually delivered. Each month the
portfolios are re-estimated on the previous 252 sessions and held unchanged (in shares) for the
next 21.

What to look at: whether HRP's leaf order recovers the three groups, the realised volatility,
drawdown and Sharpe ratio of 1/N, HRP, min-volatility and bounded max-Sharpe, and the average
weight each gives to each group (``hrp_allocation.png``). HRP gets close to min-volatility's
risk without an optimiser, and far below 1/N's; its drawdown is not smaller, because here the
drawdowns come from the bear regime's drift, which every symbol shares and no allocation among
them escapes. Max-Sharpe, chasing last year's noise, delivers the most risk of the four.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pypfopt import HRPOpt
from scipy.cluster import hierarchy

from recipes.ch07_portfolio_opt import out_dir
from recipes.ch07_portfolio_opt.r01_mu_sigma_estimates import (
    TRADING_DAYS,
    Covariance,
    estimate_cov,
    estimate_mu,
    load_closes,
)
from recipes.ch07_portfolio_opt.r02_efficient_frontier_to_orders import CUTOFF, ROUNDING, frontier_weights

Method = Literal["max_sharpe", "min_volatility", "hrp"]
METHODS: tuple[Method, ...] = ("max_sharpe", "min_volatility", "hrp")

#: group -> (symbols, synthetic seed, correlation inside the group, annual volatility)
GROUPS: dict[str, tuple[tuple[str, ...], int, float, float]] = {
    "bond-like": (("BND1", "BND2", "BND3"), 21, 0.8, 0.06),
    "stock-like": (("STK1", "STK2", "STK3", "STK4"), 22, 0.6, 0.18),
    "commodity-like": (("CMD1", "CMD2", "CMD3"), 23, 0.4, 0.30),
}


# --------------------------------------------------------------------------------------------
# ingredients


def hrp_weights(cov: pd.DataFrame, linkage: str = "single") -> dict[str, float]:
    """HRP weights from a covariance matrix, cleaned like the frontier's, in the matrix's order."""
    hrp = HRPOpt(cov_matrix=cov)
    hrp.optimize(linkage_method=linkage)
    cleaned = hrp.clean_weights(cutoff=CUTOFF, rounding=ROUNDING)
    return {str(s): float(cleaned[s]) for s in cov.columns}


def cluster_order(cov: pd.DataFrame, linkage: str = "single") -> list[str]:
    """The symbols in the leaf order of HRP's tree (step 2: quasi-diagonalisation)."""
    hrp = HRPOpt(cov_matrix=cov)
    hrp.optimize(linkage_method=linkage)
    return [str(cov.columns[i]) for i in hierarchy.leaves_list(hrp.clusters)]


def equal_weights(symbols: Sequence[str]) -> dict[str, float]:
    return {s: 1.0 / len(symbols) for s in symbols}


def target_weights(
    prices: pd.DataFrame,
    method: Method = "max_sharpe",
    weight_bounds: tuple[float, float] = (0.0, 1.0),
    covariance: Covariance = "ledoit_wolf",
    gamma: float = 0.0,
    risk_free_rate: float = 0.0,
) -> dict[str, float]:
    """Closes (one column per symbol) to cleaned long-only weights, one per column, in column order.

    ``max_sharpe`` and ``min_volatility`` use r02's ``frontier_weights`` (bounds, L2 ``gamma``,
    the fixed solver; max-Sharpe falls back to min-volatility when no expected return beats
    ``risk_free_rate``); ``hrp`` uses only the covariance and ignores bounds and ``gamma``.
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r}: use one of {', '.join(METHODS)}")
    cov = estimate_cov(prices, covariance)
    if method == "hrp":
        return hrp_weights(cov)
    return frontier_weights(estimate_mu(prices), cov, method, weight_bounds, gamma, risk_free_rate)


def held_returns(prices: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Daily returns of buying ``weights`` at the first row's closes and holding the shares.

    The first row is the decision close; the returns start on the row after it.
    """
    w = pd.Series(weights).reindex(prices.columns).fillna(0.0)
    growth = (prices / prices.iloc[0]) @ w
    return growth.pct_change().iloc[1:]


def walk_forward(
    prices: pd.DataFrame, allocate: Any, train: int = 252, hold: int = 21
) -> tuple[pd.Series, pd.DataFrame]:
    """Re-allocate every ``hold`` sessions on the previous ``train`` closes; chain the held returns.

    ``allocate(window) -> weights``. Returns the daily returns and the weights of every decision.
    """
    pieces, decisions = [], {}
    for t in range(train, len(prices) - 1, hold):
        weights = allocate(prices.iloc[t - train : t])
        decisions[prices.index[t - 1]] = weights
        pieces.append(held_returns(prices.iloc[t - 1 : t + hold], weights))
    return pd.concat(pieces), pd.DataFrame(decisions).T


def performance(returns: pd.Series) -> dict[str, float]:
    growth = (1 + returns).cumprod()
    years = len(returns) / TRADING_DAYS
    vol = float(returns.std() * np.sqrt(TRADING_DAYS))
    return {
        "annual_return": float(growth.iloc[-1] ** (1 / years) - 1),
        "volatility": vol,
        "sharpe": float(returns.mean() * TRADING_DAYS / vol),
        "max_drawdown": float((growth / growth.cummax() - 1).min()),
    }


def load_groups() -> pd.DataFrame:
    frames = [
        load_closes(symbols, seed=seed, correlation=corr, annual_vol=vol)
        for symbols, seed, corr, vol in GROUPS.values()
    ]
    return pd.concat(frames, axis=1)


def plot(curves: Mapping[str, pd.Series], group_weights: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[2, 1])
    for name, returns in curves.items():
        left.plot(returns.index, (1 + returns).cumprod(), lw=0.9, label=name)
    left.set_title("out of sample: monthly re-allocation on the previous 252 sessions")
    left.set_ylabel("growth of 1")
    left.legend(fontsize=8)
    bottom = np.zeros(len(group_weights))
    for group in group_weights.columns:
        right.bar(group_weights.index, group_weights[group], bottom=bottom, label=group)
        bottom += group_weights[group].to_numpy()
    right.set_title("average weight per group")
    right.tick_params(axis="x", labelrotation=30)
    right.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    prices = load_groups()
    symbols = list(prices.columns)
    print(f"{len(symbols)} synthetic symbols in {len(GROUPS)} independent groups, {len(prices)} sessions "
          f"({prices.index[0].date()} .. {prices.index[-1].date()})")
    for group, (members, _, corr, vol) in GROUPS.items():
        print(f"  {group:<15} {', '.join(members):<24} volatility {vol:.0%}, correlation {corr}")

    first = prices.iloc[:252]
    cov = estimate_cov(first, "ledoit_wolf")
    order = cluster_order(cov)
    position = {s: order.index(s) for s in symbols}
    recovered = all(
        max(position[s] for s in members) - min(position[s] for s in members) == len(members) - 1
        for members, *_ in GROUPS.values()
    )
    print(f"\nHRP leaf order on the first 252 sessions: {' '.join(order)}  (groups contiguous: {recovered})")
    first_weights = pd.DataFrame({
        "1/N": equal_weights(symbols),
        "HRP": target_weights(first, "hrp"),
        "min-vol": target_weights(first, "min_volatility"),
    })
    print(first_weights.round(4).to_string())

    allocators = {
        "1/N": lambda window: equal_weights(list(window.columns)),
        "HRP": lambda window: target_weights(window, "hrp"),
        "min-vol": lambda window: target_weights(window, "min_volatility"),
        "max-Sharpe <=25% L2": lambda window: target_weights(window, "max_sharpe", (0.0, 0.25), gamma=0.1),
    }
    curves, stats, decisions = {}, {}, {}
    for name, allocate in allocators.items():
        curves[name], decisions[name] = walk_forward(prices, allocate)
        stats[name] = performance(curves[name])
    rebalances = len(decisions["HRP"])
    print(f"\nout of sample, {rebalances} monthly decisions, "
          f"{curves['HRP'].index[0].date()} .. {curves['HRP'].index[-1].date()}:")
    print(f"{'':<20} {'annual return':>13} {'volatility':>10} {'Sharpe':>6} {'max drawdown':>12}")
    for name, s in stats.items():
        print(f"{name:<20} {s['annual_return']:>13.2%} {s['volatility']:>10.2%} {s['sharpe']:>6.2f}"
              f" {s['max_drawdown']:>12.2%}")

    group_of = {s: g for g, (members, *_) in GROUPS.items() for s in members}
    group_weights = pd.DataFrame({
        name: d.mean().groupby(group_of).sum() for name, d in decisions.items()
    }).T[list(GROUPS)]
    print("\naverage weight per group:")
    print(group_weights.round(3).to_string())

    path = plot(curves, group_weights, folder / "hrp_allocation.png")
    print(f"plot: {path}")
    return {
        "symbols": symbols,
        "cluster_order": order,
        "clusters_recovered": recovered,
        "first_weights": {c: first_weights[c].to_dict() for c in first_weights},
        "rebalances": rebalances,
        "methods": stats,
        "group_weights": {n: group_weights.loc[n].to_dict() for n in group_weights.index},
        "plot": path,
    }


if __name__ == "__main__":
    main()
