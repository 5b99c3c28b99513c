"""Hand-written native Backtrader versions of algotrade's shipped strategies.

Each class is a plain ``bt.Strategy`` written the way a Backtrader user would write it: TA-Lib
indicators through ``bt.talib``, orders through ``self.buy``/``self.sell``, fills reported in
``notify_order``. They follow the same rules as algotrade's host so that the two can be compared
trade for trade (tests/test_native_backtrader.py) and timed (bench/adapter_overhead.py):

* sizing: target shares = trunc(target_percent * weight * broker value / current close); the
  difference to the current position is ordered;
* fills: ``next_close`` -> ``bt.Order.Close`` (next bar's close), ``next_open`` -> Market;
* no new order for a symbol while one is pending; within a bar, position-reducing orders are
  sent before the others;
* the cerebro is built with ``stdstats=False`` and ``broker.set_checksubmit(False)``
  (see :func:`make_cerebro`).

Nothing here imports algotrade: the comparison is against an independent implementation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import backtrader as bt
import pandas as pd

FILL_EXECTYPE = {"next_close": bt.Order.Close, "next_open": bt.Order.Market}


class NativeBase(bt.Strategy):  # type: ignore[misc]
    """Shared plumbing: target-share orders, pending-order tracking, the fill log."""

    params = (("target_percent", 0.95), ("fill", "next_close"))

    def __init__(self) -> None:
        self.exectype = FILL_EXECTYPE[self.p.fill]
        self.pending: dict[Any, Any] = {}  # data -> its live order
        self.fills: list[tuple[str, str, int, float, float]] = []  # date, symbol, qty, price, comm

    def notify_order(self, order: Any) -> None:
        if order.status in (order.Partial, order.Completed):
            # the execution bits carry the price actually charged; ``executed.price`` is an
            # average, (size * price) / size, which can be one ulp off the bar's price
            for bit in order.executed.iterpending():
                when = bt.num2date(bit.dt).date().isoformat()
                self.fills.append((when, order.data._name, int(bit.size), float(bit.price), float(bit.comm)))
        if not order.alive():
            self.pending.pop(order.data, None)

    def target_shares(self, data: Any, weight: float) -> int:
        value = self.p.target_percent * weight * self.broker.getvalue()
        close = data.close[0]
        return math.trunc(value / close) if close > 0 else 0

    def order_shares(self, data: Any, delta: int) -> None:
        if delta > 0:
            self.pending[data] = self.buy(data=data, size=delta, exectype=self.exectype)
        elif delta < 0:
            self.pending[data] = self.sell(data=data, size=-delta, exectype=self.exectype)

    def enter(self, data: Any, weight: float) -> None:
        self.order_shares(data, self.target_shares(data, weight) - self.getposition(data).size)

    def exit(self, data: Any) -> None:
        self.order_shares(data, -self.getposition(data).size)


class NativeSmaCross(NativeBase):
    """Long when the fast SMA crosses above the slow one, flat when it crosses back below."""

    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        super().__init__()
        self.weight = 1.0 / len(self.datas)
        self.sma = {
            d: (bt.talib.SMA(d.close, timeperiod=self.p.fast), bt.talib.SMA(d.close, timeperiod=self.p.slow))
            for d in self.datas
        }

    def next(self) -> None:
        for d in self.datas:
            if d in self.pending:
                continue
            fast, slow = self.sma[d]
            size = self.getposition(d).size
            if size == 0 and fast[0] > slow[0] and fast[-1] <= slow[-1]:
                self.enter(d, self.weight)
            elif size > 0 and fast[0] < slow[0] and fast[-1] >= slow[-1]:
                self.exit(d)


class NativeRsiReversion(NativeBase):
    """Long when the RSI is below ``oversold``, flat when it rises above ``overbought``."""

    params = (("period", 14), ("oversold", 30.0), ("overbought", 70.0))

    def __init__(self) -> None:
        super().__init__()
        self.weight = 1.0 / len(self.datas)
        self.rsi = {d: bt.talib.RSI(d.close, timeperiod=self.p.period) for d in self.datas}

    def next(self) -> None:
        for d in self.datas:
            if d in self.pending:
                continue
            rsi = self.rsi[d][0]
            size = self.getposition(d).size
            if size == 0 and rsi < self.p.oversold:
                self.enter(d, self.weight)
            elif size > 0 and rsi > self.p.overbought:
                self.exit(d)


class NativeBollingerBreakout(NativeBase):
    """Long on a close crossing above the upper band, flat on one crossing below the middle."""

    params = (("period", 20), ("nbdev", 2.0))

    def __init__(self) -> None:
        super().__init__()
        self.weight = 1.0 / len(self.datas)
        self.bb = {
            d: bt.talib.BBANDS(d.close, timeperiod=self.p.period, nbdevup=self.p.nbdev,
                               nbdevdn=self.p.nbdev, matype=0)
            for d in self.datas
        }

    def next(self) -> None:
        for d in self.datas:
            if d in self.pending:
                continue
            bb = self.bb[d]
            close, close_prev = d.close[0], d.close[-1]
            size = self.getposition(d).size
            if size == 0 and close > bb.upperband[0] and close_prev <= bb.upperband[-1]:
                self.enter(d, self.weight)
            elif size > 0 and close < bb.middleband[0] and close_prev >= bb.middleband[-1]:
                self.exit(d)


class NativeMomentumRebalance(NativeBase):
    """At each month (or week) start hold the top-N datas by trailing return, equally weighted."""

    params = (("lookback", 126), ("top_n", 2), ("absolute", True), ("rule", "month_start"))

    def __init__(self) -> None:
        super().__init__()
        if self.p.rule not in ("month_start", "week_start"):
            raise ValueError(f"rule {self.p.rule!r}: the native version knows month_start and week_start")
        self.roc = {d: bt.talib.ROC(d.close, timeperiod=self.p.lookback) for d in self.datas}

    def _period(self, ago: int) -> tuple[int, int]:
        day = self.data0.datetime.date(ago)
        return (day.year, day.month) if self.p.rule == "month_start" else day.isocalendar()[:2]

    def next(self) -> None:
        if len(self) > 1 and self._period(0) == self._period(-1):
            return  # not the first bar of a new period
        if self.pending:
            return
        ready = {d: self.roc[d][0] for d in self.datas if not math.isnan(self.roc[d][0])}
        if not ready:
            return
        ranked = sorted(ready, key=lambda d: (-ready[d], d._name))
        n = min(self.p.top_n, len(self.datas))
        chosen = [d for d in ranked[:n] if ready[d] > 0 or not self.p.absolute]
        sells, buys = [], []
        for d in self.datas:
            size = self.getposition(d).size
            if d in chosen:
                delta = self.target_shares(d, 1.0 / n) - size
            elif size != 0:
                delta = -size
            else:
                continue
            # send position-reducing orders first, so that their cash is there for the buys
            (sells if abs(size + delta) < abs(size) else buys).append((d, delta))
        for d, delta in sells + buys:
            self.order_shares(d, delta)


STRATEGIES: Mapping[str, type[NativeBase]] = {
    "sma_cross": NativeSmaCross,
    "rsi_reversion": NativeRsiReversion,
    "bollinger_breakout": NativeBollingerBreakout,
    "momentum_rebalance": NativeMomentumRebalance,
}


class PerShareCommission(bt.CommInfoBase):  # type: ignore[misc]
    """IB-style commission: so much per share, at least ``minimum`` per order."""

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED), ("minimum", 0.0))

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        return max(abs(size) * self.p.commission, self.p.minimum) if size else 0.0


class CloseSlippageBroker(bt.brokers.BackBroker):  # type: ignore[misc]
    """BackBroker that also slips ``Order.Close`` fills by ``slip_perc`` (stock Backtrader does not)."""

    def _try_exec_close(self, order: Any, pclose: float) -> None:
        if self.p.slip_perc:
            pclose = pclose * (1 + self.p.slip_perc) if order.isbuy() else pclose * (1 - self.p.slip_perc)
        super()._try_exec_close(order, pclose)


def make_cerebro(
    frames: Mapping[str, pd.DataFrame],
    cash: float = 100_000.0,
    commission: Mapping[str, float] | None = None,
    slippage_bps: float = 0.0,
    close_slippage: bool = False,
) -> bt.Cerebro:
    """A Cerebro over ``frames`` (symbol -> OHLCV frame), with the broker set up as asked.

    ``commission``: None, ``{"percent": 0.001}`` or ``{"per_share": 0.005, "minimum": 1.0}``.
    ``slippage_bps`` moves every fill against the order (``slip_out``: even outside the bar's
    range); ``close_slippage`` also slips ``Order.Close`` fills (needed with ``next_close``).
    """
    cerebro = bt.Cerebro(stdstats=False)
    if close_slippage:
        cerebro.broker = CloseSlippageBroker()
    cerebro.broker.setcash(cash)
    cerebro.broker.set_checksubmit(False)
    if slippage_bps:
        cerebro.broker.set_slippage_perc(
            slippage_bps / 10_000, slip_open=True, slip_limit=True, slip_match=True, slip_out=True
        )
    if commission and "percent" in commission:
        cerebro.broker.setcommission(commission=commission["percent"])
    elif commission and "per_share" in commission:
        cerebro.broker.addcommissioninfo(
            PerShareCommission(commission=commission["per_share"], minimum=commission.get("minimum", 0.0))
        )
    for symbol, frame in frames.items():
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None), name=symbol)
    return cerebro


@dataclass(frozen=True)
class NativeResult:
    fills: list[tuple[str, str, int, float, float]]  # date, symbol, signed quantity, price, commission
    value: float  # final broker value
    cash: float  # final broker cash


def run_native(
    strategy: str,
    frames: Mapping[str, pd.DataFrame],
    params: Mapping[str, Any] | None = None,
    *,
    fill: str = "next_close",
    target_percent: float = 0.95,
    cash: float = 100_000.0,
    commission: Mapping[str, float] | None = None,
    slippage_bps: float = 0.0,
) -> NativeResult:
    """Run one native strategy (``strategy`` is a key of :data:`STRATEGIES`) over ``frames``."""
    cerebro = make_cerebro(frames, cash, commission, slippage_bps, close_slippage=fill == "next_close")
    cerebro.addstrategy(STRATEGIES[strategy], fill=fill, target_percent=target_percent, **(params or {}))
    (strat,) = cerebro.run(runonce=True, preload=True)
    return NativeResult(strat.fills, float(cerebro.broker.getvalue()), float(cerebro.broker.getcash()))
