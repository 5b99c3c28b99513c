"""The gateway simulator's answers to the API start, order, execution and account requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cached_property
from zoneinfo import ZoneInfo

from adapters.ib.gateway import wire
from adapters.ib.gateway.account import (
    OrderRejected,
    SimOrder,
    ib_time,
)
from adapters.ib.gateway.market_requests import MarketDataRequests
from adapters.ib.gateway.session import Session
from adapters.ib.gateway.simcore import (
    CONNECTIVITY_MESSAGES,
    LOST,
    NEW_YORK,
    NO_SECURITY,
)
from adapters.ib.gateway.wire import In


class BrokerRequests(MarketDataRequests):
    """The API start, order, execution and account requests; and the table of every request's handler."""

    @cached_property
    def _handlers(self) -> dict[int, Callable[[Session, list[str]], None]]:
        """Each simulated request's handler, by its message id."""
        return {
            In.START_API: self._on_start_api,
            In.REQ_IDS: self._on_req_ids,
            In.REQ_CURRENT_TIME: self._on_current_time,
            In.REQ_MANAGED_ACCTS: self._on_managed_accounts,
            In.REQ_CONTRACT_DATA: self._on_contract_details,
            In.REQ_HISTORICAL_DATA: self._on_historical_data,
            In.CANCEL_HISTORICAL_DATA: self._on_cancel(lambda s: s.history),
            In.REQ_HEAD_TIMESTAMP: self._on_head_timestamp,
            In.REQ_REAL_TIME_BARS: self._on_real_time_bars,
            In.CANCEL_REAL_TIME_BARS: self._on_cancel(lambda s: s.realtime),
            In.REQ_MKT_DATA: self._on_mkt_data,
            In.CANCEL_MKT_DATA: self._on_cancel(lambda s: s.tickers),
            In.REQ_MARKET_DATA_TYPE: self._on_market_data_type,
            In.PLACE_ORDER: self._on_place_order,
            In.CANCEL_ORDER: self._on_cancel_order,
            In.REQ_GLOBAL_CANCEL: self._on_global_cancel,
            In.REQ_OPEN_ORDERS: self._on_open_orders,
            In.REQ_ALL_OPEN_ORDERS: self._on_all_open_orders,
            In.REQ_AUTO_OPEN_ORDERS: lambda s, f: None,
            In.REQ_COMPLETED_ORDERS: self._on_completed_orders,
            In.REQ_ACCT_DATA: self._on_account_updates,
            In.REQ_ACCOUNT_UPDATES_MULTI: self._on_account_updates_multi,
            In.CANCEL_ACCOUNT_UPDATES_MULTI: self._on_cancel_set(lambda s: s.account_multi),
            In.REQ_POSITIONS: self._on_positions,
            In.CANCEL_POSITIONS: self._on_cancel_positions,
            In.REQ_ACCOUNT_SUMMARY: self._on_account_summary,
            In.CANCEL_ACCOUNT_SUMMARY: self._on_cancel(lambda s: s.account_summary),
            In.REQ_PNL: self._on_pnl,
            In.CANCEL_PNL: self._on_cancel_set(lambda s: s.pnl, version=False),
            In.REQ_PNL_SINGLE: self._on_pnl_single,
            In.CANCEL_PNL_SINGLE: self._on_cancel(lambda s: s.pnl_single, version=False),
            In.REQ_EXECUTIONS: self._on_executions,
        }

    def _on_start_api(self, s: Session, fields: list[str]) -> None:
        req = wire.parse_start_api(fields)
        if s.client_id is not None:
            return
        if self._client(req.client_id) is not None:
            s.send(wire.error(s.server_version, -1, 326, (
                f"Unable to connect as the client id {req.client_id} is already in use. "
                "Retry with a unique client id."
            )))
            s.drop()
            return
        s.client_id = req.client_id
        s.send(wire.managed_accounts([self.account_id]))
        s.send(wire.next_valid_id(self.next_order_id))
        if self.lost:
            s.send(wire.error(s.server_version, -1, 1100, CONNECTIVITY_MESSAGES[1100]))
        elif self.farm_messages:
            for code in (2104, 2106, 2158):
                s.send(wire.error(s.server_version, -1, code, CONNECTIVITY_MESSAGES[code]))

    def _on_req_ids(self, s: Session, fields: list[str]) -> None:
        s.send(wire.next_valid_id(self.next_order_id))

    def _on_current_time(self, s: Session, fields: list[str]) -> None:
        s.send(wire.current_time(int(self.now().timestamp())))

    def _on_managed_accounts(self, s: Session, fields: list[str]) -> None:
        s.send(wire.managed_accounts([self.account_id]))

    # ---------------------------------------------------------------------------- orders

    def _on_place_order(self, s: Session, fields: list[str]) -> None:
        req = wire.parse_place_order(s.server_version, fields)
        sv = s.server_version
        assert s.client_id is not None
        self.next_order_id = max(self.next_order_id, req.order_id + 1)
        existing = self.account.orders.get(req.order_id)
        if existing is not None:
            if existing.client_id != s.client_id or not existing.is_working:
                s.send(wire.error(sv, req.order_id, 103, f"Duplicate order id {req.order_id}"))
                return
            if self.lost:
                s.send(wire.error(sv, req.order_id, 201, f"Order rejected - reason:{LOST}; the order is unchanged"))
                return
            try:
                self.account.modify(req.order_id, req.quantity, req.order_type, req.lmt_price, req.aux_price)
            except OrderRejected as exc:
                s.send(wire.error(sv, req.order_id, 201, f"Order rejected - reason:{exc}"))
                return
            existing.status = "Submitted"
            self._send_order(s, existing)
            return
        if req.what_if:
            s.send(wire.error(sv, req.order_id, 201, "Order rejected - reason:what-if orders are not simulated"))
            return
        sym = self._resolve(req.contract)
        if sym is None:
            s.send(wire.error(sv, req.order_id, 200, NO_SECURITY))
            return
        order = SimOrder(
            order_id=req.order_id, client_id=s.client_id, perm_id=self._new_perm_id(), symbol=sym,
            action=req.action, quantity=req.quantity, order_type=req.order_type,
            lmt_price=req.lmt_price, aux_price=req.aux_price, tif=req.tif or "DAY",
            order_ref=req.order_ref, account=req.account or self.account_id,
            outside_rth=req.outside_rth, parent_id=req.parent_id,
            oca_group=req.oca_group, oca_type=req.oca_type,
        )
        try:
            if self.lost:
                self.account._reject(order, LOST)
                raise OrderRejected(LOST)
            self.account.place(order)
        except OrderRejected as exc:
            order.completed_time = ib_time(self.now())
            s.send(wire.error(sv, order.order_id, 201, f"Order rejected - reason:{exc}"))
            self._send_status(s, order)
            return
        self._send_order(s, order)

    def _on_cancel_order(self, s: Session, fields: list[str]) -> None:
        order_id = wire.Reader(fields, 2).integer()
        order = self.account.orders.get(order_id)
        if order is None or order.client_id != s.client_id or not order.is_working:
            s.send(wire.error(s.server_version, order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found."))
            return
        if self.lost:
            self._hold_cancel(order)
            return
        self._cancel(order)

    def _hold_cancel(self, order: SimOrder) -> None:
        """During 1100 a cancel waits in the gateway (PendingCancel) and reaches "IB" on 1101/1102."""
        if order.order_id not in self._held_cancels:
            self._held_cancels.append(order.order_id)
        owner = self._client(order.client_id)
        if owner is not None:
            owner.send(wire.order_status(order.order_id, "PendingCancel", order.filled, order.remaining,
                                         order.avg_fill_price, order.perm_id, order.parent_id,
                                         order.last_fill_price, order.client_id))

    def _cancel(self, order: SimOrder) -> None:
        self.account.cancel(order.order_id, self.now())
        owner = self._client(order.client_id)
        if owner is not None:
            self._send_status(owner, order)
            owner.send(wire.error(owner.server_version, order.order_id, 202, "Order Canceled - reason:"))

    def _on_global_cancel(self, s: Session, fields: list[str]) -> None:
        for order in self.account.working_orders():
            if self.lost:
                self._hold_cancel(order)
                continue
            self._cancel(order)

    def _on_open_orders(self, s: Session, fields: list[str]) -> None:
        for order in self.account.working_orders():
            if s.client_id in (0, order.client_id):
                self._send_order(s, order)
        s.send(wire.open_order_end())

    def _on_all_open_orders(self, s: Session, fields: list[str]) -> None:
        for order in self.account.working_orders():
            self._send_order(s, order)
        s.send(wire.open_order_end())

    def _on_completed_orders(self, s: Session, fields: list[str]) -> None:
        for order in self.account.orders.values():
            if order.status in ("Filled", "Cancelled"):
                s.send(wire.completed_order(s.server_version, self._wire_order(order), self._contract(order.symbol)))
        s.send(wire.completed_orders_end())

    def _on_executions(self, s: Session, fields: list[str]) -> None:
        req = wire.parse_executions(fields)
        since = _parse_filter_time(req.time)
        for e in self.account.executions:
            if req.client_id and e.client_id != req.client_id:
                continue
            if req.account and req.account != e.account:
                continue
            if req.symbol and req.symbol != e.symbol:
                continue
            if req.sec_type and req.sec_type != "STK":
                continue
            if req.side and req.side.upper() not in (e.side, "BUY" if e.side == "BOT" else "SELL"):
                continue
            if since is not None and e.time < since:
                continue
            self._send_execution(s, req.req_id, e)
        s.send(wire.exec_details_end(req.req_id))

    # ---------------------------------------------------------------------------- account

    def _on_account_updates(self, s: Session, fields: list[str]) -> None:
        r = wire.Reader(fields, 2)
        subscribe = r.flag()
        account = r.text() or self.account_id
        if not subscribe:
            s.account_updates = None
            return
        s.account_updates = account
        self._send_account_values(s)
        for sym, pos in self.account.positions.items():
            if pos.quantity:
                s.send(self._portfolio_row(sym))
        s.send(wire.update_account_time(f"{self.now():%H:%M}"))
        s.send(wire.account_download_end(self.account_id))

    def _on_account_updates_multi(self, s: Session, fields: list[str]) -> None:
        r = wire.Reader(fields, 2)
        req_id = r.integer()
        account = r.text() or self.account_id
        model = r.text()
        s.account_multi.add(req_id)
        for key, value, currency in self.account.values():
            s.send(wire.account_update_multi(req_id, account, model, key, value, currency))
        s.send(wire.account_update_multi_end(req_id))

    def _on_positions(self, s: Session, fields: list[str]) -> None:
        s.positions = True
        for sym, pos in self.account.positions.items():
            if pos.quantity:
                s.send(wire.position(self.account_id, self._contract(sym), pos.quantity, pos.avg_cost))
        s.send(wire.position_end())

    def _on_cancel_positions(self, s: Session, fields: list[str]) -> None:
        s.positions = False

    def _on_account_summary(self, s: Session, fields: list[str]) -> None:
        r = wire.Reader(fields, 2)
        req_id = r.integer()
        r.text()  # group
        tags = frozenset(t.strip() for t in r.text().split(",") if t.strip() and not t.strip().startswith("$"))
        s.account_summary[req_id] = tags
        self._send_summary(s, req_id, tags)
        s.send(wire.account_summary_end(req_id))

    def _on_pnl(self, s: Session, fields: list[str]) -> None:
        req_id = wire.Reader(fields).integer()
        s.pnl.add(req_id)
        a = self.account
        s.send(wire.pnl(req_id, a.daily_pnl(), a.unrealized_pnl(), a.realized_pnl))

    def _on_pnl_single(self, s: Session, fields: list[str]) -> None:
        r = wire.Reader(fields)
        req_id = r.integer()
        r.skip(2)  # account, model
        sym = self._by_con_id.get(r.integer())
        if sym is None:
            s.send(wire.error(s.server_version, req_id, 200, NO_SECURITY))
            return
        s.pnl_single[req_id] = sym
        s.send(self._pnl_single_row(req_id, sym))


def _parse_filter_time(text: str) -> dt.datetime | None:
    """ExecutionFilter.time: 'yyyymmdd hh:mm:ss' (New York unless a zone follows) or empty."""
    text = text.strip()
    if not text:
        return None
    date_part, _, rest = text.replace("-", " ", 1).partition(" ")
    time_part, _, zone = rest.strip().partition(" ")
    moment = dt.datetime.strptime(date_part[:8] + (time_part or "00:00:00"), "%Y%m%d%H:%M:%S")
    return moment.replace(tzinfo=ZoneInfo(zone) if zone else NEW_YORK)
