"""Expected returns and covariance from prices: the sample estimate against Ledoit-Wolf shrinkage.

A mean-variance optimiser needs two inputs, a vector of expected returns ``mu`` and a covariance
matrix ``Sigma``, and it trusts both completely. This page estimates them from closes with
PyPortfolioOpt, on data where the truth is known, to show how good each estimate is:

1. **Prices to a frame.** One column per symbol, one row per session. ``closes_frame`` is the
   bridge from a strategy's history (``ctx.history(symbol, "close", n)``) to that frame; the
   production strategy and the native Backtrader strategy of r04 both go through it.
2. **Expected returns.** ``expected_returns.mean_historical_return`` is the compounded (geometric)
   mean daily return, annualised over 252 sessions.
3. **Covariance.** ``risk_models.sample_cov`` annualises the sample covariance of daily returns;
   ``risk_models.CovarianceShrinkage(...).ledoit_wolf()`` pulls it towards a scaled identity
   by the intensity ``delta`` that Ledoit and Wolf's formula finds optimal for the sample size.
4. **Against the truth.** The synthetic generator draws every symbol with the same volatility,
   the same pairwise correlation and, on every day, the same drift. So the true covariance is
   known exactly, and every difference between the symbols' estimated expected returns is noise.

What to look at: the covariance error of each estimator for short and long windows (shrinkage
helps most when the window is short next to the number of symbols), the condition number (an
optimiser inverts ``Sigma``; a large condition number means small errors become large weights),
the realised volatility of the minimum-variance portfolio built from each estimate in the
following quarter, and how large and how unstable the spread of estimated expected returns is
(``mu_sigma_estimates.png``). That spread is why r02 bounds and regularises the weights.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pypfopt import expected_returns, risk_models

from algotrade.core.config import DataConfig, SyntheticConfig
from algotrade.core.data import load_market
from recipes.ch07_portfolio_opt import out_dir

TRADING_DAYS = 252
Covariance = Literal["sample", "ledoit_wolf"]
COVARIANCES: tuple[Covariance, ...] = ("sample", "ledoit_wolf")
SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III", "JJJ")


# --------------------------------------------------------------------------------------------
# ingredients


def load_closes(
    symbols: Sequence[str] = SYMBOLS,
    seed: int = 11,
    correlation: float = 0.3,
    annual_vol: float = 0.2,
    start: str = "2010-01-04",
    end: str = "2017-12-29",
) -> pd.DataFrame:
    """Closes of synthetic symbols on XNYS sessions: one column per symbol, indexed by date."""
    market = load_market(DataConfig.model_validate({
        "source": "synthetic", "symbols": tuple(symbols), "start": dt.date.fromisoformat(start),
        "end": dt.date.fromisoformat(end), "calendar": "XNYS",
        "synthetic": SyntheticConfig.model_validate(
            {"seed": seed, "correlation": correlation, "annual_vol": annual_vol}),
    }))
    return pd.DataFrame({s: frame["close"] for s, frame in market.frames.items()})


def closes_frame(closes: Mapping[str, Sequence[float] | np.ndarray]) -> pd.DataFrame:
    """One column of closes per symbol, in the mapping's order (all of the same length).

    A strategy builds the mapping from ``ctx.history(symbol, "close", n)``; the values are copied
    into a new float64 frame, so the read-only history views are never written to.
    """
    return pd.DataFrame({s: np.array(c, dtype=np.float64) for s, c in closes.items()})


def estimate_mu(prices: pd.DataFrame) -> pd.Series:
    """Annualised geometric mean of daily returns, per symbol."""
    return expected_returns.mean_historical_return(prices, compounding=True, frequency=TRADING_DAYS)


def estimate_cov(prices: pd.DataFrame, method: Covariance = "ledoit_wolf") -> pd.DataFrame:
    """Annualised covariance of daily returns: ``sample`` or ``ledoit_wolf`` (towards a scaled identity)."""
    if method == "sample":
        return risk_models.sample_cov(prices, frequency=TRADING_DAYS)
    if method == "ledoit_wolf":
        return risk_models.CovarianceShrinkage(prices, frequency=TRADING_DAYS).ledoit_wolf()
    raise ValueError(f"covariance {method!r}: use one of {', '.join(COVARIANCES)}")


def shrinkage_intensity(prices: pd.DataFrame) -> float:
    """Ledoit-Wolf's delta: 0 keeps the sample covariance, 1 replaces it by the scaled identity."""
    shrinkage = risk_models.CovarianceShrinkage(prices, frequency=TRADING_DAYS)
    shrinkage.ledoit_wolf()
    return float(shrinkage.delta)


def equicorrelated_covariance(symbols: Sequence[str], annual_vol: float, correlation: float) -> pd.DataFrame:
    """The synthetic generator's true annualised covariance: one volatility, one correlation."""
    k = len(symbols)
    corr = np.full((k, k), correlation)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(annual_vol**2 * corr, index=list(symbols), columns=list(symbols))


def relative_error(estimate: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Frobenius norm of the difference, relative to the truth's."""
    return float(np.linalg.norm(estimate.to_numpy() - truth.to_numpy()) / np.linalg.norm(truth.to_numpy()))


def condition_number(cov: pd.DataFrame) -> float:
    """Largest over smallest eigenvalue: how much inverting ``cov`` amplifies errors."""
    eig = np.linalg.eigvalsh(cov.to_numpy())
    return float(eig[-1] / eig[0])


def min_variance_weights(cov: pd.DataFrame) -> pd.Series:
    """The unconstrained minimum-variance portfolio, Sigma^-1 1 / (1' Sigma^-1 1) (shorts allowed)."""
    ones = np.ones(len(cov))
    raw = np.linalg.solve(cov.to_numpy(), ones)
    return pd.Series(raw / raw.sum(), index=cov.index)


def windows(n: int, length: int, step: int, after: int = 0) -> list[tuple[int, int]]:
    """(start, stop) of every estimation window of ``length`` rows that leaves ``after`` rows behind it."""
    return [(a, a + length) for a in range(0, n - length - after + 1, step)]


def window_study(prices: pd.DataFrame, length: int, truth: pd.DataFrame, hold: int = 63) -> dict[str, float]:
    """Estimate on rolling windows of ``length`` closes; score each estimator against the truth.

    For each window: relative covariance error and condition number of both estimators, the
    shrinkage intensity, the cross-sectional spread of the estimated expected returns, how well
    those rank the next window's, and the minimum-variance portfolio held over the next ``hold``
    sessions (its daily returns are pooled into one realised volatility per estimator).
    """
    returns = prices.pct_change()
    spans = windows(len(prices), length, step=42, after=max(hold, length))
    errors: dict[str, list[float]] = {m: [] for m in COVARIANCES}
    conds: dict[str, list[float]] = {m: [] for m in COVARIANCES}
    held: dict[str, list[pd.Series]] = {m: [] for m in COVARIANCES}
    deltas, spread, persistence = [], [], []
    for a, b in spans:
        window = prices.iloc[a:b]
        for m in COVARIANCES:
            cov = estimate_cov(window, m)
            errors[m].append(relative_error(cov, truth))
            conds[m].append(condition_number(cov))
            weights = min_variance_weights(cov)
            held[m].append(returns.iloc[b : b + hold] @ weights)
        deltas.append(shrinkage_intensity(window))
        mu = estimate_mu(window)
        mu_next = estimate_mu(prices.iloc[b : b + length])
        spread.append(float(mu.std()))
        persistence.append(float(mu.corr(mu_next)))
    result = {
        "windows": float(len(spans)),
        "shrinkage": float(np.mean(deltas)),
        "mu_spread": float(np.mean(spread)),
        "mu_persistence": float(np.mean(persistence)),
    }
    for m in COVARIANCES:
        result[f"error_{m}"] = float(np.mean(errors[m]))
        result[f"condition_{m}"] = float(np.median(conds[m]))
        result[f"min_var_vol_{m}"] = float(pd.concat(held[m]).std() * np.sqrt(TRADING_DAYS))
    return result


def plot(prices: pd.DataFrame, truth: pd.DataFrame, length: int, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 2])
    window = prices.iloc[-length:]
    rank = np.arange(1, len(truth) + 1)
    for label, cov, style in (
        ("truth", truth, "k-"),
        ("sample", estimate_cov(window, "sample"), "o-"),
        ("Ledoit-Wolf", estimate_cov(window, "ledoit_wolf"), "s-"),
    ):
        left.semilogy(rank, np.sort(np.linalg.eigvalsh(cov.to_numpy()))[::-1], style, ms=4, label=label)
    left.set_xlabel("eigenvalue rank")
    left.set_title(f"eigenvalues, last {length} sessions")
    left.legend()
    rolling = pd.DataFrame(
        {prices.index[b - 1]: estimate_mu(prices.iloc[a:b]) for a, b in windows(len(prices), length, 10)}
    ).T
    right.plot(rolling.index, rolling.to_numpy(), lw=0.7)
    right.axhline(0, color="k", lw=0.5)
    right.set_title(f"estimated expected return per symbol, rolling {length} sessions\n"
                    "(the true one is the same for every symbol on every date)")
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    annual_vol, correlation = 0.2, 0.3
    prices = load_closes(SYMBOLS, seed=11, correlation=correlation, annual_vol=annual_vol)
    truth = equicorrelated_covariance(SYMBOLS, annual_vol, correlation)
    print(f"{len(SYMBOLS)} synthetic symbols x {len(prices)} sessions ({prices.index[0].date()} .. "
          f"{prices.index[-1].date()}); true volatility {annual_vol:.0%}, correlation {correlation}")

    last = prices.iloc[-126:]
    print("\nthe last 126 sessions:")
    print(pd.DataFrame({"mu": estimate_mu(last), "vol (sample)": np.sqrt(np.diag(estimate_cov(last, "sample"))),
                        "vol (Ledoit-Wolf)": np.sqrt(np.diag(estimate_cov(last, "ledoit_wolf")))}).round(3).to_string())
    print(f"shrinkage intensity delta = {shrinkage_intensity(last):.3f}")

    by_length = {length: window_study(prices, length, truth) for length in (63, 126, 252)}
    print("\nrolling windows (step 42 sessions); covariance error = |estimate - truth| / |truth|")
    print(f"{'window':>7} {'n':>4} {'delta':>6} {'err sample':>11} {'err LW':>7} {'cond sample':>12} {'cond LW':>8}"
          f" {'minvar vol S':>13} {'minvar vol LW':>14} {'mu spread':>10} {'mu persist':>11}")
    for length, r in by_length.items():
        print(f"{length:>7} {int(r['windows']):>4} {r['shrinkage']:>6.3f} {r['error_sample']:>11.3f}"
              f" {r['error_ledoit_wolf']:>7.3f} {r['condition_sample']:>12.1f} {r['condition_ledoit_wolf']:>8.1f}"
              f" {r['min_var_vol_sample']:>13.2%} {r['min_var_vol_ledoit_wolf']:>14.2%}"
              f" {r['mu_spread']:>10.1%} {r['mu_persistence']:>+11.2f}")
    true_min_var_vol = float(np.sqrt(1 / np.linalg.inv(truth.to_numpy()).sum()))
    print(f"(true minimum-variance volatility {true_min_var_vol:.2%}; every symbol's true expected return "
          "is the same, so the spread of mu is all noise, and it does not persist)")

    path = plot(prices, truth, 126, folder / "mu_sigma_estimates.png")
    print(f"plot: {path}")
    main_window = by_length[126]
    return {
        "symbols": list(SYMBOLS),
        "sessions": len(prices),
        "by_window": by_length,
        "error_sample": main_window["error_sample"],
        "error_ledoit_wolf": main_window["error_ledoit_wolf"],
        "condition_sample": main_window["condition_sample"],
        "condition_ledoit_wolf": main_window["condition_ledoit_wolf"],
        "shrinkage": main_window["shrinkage"],
        "mu_spread": main_window["mu_spread"],
        "mu_persistence": main_window["mu_persistence"],
        "true_min_var_vol": true_min_var_vol,
        "plot": path,
    }


if __name__ == "__main__":
    main()
