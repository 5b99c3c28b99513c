"""Historical value at risk of the portfolio you hold: the limit a risk manager checks each day.

Chapter 8 measured the VaR of a return series. A *limit* needs the VaR of the portfolio held
now, which has no history of its own: apply today's positions to the symbols' past daily returns
("what would these positions have done on each of the last ``window`` days?") and read the loss
off that series. With exposures ``w_s = shares_s x price_s / equity`` (signed: short is negative),
the portfolio's return on past day ``t`` is ``sum_s w_s r_{s,t}``.

**Historical VaR at confidence c** is minus the empirical ``1 - c`` quantile of those returns,
with the quantile defined as numpy's default ``'linear'`` method (Hyndman and Fan's type 7: the
order statistics interpolated linearly at ``(n - 1)(1 - c)``) — the definition ``pandas.quantile``,
``empyrical.value_at_risk`` (``np.percentile``) and quantstats' historical CVaR use. **CVaR** is
minus the mean of the returns at or below that quantile. Both come from chapter 8's
``historical_var_cvar`` (reused, not rewritten); this page adds the portfolio's return series.

The page: a 60/40 SPX/IXIC position over 2005-2012, its 99 % one-day VaR and CVaR from the
trailing 250 days at each date (never including the day itself), and a check that the numbers
equal empyrical's. What to look at: the VaR jumping in 2008 as the crash enters the window and
staying high for a year until it leaves — historical VaR has a memory exactly ``window`` long.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import empyrical as ep
import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch08_performance_risk.r03_var_cvar import historical_var_cvar
from recipes.ch11_risk_sizing import out_dir

WEIGHTS = {"SPX": 0.6, "IXIC": 0.4}
WINDOW = 250
CONFIDENCE = 0.99

__all__ = ["historical_var_cvar", "main", "portfolio_returns", "rolling_var"]


# --------------------------------------------------------------------------------------------
# ingredients


def portfolio_returns(exposures: np.ndarray, asset_returns: np.ndarray) -> np.ndarray:
    """Past daily returns of today's portfolio: ``asset_returns`` (days x symbols, simple returns)
    weighted by ``exposures`` (signed position value / equity per symbol). A missing return (a
    symbol not yet trading) counts as 0: the position would not have moved."""
    clean = np.where(np.isfinite(asset_returns), asset_returns, 0.0)
    return clean @ exposures


def rolling_var(closes: pd.DataFrame, weights: dict[str, float], window: int, confidence: float) -> pd.DataFrame:
    """VaR and CVaR at each date from the ``window`` returns before it (the day itself excluded)."""
    rets = closes[list(weights)].pct_change().iloc[1:].to_numpy()
    w = np.array(list(weights.values()))
    rows = []
    for t in range(window, len(rets)):
        var, cvar = historical_var_cvar(portfolio_returns(w, rets[t - window:t]), confidence)
        rows.append((closes.index[t + 1], var, cvar, float(rets[t] @ w)))
    return pd.DataFrame(rows, columns=["date", "VaR", "CVaR", "return"]).set_index("date")


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    market = load_market(DataConfig.model_validate({"symbols": tuple(WEIGHTS)}))
    closes = pd.DataFrame({s: f["close"] for s, f in market.frames.items()}).loc["2004-01-01":"2012-12-31"]
    series = rolling_var(closes, WEIGHTS, WINDOW, CONFIDENCE).loc["2005-01-01":]
    print(f"{WEIGHTS} position; {CONFIDENCE:.0%} one-day historical VaR/CVaR from the trailing {WINDOW} days")
    yearly = series.groupby(series.index.year)[["VaR", "CVaR"]].mean()
    print(yearly.map("{:.2%}".format).to_string())

    # the last date's figures, and empyrical's on the same returns
    rets = closes.pct_change().iloc[1:][list(WEIGHTS)]
    last = pd.Series(portfolio_returns(np.array(list(WEIGHTS.values())), rets.to_numpy()[-WINDOW:]))
    var, cvar = historical_var_cvar(last.to_numpy(), CONFIDENCE)
    ep_var = -float(ep.value_at_risk(last, cutoff=1 - CONFIDENCE))
    ep_cvar = -float(ep.conditional_value_at_risk(last, cutoff=1 - CONFIDENCE))
    diff = max(abs(var - ep_var), abs(cvar - ep_cvar))
    print(f"last date: VaR {var:.3%}, CVaR {cvar:.3%}; empyrical {ep_var:.3%} / {ep_cvar:.3%} (difference {diff:.1e})")
    exceed = int((series["return"] < -series["VaR"]).sum())
    print(f"days losing more than the VaR known the day before: {exceed} of {len(series)} "
          f"({exceed / len(series):.2%}, expected {1 - CONFIDENCE:.0%})")
    path = plot(series, folder / "var_historical.png")
    print(f"plot: {path}")
    return {"series": series, "last_var": var, "last_cvar": cvar, "empyrical_max_diff": diff,
            "exceedances": exceed, "days": len(series), "plot": path}


def plot(series: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(series.index, series["return"] * 100, lw=0.4, color="grey", label="daily return")
    ax.plot(series.index, -series["VaR"] * 100, lw=1.0, color="C0", label="-VaR 99%")
    ax.plot(series.index, -series["CVaR"] * 100, lw=1.0, color="C3", label="-CVaR 99%")
    ax.set_title("historical one-day VaR and CVaR of a 60/40 SPX/IXIC position (%), trailing 250 days")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
