"""Value-at-risk and expected shortfall: historical, parametric and Monte Carlo, and a backtest.

**VaR** at confidence ``c`` over a horizon is the loss that is exceeded with probability
``1 - c``: "on 99 days out of 100 we lose less than this". It says nothing about *how much* is
lost on the hundredth day; **CVaR** (expected shortfall) does — the mean loss on the days beyond
the VaR, so CVaR is never below VaR. Three ways to estimate both, each with its assumption:

* **Historical** — the empirical quantile of past returns, and the mean of the returns beyond
  it. No distribution assumed, but only what happened in the window can happen.
* **Parametric (normal)** — ``VaR = -(mu + sigma z)`` and ``CVaR = -(mu - sigma phi(z) / (1-c))``
  with ``z`` the normal quantile at ``1 - c``. Simple and smooth, and too optimistic for fat-tailed
  daily returns at 99 %.
* **Monte Carlo** — simulate many scenarios and read the quantile off them: here 100,000 draws of
  both indices' daily log returns from a multivariate normal (the covariance through its Cholesky
  factor, as in chapter 1's generator), compounded over the horizon, and, as a second variant,
  a *bootstrap* that resamples whole historical days (keeping the fat tails and the
  cross-correlation, dropping the time ordering).

For a 10-day horizon the historical figure uses overlapping 10-day returns, the parametric one
scales the mean by 10 and sigma by sqrt(10), and Monte Carlo simulates 10-day paths.

The portfolio is half S&P 500, half NASDAQ Composite, worth 1,000,000, 2005-2012. A **backtest**
closes the page: a rolling 500-day historical and normal 99 % VaR over 1999-2018, the share of
days whose loss exceeded it (1 % if the model is right), and Kupiec's likelihood-ratio test of
that share.

What to look at: the VaR/CVaR table (in currency), the CVaR/VaR ratios, the normal model's
excess exceedances in the backtest, and ``var_cvar.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import empyrical as ep
import numpy as np
import pandas as pd
from scipy import stats

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch08_performance_risk import out_dir

VALUE = 1_000_000.0
WEIGHTS = {"SPX": 0.5, "IXIC": 0.5}
SCENARIOS = 100_000
SEED = 42


# --------------------------------------------------------------------------------------------
# ingredients: one estimate = (VaR, CVaR) as positive fractions of the portfolio's value


def historical_var_cvar(returns: np.ndarray, confidence: float) -> tuple[float, float]:
    cutoff = np.quantile(returns, 1 - confidence)
    return float(-cutoff), float(-returns[returns <= cutoff].mean())


def normal_var_cvar(mu: float, sigma: float, confidence: float) -> tuple[float, float]:
    z = stats.norm.ppf(1 - confidence)
    return float(-(mu + sigma * z)), float(-(mu - sigma * stats.norm.pdf(z) / (1 - confidence)))


def simulate_normal(log_returns: pd.DataFrame, weights: np.ndarray, horizon: int, n: int, seed: int) -> np.ndarray:
    """Portfolio returns over ``horizon`` days from correlated normal daily log returns (buy and hold)."""
    rng = np.random.default_rng(seed)
    mean, chol = log_returns.mean().to_numpy(), np.linalg.cholesky(log_returns.cov().to_numpy())
    total = np.zeros((n, len(weights)))
    for _ in range(horizon):  # sum of daily log returns = the horizon's log return
        total += mean + rng.standard_normal((n, len(weights))) @ chol.T
    return np.expm1(total) @ weights


def simulate_bootstrap(simple_returns: pd.DataFrame, weights: np.ndarray, horizon: int, n: int, seed: int) -> np.ndarray:
    """Portfolio returns over ``horizon`` days built from historical days drawn with replacement."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, len(simple_returns), size=(n, horizon))
    growth = np.prod(1 + simple_returns.to_numpy()[days], axis=1)  # (n, assets)
    return (growth - 1) @ weights


def horizon_returns(portfolio: pd.Series, horizon: int) -> np.ndarray:
    """Overlapping compounded returns over ``horizon`` days."""
    growth = (1 + portfolio).rolling(horizon).apply(np.prod, raw=True) - 1
    return growth.dropna().to_numpy()


def kupiec_pof(exceedances: int, days: int, confidence: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures test: likelihood ratio and its p-value (chi-squared, 1 dof)."""
    p, x, t = 1 - confidence, exceedances, days
    observed = x / t
    if x in (0, t):
        lr = -2 * (t * np.log(1 - p) if x == 0 else t * np.log(p))
    else:
        lr = -2 * ((t - x) * np.log(1 - p) + x * np.log(p) - (t - x) * np.log(1 - observed) - x * np.log(observed))
    return float(lr), float(stats.chi2.sf(lr, 1))


def var_backtest(portfolio: pd.Series, window: int = 500, confidence: float = 0.99) -> pd.DataFrame:
    """Rolling one-day VaR from the previous ``window`` days (never today's), and the day's return."""
    past = portfolio.shift(1).rolling(window)
    z = stats.norm.ppf(1 - confidence)
    out = pd.DataFrame({
        "return": portfolio,
        "historical": -past.quantile(1 - confidence),
        "normal": -(past.mean() + z * past.std()),
    })
    return out.dropna()


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    market = load_market(DataConfig.model_validate({"symbols": tuple(WEIGHTS)}))
    closes = pd.DataFrame({s: f["close"] for s, f in market.frames.items()})
    simple_all = closes.pct_change().iloc[1:]
    simple = simple_all.loc["2005-01-03":"2012-12-31"]
    log = np.log1p(simple)
    w = np.array([WEIGHTS[s] for s in simple])
    portfolio = simple @ w  # rebalanced to the weights daily
    print(f"portfolio {WEIGHTS} worth {VALUE:,.0f}; daily returns {simple.index[0].date()} .. "
          f"{simple.index[-1].date()} ({len(simple)} days); excess kurtosis {stats.kurtosis(portfolio):.1f}")

    rows = []
    for horizon in (1, 10):
        hist_r = portfolio.to_numpy() if horizon == 1 else horizon_returns(portfolio, horizon)
        mc_normal = simulate_normal(log, w, horizon, SCENARIOS, SEED)
        mc_boot = simulate_bootstrap(simple, w, horizon, SCENARIOS, SEED)
        for confidence in (0.95, 0.99):
            estimates = {
                "historical": historical_var_cvar(hist_r, confidence),
                "parametric normal": normal_var_cvar(portfolio.mean() * horizon, portfolio.std() * np.sqrt(horizon), confidence),
                "Monte Carlo normal": historical_var_cvar(mc_normal, confidence),
                "Monte Carlo bootstrap": historical_var_cvar(mc_boot, confidence),
            }
            for method, (var, cvar) in estimates.items():
                rows.append({"horizon_days": horizon, "confidence": confidence, "method": method,
                             "VaR": var, "CVaR": cvar, "VaR_value": var * VALUE, "CVaR_value": cvar * VALUE})
    table = pd.DataFrame(rows)
    shown = table.assign(VaR=table["VaR"].map("{:.2%}".format), CVaR=table["CVaR"].map("{:.2%}".format),
                         VaR_value=table["VaR_value"].map("{:,.0f}".format), CVaR_value=table["CVaR_value"].map("{:,.0f}".format),
                         ratio=(table["CVaR"] / table["VaR"]).map("{:.2f}".format))
    print(shown.to_string(index=False))
    ordered = bool((table["VaR"] <= table["CVaR"]).all())
    wider = table.pivot_table(index=["horizon_days", "method"], columns="confidence", values="VaR")
    monotone = bool((wider[0.99] >= wider[0.95]).all())
    print(f"VaR <= CVaR everywhere: {ordered}; 99% VaR >= 95% VaR everywhere: {monotone}")

    ep_var, ep_cvar = float(ep.value_at_risk(portfolio, cutoff=0.05)), float(ep.conditional_value_at_risk(portfolio, cutoff=0.05))
    mine = historical_var_cvar(portfolio.to_numpy(), 0.95)
    empyrical_diff = max(abs(-ep_var - mine[0]), abs(-ep_cvar - mine[1]))
    print(f"empyrical's historical 95% VaR/CVaR {-ep_var:.4%} / {-ep_cvar:.4%} (differs from ours by {empyrical_diff:.1e})")

    backtest = var_backtest(simple_all @ w)
    results = {}
    for model in ("historical", "normal"):
        hits = int((backtest["return"] < -backtest[model]).sum())
        lr, p = kupiec_pof(hits, len(backtest), 0.99)
        results[model] = {"exceedances": hits, "days": len(backtest), "rate": hits / len(backtest), "kupiec_lr": lr, "p_value": p}
        print(f"backtest, rolling 500-day 99% {model} VaR, {backtest.index[0].date()} .. {backtest.index[-1].date()}: "
              f"{hits} exceedances in {len(backtest)} days ({hits / len(backtest):.2%}, expected 1%); "
              f"Kupiec LR {lr:.1f}, p = {p:.3f}")

    path = plot(portfolio, table, backtest, folder / "var_cvar.png")
    print(f"plot: {path}")
    return {"table": table, "var_le_cvar": ordered, "var99_ge_var95": monotone,
            "empyrical_max_diff": float(empyrical_diff), "backtest": results, "plot": path}


def plot(portfolio: pd.Series, table: pd.DataFrame, backtest: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 8), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    top.hist(portfolio * 100, bins=150, color="lightgrey")
    one_day = table[(table["horizon_days"] == 1) & (table["confidence"] == 0.99)]
    for (method, row), color in zip(one_day.set_index("method").iterrows(), ("C0", "C1", "C2", "C3"), strict=True):
        top.axvline(-row["VaR"] * 100, color=color, lw=1.0, label=f"{method} VaR {row['VaR']:.2%}")
        top.axvline(-row["CVaR"] * 100, color=color, lw=1.0, ls="--")
    top.set_xlim(-8, 8)
    top.set_title("portfolio daily returns (%), 2005-2012; 99% one-day VaR (solid) and CVaR (dashed)")
    top.legend(fontsize=7)
    bottom.plot(backtest.index, backtest["return"] * 100, lw=0.4, color="grey")
    for model, color in (("historical", "C0"), ("normal", "C1")):
        bottom.plot(backtest.index, -backtest[model] * 100, lw=0.8, color=color, label=f"-VaR 99% ({model}, 500d)")
        hits = backtest[backtest["return"] < -backtest[model]]
        bottom.plot(hits.index, hits["return"] * 100, "o", ms=2.5, color=color)
    bottom.set_title("backtest: daily return and the VaR known the day before; dots: exceedances")
    bottom.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
