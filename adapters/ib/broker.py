"""The live Broker on Interactive Brokers, through the ib_insync API (ib_async, or ib_insync).

Every client call is here; what the TWS API's names mean for algotrade is in mapping.py. The
class implements :class:`algotrade.live.broker.Broker`: orders carry their deterministic ``orderRef``
(the journal's key), a protective ``"exit"`` order is a bracket of IB orders (a STP leg with the
stop in ``auxPrice`` and/or a LMT leg with the take-profit in ``lmtPrice``, one OCA group named by
the orderRef, ocaType 1) known to algotrade as one order whose broker id joins the legs' ids
(``"12+13"``; :func:`~algotrade.live.reconcile.bracket_legs`), fills are reported with their commission (IB sends the commission report
just after the execution, so a fill is queued when its report arrives), and a dropped socket is a
:class:`~algotrade.live.broker.DisconnectEvent`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from typing import Any
from zoneinfo import ZoneInfo

from adapters.ib.client import ib_module
from adapters.ib.mapping import (
    ORDER_REJECTIONS,
    ORDER_TYPE,
    SYMBOLS,
    action,
    rejection_reason,
    signed,
    status_of,
)
from algotrade.core.errors import BrokerError, TransientBrokerError
from algotrade.core.symbols import map_symbols
from algotrade.live.broker import (
    Account,
    BrokerEvent,
    ConnectivityEvent,
    DisconnectEvent,
    FillEvent,
    OrderRequest,
    StatusEvent,
)
from algotrade.live.reconcile import BrokerOrder, Execution, bracket_id, bracket_legs

log = logging.getLogger("algotrade.ib")
NEW_YORK = ZoneInfo("America/New_York")


def bracket_view(orders: list[BrokerOrder], legs: set[str]) -> list[BrokerOrder]:
    """IB's orders as algotrade's: the legs (ids in ``legs``) of each exit's OCA group, one
    orderRef, folded into the one ``"exit"`` order they carry (stop from the STP leg, take-profit
    from the LMT leg; filled when a leg filled, open while one works)."""
    out: list[BrokerOrder] = []
    groups: dict[str, list[BrokerOrder]] = {}
    for o in orders:
        if o.broker_id in legs:
            if o.order_ref not in groups:
                out.append(o)  # its place in the list; replaced below
            groups.setdefault(o.order_ref, []).append(o)
        else:
            out.append(o)
    for i, o in enumerate(out):
        group = groups.get(o.order_ref) if o.broker_id in legs else None
        if not group:
            continue
        status = next((s for s in ("filled", "open") if any(g.status == s for g in group)), group[0].status)
        reason = next((g.reason for g in group if g.status == status), "")
        out[i] = BrokerOrder(bracket_id([g.broker_id for g in sorted(group, key=lambda g: g.type != "stop")]),
                             o.order_ref, o.symbol, o.quantity, sum(g.filled for g in group), status, "exit",
                             next((g.limit for g in group if g.type == "limit"), None),
                             next((g.stop for g in group if g.type == "stop"), None), reason)
    return out


class IbBroker:
    """A :class:`~algotrade.live.broker.Broker` on a TWS / IB Gateway session (or the simulator)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 7497, client_id: int = 17, account: str = "",
                 timeout: float = 10.0, symbols: tuple[str, ...] | list[str] = ()) -> None:
        self.host, self.port, self.client_id, self.account_id = host, port, client_id, account
        #: the user's symbols and IB's spelling of each (``brk.b`` -> ``BRK B``): contracts are asked
        #: for under IB's, executions, positions and orders are reported under the user's
        self._to_user = dict(map_symbols(symbols, SYMBOLS).to_user)
        self.timeout = timeout
        mod = ib_module()
        self._mod = mod
        self.ib = mod.IB()
        self.ib.RequestTimeout = timeout
        self._events: list[BrokerEvent] = []
        self._contracts: dict[str, Any] = {}
        self._reasons: dict[int, str] = {}
        self.disconnects = 0
        #: between IB's 1100 (the gateway lost IB's servers) and its 1101/1102: orders are held
        self.link_lost = False
        #: after a 1101 (restored, market data lost) until the bar feed subscribes again
        self.resubscribe = False
        self.ib.commissionReportEvent += self._on_commission
        self.ib.orderStatusEvent += self._on_status
        self.ib.disconnectedEvent += self._on_disconnect
        self.ib.errorEvent += self._on_error

    # --- the seam --------------------------------------------------------------------------------
    def connect(self) -> None:
        """Connect (a no-op while connected: the runner and the bar feed share one session)."""
        if self.ib.isConnected():
            if self.link_lost:
                raise TransientBrokerError("IB 1100: the gateway lost its connection to IB's servers; orders are "
                                           "held until it is restored (1101/1102)")
            return
        self.link_lost = False
        try:
            self.ib.connect(self.host, self.port, clientId=self.client_id, timeout=self.timeout,
                            account=self.account_id)
        except (ConnectionError, OSError, TimeoutError) as exc:
            raise TransientBrokerError(f"cannot connect to IB at {self.host}:{self.port}: {exc}") from None
        accounts = self.ib.managedAccounts()
        if self.account_id and self.account_id not in accounts:
            raise BrokerError(f"account {self.account_id[:2]}*** is not managed by this IB session")
        self.account_id = self.account_id or accounts[0]

    def disconnect(self) -> None:
        self.ib.disconnect()

    def is_connected(self) -> bool:
        return bool(self.ib.isConnected())

    def account(self) -> Account:
        values = {(v.tag, v.currency): v.value for v in self.ib.accountValues(self.account_id)}
        cash = float(values.get(("TotalCashValue", "USD"), values.get(("CashBalance", "USD"), 0.0)))
        value = float(values.get(("NetLiquidation", "USD"), cash))
        return Account(self.account_id, cash, value)

    def positions(self) -> dict[str, int]:
        return {self._user(p.contract.symbol): int(p.position) for p in self.ib.positions(self.account_id)
                if p.position}

    def place(self, request: OrderRequest) -> str:
        self._need_connection()
        if request.type == "exit":
            return bracket_id([self._send(self._leg(request, kind)) for kind in self._kinds(request)])
        mod = self._mod
        kind = ORDER_TYPE[request.type]
        side, qty = action(request.quantity), abs(request.quantity)
        if kind == "LMT":
            order = mod.LimitOrder(side, qty, request.limit)
        elif kind == "STP":
            order = mod.StopOrder(side, qty, request.stop)
        else:
            order = mod.MarketOrder(side, qty)
        order.orderRef = request.order_ref
        return self._send(order, request.symbol)

    def modify(self, broker_id: str, request: OrderRequest) -> str:
        """Change a working exit's levels or size in place (placeOrder with the same orderId: a
        trailing stop's update); a leg the new levels add joins the OCA group, one they drop is
        cancelled. Returns the bracket's broker id (changed only when a leg came or went)."""
        self._need_connection()
        legs = {str(t.order.orderId): t for t in self.ib.openTrades()}
        by_kind = {legs[i].order.orderType: legs[i].order for i in bracket_legs(broker_id) if i in legs}
        ids = []
        for kind in self._kinds(request):
            order = by_kind.pop(kind, None)
            if order is None:
                ids.append(self._send(self._leg(request, kind)))
                continue
            order.totalQuantity = abs(request.quantity)
            if kind == "STP":
                order.auxPrice = request.stop
            else:
                order.lmtPrice = request.limit
            ids.append(self._send(order, request.symbol))
        for order in by_kind.values():
            self.ib.cancelOrder(order)
        # a modify leaves the order Submitted (nothing for wait_acknowledged to wait on): one round
        # trip after it, answered in order, means the gateway has the new levels before the next bar
        self.ib.reqOpenOrders()
        return bracket_id(ids)

    @staticmethod
    def _kinds(request: OrderRequest) -> list[str]:
        kinds = [k for k, level in (("STP", request.stop), ("LMT", request.limit)) if level is not None]
        if request.type != "exit" or not kinds:
            raise BrokerError(f"order {request.order_ref}: an exit needs a stop or a limit level (got none)")
        return kinds

    def _leg(self, request: OrderRequest, kind: str) -> tuple[Any, str]:
        side, qty = action(request.quantity), abs(request.quantity)
        order = (self._mod.StopOrder(side, qty, request.stop) if kind == "STP"
                 else self._mod.LimitOrder(side, qty, request.limit))
        order.orderRef = order.ocaGroup = request.order_ref
        order.ocaType, order.tif = 1, "GTC"  # one fill cancels the other leg; rests until it fills
        return order, request.symbol

    def _send(self, order: Any, symbol: str | None = None) -> str:
        if isinstance(order, tuple):
            order, symbol = order
        assert symbol is not None
        order.account = self.account_id
        trade = self.ib.placeOrder(self.contract(symbol), order)
        return str(trade.order.orderId)

    def cancel(self, broker_id: str) -> None:
        self._need_connection()
        legs = bracket_legs(broker_id)
        for trade in self.ib.openTrades():
            if str(trade.order.orderId) in legs:
                self.ib.cancelOrder(trade.order)

    def open_orders(self) -> list[BrokerOrder]:
        self.ib.reqOpenOrders()
        return bracket_view([self._view(t) for t in self.ib.openTrades()], self._oca(self.ib.openTrades()))

    def completed_orders(self) -> list[BrokerOrder]:
        # after a reconnect TWS reports completed orders without their order id (ib_async keys
        # them by permId); the executions carry both, so the id is recovered from them
        ids = {f.execution.permId: f.execution.orderId for f in self.ib.fills()}
        done = [t for t in self.ib.trades() if t.isDone()]
        return bracket_view([self._view(t, ids) for t in done], self._oca(done, ids))

    def _oca(self, trades: Any, ids: dict[int, int] | None = None) -> set[str]:
        """The ids of the orders that are legs of an exit: OCA type 1 in the group of their orderRef."""
        return {str(t.order.orderId or (ids or {}).get(t.order.permId, 0)) for t in trades
                if t.order.ocaType == 1 and t.order.ocaGroup and t.order.ocaGroup == t.order.orderRef}

    def executions(self, since: str | None = None) -> list[Execution]:
        fills = self.ib.reqExecutions()
        # reqExecutions returns fresh Fill objects; an execution the client saw before keeps its
        # commission report on the Fill it already holds
        known = {f.execution.execId: f for f in self.ib.fills()}
        out = [self._execution(known.get(f.execution.execId, f)) for f in fills]
        if since is not None:
            ids = [e.exec_id for e in out]
            out = out[ids.index(since) + 1:] if since in ids else out
        return out

    def poll_events(self) -> list[BrokerEvent]:
        if self.ib.isConnected():
            # a socket dropped while processing raises here; _on_disconnect has queued the event
            with contextlib.suppress(ConnectionError):
                self.ib.sleep(0)  # let the client process what has arrived
        events, self._events = self._events, []
        return events

    def wait_acknowledged(self, timeout: float = 30.0) -> None:
        """Until IB has acknowledged every order request sent (none PendingSubmit/PendingCancel).

        ib_async throttles requests (45 a second by default) and queues the rest; a replay that
        closes the next session before the gateway has an order would fill it a bar late.
        """
        deadline = time.monotonic() + timeout
        while self.ib.isConnected() and any(
            t.orderStatus.status in ("PendingSubmit", "PendingCancel", "ApiPending") for t in self.ib.openTrades()
        ):
            if time.monotonic() > deadline:
                raise TransientBrokerError(f"IB did not acknowledge the orders sent within {timeout:.0f} s")
            self.ib.sleep(0.001)

    def server_time(self) -> dt.datetime:
        """The gateway's clock (``reqCurrentTime``), UTC: TWS's time, or the simulator's replay time.
        Answered by the gateway itself, so also while its link to IB is lost (1100): a bar that
        arrived just before a 1100 is still known to be final, and its orders are held."""
        if not self.ib.isConnected():
            raise TransientBrokerError("not connected to IB: the gateway's clock cannot be read")
        try:
            now = self.ib.reqCurrentTime()
        except (ConnectionError, TimeoutError) as exc:
            raise TransientBrokerError(f"IB did not answer reqCurrentTime: {exc}") from None
        return now.astimezone(dt.UTC) if now.tzinfo else now.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]

    # --- data ------------------------------------------------------------------------------------
    def contract(self, symbol: str) -> Any:
        """The qualified stock of a user's ``symbol``, asked for under IB's spelling of it."""
        if symbol not in self._contracts:
            spelled = SYMBOLS.spell(symbol)
            found = self.ib.qualifyContracts(self._mod.Stock(spelled, "SMART", "USD"))
            if not found:
                also = f" (IB's spelling of {symbol!r})" if spelled != symbol else ""
                raise BrokerError(f"IB does not know the stock {spelled!r}{also} on SMART in USD; check data.symbols")
            self._contracts[symbol] = found[0]
            self._to_user.setdefault(found[0].symbol, symbol)
        return self._contracts[symbol]

    def daily_bars(self, symbol: str, keep_up_to_date: bool = True, duration: str = "20 Y") -> Any:
        """Daily TRADES bars, kept up to date as sessions close (a live BarDataList)."""
        return self.ib.reqHistoricalData(self.contract(symbol), endDateTime="", durationStr=duration,
                                         barSizeSetting="1 day", whatToShow="TRADES", useRTH=True,
                                         formatDate=1, keepUpToDate=keep_up_to_date)

    # --- events ----------------------------------------------------------------------------------
    def _user(self, ib_symbol: str) -> str:
        """The user's spelling of a symbol IB reports (IB's own for one the run does not trade)."""
        return self._to_user.get(ib_symbol, ib_symbol)

    def _need_connection(self) -> None:
        if not self.ib.isConnected():
            raise TransientBrokerError("not connected to IB: no order is sent while disconnected")
        if self.link_lost:
            raise TransientBrokerError("IB 1100: connectivity to IB's servers lost; no order is sent until restored")

    def _on_commission(self, trade: Any, fill: Any, report: Any) -> None:
        self._events.append(FillEvent(self._execution(fill)))

    def _on_status(self, trade: Any) -> None:
        status = status_of(trade.orderStatus.status)
        if status in ("cancelled", "rejected"):
            order, broker_id = trade.order, str(trade.order.orderId)
            if str(order.orderId) in self._oca([trade]):  # an exit's leg: the exit ends with its last leg
                legs = [t for t in self.ib.trades() if t.order.orderRef == order.orderRef and self._oca([t])]
                if any(status_of(t.orderStatus.status) in (None, "filled") for t in legs):
                    return  # the other leg works on, or filled (OCA cancelled this one)
                broker_id = bracket_id([str(t.order.orderId) for t in legs])
            # a rejection's error comes before its status (ib_async, ib_insync): it is in the log
            rejected = rejection_reason((e.errorCode, e.message) for e in trade.log)
            reason = rejected or self._reasons.get(order.orderId, trade.orderStatus.status)
            self._events.append(StatusEvent(order.orderRef, broker_id, "rejected" if rejected else status, reason))

    def _on_error(self, req_id: int, code: int, message: str, *args: Any) -> None:
        if code in ORDER_REJECTIONS:
            self._reasons[req_id] = f"IB {code}: {message}"
        elif code in (1100, 1101, 1102):
            log.warning("IB connectivity %s: %s", code, message)
            self.link_lost = code == 1100
            self.resubscribe = self.resubscribe or code == 1101  # market data lost: the bars are asked again
            self._events.append(ConnectivityEvent(code, message))
        elif code == 2110:
            log.warning("IB connectivity %s: %s", code, message)

    def _on_disconnect(self) -> None:
        self.disconnects += 1
        self._events.append(DisconnectEvent("the connection to IB was lost"))

    def _view(self, trade: Any, ids_by_perm: dict[int, int] | None = None) -> BrokerOrder:
        order, status = trade.order, trade.orderStatus
        order_id = order.orderId or (ids_by_perm or {}).get(order.permId, 0)
        sign = 1 if order.action == "BUY" else -1
        kind = {v: k for k, v in ORDER_TYPE.items()}.get(order.orderType, order.orderType.lower())
        return BrokerOrder(
            str(order_id), order.orderRef or "", self._user(trade.contract.symbol), sign * int(order.totalQuantity),
            sign * int(status.filled), status_of(status.status) or "open", kind,
            order.lmtPrice if kind == "limit" else None, order.auxPrice if kind == "stop" else None,
        )

    def _execution(self, fill: Any) -> Execution:
        ex = fill.execution
        when = ex.time if isinstance(ex.time, dt.datetime) else dt.datetime.now(dt.UTC)
        session = when.astimezone(NEW_YORK).date() if when.tzinfo else when.date()
        return Execution(ex.execId, ex.orderRef or "", str(ex.orderId), self._user(fill.contract.symbol),
                         signed(ex.side, ex.shares), float(ex.price), float(fill.commissionReport.commission),
                         session.isoformat())
