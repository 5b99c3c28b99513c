"""A long/short mean-reversion portfolio with Pipeline: buy the most oversold, short the most stretched, pay costs.

Mean reversion bets that an unusually large move fades. For each asset the factor measures how
unusual its last week was *for that asset*: the z-score of the latest 5-session return against
the 5-session returns of the previous quarter. Each week the portfolio goes long the ``n`` most
negative z-scores (the week's unusual losers) and short the ``n`` most positive ones, half the
account on each side, so it is roughly market-neutral (gross exposure 1, net exposure 0).

Pipeline does the cross-section in a few lines:

1. ``MeanReversion`` — a ``CustomFactor`` over ``window + 5`` closes (``nanmean``/``nanstd`` so a
   missing bar does not poison a column).
2. ``factor.bottom(n)`` and ``factor.top(n)`` — *filters* that pick the ``n`` lowest and highest
   values of the day; their union is the pipeline's screen, so the daily table holds exactly the
   ``2 n`` names to trade and a ``long``/``short`` flag for each.
3. ``schedule_function(..., date_rules.week_start())`` — the rebalance: ``order_target_percent``
   to ``+0.5 / n`` for longs, ``-0.5 / n`` for shorts and zero for everything else.

Costs are the point of this page. Zipline's models are set explicitly in ``initialize``:
``PerShare(cost=0.005, min_trade_cost=1.0)`` (half a cent a share, at least $1 an order) and
``FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1)`` (fills 5 bp worse than the close,
at most 10 % of the bar's volume). The same portfolio runs again with both set to zero, and the
difference is the cost drag of weekly turnover. (Zipline lets cash go negative and fills short
sales without a borrow check; here the shorts' proceeds pay for the longs.)

Data: ten synthetic symbols (no real mean reversion is built into them: the page is about
mechanics and costs, not about an edge).

What to look at: the first day's table, ``n`` longs and ``n`` shorts at every rebalance, gross and
net leverage, commissions and slippage paid, the final values with and without costs, and
``mean_reversion_costs.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recipes.ch05_zipline import out_dir
from recipes.ch05_zipline.r03_pipeline_momentum_factor import is_week_start, simulate

WINDOW = 63  # the quarter of weekly returns each asset's last week is compared with
HORIZON = 5  # a week of sessions
N = 3  # names on each side
CASH = 1_000_000.0


# --------------------------------------------------------------------------------------------
# ingredients


def weekly_return_zscore(close: np.ndarray, horizon: int = HORIZON) -> np.ndarray:
    """Per column: the z-score of the last ``horizon``-session return against all earlier ones in the window."""
    returns = close[horizon:] / close[:-horizon] - 1.0
    return (returns[-1] - np.nanmean(returns, axis=0)) / np.nanstd(returns, axis=0)


def mean_reversion_factor(window: int = WINDOW, horizon: int = HORIZON) -> Any:
    from zipline.pipeline import CustomFactor
    from zipline.pipeline.data import USEquityPricing

    class MeanReversion(CustomFactor):  # type: ignore[misc]
        inputs = (USEquityPricing.close,)
        window_length = window + horizon

        def compute(self, today: Any, assets: Any, out: Any, close: Any) -> None:
            out[:] = weekly_return_zscore(close, horizon)

    return MeanReversion()


def long_short_pipeline(n: int, window: int = WINDOW) -> Any:
    """The day's ``n`` most oversold (long) and ``n`` most stretched (short) names."""
    from zipline.pipeline import Pipeline

    factor = mean_reversion_factor(window)
    longs, shorts = factor.bottom(n), factor.top(n)
    return Pipeline(columns={"zscore": factor, "long": longs, "short": shorts}, screen=longs | shorts)


def target_weights(table: pd.DataFrame, gross: float = 1.0) -> dict[Any, float]:
    """Half of ``gross`` on each side, equal within a side: {asset: signed weight}."""
    longs, shorts = table.index[table["long"]], table.index[table["short"]]
    weights = {a: 0.5 * gross / len(longs) for a in longs}
    weights.update({a: -0.5 * gross / len(shorts) for a in shorts})
    return weights


def long_short_algorithm(n: int, costs: bool, log: list[dict[str, Any]]) -> tuple[Any, Any]:
    """``initialize`` and ``before_trading_start`` of the weekly long/short portfolio."""
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
        weights = target_weights(context.today)
        positions = context.portfolio.positions
        log.append({
            "date": get_datetime().date(),
            "long": sorted(a.symbol for a, w in weights.items() if w > 0),
            "short": sorted(a.symbol for a, w in weights.items() if w < 0),
            "held_long": sum(p.amount > 0 for p in positions.values()),
            "held_short": sum(p.amount < 0 for p in positions.values()),
        })
        for asset in set(weights) | set(positions):
            if data.can_trade(asset):
                order_target_percent(asset, weights.get(asset, 0.0))

    def initialize(context: Any) -> None:
        attach_pipeline(long_short_pipeline(n), "long_short")
        schedule_function(rebalance, date_rules.week_start(), time_rules.market_open())
        if costs:
            set_commission(commission.PerShare(cost=0.005, min_trade_cost=1.0))
            set_slippage(slippage.FixedBasisPointsSlippage(basis_points=5.0, volume_limit=0.1))
        else:
            set_commission(commission.PerShare(cost=0.0, min_trade_cost=0.0))
            set_slippage(slippage.FixedSlippage(spread=0.0))

    def before_trading_start(context: Any, data: Any) -> None:
        context.today = pipeline_output("long_short")

    return initialize, before_trading_start


def run(market: Any, n: int = N, costs: bool = True) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    log: list[dict[str, Any]] = []
    initialize, before_trading_start = long_short_algorithm(n, costs, log)
    # the pipeline of the first session needs WINDOW + HORIZON closes before it
    perf = simulate(market, WINDOW + HORIZON, CASH, initialize=initialize, before_trading_start=before_trading_start)
    return perf, log


def costs_paid(perf: pd.DataFrame, market: Any) -> dict[str, float]:
    """Commissions (from Zipline's orders) and slippage (fill price against the bar's close)."""
    commissions = sum(o["commission"] or 0.0 for day in perf["orders"] for o in day)
    slip = 0.0
    for day in perf["transactions"]:
        for t in day:
            close = market.frames[t["sid"].symbol].loc[t["dt"].tz_localize(None).normalize(), "close"]
            slip += t["amount"] * (t["price"] - close)  # positive: paid
    return {"commission": float(commissions), "slippage": float(slip)}


def plot(with_costs: pd.DataFrame, without: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(without.index.tz_localize(None), without["portfolio_value"], lw=1.0, label="no costs")
    ax.plot(with_costs.index.tz_localize(None), with_costs["portfolio_value"], lw=1.0,
            label="0.5 c/share (min $1) + 5 bp slippage")
    ax.set_ylabel("portfolio value")
    ax.set_title(f"weekly long/short mean reversion, {N} + {N} names")
    ax.legend()
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    folder = out_dir(out)
    symbols = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III", "JJJ")
    market = load_market(DataConfig.model_validate({
        "source": "synthetic", "symbols": symbols, "start": "2013-01-02", "end": "2015-12-31",
        "synthetic": {"seed": 21, "correlation": 0.5, "regimes": 2},
    }))
    print(f"{len(symbols)} synthetic symbols, {len(market.dates)} sessions "
          f"({market.dates[0].date()} .. {market.dates[-1].date()})")

    perf, log = run(market, costs=True)
    free, _ = run(market, costs=False)
    first = log[0]
    print(f"first rebalance {first['date']}: long {first['long']}, short {first['short']}")
    longs = sorted({len(r["long"]) for r in log})
    shorts = sorted({len(r["short"]) for r in log})
    held = sorted({(r["held_long"], r["held_short"]) for r in log[1:]})
    weekly = all(is_week_start(r["date"], market.dates) for r in log)
    gross = perf["gross_leverage"].iloc[1:]
    net = perf["net_leverage"].iloc[1:]
    paid = costs_paid(perf, market)
    trades = sum(len(t) for t in perf["transactions"])
    final, final_free = float(perf["portfolio_value"].iloc[-1]), float(free["portfolio_value"].iloc[-1])
    print(f"{len(log)} weekly rebalances (each on the week's first session: {weekly}); longs {longs}, "
          f"shorts {shorts}; (long, short) positions going into each rebalance {held}")
    print(f"gross leverage {gross.median():.2f} (median), net leverage within [{net.min():+.3f}, {net.max():+.3f}]")
    print(f"{trades} trades; commissions {paid['commission']:,.0f}, slippage {paid['slippage']:,.0f}")
    print(f"final value with costs {final:,.0f}, without {final_free:,.0f}: cost drag "
          f"{(final_free - final) / CASH:.1%} of starting capital")
    path = plot(perf, free, folder / "mean_reversion_costs.png")
    print(f"plot: {path}")
    return {
        "rebalances": len(log),
        "weekly": weekly,
        "longs_per_rebalance": longs,
        "shorts_per_rebalance": shorts,
        "held_per_rebalance": held,
        "gross_leverage_median": float(gross.median()),
        "net_leverage_max_abs": float(net.abs().max()),
        "trades": trades,
        "commission": paid["commission"],
        "slippage": paid["slippage"],
        "final_value": final,
        "final_value_no_costs": final_free,
        "plot": path,
    }


if __name__ == "__main__":
    main()
