"""Return and risk metrics: CAGR, volatility, Sharpe, Sortino, Calmar and omega, by hand and with empyrical.

A metrics table is only as good as its definitions, and libraries differ in the details: sample
or population standard deviation, arithmetic or geometric annual return, a downside deviation
around zero or around the mean. This recipe writes each metric as a few lines of NumPy, runs
empyrical (the library behind ``metrics.json`` and pyfolio) on the same daily returns, and
prints both side by side with their largest difference. The definitions, for daily returns
``r`` and 252 sessions a year:

* **CAGR** (empyrical: ``annual_return``) — ``prod(1 + r) ** (252 / n) - 1``: the constant yearly
  rate that turns the first value into the last. Not ``mean(r) * 252``, which is higher by about
  half the variance (the "volatility drag"; printed below).
* **Annual volatility** — the sample standard deviation (``ddof=1``) times ``sqrt(252)``.
* **Sharpe** — ``mean(r - rf) / std(r - rf) * sqrt(252)``, with ``rf`` the daily risk-free rate.
* **Sortino** — ``mean(r - mar) * 252 / downside deviation``, where the downside deviation is
  ``sqrt(mean(min(r - mar, 0)**2)) * sqrt(252)``: the mean over *all* days of the squared
  shortfalls, not the standard deviation of the negative days.
* **Calmar** — CAGR divided by the depth of the maximum drawdown.
* **Omega(threshold)** — the sum of returns above the threshold divided by the sum of shortfalls
  below it: the whole distribution, not just two moments. Omega at a zero threshold is above 1
  exactly when the mean return is positive.

The returns are the S&P 500 and the NASDAQ Composite over 2005-2012 (the quickstart's range),
with the risk-free rate at 0 and at 2 % a year.

What to look at: the "max |hand - empyrical|" column (about 1e-15: the same definitions), the
volatility drag, and ``return_risk_metrics.png``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import empyrical as ep
import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch08_performance_risk import out_dir

PERIODS = 252
METRICS = ["cagr", "annual_volatility", "sharpe", "sortino", "max_drawdown", "calmar", "omega"]


# --------------------------------------------------------------------------------------------
# ingredients: the metrics by hand


def daily_rate(annual: float, periods: int = PERIODS) -> float:
    """The daily rate that compounds to ``annual`` over a year."""
    return (1 + annual) ** (1 / periods) - 1


def cagr(r: np.ndarray, periods: int = PERIODS) -> float:
    return float(np.prod(1 + r) ** (periods / len(r)) - 1)


def annual_volatility(r: np.ndarray, periods: int = PERIODS) -> float:
    return float(np.std(r, ddof=1) * np.sqrt(periods))


def sharpe(r: np.ndarray, rf: float = 0.0, periods: int = PERIODS) -> float:
    excess = r - rf
    return float(np.mean(excess) / np.std(excess, ddof=1) * np.sqrt(periods))


def downside_deviation(r: np.ndarray, mar: float = 0.0, periods: int = PERIODS) -> float:
    shortfall = np.minimum(r - mar, 0.0)
    return float(np.sqrt(np.mean(shortfall**2)) * np.sqrt(periods))


def sortino(r: np.ndarray, mar: float = 0.0, periods: int = PERIODS) -> float:
    return float(np.mean(r - mar) * periods / downside_deviation(r, mar, periods))


def max_drawdown(r: np.ndarray) -> float:
    wealth = np.cumprod(1 + r)
    peak = np.maximum.accumulate(np.r_[1.0, wealth])[1:]  # the starting value counts as a peak
    return float(np.min(wealth / peak - 1))


def calmar(r: np.ndarray, periods: int = PERIODS) -> float:
    return cagr(r, periods) / abs(max_drawdown(r))


def omega(r: np.ndarray, threshold: float = 0.0) -> float:
    excess = r - threshold
    return float(excess[excess > 0].sum() / -excess[excess < 0].sum())


def metrics_by_hand(r: np.ndarray, rf: float = 0.0) -> dict[str, float]:
    return {
        "cagr": cagr(r),
        "annual_volatility": annual_volatility(r),
        "sharpe": sharpe(r, rf),
        "sortino": sortino(r, rf),
        "max_drawdown": max_drawdown(r),
        "calmar": calmar(r),
        "omega": omega(r, rf),
    }


def metrics_empyrical(r: pd.Series, rf: float = 0.0) -> dict[str, float]:
    return {
        "cagr": float(ep.annual_return(r)),
        "annual_volatility": float(ep.annual_volatility(r)),
        "sharpe": float(ep.sharpe_ratio(r, risk_free=rf)),
        "sortino": float(ep.sortino_ratio(r, required_return=rf)),
        "max_drawdown": float(ep.max_drawdown(r)),
        "calmar": float(ep.calmar_ratio(r)),
        # empyrical's omega takes an *annual* required return and converts it to daily itself
        "omega": float(ep.omega_ratio(r, risk_free=rf)),
    }


def daily_returns(symbols: tuple[str, ...], start: dt.date, end: dt.date) -> pd.DataFrame:
    market = load_market(DataConfig(symbols=symbols, start=start, end=end))
    return pd.DataFrame({s: f["close"].pct_change() for s, f in market.frames.items()}).iloc[1:]


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    returns = daily_returns(("SPX", "IXIC"), dt.date(2005, 1, 3), dt.date(2012, 12, 31))
    print(f"daily returns {returns.index[0].date()} .. {returns.index[-1].date()}, {len(returns)} days")

    results: dict[str, dict[str, Any]] = {}
    rows = []
    for annual_rf in (0.0, 0.02):
        rf = daily_rate(annual_rf)
        for symbol in returns:
            hand = metrics_by_hand(returns[symbol].to_numpy(), rf)
            lib = metrics_empyrical(returns[symbol], rf)
            results[f"{symbol} rf={annual_rf:g}"] = {"hand": hand, "empyrical": lib}
            for metric in hand:
                rows.append((metric, f"{symbol} rf={annual_rf:.0%}", hand[metric], lib[metric]))
    table = pd.DataFrame(rows, columns=["metric", "series", "hand", "empyrical"])
    table["abs_diff"] = (table["hand"] - table["empyrical"]).abs()
    wide = table.pivot(index="metric", columns="series", values="hand").loc[METRICS]
    wide["max |hand - empyrical|"] = table.groupby("metric")["abs_diff"].max()
    print(wide.to_string(float_format=lambda x: f"{x:.4f}" if abs(x) > 1e-6 else f"{x:.1e}"))
    max_diff = float(table["abs_diff"].max())
    print(f"largest difference between the hand-written metrics and empyrical: {max_diff:.1e}")

    drag = {}
    for symbol in returns:
        r = returns[symbol].to_numpy()
        arithmetic = float(np.mean(r) * PERIODS)
        drag[symbol] = {"arithmetic": arithmetic, "cagr": cagr(r), "half_variance": float(np.var(r, ddof=1) * PERIODS / 2)}
        print(f"{symbol}: mean(r) x 252 = {arithmetic:+.2%} vs CAGR {cagr(r):+.2%}; "
              f"gap {arithmetic - cagr(r):.2%} ~ half the annual variance {drag[symbol]['half_variance']:.2%}")
    spx = returns["SPX"].to_numpy()
    sd_negative = float(np.std(spx[spx < 0], ddof=1) * np.sqrt(PERIODS))
    print(f"SPX downside deviation {downside_deviation(spx):.2%} (all days), not the std of the negative days "
          f"({sd_negative:.2%}): the latter would give a Sortino of {np.mean(spx) * PERIODS / sd_negative:.2f} "
          f"instead of {sortino(spx):.2f}")
    thresholds = np.linspace(-0.02, 0.02, 81)
    omega_curve = {s: [omega(returns[s].to_numpy(), t) for t in thresholds] for s in returns}

    path = plot(returns, thresholds, omega_curve, folder / "return_risk_metrics.png")
    print(f"plot: {path}")
    return {"days": len(returns), "metrics": results, "table": table, "max_abs_diff": max_diff,
            "volatility_drag": drag, "plot": path}


def plot(returns: pd.DataFrame, thresholds: np.ndarray, omega_curve: dict[str, list[float]], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplot_mosaic([["growth", "growth"], ["hist", "omega"]], height_ratios=[1.3, 1])
    ax, left, right = axes["growth"], axes["hist"], axes["omega"]
    for s in returns:
        ax.plot(returns.index, (1 + returns[s]).cumprod(), lw=0.8, label=s)
    ax.set_title("growth of 1, 2005-2012")
    ax.legend(fontsize=8)
    for s in returns:
        left.hist(returns[s], bins=120, alpha=0.5, label=s)
    left.set_title("daily returns")
    left.legend(fontsize=8)
    for s, curve in omega_curve.items():
        right.semilogy(thresholds * 100, curve, label=s)
    right.axhline(1, color="grey", lw=0.6, ls="--")
    right.set_xlabel("daily threshold (%)")
    right.set_title("omega ratio by threshold")
    right.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
