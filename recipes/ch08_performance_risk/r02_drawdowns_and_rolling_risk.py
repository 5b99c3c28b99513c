"""Drawdowns and rolling risk: a drawdown table with peak, trough and recovery; rolling Sharpe and beta.

One number — the maximum drawdown — hides most of what an investor lives through: how many
times the account fell, how long each fall lasted and how long the way back took. This recipe
builds the **drawdown table** from a return series:

1. wealth is the compounded return, the running peak its running maximum, and the drawdown
   ``wealth / peak - 1`` (zero at a new high, negative below it);
2. each stretch of consecutive days below the peak is one *episode*: its **peak** is the last
   high before it, its **trough** the lowest point in it, its **recovery** the first day wealth
   is back at the peak (none if it never was, within the data);
3. episodes are sorted by depth, with their length in sessions: peak to trough (the fall),
   trough to recovery (the way back) and peak to recovery.

Then **rolling risk**: over a 126-session (about six months) window, the Sharpe ratio and the
**beta** to the S&P 500 — ``cov(r, r_spx) / var(r_spx)`` — both by hand with pandas'
rolling windows and with empyrical's ``roll_sharpe_ratio``/``roll_beta``, compared. A beta that
drifts from below 1 to above 2 is the point: one full-sample number says little about the risk
in a given year.

The series is the NASDAQ Composite, 1999-2018, against the S&P 500: the dot-com fall and its
fifteen-year way back, which swallows 2008 whole (a drawdown inside a deeper one is not an
episode of its own).

What to look at: the drawdown table, the longest recovery, the rolling figures' agreement with
empyrical, and ``drawdowns_and_rolling_risk.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import empyrical as ep
import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch08_performance_risk import out_dir

PERIODS = 252
WINDOW = 126


# --------------------------------------------------------------------------------------------
# ingredients


def drawdown_series(returns: pd.Series) -> pd.Series:
    wealth = (1 + returns).cumprod()
    peak = wealth.cummax().clip(lower=1.0)  # the starting value counts as a peak
    return wealth / peak - 1


def drawdown_table(returns: pd.Series, top: int = 5) -> pd.DataFrame:
    """The ``top`` deepest drawdown episodes: peak, trough, recovery (NaT if none), depth, lengths."""
    dd = drawdown_series(returns)
    under = (dd < 0).to_numpy()
    dates = dd.index
    starts = np.flatnonzero(under & ~np.r_[False, under[:-1]])
    ends = np.flatnonzero(under & ~np.r_[under[1:], False])  # last day under water
    rows = []
    for s, e in zip(starts, ends, strict=True):
        episode = dd.iloc[s : e + 1]
        trough = episode.idxmin()
        recovered = e + 1 < len(dd)
        peak_i, trough_i = s - 1, dates.get_loc(trough)
        recovery_i = e + 1 if recovered else None
        rows.append({
            "peak": dates[peak_i] if peak_i >= 0 else pd.NaT,  # NaT: below the starting value from day one
            "trough": trough,
            "recovery": dates[recovery_i] if recovery_i is not None else pd.NaT,
            "depth": float(episode.min()),
            "fall_sessions": trough_i - peak_i,
            "recovery_sessions": recovery_i - trough_i if recovery_i is not None else np.nan,
            "total_sessions": recovery_i - peak_i if recovery_i is not None else np.nan,
        })
    table = pd.DataFrame(rows, columns=["peak", "trough", "recovery", "depth", "fall_sessions",
                                        "recovery_sessions", "total_sessions"])
    for col in ("fall_sessions", "recovery_sessions", "total_sessions"):
        table[col] = table[col].astype("Int64")  # whole sessions; <NA> while not recovered
    return table.sort_values("depth").head(top).reset_index(drop=True)


def rolling_sharpe(returns: pd.Series, window: int = WINDOW) -> pd.Series:
    return returns.rolling(window).mean() / returns.rolling(window).std() * np.sqrt(PERIODS)


def rolling_beta(returns: pd.Series, benchmark: pd.Series, window: int = WINDOW) -> pd.Series:
    return returns.rolling(window).cov(benchmark) / benchmark.rolling(window).var()


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    market = load_market(DataConfig(symbols=("IXIC", "SPX")))
    returns = pd.DataFrame({s: f["close"].pct_change() for s, f in market.frames.items()}).iloc[1:]
    ixic, spx = returns["IXIC"], returns["SPX"]
    print(f"IXIC vs SPX daily returns {returns.index[0].date()} .. {returns.index[-1].date()}")

    table = drawdown_table(ixic)
    shown = table.assign(**{c: table[c].dt.date for c in ("peak", "trough", "recovery")}, depth=table["depth"].map("{:.1%}".format))
    print("\nthe five deepest IXIC drawdowns:")
    print(shown.to_string(index=False))
    max_dd = float(drawdown_series(ixic).min())
    print(f"deepest {max_dd:.2%}; empyrical.max_drawdown {ep.max_drawdown(ixic):.2%}")
    longest = table.loc[table["total_sessions"].idxmax()]
    print(f"the longest completed episode: {longest['peak'].date()} -> {longest['recovery'].date()}, "
          f"{int(longest['total_sessions'])} sessions ({longest['total_sessions'] / PERIODS:.1f} years)")

    sharpe_hand, beta_hand = rolling_sharpe(ixic), rolling_beta(ixic, spx)
    sharpe_lib = ep.roll_sharpe_ratio(ixic, window=WINDOW)
    beta_lib = ep.roll_beta(ixic, spx, window=WINDOW)
    sharpe_diff = float((sharpe_hand.reindex(sharpe_lib.index) - sharpe_lib).abs().max())
    beta_diff = float((beta_hand.reindex(beta_lib.index) - beta_lib).abs().max())
    full_beta = float(ep.beta(ixic, spx))
    beta = beta_hand.dropna()
    by_year = beta.groupby(beta.index.year).mean()
    print(f"\n{WINDOW}-session rolling Sharpe and beta, by hand vs empyrical: max difference "
          f"{sharpe_diff:.1e} (Sharpe), {beta_diff:.1e} (beta)")
    print(f"beta to SPX over the whole sample {full_beta:.2f}; rolling beta from {beta.min():.2f} "
          f"({beta.idxmin().date()}) to {beta.max():.2f} ({beta.idxmax().date()})")
    print("mean rolling beta by year: " + ", ".join(f"{y} {b:.2f}" for y, b in by_year.items()))

    path = plot(ixic, spx, sharpe_hand, beta_hand, full_beta, folder / "drawdowns_and_rolling_risk.png")
    print(f"plot: {path}")
    return {
        "drawdowns": table,
        "max_drawdown": max_dd,
        "empyrical_max_drawdown": float(ep.max_drawdown(ixic)),
        "rolling_sharpe_max_diff": sharpe_diff,
        "rolling_beta_max_diff": beta_diff,
        "full_beta": full_beta,
        "rolling_beta_range": (float(beta.min()), float(beta.max())),
        "plot": path,
    }


def plot(ixic: pd.Series, spx: pd.Series, sharpe: pd.Series, beta: pd.Series, full_beta: float, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 9), layout="constrained")
    ax = fig.subplots(3, 1, sharex=True)
    for name, r in (("IXIC", ixic), ("SPX", spx)):
        dd = drawdown_series(r) * 100
        ax[0].fill_between(dd.index, dd, 0, alpha=0.35, label=name)
    ax[0].set_ylabel("drawdown %")
    ax[0].legend(fontsize=8)
    ax[0].set_title("underwater curves")
    ax[1].plot(sharpe.index, sharpe, lw=0.7, color="tab:purple")
    ax[1].axhline(0, color="grey", lw=0.6)
    ax[1].set_ylabel(f"Sharpe ({WINDOW}d)")
    ax[2].plot(beta.index, beta, lw=0.7, color="tab:orange", label=f"IXIC beta to SPX ({WINDOW}d)")
    ax[2].axhline(full_beta, color="black", lw=0.6, ls="--", label=f"whole sample {full_beta:.2f}")
    ax[2].legend(fontsize=8)
    ax[2].set_ylabel("beta")
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
