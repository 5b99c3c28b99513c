"""The engine-neutral core between a strategy and an engine.

An adapter drives a :class:`StrategyHost`: it calls :meth:`StrategyHost.on_bar` after each bar
closes (once the engine has reported that bar's fills through :meth:`StrategyHost.on_fill` and
:meth:`StrategyHost.on_order_closed`), and carries out the orders the host hands to its
:class:`BrokerPort`. Everything that must be identical on every engine happens here, once:
indicator values, share counts (one rounding rule), risk checks, the order in which a bar's
orders are sent (sells before buys), scheduled callbacks and the records written as results.

Share counts and every other decision that depends on the account are taken in exact decimal
arithmetic: a backtest engine hands the host the :class:`~algotrade.core.costs.CashBook` it pays every
fill through, and the strategy's cash and portfolio value come from that book, not from the
engine's own float ledger (docs/engine-parity.md, "Cash and sizing").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal, localcontext
from typing import Any, Protocol

import numpy as np

from algotrade.core.config import AnySizing, StopsConfig, symbols_text
from algotrade.core.costs import EXACT, CashBook, exact
from algotrade.core.errors import AlgotradeError, StrategyError
from algotrade.core.exits import ExitBook
from algotrade.core.indicators import compute_all
from algotrade.core.risk import RiskCheck, RiskEvent, RiskState, decide
from algotrade.core.strategy import (
    FIELDS,
    Bars,
    Context,
    Fill,
    Order,
    OrderType,
    Schedule,
    Strategy,
    schedule_hits,
)

# defined beside Context (the strategy API) since the host/strategy import cycle was broken;
# importable from here as before
from algotrade.core.strategy import Bar as Bar
from algotrade.core.strategy import scaled_shares as scaled_shares
from algotrade.core.strategy import shares_for_value as shares_for_value


class BrokerPort(Protocol):
    """What the host needs from an engine or broker: the account, and a way to send orders."""

    def cash(self) -> float: ...

    def value(self) -> float: ...

    def submit(self, order: Order) -> None: ...

    def cancel(self, order: Order) -> None: ...


class StrategyHost:
    """Runs one strategy over aligned bars on behalf of an engine adapter."""

    def __init__(
        self,
        strategy: Strategy[Any],
        bars: Bars,
        sizing: AnySizing,
        risk_checks: tuple[RiskCheck, ...] = (),
        progress: Callable[[int, int], None] | None = None,
        name: str = "",
        live_from: int = 0,
        stops: StopsConfig | None = None,
    ) -> None:
        self.strategy = strategy
        #: bars before this index only warm indicators up: the strategy is not called on them (a
        #: live run's history, and the shadow backtest that must start where the live run did)
        self.live_from = live_from
        self.bars = bars
        self.sizing = sizing
        self.risk_checks = risk_checks
        self.progress = progress
        self.name = name or type(strategy).__name__
        self.log = logging.getLogger(f"algotrade.strategy.{self.name}")
        specs = strategy.indicators()
        self.specs = specs
        self.ind: dict[str, dict[str, list[float]]] = {}
        self.lookback = max((s.lookback for s in specs.values()), default=0)
        for sym, arrays in bars.arrays.items():
            self.ind[sym] = {k: v.tolist() for k, v in compute_all(specs, arrays).items()}
        self.lists = {s: {f: a[f].tolist() for f in FIELDS} for s, a in bars.arrays.items()}
        self.i = -1
        self.positions: dict[str, int] = {}
        self.orders: list[Order] = []
        self.by_id: dict[int, Order] = {}
        self.open: list[Order] = []
        self.fills: list[Fill] = []
        self.equity: list[tuple[dt.date, float, float]] = []  # date, cash, value
        #: the positions held at each bar's close (nonzero only), beside ``equity``: the exposure
        #: and VaR series of the results come from them
        self.holdings: list[dict[str, int]] = []
        #: every order a risk check cut, refused or halted (algotrade.core.risk.RiskEvent)
        self.risk_events: list[RiskEvent] = []
        self.schedules: list[tuple[Schedule, set[int]]] = []
        self.evaluation_start: int | None = live_from or None
        self._intents: list[Order] = []
        self._peak = Decimal(0)
        self._prev_value = Decimal(0)
        self.ctx = Context(self)
        self.port: BrokerPort
        #: the exact cash book a backtest engine pays its fills through (None: the port's account)
        self.book: CashBook | None = None
        #: the protective exits of ``stops:`` (None: the experiment has none)
        self.exits = ExitBook(stops, self.lists, lambda: self.bars.dates) if stops is not None else None

    # --- driven by the adapter ---------------------------------------------------------------
    def start(self, port: BrokerPort, book: CashBook | None = None) -> None:
        """Begin the run. A backtest engine passes the :class:`CashBook` it pays every fill
        through: the strategy's cash, portfolio value, share counts and risk limits then come from
        it, in exact arithmetic. Without one (a live broker), they come from the port's account."""
        self.port = port
        self.book = book
        self.i = 0
        self._call(self.strategy.on_start, "-")

    def account_cash(self) -> float:
        return self.book.cash if self.book is not None else self.port.cash()

    def account_value(self) -> Decimal:
        """Cash plus positions at the current bar's close, exactly (from the book when there is one)."""
        if self.book is None:
            return exact(self.port.value())
        i = self.i
        with localcontext(EXACT):
            return self.book.exact_cash + sum(
                (Decimal(q) * exact(self.lists[s]["close"][i]) for s, q in self.positions.items() if q), Decimal(0)
            )

    def on_bar(self, i: int) -> None:
        self.i = i
        port = self.port
        if self.book is not None and self.book.positions:  # marks and the shorts' borrow fee, at the close
            fee = self.book.close_session(self.bars.dates[i], {s: self.lists[s]["close"][i] for s in self.book.positions})
            charge = getattr(port, "charge", None)  # an engine whose own ledger must pay the fee too
            if fee and charge is not None:
                charge(fee)
        self.equity.append((self.bars.dates[i], port.cash(), port.value()))
        self.holdings.append({s: q for s, q in self.positions.items() if q})
        if i < self.live_from:
            return
        value = self.account_value()
        if value > self._peak:
            self._peak = value
        for sched, hits in self.schedules:
            if i in hits:
                self._call(sched.callback, "-")  # type: ignore[arg-type]
        self._call(self.strategy.on_bar, "-")
        if self._intents:
            self._flush(value)
        if self.exits is not None:
            self._update_exits(i)
        self._prev_value = value
        if self.progress is not None:
            self.progress(i, len(self.bars))

    def on_fill(self, order_id: int, date: dt.date, quantity: int, price: float, commission: float) -> None:
        order = self.by_id[order_id]
        order.filled += quantity
        order.fill_price = price
        order.fill_date = date
        order.commission += commission
        order.status = "filled" if order.filled == order.quantity else "partial"
        if order.status == "filled":
            self.open.remove(order)
        before = self.positions.get(order.symbol, 0)
        if self.exits is not None:
            self.exits.on_fill(order, quantity, price, before)
        self.positions[order.symbol] = before + quantity
        fill = Fill(order_id, date, order.symbol, quantity, price, commission)
        self.fills.append(fill)
        self._call(lambda ctx: self.strategy.on_fill(ctx, fill), order.symbol)

    def on_order_closed(self, order_id: int, status: str, reason: str = "") -> None:
        """The engine ended an order without (fully) filling it: cancelled, rejected, expired."""
        order = self.by_id[order_id]
        if order.is_open:
            order.status = status  # type: ignore[assignment]
            order.reason = reason
            self.open.remove(order)

    def stop(self) -> None:
        self._call(self.strategy.on_stop, "-")

    def append_bar(self, date: dt.date, fields: Mapping[str, Mapping[str, float]],
                   next_session: dt.date | None = None) -> None:
        """Live use: one more session arrived (``fields``: symbol -> open/high/low/close/volume).

        Indicators are recomputed over the history so far (they are causal, so earlier values do
        not change), and schedules are re-evaluated with ``next_session`` as the one to come, so
        that rules such as month_end can be decided on the bar itself."""
        arrays = {}
        for s, old in self.bars.arrays.items():
            f = fields[s]
            arrays[s] = {name: np.append(old[name], f[name]) for name in FIELDS}
            for name in FIELDS:
                self.lists[s][name].append(f[name])
        self.bars = Bars((*self.bars.dates, date), arrays)
        for s in arrays:
            self.ind[s] = {n: v.tolist() for n, v in compute_all(self.specs, arrays[s]).items()}
        self.refresh_schedules(next_session)

    def refresh_schedules(self, next_session: dt.date | None = None) -> None:
        """Re-evaluate scheduled callbacks over the bars known so far (plus the next session)."""
        dates = self.bars.dates
        if not dates:
            return
        projected = (*dates, next_session) if next_session else dates
        self.schedules[:] = [(sched, schedule_hits(projected, sched.rule)) for sched, _ in self.schedules]

    # --- used by Context -----------------------------------------------------------------------
    def new_order(self, symbol: str, quantity: int, limit: float | None, stop: float | None) -> Order | None:
        if symbol not in self.lists:
            raise StrategyError(
                f"unknown symbol {symbol!r}; this run has {symbols_text(self.bars.symbols)}",
                strategy=self.name, date=self.bars.dates[self.i], symbol=symbol,
            )
        if quantity == 0:
            return None
        kind: OrderType = "limit" if limit is not None else "stop" if stop is not None else "market"
        order = Order(len(self.orders) + 1, symbol, quantity, kind, self.bars.dates[self.i], limit, stop)
        self.orders.append(order)
        self.by_id[order.id] = order
        self._intents.append(order)
        self.open.append(order)
        return order

    def cancel(self, order: Order) -> None:
        if order in self._intents:
            self._intents.remove(order)
            self.on_order_closed(order.id, "cancelled", "cancelled by strategy before sending")
        elif order.is_open:
            self.port.cancel(order)

    # --- internals -------------------------------------------------------------------------------
    def _update_exits(self, i: int) -> None:
        """Create, ratchet, resize or cancel each position's protective exit (core/exits.py) after
        the bar's own orders went out: a new exit rests from the next bar."""
        assert self.exits is not None
        pending: dict[str, int] = {}
        for o in self.open:
            if o.type != "exit":
                pending[o.symbol] = pending.get(o.symbol, 0) + o.quantity - o.filled
        self.exits.update(i, self.positions, pending, self._new_exit, self._cancel_exit, self._modify_exit)

    def _new_exit(self, symbol: str, quantity: int, limit: float | None, stop: float | None, tag: str) -> Order:
        order = Order(len(self.orders) + 1, symbol, quantity, "exit", self.bars.dates[self.i], limit, stop, tag=tag)
        self.orders.append(order)
        self.by_id[order.id] = order
        self.open.append(order)
        self.port.submit(order)
        return order

    def _cancel_exit(self, order: Order) -> None:
        self.on_order_closed(order.id, "cancelled", "exit no longer needed: the position was closed or resized")
        self.port.cancel(order)

    def _modify_exit(self, order: Order) -> None:
        """A resting exit's level moved (a trailing stop ratcheted). The backtest engines fill from
        the order object itself; a broker holding its own copy of the order implements ``modify``."""
        modify = getattr(self.port, "modify", None)
        if modify is not None:
            modify(order)

    def _flush(self, value: Decimal) -> None:
        """Risk-check and send this bar's orders in :func:`fill_priority` order: position-reducing
        ones first, then sales, then buys."""
        intents = sorted(self._intents, key=lambda o: fill_priority(self.positions.get(o.symbol, 0), o.quantity))
        self._intents = []
        projected = dict(self.positions)
        i = self.i
        prices = {s: self.lists[s]["close"][i] for s in projected}
        for order in intents:
            price = self.lists[order.symbol]["close"][i]
            if self.risk_checks:
                prices[order.symbol] = price
                closes = {s: self.lists[s]["close"] for s in self.lists}
                state = RiskState(value, self._peak, self._prev_value or value, projected, prices, closes, i)
                allowed, events = decide(self.risk_checks, self.bars.dates[i], order.symbol, order.quantity, price, state)
                self.risk_events.extend(events)
                if events and not allowed:
                    self.on_order_closed(order.id, "blocked", events[-1].reason)
                    continue
                if allowed != order.quantity:
                    order.reason = "; ".join(e.reason for e in events) + f" (resized from {order.quantity})"
                    order.quantity = allowed
            projected[order.symbol] = projected.get(order.symbol, 0) + order.quantity
            self.port.submit(order)

    def _call(self, hook: Callable[[Context], None], symbol: str) -> None:
        try:
            hook(self.ctx)
        except AlgotradeError:
            raise
        except Exception as exc:
            date = self.bars.dates[self.i] if 0 <= self.i < len(self.bars) else "start"
            raise StrategyError(
                f"{type(exc).__name__}: {exc}", strategy=self.name, date=date, symbol=symbol
            ) from exc


def _reduces(position: float, quantity: float) -> bool:
    return abs(position + quantity) < abs(position)


def fill_priority(position: float, quantity: float) -> tuple[bool, bool]:
    """Where an order goes among one bar's orders, the same on every engine and broker (after the
    protective exits): orders that reduce their symbol's ``position`` first, then sales, then buys,
    each group in the order placed. Sales before buys, so the proceeds of a short leg are in the
    cash book before the long leg of the same bar asks for them (docs/engine-parity.md, "Shorts")."""
    return not _reduces(position, quantity), quantity > 0
