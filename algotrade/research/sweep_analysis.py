"""What a finished sweep means: the best run, the data-snooping test, the walk-forward result."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from algotrade.research.snooping import SpaResult, equal_weight_returns, returns_from_equity, spa_test

if TYPE_CHECKING:
    from algotrade.research.executors import Outcome
    from algotrade.research.sweep_plan import Run
    from algotrade.research.sweep_result import SweepResult


@dataclass
class WalkForwardResult:
    engine: str
    windows: list[dict[str, Any]]
    dates: list[pd.Timestamp]  # stitched out-of-sample sessions
    equity: list[float]  # stitched out-of-sample equity on those sessions
    benchmark: list[float]  # buy and hold chained over the same sessions, from the same cash
    stats: dict[str, Any]


@dataclass
class Analysis:
    metric: str
    best: dict[str, Any] | None
    spa: SpaResult | None
    spa_note: str
    walkforward: list[WalkForwardResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"best": self.best}
        out["spa"] = (
            {"pvalue": self.spa.pvalue, "runs": self.spa.runs, "sessions": self.spa.sessions,
             "benchmark": self.spa.benchmark, "sentence": self.spa.sentence()}
            if self.spa else {"pvalue": None, "sentence": self.spa_note}
        )
        if self.walkforward:
            out["walkforward"] = {
                w.engine: {
                    "windows": len(w.windows),
                    "oos_metric": w.stats.get("oos_metric"),
                    "is_metric_mean": w.stats.get("is_metric_mean"),
                    "oos_total_return": w.stats.get("total_return"),
                    "oos_sharpe": w.stats.get("sharpe"),
                    "oos_max_drawdown": w.stats.get("max_drawdown"),
                    "detail": w.windows,
                }
                for w in self.walkforward
            }
        return out


def evaluated_returns(markets: dict[str, Any], run: Run, outcome: Outcome) -> pd.Series:
    """Daily returns of a run over the sessions it was evaluated on."""
    dates = markets[run.market_key].dates
    k = dates.get_loc(pd.Timestamp(outcome.equity_first))
    return returns_from_equity(list(dates[k : k + len(outcome.equity) - 1]), outcome.equity)


def _benchmark(markets: dict[str, Any]) -> pd.Series:
    closes: dict[str, pd.Series] = {}
    for market in markets.values():
        for sym, frame in market.frames.items():
            closes.setdefault(sym, frame["close"])
    return equal_weight_returns(closes)


def _stats(returns: pd.Series) -> dict[str, Any]:
    import empyrical as ep

    def finite(x: float) -> float | None:
        x = float(x)
        return x if x == x and abs(x) != float("inf") else None

    wealth = (1 + returns).cumprod()
    return {
        "total_return": float(wealth.iloc[-1] - 1) if len(wealth) else None,
        "annual_return": finite(ep.annual_return(returns)),
        "annual_volatility": finite(ep.annual_volatility(returns)),
        "sharpe": finite(ep.sharpe_ratio(returns)),
        "sortino": finite(ep.sortino_ratio(returns)),
        "calmar": finite(ep.calmar_ratio(returns)),
        "max_drawdown": float((wealth / wealth.cummax() - 1).min()) if len(wealth) else None,
    }


def analyse(result: SweepResult, markets: dict[str, Any]) -> Analysis:
    from algotrade.research.sweep_result import rerun_command, rerun_folder
    from algotrade.research.walkforward import chain

    exp = result.experiment
    sweep = exp.sweep
    assert sweep is not None
    plan = result.plan
    metric = sweep.metric
    first = plan.engines[0]
    best_row = next((r for r in result.rows if r["phase"] == "grid" and r["engine"] == first and r["rank"] == 1), None)
    best = None
    if best_row is not None:
        best = {
            "label": plan.points[best_row["point"]].label(), "point": best_row["point"], "engine": first,
            "config_id": best_row["config_id"], "value": best_row[metric],
            "total_return": best_row["total_return"], "max_drawdown": best_row["max_drawdown"],
            "trade_count": best_row["trade_count"], "folder": best_row["folder"],
            "rerun": rerun_command(result.folder, best_row),
            "rerun_report": str(rerun_folder(result.folder, best_row) / "report.html"),
        }

    # data snooping: every finished grid run of the first engine, against the benchmark
    bench = _benchmark(markets) if sweep.benchmark == "buy_and_hold" else None
    series: dict[str, pd.Series] = {}
    for run in plan.grid:
        outcome = result.outcomes.get(run.key)
        if run.engine == first and outcome is not None and outcome.status == "ok" and outcome.equity_first:
            series[plan.points[run.point].label()] = evaluated_returns(markets, run, outcome)
    spa = None
    note = ""
    if series:
        frame = pd.DataFrame(series)
        if bench is None:
            bench_series, bench_name = pd.Series(0.0, index=frame.index), "cash (a zero return)"
        else:
            from algotrade.core.config import symbols_text

            symbols = symbols_text(list(dict.fromkeys(s for m in markets.values() for s in m.frames)))
            bench_series, bench_name = bench.reindex(frame.index).fillna(0.0), f"buy and hold of {symbols}"
        spa = spa_test(frame, bench_series, bench_name, seed=sweep.seed)
    if spa is None:
        note = "Too few finished runs or sessions for Hansen's SPA test (it needs at least one run and 30 sessions)."

    # walk-forward: the chosen point's in-sample metric against its out-of-sample result, stitched
    wf_results: list[WalkForwardResult] = []
    for engine in plan.engines if plan.windows else ():
        windows: list[dict[str, Any]] = []
        segments: list[tuple[list[Any], list[float]]] = []
        bench_returns: list[pd.Series] = []
        for window in plan.windows:
            test = result.tests.get((engine, window.index))
            info = window.describe()
            info.update({"engine": engine, "chosen": None, "config_id": None, "is_metric": None, "oos_metric": None,
                         "oos_total_return": None, "oos_trades": None, "folder": None})
            if test is not None:
                train_run = next(r for r in plan.train_runs(window.index, engine) if r.point == test.point)
                train_out = result.outcomes.get(train_run.key)
                info["chosen"] = plan.points[test.point].label()
                info["config_id"] = test.config_id
                info["folder"] = test.folder
                info["is_metric"] = train_out.metrics.get(metric) if train_out else None
                outcome = result.outcomes.get(test.key)
                if outcome is not None and outcome.status == "ok" and outcome.equity_first:
                    info["oos_metric"] = outcome.metrics.get(metric)
                    info["oos_total_return"] = outcome.metrics.get("total_return")
                    info["oos_trades"] = outcome.metrics.get("trade_count")
                    rets = evaluated_returns(markets, test, outcome)
                    segments.append((list(rets.index), outcome.equity))
                    if bench is not None:
                        bench_returns.append(bench.reindex(rets.index).fillna(0.0))
            windows.append(info)
        if not segments:
            continue
        cash = exp.broker.cash
        dates, equity = chain(segments, cash)
        stitched = pd.Series(equity, index=pd.DatetimeIndex(dates)).pct_change()
        stitched.iloc[0] = equity[0] / cash - 1
        stats = _stats(stitched)
        stats["trade_count"] = sum(int(w["oos_trades"] or 0) for w in windows)
        per_window = [w["oos_metric"] for w in windows if w["oos_metric"] is not None]
        stats["oos_metric"] = stats.get(metric, statistics.fmean(per_window) if per_window else None)
        is_values = [w["is_metric"] for w in windows if w["is_metric"] is not None]
        stats["is_metric_mean"] = statistics.fmean(is_values) if is_values else None
        bench_equity: list[float] = []
        if bench_returns:
            b = pd.concat(bench_returns)
            bench_equity = list(cash * (1 + b).cumprod())
        wf_results.append(WalkForwardResult(engine, windows, list(pd.DatetimeIndex(dates)), equity, bench_equity, stats))
    return Analysis(metric, best, spa, note, wf_results)
