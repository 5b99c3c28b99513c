"""The in-memory broker: a complete :class:`~algotrade.live.broker_protocol.Broker` with the market
side that fills its orders by a scriptable rule (by default the backtest's), for tests and offline
rehearsal, and :func:`bar_stream`, aligned bars as a live runner's stream. Import these names from
:mod:`algotrade.live.broker`, which re-exports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.config import BrokerConfig
from algotrade.core.costs import (
    borrow_fee,
    commission,
    exact,
    short_margin_refusal,
    slippage_fraction,
    slipped,
)
from algotrade.core.errors import BrokerError, TransientBrokerError
from algotrade.core.exits import exit_fill
from algotrade.core.host import fill_priority
from algotrade.core.strategy import FIELDS, Bar, Bars, Order
from algotrade.live.broker_protocol import (
    Account,
    BarLike,
    BarStream,
    BrokerEvent,
    ConnectivityEvent,
    DisconnectEvent,
    FillEvent,
    OrderRequest,
    StatusEvent,
    _fields,
)
from algotrade.live.reconcile import BrokerOrder, Execution

#: (order, session date, bar fields, fill model) -> (signed quantity to fill now, price) or None
FillRule = Callable[["SimOrder", dt.date, Mapping[str, float]], "tuple[int, float] | None"]


@dataclass
class SimOrder:
    broker_id: str
    request: OrderRequest
    placed_after: dt.date | None  # the last bar the broker had seen when the order arrived
    filled: int = 0
    status: str = "open"
    reason: str = ""

    @property
    def remaining(self) -> int:
        return self.request.quantity - self.filled

    def view(self) -> BrokerOrder:
        r = self.request
        return BrokerOrder(self.broker_id, r.order_ref, r.symbol, r.quantity, self.filled, self.status,
                           r.type, r.limit, r.stop, self.reason)



def backtest_rule(fill: str = "next_close") -> FillRule:
    """Fill like the backtest: a market order at the next bar's close (``next_close``) or open
    (``next_open``), all at once; a limit order when the bar trades through its price (at the
    open if it gaps through), a stop order likewise once triggered."""
    field = "close" if fill == "next_close" else "open"

    def rule(order: SimOrder, date: dt.date, bar: Mapping[str, float]) -> tuple[int, float] | None:
        r = order.request
        buy = r.quantity > 0
        if r.type == "market":
            return order.remaining, bar[field]
        if r.type == "exit":
            hit = exit_fill(Order(0, r.symbol, order.remaining, "exit", date, limit=r.limit, stop=r.stop),
                            Bar(date, *(bar[f] for f in FIELDS)))
            return None if hit is None else (order.remaining, hit[0])
        if r.type == "limit" and r.limit is not None:
            if buy and bar["low"] <= r.limit:
                return order.remaining, min(bar["open"], r.limit)
            if not buy and bar["high"] >= r.limit:
                return order.remaining, max(bar["open"], r.limit)
            return None
        if r.type == "stop" and r.stop is not None:
            if buy and bar["high"] >= r.stop:
                return order.remaining, max(bar["open"], r.stop)
            if not buy and bar["low"] <= r.stop:
                return order.remaining, min(bar["open"], r.stop)
        return None

    return rule


class InMemoryBroker:
    """A broker in memory: the :class:`Broker` seam plus the market side that fills orders.

    Orders rest until a bar after the one they were placed on reaches the broker
    (:meth:`on_bar`, or :meth:`feed` around a bar stream); then ``fill_rule`` decides what fills
    and at what price, in the order the orders were placed, with ``config``'s commission and
    slippage and the backtest's cash rule (a buy the cash cannot pay for at fill time is
    rejected) and its two rules of shorts, by the cash book's functions (:mod:`algotrade.core.costs`):
    a sale that opens or enlarges a short ``broker.short_margin`` does not cover is rejected at
    fill time, and each bar's close debits cash with the borrow fee (``broker.borrow_fee_bps``) of
    the shorts held at it (the total so far in :attr:`borrow_fees`). Events reach the client only
    while it is connected; a new connection starts with an empty event queue, as a real one
    does, so a restarted client must reconcile.
    """

    def __init__(
        self,
        cash: float = 100_000.0,
        config: BrokerConfig | None = None,
        fill_rule: FillRule | None = None,
        account_id: str = "DU0000000",
    ) -> None:
        self.config = config or BrokerConfig.model_validate({"cash": cash})
        self.cash = float(cash if config is None else config.cash)
        self.fill_rule = fill_rule or backtest_rule(self.config.fill)
        self.account_id = account_id
        self.holdings: dict[str, int] = {}
        self.marks: dict[str, float] = {}
        #: the borrow fees debited at the closes so far
        self.borrow_fees = 0.0
        self.orders: list[SimOrder] = []
        self.execs: list[Execution] = []
        self.last_date: dt.date | None = None
        self.connected = False
        self.fail_connects = 0  # script: the next N connect() calls fail
        self.connects = 0
        self.modifies = 0
        self.link_lost = False  # between a scripted 1100 and its 1101/1102
        self._events: list[BrokerEvent] = []

    # --- the seam ----------------------------------------------------------------------------
    def connect(self) -> None:
        if self.link_lost:
            raise TransientBrokerError("in-memory broker: IB 1100, connectivity lost (scripted)")
        if self.fail_connects > 0:
            self.fail_connects -= 1
            raise TransientBrokerError("in-memory broker: connection refused (scripted)")
        self.connected = True
        self.connects += 1
        self._events = []

    def disconnect(self) -> None:
        self.connected = False
        self._events = []

    def is_connected(self) -> bool:
        return self.connected

    def _need_connection(self) -> None:
        if not self.connected:
            raise TransientBrokerError("in-memory broker: not connected")
        if self.link_lost:
            raise TransientBrokerError("in-memory broker: IB 1100, connectivity lost (scripted)")

    def account(self) -> Account:
        self._need_connection()
        return Account(self.account_id, self.cash, self.value())

    def value(self) -> float:
        total = self.cash
        for sym, qty in self.holdings.items():
            total += qty * self.marks.get(sym, 0.0)
        return total

    def positions(self) -> dict[str, int]:
        self._need_connection()
        return {s: q for s, q in sorted(self.holdings.items()) if q}

    def place(self, request: OrderRequest) -> str:
        self._need_connection()
        order = SimOrder(f"B{len(self.orders) + 1}", request, self.last_date)
        self.orders.append(order)
        self._emit(StatusEvent(request.order_ref, order.broker_id, "submitted"))
        return order.broker_id

    def modify(self, broker_id: str, request: OrderRequest) -> str:
        """Change a working order's size or levels in place (a trailing stop's update)."""
        self._need_connection()
        for order in self.orders:
            if order.broker_id == broker_id and order.status == "open":
                if (request.order_ref, request.symbol) != (order.request.order_ref, order.request.symbol):
                    raise BrokerError(f"modify of {broker_id}: {request.order_ref} {request.symbol} is another order")
                order.request = request
                self.modifies += 1
                return broker_id
        raise BrokerError(f"modify of {broker_id}: no such working order")

    def cancel(self, broker_id: str) -> None:
        self._need_connection()
        for order in self.orders:
            if order.broker_id == broker_id and order.status == "open":
                self._close(order, "cancelled", "cancelled")

    def open_orders(self) -> list[BrokerOrder]:
        self._need_connection()
        return [o.view() for o in self.orders if o.status == "open"]

    def completed_orders(self) -> list[BrokerOrder]:
        self._need_connection()
        return [o.view() for o in self.orders if o.status != "open"]

    def executions(self, since: str | None = None) -> list[Execution]:
        self._need_connection()
        ids = [e.exec_id for e in self.execs]
        start = ids.index(since) + 1 if since in ids else 0
        return list(self.execs[start:])

    def poll_events(self) -> list[BrokerEvent]:
        events, self._events = self._events, []
        return events

    # --- the market side (not part of the seam) ----------------------------------------------
    def drop_connection(self, reason: str = "connection lost (scripted)") -> None:
        """Simulate a dropped connection: the client gets one DisconnectEvent, then nothing."""
        self._events.append(DisconnectEvent(reason))
        self.connected = False

    def link(self, code: int) -> None:
        """Script IB's connectivity codes: 1100 (connect and place refused until 1101/1102)."""
        self.link_lost = code == 1100
        self._events.append(ConnectivityEvent(code, "scripted"))

    def set_position(self, symbol: str, quantity: int) -> None:
        """Script a position that did not come from this broker's fills (a manual trade)."""
        self.holdings[symbol] = quantity

    def _emit(self, event: BrokerEvent) -> None:
        if self.connected:
            self._events.append(event)

    def _close(self, order: SimOrder, status: str, reason: str) -> None:
        order.status, order.reason = status, reason
        self._emit(StatusEvent(order.request.order_ref, order.broker_id, status, reason))

    def on_bar(self, date: dt.date, bars: Mapping[str, BarLike]) -> None:
        """A bar reaches the market: fill the orders placed before it, then mark to its close.
        A date the broker has already seen is ignored (a restarted client replays history)."""
        if self.last_date is not None and date <= self.last_date:
            return
        fields = {s: _fields(b) for s, b in bars.items()}
        frac = slippage_fraction(self.config)
        # the backtest engines' order (core/host.py fill_priority): exits, reducing orders, sales, buys, as placed
        working = sorted((o for o in self.orders if o.status == "open"), key=lambda o: (
            o.request.type != "exit", *fill_priority(self.holdings.get(o.request.symbol, 0), o.remaining)))
        for order in working:
            r = order.request
            if (order.placed_after is not None and order.placed_after >= date) or r.symbol not in fields:
                continue
            decided = self.fill_rule(order, date, fields[r.symbol])
            if decided is None:
                continue
            qty, raw = decided
            if qty == 0:
                continue
            price = slipped(raw, qty, frac)
            fee = commission(self.config, qty, price)
            after = self.cash - qty * price
            after -= fee
            if qty > 0 and after < 0.0:  # the one cash rule: checked at fill time
                self._close(order, "rejected", "insufficient cash at fill time")
                continue
            margin = short_margin_refusal(self.config, exact(self.cash), *self._exact(), r.symbol, qty, price)
            if margin:
                self._close(order, "rejected", margin)
                continue
            self.cash = after
            self.holdings[r.symbol] = self.holdings.get(r.symbol, 0) + qty
            self.marks[r.symbol] = price  # the margin of a later fill counts this one at its price
            order.filled += qty
            ex = Execution(f"E{len(self.execs) + 1}", r.order_ref, order.broker_id, r.symbol, qty,
                           float(price), float(fee), date.isoformat())
            self.execs.append(ex)
            self._emit(FillEvent(ex))
            if order.filled == r.quantity:
                order.status = "filled"
                self._emit(StatusEvent(r.order_ref, order.broker_id, "filled"))
        for sym, f in fields.items():
            self.marks[sym] = f["close"]
        fee = float(borrow_fee(self.config, *self._exact())) if self.config.borrow_fee_bps else 0.0
        self.cash -= fee
        self.borrow_fees += fee
        self.last_date = date

    def _exact(self) -> tuple[dict[str, int], dict[str, Decimal]]:
        """The positions held and their marks, as the cash book's rules take them."""
        held = {s: q for s, q in self.holdings.items() if q}
        return held, {s: exact(self.marks.get(s, 0.0)) for s in held}

    def feed(self, stream: BarStream) -> Iterator[tuple[dt.date, Mapping[str, BarLike]]]:
        """The stream, with each bar reaching this broker's market before the client sees it."""
        for date, bars in stream:
            self.on_bar(date, bars)
            yield date, bars

    def refs_placed(self) -> list[str]:
        """Every orderRef ever placed, in order (a duplicate here is an order sent twice)."""
        return [o.request.order_ref for o in self.orders]


def bar_stream(bars: Bars) -> Iterator[tuple[dt.date, dict[str, Bar]]]:
    """Aligned bars as the stream a live runner consumes (for rehearsal and tests)."""
    for i, date in enumerate(bars.dates):
        yield date, {
            s: Bar(date, *(float(a[f][i]) for f in FIELDS)) for s, a in bars.arrays.items()
        }
