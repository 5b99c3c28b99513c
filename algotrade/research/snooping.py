"""Data-snooping check: is the best of many backtests better than luck from trying many?

Hansen's Superior Predictive Ability test (``arch.bootstrap.SPA``) takes the daily returns of
every run of a sweep and a benchmark's, and asks whether *any* run beats the benchmark once the
number of runs tried is accounted for (a stationary bootstrap of the whole set, so correlated
runs count as the near-copies they are). Its p-value is the chance of a best result at least this
good if no run truly beats the benchmark: a large p means the winner is plausibly just the luckiest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: the p-value below which the report calls an edge unlikely to be luck
ALPHA = 0.05


@dataclass(frozen=True)
class SpaResult:
    pvalue: float  # Hansen's consistent p-value
    runs: int
    sessions: int
    benchmark: str
    best: str  # the run with the highest mean daily return over the benchmark
    best_excess_annual: float  # its mean daily excess return x 252
    reps: int

    def sentence(self, what: str = "parameter sets") -> str:
        head = (
            f"The best of {self.runs} {what} has p = {self.pvalue:.2f} under Hansen's SPA test "
            f"(against {self.benchmark}, {self.sessions} sessions, {self.reps} bootstrap samples): "
        )
        if self.pvalue < ALPHA:
            return head + (
                "an edge this large is unlikely to come from trying many by luck alone. That is "
                "evidence about this data only: it says nothing about costs not modelled, other "
                "periods or the future."
            )
        if self.pvalue < 0.10:
            return head + "the evidence of a real edge is weak: trying this many alone could nearly explain it."
        return head + "its edge is plausibly luck from trying many."


def spa_test(
    returns: pd.DataFrame, benchmark: pd.Series, benchmark_name: str, seed: int = 7, reps: int = 1000
) -> SpaResult | None:
    """Hansen's SPA test of the columns of ``returns`` (daily returns of each run) against
    ``benchmark`` (daily returns on the same dates). None when there is too little to test."""
    from arch.bootstrap import SPA

    frame = returns.join(benchmark.rename("__benchmark__"), how="inner").dropna()
    if frame.shape[1] < 2 or len(frame) < 30:
        return None
    models = frame.drop(columns="__benchmark__")
    bench = frame["__benchmark__"]
    # SPA works on losses: lower is better
    spa = SPA(-bench.to_numpy(), -models.to_numpy(), reps=reps, bootstrap="stationary", seed=seed)
    spa.compute()
    excess = models.sub(bench, axis=0).mean()
    best = str(excess.idxmax())
    return SpaResult(
        pvalue=float(spa.pvalues["consistent"]),
        runs=models.shape[1],
        sessions=len(frame),
        benchmark=benchmark_name,
        best=best,
        best_excess_annual=float(excess.max() * 252),
        reps=reps,
    )


def equal_weight_returns(closes: dict[str, pd.Series]) -> pd.Series:
    """Daily returns of holding the symbols in equal weights (rebalanced daily)."""
    frame = pd.DataFrame(closes)
    return frame.pct_change().mean(axis=1).fillna(0.0)


def returns_from_equity(dates: list[object], values: list[float]) -> pd.Series:
    """Daily returns from [equity before, *equity on each date]."""
    v = np.asarray(values, dtype=np.float64)
    return pd.Series(v[1:] / v[:-1] - 1.0, index=pd.DatetimeIndex(dates))
