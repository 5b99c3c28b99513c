"""Precomputed signals inside Zipline: a custom Pipeline loader, or a plain before_trading_start lookup.

Model predictions are usually computed outside the backtest — trained and predicted walk-forward
in a notebook or a batch job (chapter 6) — and arrive as a table of dates x symbols. Zipline
offers two ways to bring such a table into an algorithm, and this recipe does both on the same
predictions and checks that they trade identically:

1. **A Pipeline column with its own loader.** Declare a ``DataSet`` with one ``Column``, build a
   ``DataFrameLoader`` for it from a frame indexed by session with one column per *sid*, and pass
   ``custom_loader={column: loader}`` to ``run_algorithm``. The column then behaves like any
   pricing column: ``Predictions.score.latest`` in a pipeline, ranks, filters, screens. One
   gotcha: the pipeline engine asks for the column *specialised to its domain*
   (``US_EQUITIES``), so the loader is registered under both the generic and the specialised
   column.
2. **A dictionary lookup in before_trading_start.** No Pipeline at all: before each session the
   algorithm reads the day's row of the frame into ``context``. Simple, and enough when the
   signal is already one number per asset per day.

**Timing is the whole difficulty.** A ``DataFrameLoader`` shows the row dated D on session D as
it is — it does not shift by a day the way Zipline's pricing loader does. So the row for D must
hold what is known *before D opens*: here each prediction is computed from closes up to D-1 and
then shifted onto D. The page checks that property by recomputing the predictions on data cut
at D-1 (the look-ahead guard) and by comparing what each route saw on each rebalance with the
frame's row.

The "model" is a stand-in so the page runs in seconds: a cross-sectional z-score of the 20-session
return minus the 5-session return (medium-term trend, short-term pullback). Any frame of
predictions works the same way.

What to look at: the prediction frame's first rows, the identical trade lists of both routes,
the look-ahead check, and the portfolio's final value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recipes.ch05_zipline.r03_pipeline_momentum_factor import is_week_start, simulate

TOP = 2  # names held
INVESTED = 0.95
WARMUP = 21  # sessions before the first prediction exists
CASH = 1_000_000.0


# --------------------------------------------------------------------------------------------
# ingredients


def predictions(closes: pd.DataFrame) -> pd.DataFrame:
    """The stand-in model: for each session D, a score per symbol known before D opens.

    The score is computed from closes up to D-1 (trend over 20 sessions minus the last 5,
    z-scored across symbols) and then shifted onto D. NaN until enough history exists.
    """
    trend = closes.pct_change(20, fill_method=None) - closes.pct_change(5, fill_method=None)
    z = trend.sub(trend.mean(axis=1), axis=0).div(trend.std(axis=1, ddof=0), axis=0)
    return z.shift(1)


def top_weights(scores: pd.Series, top: int = TOP, invested: float = INVESTED) -> dict[Any, float]:
    """Equal weights on the ``top`` highest scores (NaN never chosen); ties go to the first label."""
    best = scores.dropna().sort_values(ascending=False, kind="stable").index[:top]
    return {label: invested / top for label in best}


def signal_dataset() -> Any:
    """A Pipeline DataSet with one float column for the predictions."""
    from zipline.pipeline.data import Column, DataSet

    class Predictions(DataSet):  # type: ignore[misc]
        score = Column(dtype=float)

    return Predictions


def signal_loader(dataset: Any, frame: pd.DataFrame, sids: dict[str, int]) -> dict[Any, Any]:
    """``custom_loader`` for ``run_algorithm``: the frame (columns renamed to sids) behind the column."""
    from zipline.pipeline.domain import US_EQUITIES
    from zipline.pipeline.loaders.frame import DataFrameLoader

    by_sid = frame.rename(columns=sids)
    by_sid.columns = pd.Index(by_sid.columns, dtype="int64")
    loader = DataFrameLoader(dataset.score, by_sid)
    return {dataset.score: loader, dataset.score.specialize(US_EQUITIES): loader}


def weekly_top_algorithm(source: str, frame: pd.DataFrame, dataset: Any, log: list[dict[str, Any]]) -> dict[str, Any]:
    """The run_algorithm functions of a weekly top-N portfolio fed by ``source``: pipeline or lookup."""
    from zipline.api import (
        attach_pipeline,
        date_rules,
        get_datetime,
        order_target_percent,
        pipeline_output,
        schedule_function,
        set_commission,
        set_slippage,
        symbol,
        time_rules,
    )
    from zipline.finance import commission, slippage
    from zipline.pipeline import Pipeline

    def rebalance(context: Any, data: Any) -> None:
        scores = context.scores
        weights = top_weights(scores)
        log.append({"date": get_datetime().date(), "scores": scores.to_dict(), "chosen": sorted(weights)})
        for sym in scores.index:
            order_target_percent(context.assets[sym], weights.get(sym, 0.0))

    def initialize(context: Any) -> None:
        context.assets = {s: symbol(s) for s in frame.columns}
        if source == "pipeline":
            attach_pipeline(Pipeline(columns={"score": dataset.score.latest}), "signals")
        schedule_function(rebalance, date_rules.week_start(), time_rules.market_open())
        set_commission(commission.PerShare(cost=0.0, min_trade_cost=0.0))
        set_slippage(slippage.FixedSlippage(spread=0.0))

    def before_trading_start(context: Any, data: Any) -> None:
        if source == "pipeline":
            table = pipeline_output("signals")["score"]
            context.scores = pd.Series({a.symbol: v for a, v in table.items()})[list(frame.columns)]
        else:  # the plain lookup: today's row of the frame
            context.scores = frame.loc[get_datetime().tz_localize(None).normalize()]

    return {"initialize": initialize, "before_trading_start": before_trading_start}


def run(market: Any, frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Run the weekly portfolio with signals from ``source`` ("pipeline" or "lookup")."""
    from adapters.zipline.bundle import ensure_bundle
    from adapters.zipline.calendars import calendar_for
    from recipes.ch05_zipline import zipline_root

    log: list[dict[str, Any]] = []
    dataset = signal_dataset()
    extra: dict[str, Any] = {}
    if source == "pipeline":
        zipline_root()
        from zipline.data import bundles

        bundle, _, _ = ensure_bundle(market, calendar_for(market))
        finder = bundles.load(bundle).asset_finder
        sids = {a.symbol: a.sid for a in finder.lookup_symbols(list(frame.columns), as_of_date=None)}
        extra["custom_loader"] = signal_loader(dataset, frame, sids)
    functions = weekly_top_algorithm(source, frame, dataset, log)
    perf = simulate(market, WARMUP + 1, CASH, **functions, **extra)
    return perf, log


def trades(perf: pd.DataFrame) -> list[tuple[Any, str, int, float]]:
    return [(t["dt"].date(), t["sid"].symbol, int(t["amount"]), round(float(t["price"]), 3))
            for day in perf["transactions"] for t in sorted(day, key=lambda t: (t["amount"] > 0, t["sid"].symbol))]


def lookahead_free(closes: pd.DataFrame, frame: pd.DataFrame, checks: int = 12, seed: int = 0) -> bool:
    """For random sessions D: row D computed with D's closes blanked out equals row D of ``frame``."""
    rng = np.random.default_rng(seed)
    for k in rng.choice(np.arange(WARMUP + 1, len(closes)), size=checks, replace=False):
        blind = closes.iloc[: k + 1].copy()
        blind.iloc[k] = np.nan  # session D's close is not known before D opens
        if not np.array_equal(predictions(blind).iloc[k].to_numpy(), frame.iloc[k].to_numpy(), equal_nan=True):
            return False
    return True


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    # this page saves no file of its own (``out`` is accepted, as on every page)
    symbols = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
    market = load_market(DataConfig.model_validate({
        "source": "synthetic", "symbols": symbols, "start": "2014-01-02", "end": "2015-12-31",
        "synthetic": {"seed": 5, "correlation": 0.3},
    }))
    closes = pd.DataFrame({s: f["close"] for s, f in market.frames.items()})
    frame = predictions(closes)
    print(f"{len(symbols)} synthetic symbols, {len(closes)} sessions; predictions (first ready rows):")
    print(frame.iloc[WARMUP : WARMUP + 3].round(3).to_string())
    guard = lookahead_free(closes, frame)
    print(f"look-ahead guard (row D from closes cut before D equals row D): {guard}")

    results = {source: run(market, frame, source) for source in ("pipeline", "lookup")}
    (perf_p, log_p), (perf_l, log_l) = results["pipeline"], results["lookup"]
    same_trades = trades(perf_p) == trades(perf_l)
    rows_match = all(
        np.allclose(pd.Series(r["scores"])[list(symbols)], frame.loc[pd.Timestamp(r["date"])], rtol=0, atol=0,
                    equal_nan=True)
        for r in log_p
    )
    weekly = all(is_week_start(r["date"], market.dates) for r in log_p)
    final = float(perf_p["portfolio_value"].iloc[-1])
    print(f"\npipeline route: {len(log_p)} weekly rebalances (week starts: {weekly}), {len(trades(perf_p))} trades; "
          f"first holds {log_p[0]['chosen']} on {log_p[0]['date']}")
    print(f"lookup route:   {len(log_l)} rebalances, {len(trades(perf_l))} trades")
    print(f"the pipeline saw exactly the frame's row of each rebalance day: {rows_match}")
    print(f"identical trades both ways: {same_trades}; final value {final:,.0f} from {CASH:,.0f}")
    return {
        "rebalances": len(log_p),
        "weekly": weekly,
        "trades": len(trades(perf_p)),
        "same_trades": same_trades,
        "pipeline_rows_match_frame": rows_match,
        "lookahead_free": guard,
        "chosen_per_rebalance": sorted({len(r["chosen"]) for r in log_p}),
        "final_value": final,
        "final_value_lookup": float(perf_l["portfolio_value"].iloc[-1]),
    }


if __name__ == "__main__":
    main()
