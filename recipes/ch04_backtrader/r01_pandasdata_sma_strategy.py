"""A Backtrader SMA crossover on a pandas feed, with every order logged.

Chapter 3 computed the crossover for all bars at once. Backtrader works the other way round: it
walks through the bars and calls your strategy's ``next()`` after each one closes, and the
broker tells you what happened to your orders in ``notify_order``. This recipe writes the
quickstart's SMA(10/30) crossover that way:

1. **A pandas feed.** ``bt.feeds.PandasData`` reads a frame indexed by date with ``open high low
   close volume`` columns (found by name; ``openinterest=None`` says there is none). The frame is
   the validated one every engine gets (``algotrade.core.data.load_market``).
2. **Indicators in ``__init__``.** ``bt.talib.SMA`` runs TA-Lib over the whole line once: the
   numbers every engine gets. ``bt.ind.SMA`` sums each window with ``math.fsum`` instead, which
   can differ from TA-Lib's running sum in the last bit and flip an exact tie. Nor do we use
   ``bt.ind.CrossOver``: it compares with the last *non-zero* difference, so "above, equal, above
   again" is no cross for it but is one for our rule. The decision is chapter 3's
   :func:`crossover`, on this bar's (``[0]``) and the previous bar's (``[-1]``) values.
3. **Sizing.** An entry buys ``trunc(95 % of the account value / close)`` shares; an exit sells
   the whole position. No new order while one is pending.
4. **Fills.** ``exectype=bt.Order.Close`` fills at the *next* bar's close (the experiments'
   ``next_close``); the default ``Market`` fills at the next bar's open (``next_open``).
5. **The broker.** ``set_checksubmit(False)``: cash is checked once, when the order fills, not
   also when it is submitted (against a price that is not the fill price). Commission is per
   share with a minimum (a small ``CommInfoBase`` subclass) or a percentage; slippage moves each
   fill against the order — and since stock Backtrader never slips ``Order.Close`` fills, a
   four-line broker subclass does.
6. **The log.** ``notify_order`` writes one line per fill, and per rejected or cancelled order;
   ``notify_trade`` one per closed round trip with its profit. The fill is read from the order's
   execution bits (``order.executed.iterpending()``): ``order.executed.price`` is an average,
   ``size * price / size``, that can be one ulp away from the price actually charged.

Parity: ``native_trades`` runs this strategy with an experiment's settings; its fills are the same
(date, quantity, price) as ``algotrade run experiments/quickstart.yaml`` on Backtrader.

What to look at: the first lines of the order log, the trade count and final value (the
quickstart's 126,525.73), and the check that chapter 3's vectorized backtest made the very same
trades.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import backtrader as bt
import pandas as pd

from recipes.ch03_vectorized.r01_ma_crossover_signals import crossover
from recipes.ch03_vectorized.r02_vectorized_backtest_with_costs import Costs, settings_from_experiment

if TYPE_CHECKING:
    from algotrade.core.config import Experiment
    from algotrade.core.data import Market

WRAPPED_BY = "sma_cross"
EXPERIMENT = "experiments/quickstart.yaml"
ENGINE = "backtrader"

EXECTYPE = {"next_close": bt.Order.Close, "next_open": bt.Order.Market}

Fill = tuple[dt.date, str, int, float]


# --------------------------------------------------------------------------------------------
# ingredients: the broker


class PerShareCommission(bt.CommInfoBase):  # type: ignore[misc]
    """Interactive Brokers' style: so much per share, at least ``minimum`` per order."""

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED), ("minimum", 0.0))

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        return max(abs(size) * self.p.commission, self.p.minimum) if size else 0.0


class SlippedCloseBroker(bt.brokers.BackBroker):  # type: ignore[misc]
    """The standard broker, but ``Order.Close`` fills are slipped like every other fill."""

    def _try_exec_close(self, order: Any, pclose: float) -> None:
        slip = self.p.slip_perc
        if slip:
            pclose = pclose * (1 + slip) if order.isbuy() else pclose * (1 - slip)
        super()._try_exec_close(order, pclose)


def make_cerebro(frames: Mapping[str, pd.DataFrame], cash: float = 100_000.0, costs: Costs | None = None,
                 stdstats: bool = False) -> bt.Cerebro:
    """A Cerebro with one PandasData feed per frame and a broker set up with ``costs``."""
    costs = costs or Costs()
    cerebro = bt.Cerebro(stdstats=stdstats)
    cerebro.broker = SlippedCloseBroker()
    cerebro.broker.setcash(cash)
    cerebro.broker.set_checksubmit(False)  # check cash when the order fills, not when it is sent
    if costs.slippage_bps:
        # slip_out: the slipped price may lie outside the bar's high-low range
        cerebro.broker.set_slippage_perc(costs.slippage_bps / 10_000, slip_open=True, slip_limit=True,
                                         slip_match=True, slip_out=True)
    if costs.per_share is not None:
        cerebro.broker.addcommissioninfo(PerShareCommission(commission=costs.per_share, minimum=costs.minimum))
    elif costs.percent is not None:
        cerebro.broker.setcommission(commission=costs.percent)  # a fraction of the notional
    for symbol, frame in frames.items():
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None), name=symbol)
    return cerebro


# --------------------------------------------------------------------------------------------
# ingredients: a strategy that sizes, logs and records its fills


class LoggedStrategy(bt.Strategy):  # type: ignore[misc]
    """Target-percent entries, whole-position exits, one pending order per data, a log of fills."""

    params = (
        ("target_percent", 0.95),  # of the account value, split equally between the datas
        ("fixed_shares", None),  # or: enter with this many shares
        ("fill", "next_close"),
        ("verbose", False),  # also print the log as it is written
    )

    def __init__(self) -> None:
        self.exectype = EXECTYPE[self.p.fill]
        self.weight = 1.0 / len(self.datas)
        self.pending: dict[Any, Any] = {}  # data -> its live order
        self.fills: list[Fill] = []
        self.commission_paid = 0.0
        self.journal: list[str] = []

    def log(self, text: str, when: dt.date | None = None) -> None:
        line = f"{(when or self.datas[0].datetime.date(0)).isoformat()}  {text}"
        self.journal.append(line)
        if self.p.verbose:
            print(line)

    def notify_order(self, order: Any) -> None:
        name = order.data._name
        if order.status in (order.Partial, order.Completed):
            for bit in order.executed.iterpending():  # each execution at the price charged
                when = bt.num2date(bit.dt).date()
                self.fills.append((when, name, int(bit.size), float(bit.price)))
                self.commission_paid += bit.comm
                side = "BUY " if bit.size > 0 else "SELL"
                self.log(f"{side} {abs(bit.size):5.0f} {name} @ {bit.price:,.2f}  commission {bit.comm:,.2f}", when)
        elif order.status in (order.Margin, order.Rejected, order.Canceled, order.Expired):
            self.log(f"order {order.ref} {order.getstatusname()}: {order.size:+.0f} {name}")
        if not order.alive():
            self.pending.pop(order.data, None)

    def notify_trade(self, trade: Any) -> None:
        if trade.isclosed:
            self.log(f"round trip closed: profit {trade.pnl:,.2f}, after commission {trade.pnlcomm:,.2f}")

    def target_size(self, data: Any) -> int:
        if self.p.fixed_shares is not None:
            return round(self.p.fixed_shares * self.weight)
        value = self.p.target_percent * self.weight * self.broker.getvalue()
        close = data.close[0]
        return math.trunc(value / close) if close > 0 else 0

    def enter(self, data: Any) -> None:
        size = self.target_size(data) - self.getposition(data).size
        if size > 0:
            self.pending[data] = self.buy(data=data, size=size, exectype=self.exectype)

    def exit(self, data: Any) -> None:
        self.pending[data] = self.close(data=data, exectype=self.exectype)


# --------------------------------------------------------------------------------------------
# the strategy


class SmaCross(LoggedStrategy):
    """Long when the fast SMA crosses above the slow one, flat when it crosses back below."""

    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        super().__init__()
        self.averages = {d: (self.sma(d.close, self.p.fast), self.sma(d.close, self.p.slow)) for d in self.datas}

    @staticmethod
    def sma(line: Any, period: int) -> Any:
        return line if period == 1 else bt.talib.SMA(line, timeperiod=period)

    def next(self) -> None:
        for d in self.datas:
            if d in self.pending:
                continue
            fast, slow = self.averages[d]
            signal = crossover(fast[0], slow[0], fast[-1], slow[-1])
            size = self.getposition(d).size
            if size == 0 and signal > 0:
                self.enter(d)
            elif size > 0 and signal < 0:
                self.exit(d)


# --------------------------------------------------------------------------------------------
# parity hook


def run_experiment_natively(strategy: type[LoggedStrategy], exp: Experiment, market: Market,
                            **extra: Any) -> tuple[bt.Cerebro, LoggedStrategy]:
    """Run ``strategy`` on ``market`` with the experiment's parameters, broker and sizing."""
    settings = settings_from_experiment(exp)
    cerebro = make_cerebro(market.frames, cash=settings["cash"], costs=settings["costs"])
    cerebro.addstrategy(strategy, fill=settings["fill"], target_percent=settings["target_percent"],
                        fixed_shares=settings.get("fixed_shares"), **exp.strategy.params, **extra)
    (strat,) = cerebro.run(runonce=True, preload=True)
    return cerebro, strat


def native_trades(exp: Experiment, market: Market) -> list[Fill]:
    """The fills of :class:`SmaCross` run natively on Backtrader with the experiment's settings."""
    _, strat = run_experiment_natively(SmaCross, exp, market)
    return list(strat.fills)


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.core.config import load_experiment
    from algotrade.core.data import load_market
    from recipes.ch03_vectorized.r02_vectorized_backtest_with_costs import sma_cross_backtest

    # this page saves no file of its own (``out`` is accepted, as on every page)
    root = Path(__file__).resolve().parents[2]
    exp = load_experiment(root / EXPERIMENT)
    market = load_market(exp.data)
    cerebro, strat = run_experiment_natively(SmaCross, exp, market)
    value = float(cerebro.broker.getvalue())

    (symbol, frame), = market.frames.items()
    vectorized = sma_cross_backtest(frame, symbol=symbol, **settings_from_experiment(exp))
    same_as_vectorized = strat.fills == [(t.date, t.symbol, t.quantity, t.price) for t in vectorized.trades]

    print(f"SmaCross(10, 30) on {symbol} {frame.index[0].date()} .. {frame.index[-1].date()}, "
          f"fills at the next {exp.broker.fill.removeprefix('next_')}; the order log begins:")
    for line in strat.journal[:8]:
        print(f"  {line}")
    print(f"  ... {len(strat.journal)} lines")
    print(f"{len(strat.fills)} fills; final value {value:,.2f} (from {exp.broker.cash:,.2f})")
    print(f"the same trades as chapter 3's vectorized backtest: {same_as_vectorized}")
    return {"fills": len(strat.fills), "final_value": value, "journal": strat.journal[:8],
            "same_as_vectorized": same_as_vectorized}


if __name__ == "__main__":
    main()
