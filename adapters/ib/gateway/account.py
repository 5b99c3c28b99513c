"""The simulated account behind the gateway: cash, positions, orders, fills, PnL.

Fills follow the experiment's execution model (README "Execution model"), the same as the
backtesting engines: an order that is working when session T+1 is replayed fills

* market orders at T+1's open (``fill: next_open``) or close (``fill: next_close``);
* limit orders as Backtrader fills them on the next bar: at the open if the open is at or
  better than the limit, else at the limit if the bar's range reaches it;
* stop orders likewise: at the open if the open is through the stop, else at the stop if the
  range reaches it;

with :mod:`algotrade.core.costs` commission and slippage (slippage never takes a limit fill beyond
its limit). An OCA group (ocaType 1: a protective exit's STP and LMT legs) fills as in oca.py. The cash rule is the README's: a buy that cash cannot pay for at fill time is
rejected, cash never goes negative; shorts follow the backtest's short margin and borrow fee
(shorts.py). Orders stay working until filled or cancelled (GTC), whatever their ``tif``.

IB conventions: a position's average cost includes the commission paid to open it, and the
realized PnL of a closing fill is net of its own commission.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from adapters.ib.gateway.oca import Cancellation, cancel_siblings, oca_fill, oca_groups
from adapters.ib.gateway.shorts import sale_refusal, session_borrow_fee
from algotrade.core.config import BrokerConfig
from algotrade.core.costs import commission, slippage_fraction, slipped
from algotrade.core.host import fill_priority

SUPPORTED_ORDER_TYPES = ("MKT", "LMT", "STP")
WORKING = ("PreSubmitted", "Submitted")


@dataclass(frozen=True)
class BarRow:
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass
class SimOrder:
    order_id: int
    client_id: int
    perm_id: int
    symbol: str
    action: str  # BUY / SELL
    quantity: float
    order_type: str
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = "DAY"
    order_ref: str = ""
    account: str = ""
    outside_rth: bool = False
    parent_id: int = 0
    oca_group: str = ""
    oca_type: int = 0
    status: str = "PreSubmitted"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    commission: float = 0.0
    reason: str = ""
    completed_time: str = ""
    #: scripted partial fill: the fraction of the quantity filled on the first fill bar
    partial_fraction: float | None = None

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled

    @property
    def sign(self) -> int:
        return 1 if self.action == "BUY" else -1

    @property
    def is_working(self) -> bool:
        return self.status in WORKING


@dataclass
class Position:
    quantity: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0


@dataclass(frozen=True)
class Execution:
    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    symbol: str
    side: str  # BOT / SLD
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    order_ref: str
    time: dt.datetime
    commission: float
    realized_pnl: float | None
    account: str


@dataclass(frozen=True)
class Fill:
    order: SimOrder
    execution: Execution


@dataclass(frozen=True)
class Rejection:
    order: SimOrder
    reason: str


Event = Fill | Rejection | Cancellation


class OrderRejected(Exception):
    """An order refused at placement; the message is the reason."""


@dataclass
class SimAccount:
    """Cash, positions and orders of one account, filled bar by bar."""

    account_id: str
    broker: BrokerConfig
    cash: float = field(default=math.nan)
    positions: dict[str, Position] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)
    orders: dict[int, SimOrder] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    realized_pnl: float = 0.0
    #: net liquidation at the end of the previous session (for daily PnL)
    day_start_value: float = field(default=math.nan)
    _reject_next: list[str] = field(default_factory=list)
    _partial_next: list[float] = field(default_factory=list)
    _exec_seq: int = 0
    #: the first part of every execution id: drawn afresh for each simulator start (as IB's are
    #: unique across its restarts), so ids never repeat even when the sequence starts over
    exec_prefix: str = field(default_factory=lambda: secrets.token_hex(4))

    def __post_init__(self) -> None:
        if math.isnan(self.cash):
            self.cash = float(self.broker.cash)
        if math.isnan(self.day_start_value):
            self.day_start_value = self.cash

    # ---------------------------------------------------------------------------- scripting

    def reject_next_order(self, reason: str = "scripted rejection") -> None:
        self._reject_next.append(reason)

    def partial_fill_next_order(self, fraction: float = 0.5) -> None:
        if not 0 < fraction < 1:
            raise ValueError(f"partial fill fraction {fraction} must be between 0 and 1 (exclusive)")
        self._partial_next.append(fraction)

    # ---------------------------------------------------------------------------- orders

    def place(self, order: SimOrder) -> SimOrder:
        """Accept a new order (status PreSubmitted) or raise OrderRejected with the reason."""
        if self._reject_next:
            reason = self._reject_next.pop(0)
            self._reject(order, reason)
            raise OrderRejected(reason)
        problem = self._validate(order)
        if problem:
            self._reject(order, problem)
            raise OrderRejected(problem)
        if self._partial_next:
            order.partial_fraction = self._partial_next.pop(0)
        order.status = "PreSubmitted"
        self.orders[order.order_id] = order
        return order

    def modify(self, order_id: int, quantity: float, order_type: str, lmt: float | None, aux: float | None) -> SimOrder:
        order = self.orders[order_id]
        trial = SimOrder(
            order.order_id, order.client_id, order.perm_id, order.symbol, order.action, quantity,
            order_type, lmt, aux,
        )
        problem = self._validate(trial)
        if problem or quantity < order.filled:
            raise OrderRejected(problem or f"quantity {quantity} is below the filled {order.filled}")
        order.quantity, order.order_type, order.lmt_price, order.aux_price = quantity, order_type, lmt, aux
        return order

    def cancel(self, order_id: int, when: dt.datetime | None = None) -> SimOrder | None:
        """Cancel a working order; None when there is no such working order."""
        order = self.orders.get(order_id)
        if order is None or not order.is_working:
            return None
        order.status = "Cancelled"
        order.reason = "cancelled"
        order.completed_time = ib_time(when) if when else ""
        return order

    def working_orders(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.is_working]

    def _validate(self, order: SimOrder) -> str:
        if order.action not in ("BUY", "SELL"):
            return f"action {order.action!r} is not BUY or SELL"
        if not order.quantity > 0:
            return f"order quantity {order.quantity} must be positive"
        if order.order_type not in SUPPORTED_ORDER_TYPES:
            return f"order type {order.order_type!r} is not simulated (use one of {', '.join(SUPPORTED_ORDER_TYPES)})"
        if order.order_type == "LMT" and order.lmt_price is None:
            return "a LMT order needs lmtPrice"
        if order.order_type == "STP" and order.aux_price is None:
            return "a STP order needs auxPrice (the stop price)"
        return ""

    def _reject(self, order: SimOrder, reason: str) -> None:
        order.status = "Cancelled"
        order.reason = reason
        self.orders[order.order_id] = order

    # ---------------------------------------------------------------------------- fills

    def process_bar(self, when_open: dt.datetime, when_close: dt.datetime, bars: Mapping[str, BarRow]) -> list[Event]:
        """Fill the working orders at this session's bar; marks positions at its close."""
        events: list[Event] = []
        working = [o for o in self.working_orders() if o.symbol in bars]
        # the backtest engines' order (core/host.py fill_priority): protective brackets (OCA type 1),
        # then reducing orders, sales, buys, as placed
        working.sort(key=lambda o: (o.oca_type != 1, *fill_priority(self.positions.get(o.symbol, Position()).quantity,
                                                   o.sign * o.remaining), o.order_id))
        when = when_open if self.broker.fill == "next_open" else when_close
        groups = oca_groups(working)
        for order in working:
            if not order.is_working:  # an OCA sibling cancelled earlier in this step
                continue
            bar = bars[order.symbol]
            group = groups.get(order.oca_group) if order.oca_type == 1 else None
            found = oca_fill(group, bar, self._fill_price, self._slip) if group else (order, self._fill_price(order, bar))
            if found is None or found[1] is None:
                continue
            order, price = found[0], found[1]
            qty = order.remaining
            if order.partial_fraction is not None and order.filled == 0:
                qty = max(1.0, math.floor(order.quantity * order.partial_fraction))
                qty = min(qty, order.remaining)
            fee = commission(self.broker, qty, price)
            refusal = ("insufficient cash at fill time" if order.sign > 0 and qty * price + fee > self.cash + 1e-9
                       else sale_refusal(self.broker, self.cash, self.positions, self.marks, order, qty, price))
            if refusal:
                self._reject(order, refusal)
                events.append(Rejection(order, order.reason))
                continue
            events.append(Fill(order, self._apply(order, qty, price, fee, when)))
            events += cancel_siblings(group or [], order, lambda o: self.cancel(o.order_id, when))
        for sym, bar in bars.items():
            self.marks[sym] = bar.close
        self.cash -= session_borrow_fee(self.broker, self.positions, self.marks)
        return events

    def end_session(self) -> None:
        """Called after a session is complete: the next day's PnL starts from here."""
        self.day_start_value = self.net_liquidation()

    @property
    def _slip(self) -> float:
        return slippage_fraction(self.broker)

    def _fill_price(self, order: SimOrder, bar: BarRow) -> float | None:
        frac = self._slip
        size = float(order.sign)
        if order.order_type == "MKT":
            ref = bar.open if self.broker.fill == "next_open" else bar.close
            return slipped(ref, size, frac)
        if order.order_type == "LMT":
            limit = float(order.lmt_price or 0.0)
            if order.sign > 0:
                base = bar.open if bar.open <= limit else (limit if bar.low <= limit else None)
                return None if base is None else min(slipped(base, size, frac), limit)
            base = bar.open if bar.open >= limit else (limit if bar.high >= limit else None)
            return None if base is None else max(slipped(base, size, frac), limit)
        stop = float(order.aux_price or 0.0)
        if order.sign > 0:
            base = bar.open if bar.open >= stop else (stop if bar.high >= stop else None)
        else:
            base = bar.open if bar.open <= stop else (stop if bar.low <= stop else None)
        return None if base is None else slipped(base, size, frac)

    def _apply(self, order: SimOrder, qty: float, price: float, fee: float, when: dt.datetime) -> Execution:
        pos = self.positions.setdefault(order.symbol, Position())
        signed = order.sign * qty
        realized: float | None = None
        closing = min(qty, abs(pos.quantity)) if pos.quantity * signed < 0 else 0.0
        opening = qty - closing
        if closing:
            fee_close = fee * closing / qty
            direction = 1.0 if pos.quantity > 0 else -1.0
            realized = direction * closing * (price - pos.avg_cost) - fee_close
            pos.quantity += order.sign * closing
            pos.realized += realized
            self.realized_pnl += realized
            if pos.quantity == 0:
                pos.avg_cost = 0.0
        if opening:
            fee_open = fee * opening / qty
            held = abs(pos.quantity)
            # per-share cost basis including the commission (IB's avgCost)
            basis = price + fee_open / opening if order.sign > 0 else price - fee_open / opening
            pos.avg_cost = (held * pos.avg_cost + opening * basis) / (held + opening)
            pos.quantity += order.sign * opening
        self.cash -= signed * price + fee
        self.marks[order.symbol] = price  # the margin of a later fill counts this one at its price
        order.avg_fill_price = (order.avg_fill_price * order.filled + price * qty) / (order.filled + qty)
        order.filled += qty
        order.last_fill_price = price
        order.commission += fee
        if order.remaining <= 1e-9:
            order.status = "Filled"
            order.completed_time = ib_time(when)
        else:
            order.status = "Submitted"
        self._exec_seq += 1
        execution = Execution(
            exec_id=f"{self.exec_prefix}.{self._exec_seq:08x}.01.01",
            order_id=order.order_id, client_id=order.client_id, perm_id=order.perm_id,
            symbol=order.symbol, side="BOT" if order.sign > 0 else "SLD", shares=qty, price=price,
            cum_qty=order.filled, avg_price=order.avg_fill_price, order_ref=order.order_ref, time=when,
            commission=fee, realized_pnl=realized, account=self.account_id,
        )
        self.executions.append(execution)
        return execution

    # ---------------------------------------------------------------------------- valuation

    def position_value(self, symbol: str) -> float:
        pos = self.positions.get(symbol)
        return 0.0 if pos is None else pos.quantity * self.marks.get(symbol, pos.avg_cost)

    def unrealized(self, symbol: str) -> float:
        pos = self.positions.get(symbol)
        if pos is None or pos.quantity == 0:
            return 0.0
        return pos.quantity * (self.marks.get(symbol, pos.avg_cost) - pos.avg_cost)

    def unrealized_pnl(self) -> float:
        return sum(self.unrealized(s) for s in self.positions)

    def gross_position_value(self) -> float:
        return sum(abs(self.position_value(s)) for s in self.positions)

    def net_liquidation(self) -> float:
        return self.cash + sum(self.position_value(s) for s in self.positions)

    def daily_pnl(self) -> float:
        return self.net_liquidation() - self.day_start_value

    def values(self) -> list[tuple[str, str, str]]:
        """Account values as (tag, value, currency), as updateAccountValue sends them."""
        nlv = self.net_liquidation()
        money = {
            "NetLiquidation": nlv,
            "TotalCashValue": self.cash,
            "CashBalance": self.cash,
            "SettledCash": self.cash,
            "AvailableFunds": self.cash,
            "ExcessLiquidity": self.cash,
            "BuyingPower": max(self.cash, 0.0),
            "EquityWithLoanValue": nlv,
            "GrossPositionValue": self.gross_position_value(),
            "StockMarketValue": sum(self.position_value(s) for s in self.positions),
            "InitMarginReq": 0.0,
            "MaintMarginReq": 0.0,
            "UnrealizedPnL": self.unrealized_pnl(),
            "RealizedPnL": self.realized_pnl,
        }
        rows = [("AccountType", "INDIVIDUAL", ""), ("AccountCode", self.account_id, "")]
        rows += [(k, f"{v:.2f}", "USD") for k, v in money.items()]  # IB sends money to the cent
        return rows


def ib_time(when: dt.datetime) -> str:
    """A time as TWS writes it: ``YYYYMMDD HH:MM:SS Zone/Name``."""
    return f"{when:%Y%m%d %H:%M:%S} {when.tzinfo}" if when.tzinfo else f"{when:%Y%m%d %H:%M:%S}"


__all__ = ["BarRow", "Cancellation", "Execution", "Fill", "OrderRejected", "Position", "Rejection", "SimAccount",
           "SimOrder", "ib_time"]
