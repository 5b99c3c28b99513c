"""Parametric (normal) value at risk of the portfolio you hold.

Fit a normal distribution to the portfolio's past daily returns (recipe 7's ``portfolio_returns``:
today's positions on the symbols' trailing returns) — mean ``mu`` and sample standard deviation
``sigma`` (``ddof=1``, as pandas and quantstats compute it) — and read the loss off the fit:
``VaR = -(mu + sigma z)`` and ``CVaR = -(mu - sigma phi(z) / (1 - c))`` with ``z = Phi^-1(1 - c)``
from ``scipy.stats.norm``. The formulas are chapter 8's ``normal_var_cvar`` (reused).

Smooth and cheap — it changes continuously with the position, which makes a limit easy to size
against — but daily returns have fat tails: at 99 % the normal figure is usually below the
historical one in a crisis window. The page prints both over 2005-2012 for the recipe-7 position
and how often each was exceeded the next day.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch08_performance_risk.r03_var_cvar import historical_var_cvar, normal_var_cvar
from recipes.ch11_risk_sizing import out_dir
from recipes.ch11_risk_sizing.r07_var_historical import CONFIDENCE, WEIGHTS, WINDOW, portfolio_returns

__all__ = ["main", "parametric_var_cvar"]


def parametric_var_cvar(returns: np.ndarray, confidence: float) -> tuple[float, float]:
    """Normal VaR and CVaR (positive = loss, fractions of equity) of a return series."""
    return normal_var_cvar(float(np.mean(returns)), float(np.std(returns, ddof=1)), confidence)


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    market = load_market(DataConfig.model_validate({"symbols": tuple(WEIGHTS)}))
    closes = pd.DataFrame({s: f["close"] for s, f in market.frames.items()}).loc["2004-01-01":"2012-12-31"]
    rets = closes[list(WEIGHTS)].pct_change().iloc[1:]
    w = np.array(list(WEIGHTS.values()))
    arr = rets.to_numpy()
    rows = []
    for t in range(WINDOW, len(arr)):
        past = portfolio_returns(w, arr[t - WINDOW:t])
        rows.append((rets.index[t], *parametric_var_cvar(past, CONFIDENCE), *historical_var_cvar(past, CONFIDENCE),
                     float(arr[t] @ w)))
    series = pd.DataFrame(rows, columns=["date", "VaR", "CVaR", "hist_VaR", "hist_CVaR", "return"]).set_index("date")
    series = series.loc["2005-01-01":]
    hits = {m: int((series["return"] < -series[m]).sum()) for m in ("VaR", "hist_VaR")}
    print(f"{WEIGHTS} position, {CONFIDENCE:.0%} one-day VaR from the trailing {WINDOW} days, {len(series)} days")
    print(f"normal VaR exceeded {hits['VaR']} times ({hits['VaR'] / len(series):.2%}), historical "
          f"{hits['hist_VaR']} times ({hits['hist_VaR'] / len(series):.2%}); expected {1 - CONFIDENCE:.0%}")
    crisis = series.loc["2008-10-01":"2009-06-30"]
    print(f"Oct 2008 - Jun 2009 mean VaR: normal {crisis['VaR'].mean():.2%}, historical {crisis['hist_VaR'].mean():.2%}")
    path = plot(series, folder / "var_parametric.png")
    print(f"plot: {path}")
    return {"series": series, "exceedances": hits, "days": len(series), "plot": path,
            "cvar_ge_var": bool((series["CVaR"] >= series["VaR"]).all())}


def plot(series: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(series.index, series["return"] * 100, lw=0.4, color="grey", label="daily return")
    ax.plot(series.index, -series["VaR"] * 100, lw=1.0, color="C1", label="-VaR 99% (normal)")
    ax.plot(series.index, -series["hist_VaR"] * 100, lw=1.0, color="C0", label="-VaR 99% (historical)")
    ax.set_title("parametric vs historical one-day VaR (%), trailing 250 days")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
