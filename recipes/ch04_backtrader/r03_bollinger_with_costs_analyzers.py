"""Bollinger breakouts in Backtrader, with commission, slippage and analyzers.

A breakout strategy trades often, so costs decide whether it is worth anything. This recipe runs
the long-only Bollinger breakout — buy when the close crosses above the upper band, sell when it
crosses below the middle band (chapter 3, recipe 5) — on the S&P 500 from 2003 to 2018 under
three cost settings, and lets Backtrader's analyzers report on each run:

1. **Bands.** ``bt.talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)`` gives
   ``upperband``, ``middleband`` and ``lowerband`` lines (matype 0 is the SMA). The decision is
   chapter 3's :func:`bollinger_breakout_signal`, on this bar's and the previous bar's values.
2. **Costs.** Commission as a fraction of the notional (``broker.setcommission(commission=...)``,
   the experiment's 5 bp) or per share; slippage in basis points, against every fill (recipe 1's
   broker). Three settings: none, the experiment's, and a harsher 10 bp + 5 bp slippage.
3. **Analyzers.** ``cerebro.addanalyzer(...)`` attaches reporters that watch the run:

   * ``Returns`` — ``rtot`` is the *log* return of the whole run, ``rnorm`` its annualised
     equivalent (``exp(rtot / bars * 252) - 1``);
   * ``TimeReturn`` — the return of every day, keyed by date: compounded, it is the equity curve;
   * ``DrawDown`` — the deepest fall from a peak, in percent and in bars;
   * ``TradeAnalyzer`` — round trips won and lost.

   Their results come back on the strategy: ``strat.analyzers.<name>.get_analysis()``. ``main``
   checks two of them against each other: the compounded daily returns end at the broker's final
   value, and their deepest drawdown is the one ``DrawDown`` reports.

Parity: ``native_trades`` runs :class:`BollingerBreakout` with an experiment's settings; its fills
are those of ``algotrade run experiments/bollinger_breakout.yaml`` on Backtrader.

What to look at: the commissions paid, the annual return and maximum drawdown per cost setting,
and ``bollinger_costs.png`` (equity and drawdown of each). On this index and period the rule
loses money even before costs — the S&P 500 of 2003-2018 rewarded holding more than chasing
breakouts — and each cost setting digs the hole deeper: a result worth knowing before running
it live, which is what a backtest is for.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import backtrader as bt
import numpy as np
import pandas as pd

from recipes.ch03_vectorized.r02_vectorized_backtest_with_costs import Costs, settings_from_experiment
from recipes.ch03_vectorized.r05_oscillator_signals import BB_NBDEV, BB_PERIOD, bollinger_breakout_signal
from recipes.ch04_backtrader import out_dir
from recipes.ch04_backtrader.r01_pandasdata_sma_strategy import (
    Fill,
    LoggedStrategy,
    make_cerebro,
    run_experiment_natively,
)

if TYPE_CHECKING:
    from algotrade.core.config import Experiment
    from algotrade.core.data import Market

WRAPPED_BY = "bollinger_breakout"
EXPERIMENT = "experiments/bollinger_breakout.yaml"
ENGINE = "backtrader"

TRADING_DAYS = 252


# --------------------------------------------------------------------------------------------
# ingredients


class BollingerBreakout(LoggedStrategy):
    """Long on a close crossing above the upper band, flat on one crossing below the middle band."""

    params = (("period", BB_PERIOD), ("nbdev", BB_NBDEV))

    def __init__(self) -> None:
        super().__init__()
        self.bands = {d: bt.talib.BBANDS(d.close, timeperiod=self.p.period, nbdevup=self.p.nbdev,
                                         nbdevdn=self.p.nbdev, matype=0) for d in self.datas}

    def next(self) -> None:
        for d in self.datas:
            if d in self.pending:
                continue
            bb = self.bands[d]
            signal = bollinger_breakout_signal(d.close[0], bb.upperband[0], bb.middleband[0],
                                               d.close[-1], bb.upperband[-1], bb.middleband[-1])
            size = self.getposition(d).size
            if size == 0 and signal > 0:
                self.enter(d)
            elif size > 0 and signal < 0:
                self.exit(d)


def add_analyzers(cerebro: bt.Cerebro) -> None:
    cerebro.addanalyzer(bt.analyzers.Returns, _name="returns", tann=TRADING_DAYS)
    cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="daily", timeframe=bt.TimeFrame.Days)
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")


def report(strat: Any, cash: float) -> dict[str, Any]:
    """The analyzers' figures of one run, and the equity curve their daily returns compound to."""
    returns = strat.analyzers.returns.get_analysis()
    daily = pd.Series(strat.analyzers.daily.get_analysis())
    drawdown = strat.analyzers.drawdown.get_analysis()
    trades = strat.analyzers.trades.get_analysis()
    equity = cash * (1 + daily).cumprod()
    closed = trades.get("total", {}).get("closed", 0)
    won = trades.get("won", {}).get("total", 0)
    return {
        "log_return": returns["rtot"],
        "annual_return": returns["rnorm"],
        "max_drawdown_pct": drawdown["max"]["drawdown"],
        "max_drawdown_bars": drawdown["max"]["len"],
        "round_trips": closed,
        "win_rate": won / closed if closed else math.nan,
        "commission": strat.commission_paid,
        "equity": equity,
    }


# --------------------------------------------------------------------------------------------
# parity hook


def native_trades(exp: Experiment, market: Market) -> list[Fill]:
    """The fills of :class:`BollingerBreakout` run natively on Backtrader with the experiment's settings."""
    _, strat = run_experiment_natively(BollingerBreakout, exp, market)
    return list(strat.fills)


# --------------------------------------------------------------------------------------------
# the page


def plot(runs: dict[str, dict[str, Any]], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    for label, r in runs.items():
        equity = r["equity"]
        top.plot(equity.index, equity, lw=0.9, label=label)
        bottom.plot(equity.index, 100 * (equity / equity.cummax() - 1), lw=0.7)
    top.set_ylabel("equity ($)")
    top.set_title(f"Bollinger({BB_PERIOD}, {BB_NBDEV:g}) breakout on SPX, long only, under three cost settings")
    top.legend(fontsize=8)
    bottom.set_ylabel("drawdown (%)")
    fig.savefig(path, dpi=110)
    return path


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.core.config import load_experiment
    from algotrade.core.data import load_market

    folder = out_dir(out)
    root = Path(__file__).resolve().parents[2]
    exp = load_experiment(root / EXPERIMENT)  # SPX 2003-2018, next-close fills, 5 bp commission
    market = load_market(exp.data)
    settings = settings_from_experiment(exp)
    cases = {
        "no costs": Costs(),
        f"experiment: {settings['costs'].percent:.2%} commission": settings["costs"],
        "0.10% commission + 5 bp slippage": Costs(percent=0.001, slippage_bps=5),
    }
    cash = settings["cash"]
    runs: dict[str, dict[str, Any]] = {}
    for label, costs in cases.items():
        cerebro = make_cerebro(market.frames, cash=cash, costs=costs)
        cerebro.addstrategy(BollingerBreakout, fill=settings["fill"], target_percent=settings["target_percent"],
                            **exp.strategy.params)
        add_analyzers(cerebro)
        (strat,) = cerebro.run(runonce=True, preload=True)
        runs[label] = {**report(strat, cash), "final_value": float(cerebro.broker.getvalue()),
                       "fills": len(strat.fills)}

    first = next(iter(runs.values()))
    dd = float(100 * (1 - first["equity"] / first["equity"].cummax()).max())
    consistent = (math.isclose(first["equity"].iloc[-1], first["final_value"], rel_tol=1e-9)
                  and math.isclose(dd, first["max_drawdown_pct"], rel_tol=1e-9))
    (symbol, frame), = market.frames.items()
    print(f"Bollinger({BB_PERIOD}, {BB_NBDEV:g}) breakout on {symbol} {frame.index[0].date()} .. "
          f"{frame.index[-1].date()}, 95% of value per entry, fills at the next close")
    print(f"{'costs':40s} {'fills':>5s} {'commission':>10s} {'final value':>12s} {'annual':>7s} {'max DD':>7s} "
          f"{'DD bars':>7s} {'win rate':>8s}")
    for label, r in runs.items():
        print(f"{label:40s} {r['fills']:5d} {r['commission']:10,.2f} {r['final_value']:12,.2f} "
              f"{r['annual_return']:+7.2%} {r['max_drawdown_pct']:6.1f}% {r['max_drawdown_bars']:7d} "
              f"{r['win_rate']:8.0%}")
    print(f"TimeReturn compounded == final value, and its deepest drawdown == DrawDown's: {consistent}")
    path = plot(runs, folder / "bollinger_costs.png")
    print(f"plot: {path}")
    return {
        "runs": {label: {k: v for k, v in r.items() if k != "equity"} for label, r in runs.items()},
        "analyzers_consistent": consistent,
        "annual_returns": [r["annual_return"] for r in runs.values()],
        "plot": path,
        "buy_hold_annual": float(np.exp(np.log(frame["close"].iloc[-1] / frame["close"].iloc[0])
                                        / len(frame) * TRADING_DAYS) - 1),
    }


if __name__ == "__main__":
    main()
