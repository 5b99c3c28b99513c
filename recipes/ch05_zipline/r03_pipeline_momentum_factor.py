"""A momentum factor portfolio with Zipline's Pipeline: CustomFactor, dollar-volume screen, weekly rebalance.

Pipeline is Zipline's way of computing a cross-section — one value per asset per day — without
writing a loop over assets. A *factor* declares its inputs and how many days it looks back; its
``compute`` gets a window of shape (days, assets) and fills one value per asset. A *filter*
(here: the most liquid names by average dollar volume) becomes the pipeline's *screen*, so only
those rows come out. Attached once in ``initialize``, the pipeline runs before every session;
``pipeline_output`` hands the day's table to the algorithm.

The portfolio:

1. **Momentum** — a ``CustomFactor`` with the trailing return over ``lookback`` sessions,
   ``close[-1] / close[0] - 1`` over a window of ``lookback + 1`` closes.
2. **Universe** — ``AverageDollarVolume(window_length=21).top(universe)``: the names that trade
   the most dollars over the last month. (On the synthetic data every symbol trades about a
   million shares a day, so this is the higher-priced names.)
3. **Selection** — :func:`momentum_weights`, a plain function on a mapping of scores: rank by
   trailing return, keep the best ``top_n``, optionally only those with a positive return
   (*absolute momentum*), and give each an equal slot. algotrade's ``momentum_rebalance``
   strategy calls this very function on every engine.
4. **Rebalance** — ``schedule_function`` with ``date_rules.week_start()``: on the first session
   of each week, ``order_target_percent`` brings each chosen name to its slot and everything else
   to zero. Orders fill at the next session's close; costs are set to zero explicitly (recipe 4
   is about costs).

Warm-up: the pipeline for a session uses data up to the *previous* close, and cannot look before
the bundle's first session (Zipline raises ``NoDataOnDate``); the simulation starts once
``lookback + 1`` closes exist before it.

Zipline is imported inside the functions that need it: algotrade imports :func:`momentum_weights`
and must not load an engine for it.

What to look at: the pipeline's table on one day, the number of names screened and held at each
rebalance (always ``universe`` and ``top_n``), the rebalance dates (the first session of every
week), and ``momentum_portfolio.png``.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from recipes.ch05_zipline import out_dir, zipline_root

LOOKBACK = 126  # about six months of sessions
UNIVERSE = 6  # names kept by the dollar-volume screen
TOP_N = 3  # names held


# --------------------------------------------------------------------------------------------
# ingredients


def momentum_weights(scores: Mapping[str, float], top_n: int, absolute: bool = True) -> dict[str, float]:
    """Equal weights for the ``top_n`` symbols with the highest score (trailing return).

    ``scores`` maps symbol -> score (a dict, or a pandas Series indexed by symbol). NaN means "not
    ready yet": never chosen, but still counted among the symbols. There are
    ``n = min(top_n, len(scores))`` slots of ``1 / n`` each; with ``absolute`` a chosen symbol
    whose score is not positive gives up its slot to cash (the others are not scaled up). Equal
    scores are ranked by symbol, so the choice never depends on dict order.

    Returns ``{symbol: 1 / n}`` for the chosen symbols, best first.
    """
    items = [(symbol, float(score)) for symbol, score in scores.items()]
    ready = [(symbol, score) for symbol, score in items if not math.isnan(score)]
    ranked = sorted(ready, key=lambda item: (-item[1], item[0]))
    n = min(top_n, len(items))
    return {symbol: 1.0 / n for symbol, score in ranked[:n] if score > 0 or not absolute}


def momentum_factor(lookback: int) -> Any:
    """A CustomFactor: the trailing return over ``lookback`` sessions, one value per asset."""
    from zipline.pipeline import CustomFactor
    from zipline.pipeline.data import USEquityPricing

    class Momentum(CustomFactor):  # type: ignore[misc]
        inputs = (USEquityPricing.close,)
        window_length = lookback + 1

        def compute(self, today: Any, assets: Any, out: Any, close: Any) -> None:
            out[:] = close[-1] / close[0] - 1.0

    return Momentum()


def momentum_pipeline(lookback: int, universe: int) -> Any:
    """Momentum for every asset, screened to the ``universe`` most liquid by dollar volume."""
    from zipline.pipeline import Pipeline
    from zipline.pipeline.factors import AverageDollarVolume

    liquid = AverageDollarVolume(window_length=21).top(universe)
    return Pipeline(columns={"momentum": momentum_factor(lookback)}, screen=liquid)


def momentum_algorithm(lookback: int, universe: int, top_n: int, absolute: bool, invested: float,
                       log: list[dict[str, Any]]) -> tuple[Any, Any]:
    """``initialize`` and ``before_trading_start`` of the weekly momentum portfolio.

    Each rebalance appends a record to ``log``: the date, the screened names with their scores,
    the names held before it and the weights it targets.
    """
    from zipline.api import (
        attach_pipeline,
        date_rules,
        get_datetime,
        order_target_percent,
        pipeline_output,
        schedule_function,
        set_commission,
        set_slippage,
        time_rules,
    )
    from zipline.finance import commission, slippage

    def rebalance(context: Any, data: Any) -> None:
        table = context.today
        scores = {asset.symbol: score for asset, score in table["momentum"].items()}
        weights = momentum_weights(scores, top_n, absolute)
        held = sorted(a.symbol for a, p in context.portfolio.positions.items() if p.amount)
        log.append({"date": get_datetime().date(), "screened": scores, "held_before": held, "weights": weights})
        for asset in set(table.index) | set(context.portfolio.positions):
            order_target_percent(asset, invested * weights.get(asset.symbol, 0.0))

    def initialize(context: Any) -> None:
        attach_pipeline(momentum_pipeline(lookback, universe), "momentum")
        schedule_function(rebalance, date_rules.week_start(), time_rules.market_open())
        set_commission(commission.PerShare(cost=0.0, min_trade_cost=0.0))
        set_slippage(slippage.FixedSlippage(spread=0.0))

    def before_trading_start(context: Any, data: Any) -> None:
        context.today = pipeline_output("momentum")  # computed from data up to yesterday's close

    return initialize, before_trading_start


def simulate(market: Any, start: int, cash: float, **functions: Any) -> pd.DataFrame:
    """Run an algorithm (``initialize=...``, ``before_trading_start=...``, ``handle_data=...``,
    ``custom_loader=...``) on a bundle of ``market``, from session ``start`` to the last one.

    The bundle is ingested once and then cached by data hash (``ensure_bundle``); there is no
    benchmark (an explicit zero series), and Zipline's perf frame is returned.
    """
    zipline_root()
    from zipline import run_algorithm
    from zipline.utils.calendar_utils import get_calendar

    from adapters.zipline.bundle import ensure_bundle
    from adapters.zipline.calendars import calendar_for

    calendar_name = calendar_for(market)
    bundle, _, _ = ensure_bundle(market, calendar_name)
    sessions = market.dates
    with warnings.catch_warnings():  # pandas deprecation notices raised inside zipline
        warnings.simplefilter("ignore", FutureWarning)
        return run_algorithm(
            start=sessions[start], end=sessions[-1], capital_base=cash, data_frequency="daily",
            bundle=bundle, trading_calendar=get_calendar(calendar_name),
            benchmark_returns=pd.Series(0.0, index=sessions.tz_localize("UTC")), **functions,
        )


def run(market: Any, lookback: int = LOOKBACK, universe: int = UNIVERSE, top_n: int = TOP_N,
        absolute: bool = False, invested: float = 0.95, cash: float = 1_000_000.0) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Run the portfolio on a bundle of ``market``; return Zipline's perf frame and the rebalance log."""
    log: list[dict[str, Any]] = []
    initialize, before_trading_start = momentum_algorithm(lookback, universe, top_n, absolute, invested, log)
    # the first session whose pipeline has lookback + 1 closes behind it
    perf = simulate(market, lookback + 1, cash, initialize=initialize, before_trading_start=before_trading_start)
    return perf, log


def is_week_start(date: dt.date, sessions: pd.DatetimeIndex) -> bool:
    """True when ``date`` is the first session of its ISO week."""
    i = sessions.get_loc(pd.Timestamp(date))
    return i == 0 or sessions[i - 1].isocalendar()[:2] != sessions[i].isocalendar()[:2]


def plot(perf: pd.DataFrame, market: Any, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    dates = perf.index.tz_localize(None)
    ax.plot(dates, perf["portfolio_value"] / perf["portfolio_value"].iloc[0], label="weekly momentum, top 3")
    closes = pd.DataFrame({s: f["close"] for s, f in market.frames.items()}).loc[dates[0]:]
    ax.plot(closes.index, (closes / closes.iloc[0]).mean(axis=1), lw=0.8, label=f"equal weight, all {len(market.frames)}, buy and hold")
    ax.set_ylabel("growth of 1")
    ax.legend()
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    folder = out_dir(out)
    symbols = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH")
    market = load_market(DataConfig.model_validate({
        "source": "synthetic", "symbols": symbols, "start": "2012-01-03", "end": "2015-12-31",
        "synthetic": {"seed": 11, "correlation": 0.4, "regimes": 4},
    }))
    print(f"{len(symbols)} synthetic symbols, {len(market.dates)} sessions "
          f"({market.dates[0].date()} .. {market.dates[-1].date()})")
    example = {"AAA": 0.12, "BBB": -0.03, "CCC": float("nan"), "DDD": 0.12, "EEE": -0.01}
    print(f"the ranking ingredient on {example}:\n  top 3 -> {momentum_weights(example, 3, absolute=False)}"
          f"\n  top 3, absolute -> {momentum_weights(example, 3, absolute=True)}")

    perf, log = run(market)
    first = log[0]
    print(f"\nfirst rebalance {first['date']}: the pipeline screened {len(first['screened'])} names:")
    for symbol, score in sorted(first["screened"].items(), key=lambda kv: -kv[1]):
        print(f"  {symbol}  momentum {score:+.1%}  {'<- held' if symbol in first['weights'] else ''}")
    screened = sorted({len(r["screened"]) for r in log})
    chosen = sorted({len(r["weights"]) for r in log})
    held = sorted({len(r["held_before"]) for r in log[1:]})
    weekly = all(is_week_start(r["date"], market.dates) for r in log)
    sim = market.dates[market.dates.get_loc(pd.Timestamp(first["date"])):]
    weeks = len({d.isocalendar()[:2] for d in sim})
    final = float(perf["portfolio_value"].iloc[-1])
    trades = sum(len(t) for t in perf["transactions"])
    print(f"\n{len(log)} rebalances over {weeks} weeks, each on the week's first session: {weekly}")
    print(f"names screened per rebalance {screened}, chosen {chosen}, held going into each rebalance {held}")
    print(f"{trades} trades; final value {final:,.0f} from {float(perf['portfolio_value'].iloc[0]):,.0f} "
          f"({final / 1_000_000 - 1:+.1%})")
    path = plot(perf, market, folder / "momentum_portfolio.png")
    print(f"plot: {path}")
    return {
        "rebalances": len(log),
        "weeks": weeks,
        "weekly": weekly,
        "screened_per_rebalance": screened,
        "chosen_per_rebalance": chosen,
        "held_per_rebalance": held,
        "rebalance_dates": [r["date"] for r in log],
        "trades": trades,
        "final_value": final,
        "plot": path,
    }


if __name__ == "__main__":
    main()
