"""Backtrader engine calls. Backtrader's metaclasses and line indexing stay in this file."""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from decimal import Decimal
from typing import Any

import backtrader as bt

from adapters.backtrader.mapping import (
    EXECTYPE,
    STATUS,
    SYMBOLS,
    commission_kwargs,
    per_share_commission,
    slippage_fraction,
)
from algotrade.core.config import BrokerConfig
from algotrade.core.costs import CashBook
from algotrade.core.data import Market
from algotrade.core.exits import exit_fill
from algotrade.core.host import StrategyHost, fill_priority
from algotrade.core.strategy import Bar, Order
from algotrade.core.symbols import map_symbols


class _PerShare(bt.CommInfoBase):
    """Per-share commission with a minimum per order (IB style)."""

    params = (("per_share", 0.0), ("minimum", 0.0), ("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED))

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        return per_share_commission(size, self.p.per_share, self.p.minimum)


class _Broker(bt.brokers.BackBroker):
    """BackBroker that also applies percentage slippage to fills at the close, and pays every
    fill through algotrade's exact cash book.

    Backtrader slips market fills at the open (``slip_open``) but never ``Order.Close`` fills;
    algotrade's slippage applies to every fill, so the close is slipped here the same way.
    Backtrader's own cash test compares float cash (which books a sale as cost basis plus
    profit) with zero; the book decides instead, in exact arithmetic, and Backtrader's cash is
    set to the book's after each fill — the same rule and numbers as on every engine.

    A protective exit (algotrade order type "exit") rests as a Backtrader stop order but is
    filled by :func:`algotrade.core.exits.exit_fill`, the one rule of every engine, on the bar's
    OHLC, before the bar's other orders (docs/engine-parity.md, "Stops").
    """

    book: CashBook
    #: Backtrader order ref -> algotrade's exit order (its levels are read at each bar)
    exits: dict[int, Order]
    slip: float = 0.0
    pending: deque[Any]
    #: Backtrader order ref -> the user's symbol (the cash book keeps positions by it)
    symbols: dict[int, str]
    #: Backtrader order ref -> why the cash book refused its fill
    refusals: dict[int, str]

    def next(self) -> None:
        if len(self.pending) > 1:  # exits, then position-reducing orders, then sales, then as placed
            held = self.book.positions
            self.pending = deque(sorted(self.pending, key=lambda o: (
                o.ref not in self.exits, *fill_priority(held.get(self.symbols.get(o.ref, ""), 0), round(o.size)), o.ref)))
        super().next()

    def _try_exec(self, order: Any) -> None:
        exit_order = self.exits.get(order.ref)
        if exit_order is None:
            super()._try_exec(order)
            return
        data = order.data
        bar = Bar(dt.date.min, float(data.open[0]), float(data.high[0]), float(data.low[0]), float(data.close[0]),
                  float(data.volume[0]))
        hit = exit_fill(exit_order, bar, self.slip)
        if hit is not None:
            self._execute(order, ago=0, price=hit[0])

    def _execute(self, order: Any, ago: Any = None, price: Any = None, cash: Any = None,
                 position: Any = None, dtcoc: Any = None) -> Any:
        if ago is None or price is None:  # a pseudo-execution, or no price: Backtrader's own path
            return super()._execute(order, ago, price, cash, position, dtcoc)
        if not self.book.pay(round(order.executed.remsize), price, self.symbols[order.ref]):
            self.refusals[order.ref] = self.book.refusal
            order.margin()  # what Backtrader does when cash is short
            self.notify(order)
            return None
        self.cash = math.inf  # the book has paid: Backtrader's float test must not refuse
        try:
            return super()._execute(order, ago, price, cash, position, dtcoc)
        finally:
            self.cash = self.book.cash

    def _try_exec_close(self, order: Any, pclose: float) -> None:
        if self.p.slip_perc:
            pclose = (
                self._slip_up(float("inf"), pclose) if order.isbuy() else self._slip_down(0.0, pclose)
            )
        super()._try_exec_close(order, pclose)


class _ArrayFeed(bt.feed.DataBase):  # type: ignore[misc]
    """A daily feed read from plain lists: the same values as ``bt.feeds.PandasData`` gives for
    the same frame (date2num of each timestamp, OHLCV floats), without pandas' per-cell
    ``iloc`` that makes PandasData spend most of a run loading data."""

    params = (("rows", ()),)

    def start(self) -> None:
        super().start()
        self._k = -1

    def _load(self) -> bool:
        self._k += 1
        rows = self.p.rows
        if self._k >= len(rows):
            return False
        when, o, h, low, c, v = rows[self._k]
        lines = self.lines
        lines.datetime[0] = when
        lines.open[0] = o
        lines.high[0] = h
        lines.low[0] = low
        lines.close[0] = c
        lines.volume[0] = v
        return True


def _feed(symbol: str, frame: Any) -> _ArrayFeed:
    stamps = [bt.date2num(ts.to_pydatetime()) for ts in frame.index]
    cols = [frame[c].tolist() for c in ("open", "high", "low", "close", "volume")]
    return _ArrayFeed(rows=list(zip(stamps, *cols, strict=True)), name=symbol)


class _Port:
    """The BrokerPort the host sends orders through."""

    def __init__(self, bridge: _Bridge, fill: str, symbols: tuple[str, ...]) -> None:
        self.bridge = bridge
        self.broker = bridge.broker
        self.fill = fill
        self.index = {s: i for i, s in enumerate(symbols)}
        self.refs: dict[int, int] = {}  # backtrader order ref -> algotrade order id
        self.live: dict[int, Any] = {}  # algotrade order id -> backtrader order

    def cash(self) -> float:
        return float(self.broker.getcash())

    def value(self) -> float:
        return float(self.broker.getvalue())

    def charge(self, fee: Decimal) -> None:
        """The cash book charged a fee at the close (the shorts' borrow fee): Backtrader's cash is
        set to the book's and its portfolio value recomputed, as after a fill."""
        self.broker.cash = self.broker.book.cash
        self.broker._get_value()

    def submit(self, order: Order) -> None:
        data = self.bridge.datas[self.index[order.symbol]]
        exectype = getattr(bt.Order, EXECTYPE[(self.fill, order.type)])
        price = order.limit if order.type == "limit" else order.stop
        if order.type == "exit":
            price = order.stop if order.stop is not None else order.limit
        place = self.bridge.buy if order.quantity > 0 else self.bridge.sell
        bt_order = place(data=data, size=abs(order.quantity), exectype=exectype, price=price)
        if order.type == "exit":
            self.broker.exits[bt_order.ref] = order
        self.broker.symbols[bt_order.ref] = order.symbol
        self.refs[bt_order.ref] = order.id
        self.live[order.id] = bt_order

    def cancel(self, order: Order) -> None:
        bt_order = self.live.get(order.id)
        if bt_order is not None:
            self.bridge.cancel(bt_order)


class _Bridge(bt.Strategy):  # type: ignore[misc]
    params = (("host", None), ("fill", "next_close"))

    def start(self) -> None:
        host: StrategyHost = self.p.host
        self.port = _Port(self, self.p.fill, host.bars.symbols)
        self.host = host
        host.start(self.port, self.broker.book)

    def notify_order(self, order: Any) -> None:
        oid = self.port.refs.get(order.ref)
        if oid is None:
            return
        status = order.getstatusname()
        if status in ("Partial", "Completed"):
            # one fill per execution bit since the last notification, at the price the broker
            # charged: ``executed.price`` is an average ((size * price) / size), which can be
            # one ulp away from the bar's price. The commission is that of the whole bit: Backtrader
            # charges a position flip as a close and an open, each with its own per-order minimum
            comminfo = self.broker.getcommissioninfo(order.data)
            for bit in order.executed.iterpending():
                if bit.size:
                    when = bt.num2date(bit.dt).date()
                    fee = comminfo.getcommission(bit.size, bit.price)
                    self.host.on_fill(oid, when, round(bit.size), float(bit.price), float(fee))
        elif status in STATUS:
            mapped, reason = STATUS[status]
            reason = self.broker.refusals.pop(order.ref, reason)
            self.host.on_order_closed(oid, mapped, reason)

    def next(self) -> None:
        self.host.on_bar(len(self) - 1)

    def stop(self) -> None:
        for order in list(self.host.open):
            self.host.on_order_closed(order.id, "expired", "the run ended before the order filled")
        self.host.stop()


class BacktraderEngine:
    """Runs a :class:`StrategyHost` on Backtrader's Cerebro with pandas feeds."""

    name = "backtrader"

    def versions(self) -> dict[str, str]:
        return {"backtrader": bt.__version__}

    def run(self, host: StrategyHost, market: Market, broker: BrokerConfig) -> None:
        cerebro = bt.Cerebro(stdstats=False, maxcpus=1)
        cerebro.broker = _Broker()
        cerebro.broker.setcash(broker.cash)
        cerebro.broker.book = CashBook(broker)
        cerebro.broker.exits = {}
        cerebro.broker.symbols = {}
        cerebro.broker.refusals = {}
        cerebro.broker.set_checksubmit(False)  # one cash rule: checked at fill time only
        slip = slippage_fraction(broker)
        cerebro.broker.slip = slip
        if slip:
            cerebro.broker.set_slippage_perc(slip, slip_open=True, slip_limit=True, slip_match=True, slip_out=True)
        comm = commission_kwargs(broker)
        if comm is not None:
            kind = comm.pop("kind")
            if kind == "per_share":
                cerebro.broker.addcommissioninfo(_PerShare(**comm))
            else:
                cerebro.broker.addcommissioninfo(
                    bt.CommInfoBase(commission=comm["commission"], percabs=True,
                                    stocklike=True, commtype=bt.CommInfoBase.COMM_PERC)
                )
        symbols = map_symbols(market.frames, SYMBOLS)  # feeds are found by position, named for people
        for symbol, frame in market.frames.items():
            cerebro.adddata(_feed(symbols.engine(symbol), frame))
        cerebro.addstrategy(_Bridge, host=host, fill=broker.fill)
        cerebro.run(runonce=True, preload=True)

