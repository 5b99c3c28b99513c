"""A child strategy's virtual account (the composer's sub-book): what its :class:`Context` reads and
calls. The virtual fill rule is stated in :mod:`algotrade.strategies.composer`."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal, localcontext
from typing import Any

from algotrade.core.config import AnySizing
from algotrade.core.costs import EXACT, exact
from algotrade.core.errors import AlgotradeError, StrategyError
from algotrade.core.strategy import Bars, Context, Fill, HostState, Order, OrderType, Schedule, Strategy


class _Prefixed(Mapping[str, list[float]]):
    """One symbol's indicators of one child, stored in the run's indicators under ``prefix``."""

    def __init__(self, values: Mapping[str, list[float]], prefix: str) -> None:
        self._values, self._prefix = values, prefix

    def __getitem__(self, name: str) -> list[float]:
        return self._values[self._prefix + name]

    def __iter__(self) -> Iterator[str]:
        return (k[len(self._prefix):] for k in self._values if k.startswith(self._prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _ChildIndicators(Mapping[str, Mapping[str, list[float]]]):
    def __init__(self, parent: HostState, prefix: str) -> None:
        self._parent, self._prefix = parent, prefix

    def __getitem__(self, symbol: str) -> Mapping[str, list[float]]:
        return _Prefixed(self._parent.ind[symbol], self._prefix)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parent.ind)

    def __len__(self) -> int:
        return len(self._parent.ind)


class SubBook:
    """A child's virtual account over the run's host: what its :class:`Context` reads and calls."""

    def __init__(self, parent: HostState, strategy: Strategy[Any], label: str, prefix: str, cash: Decimal) -> None:
        self.parent, self.strategy, self.label = parent, strategy, label
        self.name = f"{parent.name}/{label}"
        self.log = logging.getLogger(f"algotrade.strategy.{self.name}")
        self.ind = _ChildIndicators(parent, prefix)
        self.cash = cash
        self.positions: dict[str, int] = {}
        self.orders: list[Order] = []
        self.open: list[Order] = []
        self.fills: list[Fill] = []
        #: schedules the child asked for since the composer last moved them to the run's host
        #: (which evaluates them, live too, and calls them through :meth:`scheduled`)
        self.schedules: list[tuple[Schedule, set[int]]] = []
        self.evaluation_start: int | None = None
        self._rested_at = -1  # the bar resting orders were last filled against
        self.ctx = Context(self)

    # --- HostState: the run's bars, read through the parent (a live run appends to them) ---------
    @property
    def bars(self) -> Bars:
        return self.parent.bars

    @property
    def i(self) -> int:
        return self.parent.i

    @property
    def lists(self) -> Mapping[str, Mapping[str, list[float]]]:
        return self.parent.lists

    @property
    def sizing(self) -> AnySizing:
        return self.parent.sizing

    def account_cash(self) -> float:
        return float(self.cash)

    def account_value(self) -> Decimal:
        i = self.i
        with localcontext(EXACT):
            return self.cash + sum((Decimal(q) * exact(self.lists[s]["close"][i]) for s, q in self.positions.items() if q),
                                   Decimal(0))

    def new_order(self, symbol: str, quantity: int, limit: float | None, stop: float | None) -> Order | None:
        if symbol not in self.lists:
            raise StrategyError(f"unknown symbol {symbol!r}", strategy=self.name, date=self.bars.dates[self.i], symbol=symbol)
        if quantity == 0:
            return None
        kind: OrderType = "limit" if limit is not None else "stop" if stop is not None else "market"
        order = Order(len(self.orders) + 1, symbol, quantity, kind, self.bars.dates[self.i], limit, stop)
        self.orders.append(order)
        self.open.append(order)
        return order

    def cancel(self, order: Order) -> None:
        if order.is_open:
            order.status = "cancelled"
            order.reason = "cancelled by strategy"
            self.open.remove(order)

    # --- driven by the composer -------------------------------------------------------------------
    def call(self, hook: Any, *args: Any) -> None:
        """A hook of the child's, with its errors named after the child (and the bar)."""
        try:
            hook(self.ctx, *args)
        except AlgotradeError:
            raise
        except Exception as exc:
            date: dt.date | str = self.bars.dates[self.i] if 0 <= self.i < len(self.bars) else "start"
            raise StrategyError(f"{type(exc).__name__}: {exc}", strategy=self.name, date=date, symbol="-") from exc

    def fill_resting(self) -> None:
        """Fill the limit and stop orders of earlier bars that this bar reaches (once per bar)."""
        i = self.i
        if self._rested_at == i:
            return
        if self._rested_at < 0:  # the first bar: the sub-book starts with the account's value
            self.cash = self.parent.account_value()
        self._rested_at = i
        for order in [o for o in self.open if o.type != "market" and o.created < self.bars.dates[i]]:
            price = self._resting_price(order, i)
            if price is not None:
                self._fill(order, price)

    def scheduled(self, callback: Any) -> Any:
        """``callback`` as the run's host calls it on a scheduled bar: on the child's own context,
        after the bar's resting orders filled (the host runs schedules before on_bar)."""

        def run(_ctx: Context) -> None:
            self.fill_resting()
            self.call(callback)

        return run

    def run_bar(self) -> None:
        """Fill resting orders against this bar, run the child's on_bar, then fill its market
        orders (the scheduled callbacks' too) at this bar's close."""
        i = self.i
        self.fill_resting()
        self.call(self.strategy.on_bar)
        for order in [o for o in self.open if o.type == "market"]:
            self._fill(order, self.lists[order.symbol]["close"][i])

    def _resting_price(self, order: Order, i: int) -> float | None:
        a = self.lists[order.symbol]
        o, h, low = a["open"][i], a["high"][i], a["low"][i]
        buy = order.quantity > 0
        if order.type == "limit" and order.limit is not None:
            if buy and low <= order.limit:
                return min(o, order.limit)
            if not buy and h >= order.limit:
                return max(o, order.limit)
        if order.type == "stop" and order.stop is not None:
            if buy and h >= order.stop:
                return max(o, order.stop)
            if not buy and low <= order.stop:
                return min(o, order.stop)
        return None

    def _fill(self, order: Order, price: float) -> None:
        with localcontext(EXACT):
            cash = self.cash - Decimal(order.quantity) * exact(price)
        self.open.remove(order)
        if order.quantity > 0 and cash < 0:
            order.status, order.reason = "rejected", "not enough cash in the child's sub-book"
            return
        self.cash = cash
        date = self.bars.dates[self.i]
        order.status, order.filled, order.fill_price, order.fill_date = "filled", order.quantity, price, date
        self.positions[order.symbol] = self.positions.get(order.symbol, 0) + order.quantity
        fill = Fill(order.id, date, order.symbol, order.quantity, price, 0.0)
        self.fills.append(fill)
        self.call(self.strategy.on_fill, fill)
