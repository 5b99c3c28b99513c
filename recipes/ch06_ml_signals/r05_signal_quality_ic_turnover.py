"""Is the signal any good? Information coefficient, quantile returns, rank stability and turnover.

A backtest mixes the signal with costs, sizing and luck. Before trading a score, factor
researchers look at the score itself against what happened next, across a cross-section of
assets, date by date:

1. **Information coefficient (IC).** Each date, the Spearman rank correlation between the scores
   and the forward returns of the assets. Its mean is the signal's edge; mean / standard
   deviation is its information ratio. With an ``h``-day forward return, consecutive daily ICs
   share ``h - 1`` days of returns, so the t-statistic is computed on every ``h``-th date only —
   the daily series would overstate it by about ``sqrt(h)``.
2. **Quantile returns.** Each date, the assets are split into quantiles of the score; the mean
   forward return per quantile should rise from the first to the last if the score ranks well.
   The top-minus-bottom spread is what a long/short portfolio would earn before costs.
3. **Rank autocorrelation.** The rank correlation of each date's scores with the previous date's.
   Near 1, the ranking barely changes and the signal is cheap to trade; near 0, it reshuffles
   every day.
4. **Turnover.** The share of a top/bottom-N long/short book (r04's ``rank_weights``) that is
   traded each day: half the sum of absolute weight changes. Cost per year is roughly turnover
   x 252 x the cost of one trade.

Three scores are run through the same measurements on a synthetic basket whose symbols share one
drift (so no score can rank them in advance): the XGBoost out-of-sample probabilities of r04, a
21-day momentum score, and a deliberately *leaky* score (the forward return itself plus noise).
The first two should show an IC near 0; the leak shows what an edge looks like in these tables —
and what to suspect when a real backtest shows one that large.

What to look at: the table (mean IC, its t-statistic, the quantile spread, rank autocorrelation,
daily turnover), and ``quantile_returns.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recipes.ch06_ml_signals import out_dir
from recipes.ch06_ml_signals.r01_feature_engineering import feature_lookback, forward_returns, make_features
from recipes.ch06_ml_signals.r02_purged_walk_forward_cv import walk_forward_splits
from recipes.ch06_ml_signals.r04_walk_forward_predictions_to_signals import (
    panel_dataset,
    rank_weights,
    synthetic_basket,
    unstack,
    walk_forward_predict,
)

# --------------------------------------------------------------------------------------------
# ingredients


def _paired(scores: pd.DataFrame, fwd: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    both = scores.notna() & fwd.notna()
    return scores.where(both), fwd.where(both)


def cross_sectional_ic(scores: pd.DataFrame, fwd: pd.DataFrame, min_assets: int = 3) -> pd.Series:
    """Per date: the Spearman correlation of scores with forward returns across assets."""
    s, f = _paired(scores, fwd)
    ic = s.rank(axis=1).corrwith(f.rank(axis=1), axis=1)  # Pearson on ranks = Spearman
    ic[s.notna().sum(axis=1) < min_assets] = np.nan
    return ic.dropna()


def ic_summary(ic: pd.Series, horizon: int = 1) -> dict[str, float]:
    """Mean IC, its spread, information ratio, share of positive dates, and a t-statistic on
    non-overlapping dates (every ``horizon``-th)."""
    spaced = ic.iloc[::horizon]
    std = float(ic.std())
    spaced_std = float(spaced.std())
    return {
        "mean_ic": float(ic.mean()),
        "ic_std": std,
        "ic_ir": float(ic.mean() / std) if std > 0 else float("nan"),
        "t_stat": float(spaced.mean() / spaced_std * np.sqrt(len(spaced))) if spaced_std > 0 else float("nan"),
        "positive_share": float((ic > 0).mean()),
        "dates": len(ic),
    }


def quantile_returns(scores: pd.DataFrame, fwd: pd.DataFrame, quantiles: int = 5) -> pd.Series:
    """The mean forward return of each score quantile (1 = lowest scores), pooled over dates."""
    s, f = _paired(scores, fwd)
    pct = s.rank(axis=1, pct=True, method="first")
    bucket = np.ceil(pct * quantiles).clip(1, quantiles)
    stacked = pd.DataFrame({"q": bucket.stack(), "fwd": f.stack()}).dropna()
    return stacked.groupby("q")["fwd"].mean().rename(index=int)


def rank_autocorrelation(scores: pd.DataFrame, lag: int = 1) -> pd.Series:
    """Per date: the rank correlation of the scores with the scores ``lag`` dates earlier."""
    ranks = scores.rank(axis=1)
    earlier = ranks.shift(lag)
    s, e = _paired(ranks, earlier)
    return s.rank(axis=1).corrwith(e.rank(axis=1), axis=1).dropna()


def turnover(weights: pd.DataFrame) -> pd.Series:
    """Per date: half the sum of absolute weight changes (1.0 = the whole book replaced)."""
    return 0.5 * weights.diff().abs().sum(axis=1).iloc[1:]


def signal_report(scores: pd.DataFrame, fwd: pd.DataFrame, horizon: int, top_n: int, quantiles: int = 5) -> dict[str, Any]:
    """Every measurement of this page for one score."""
    q = quantile_returns(scores, fwd, quantiles)
    return {
        **ic_summary(cross_sectional_ic(scores, fwd), horizon),
        "quantile_returns": q,
        "top_minus_bottom": float(q.iloc[-1] - q.iloc[0]) if len(q) else float("nan"),
        "rank_autocorr": float(rank_autocorrelation(scores).mean()),
        "daily_turnover": float(turnover(rank_weights(scores, top_n)).mean()),
    }


def plot(reports: dict[str, dict[str, Any]], horizon: int, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.8), layout="constrained")
    axes = fig.subplots(1, len(reports), sharey=False)
    for ax, (name, report) in zip(np.atleast_1d(axes), reports.items(), strict=True):
        q = report["quantile_returns"] * 1e4
        ax.bar([str(i) for i in q.index], q.to_numpy(), color=["tab:green" if v > 0 else "tab:red" for v in q])
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{name}\nmean IC {report['mean_ic']:+.3f}", fontsize=9)
        ax.set_xlabel("score quantile")
    np.atleast_1d(axes)[0].set_ylabel(f"mean {horizon}-day forward return (bp)")
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    horizon, top_n, seed = 5, 2, 7
    symbols = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH")
    frames = synthetic_basket(symbols, seed=3)
    dates = next(iter(frames.values())).index
    fwd = pd.DataFrame({s: forward_returns(f["close"].to_numpy(), horizon) for s, f in frames.items()}, index=dates)

    # 1. the model: r04's pooled walk-forward predictions, out of sample only
    panel = panel_dataset(frames, horizon)
    folds = walk_forward_splits(len(dates), train_size=504, test_size=252, horizon=horizon, start=feature_lookback())
    proba, _ = walk_forward_predict(panel["X"], panel["y"], folds, horizon, time_index=panel["time_index"],
                                    seed=seed, n_estimators=60)
    model = unstack(proba, dates, symbols)
    # 2. a classic factor: 21-day momentum, from r01's features
    momentum = pd.DataFrame({s: make_features(f, ("ret_21",))["ret_21"] for s, f in frames.items()})
    # 3. a leak on purpose: the answer plus noise twice its size
    rng = np.random.default_rng(seed)
    leak = fwd + rng.normal(0.0, 2 * float(np.nanstd(fwd.to_numpy())), fwd.shape)

    oos = dates[folds[0].test.start :]  # every score is judged on the same out-of-sample dates
    scores = {"xgb OOS probability": model, "momentum 21d": momentum, "leak: future + noise": leak}
    reports = {name: signal_report(s.loc[oos], fwd.loc[oos], horizon, top_n) for name, s in scores.items()}

    print(f"synthetic basket of {len(symbols)} symbols, {oos[0].date()} .. {oos[-1].date()} "
          f"({len(oos)} dates), {horizon}-day forward returns, top/bottom {top_n} for turnover")
    table = pd.DataFrame({
        name: {k: r[k] for k in ("mean_ic", "ic_ir", "t_stat", "positive_share", "top_minus_bottom",
                                 "rank_autocorr", "daily_turnover")}
        for name, r in reports.items()
    }).T
    print(table.round(4).to_string())
    for name, r in reports.items():
        q = r["quantile_returns"]
        print(f"  {name:<22} quantile mean returns (bp): " + "  ".join(f"Q{i} {v * 1e4:+.1f}" for i, v in q.items()))
    t_model, t_leak = reports["xgb OOS probability"]["t_stat"], reports["leak: future + noise"]["t_stat"]
    verdict = "no edge, the honest answer" if abs(t_model) < 2 else "an edge where none exists: look for a leak"
    print(f"no score can rank this basket in advance: the model's IC t-statistic is {t_model:+.2f} ({verdict}); "
          f"the leak's is {t_leak:+.1f} — what 'too good' looks like")
    path = plot(reports, horizon, folder / "quantile_returns.png")
    print(f"plot: {path}")
    return {"reports": reports, "table": table, "oos_start": oos[0].date(), "plot": path}


if __name__ == "__main__":
    main()
