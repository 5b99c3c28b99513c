"""The gateway simulator's replay (session by session) and its injected connectivity faults."""

from __future__ import annotations

import abc
import asyncio
import datetime as dt
import logging

from adapters.ib.gateway import wire
from adapters.ib.gateway.account import (
    Cancellation,
    Event,
    Fill,
    Rejection,
    ib_time,
)
from adapters.ib.gateway.broker_requests import BrokerRequests
from adapters.ib.gateway.simcore import (
    CLOSE_TIME,
    CONNECTIVITY_MESSAGES,
    DEFAULT_RESTART_WINDOW_S,
    FAULTS,
    FINAL_TIME,
    NEW_YORK,
    OPEN_TIME,
)

log = logging.getLogger("algotrade.gateway")


class Replay(BrokerRequests):
    """The replay: each session's fills and bar published; play and pause; injected faults."""

    @abc.abstractmethod
    async def restart_async(self, window: float | None = None) -> None:
        """IB's daily restart (the server's part: :class:`adapters.ib.gateway.server.GatewaySimulator`)."""

    # ================================================================================ replay

    def _advance_many(self, sessions: int) -> int:
        done = 0
        for _ in range(sessions):
            if not self._advance_now():
                break
            done += 1
        return done

    def _advance_now(self) -> bool:
        if self.position + 1 >= len(self.dates):
            self.finished.set()
            return False
        self.account.end_session()
        self.position += 1
        day = self.current_date
        when_open = dt.datetime.combine(day, OPEN_TIME, NEW_YORK)
        when_close = dt.datetime.combine(day, CLOSE_TIME, NEW_YORK)
        bars = {sym: b for sym in self._rows if (b := self.bar(sym)) is not None}
        with self._durable():
            events = self.account.process_bar(when_open, when_close, bars)
            for event in events:
                if isinstance(event, Rejection):
                    event.order.completed_time = ib_time(when_close)
            if self.lost:  # it all happened at "IB"; the clients hear of it once connectivity is back
                self._held_events.extend(events)
                self._held_bars.append(self.position)
            else:
                self._deliver(events)
                self._publish_bar(self.position)
        if self.position + 1 >= len(self.dates):
            self.finished.set()
        if self.on_session is not None:
            self.on_session()
        for kind, window in self.scheduled.pop(self.current_date, []):
            try:
                self._fault_now(kind, window)
            except ValueError as exc:
                log.warning("scheduled fault %s at %s not injected: %s", kind, self.current_date, exc)
        return True

    def _deliver(self, events: list[Event]) -> None:
        touched: set[str] = set()
        for event in events:
            order = event.order
            touched.add(order.symbol)
            owner = self._client(order.client_id)
            if owner is None:
                continue
            if isinstance(event, Fill):
                self._send_execution(owner, -1, event.execution)
                self._send_order(owner, order)
            elif isinstance(event, Cancellation):  # an OCA sibling: its status only, no error message
                self._send_status(owner, order)
            else:
                owner.send(wire.error(owner.server_version, order.order_id, 201, f"Order rejected - reason:{event.reason}"))
                self._send_status(owner, order)
        self._publish_account(touched)

    def _publish_account(self, touched: set[str]) -> None:
        a = self.account
        held = {sym for sym, p in a.positions.items() if p.quantity}
        for s in self._clients():
            if s.positions:
                for sym in sorted(touched):
                    pos = a.positions.get(sym)
                    if pos is not None:
                        s.send(wire.position(self.account_id, self._contract(sym), pos.quantity, pos.avg_cost))
            if s.account_updates:
                for sym in sorted(held | touched):
                    s.send(self._portfolio_row(sym))
                self._send_account_values(s)
                s.send(wire.update_account_time(f"{self.now():%H:%M}"))
            for req_id in sorted(s.account_multi):
                for key, value, currency in a.values():
                    s.send(wire.account_update_multi(req_id, self.account_id, "", key, value, currency))
            for req_id, tags in sorted(s.account_summary.items()):
                self._send_summary(s, req_id, tags)
            for req_id in sorted(s.pnl):
                s.send(wire.pnl(req_id, a.daily_pnl(), a.unrealized_pnl(), a.realized_pnl))
            for req_id, sym in sorted(s.pnl_single.items()):
                s.send(self._pnl_single_row(req_id, sym))

    def _publish_bar(self, index: int) -> None:
        epoch = int(dt.datetime.combine(self.dates[index].date(), FINAL_TIME, NEW_YORK).timestamp())
        for s in self._clients():
            for req_id, sym in sorted(s.history.items()):
                b = self._wire_bar(sym, index)
                if b is not None:
                    s.send(wire.historical_data_update(req_id, b))
            for req_id, sym in sorted(s.realtime.items()):
                b = self._wire_bar(sym, index)
                if b is not None:
                    s.send(wire.realtime_bar(req_id, epoch, b))
            if index == self.position:
                for req_id, sym in sorted(s.tickers.items()):
                    self._send_ticks(s, req_id, sym)

    def _play_now(self, speed: float | str) -> None:
        if speed != "max" and not (isinstance(speed, int | float) and speed > 0):
            raise ValueError(f"speed {speed!r} must be a positive number of sessions per second or 'max'")
        self._pause_now()
        self.speed = speed
        if self._loop is not None:
            self._player = self._loop.create_task(self._play(speed))

    def _pause_now(self) -> None:
        if self._player is not None:
            self._player.cancel()
            self._player = None

    async def _play(self, speed: float | str) -> None:
        delay = 0.0 if speed == "max" else 1.0 / float(speed)
        while self._advance_now():
            await asyncio.sleep(delay)
        self._player = None

    # ================================================================================ faults

    def _fault_now(self, kind: str, window: float | None) -> None:
        if kind not in FAULTS:
            raise ValueError(f"fault {kind!r} is not one of {', '.join(FAULTS)}")
        if kind == "restart" and self.restarting:
            raise ValueError("a restart is under way; wait until the status says `port open`")
        self.faults_injected.append(kind)
        log.info("injecting fault %s", kind)
        if self.on_fault is not None:
            self.on_fault(kind)
        if kind == "1100":
            self.lost = True
            self._broadcast_error(-1, 1100, CONNECTIVITY_MESSAGES[1100])
        elif kind in ("1101", "1102"):
            self._restore_connectivity(data_lost=kind == "1101")
        elif kind == "drop":
            self._drop_all()
        else:  # restart, from the loop: it runs on its own
            assert self._loop is not None
            self.restarting = True
            task = self._loop.create_task(self.restart_async(DEFAULT_RESTART_WINDOW_S if window is None else window))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _restore_connectivity(self, data_lost: bool) -> None:
        """1101/1102: what happened at "IB" meanwhile (fills, cancellations) is reported; with data
        lost every market data subscription is gone, else the bars missed are delivered."""
        self.lost = False
        events, self._held_events = self._held_events, []
        missed, self._held_bars = self._held_bars, []
        code = 1101 if data_lost else 1102
        with self._durable():
            self._broadcast_error(-1, code, CONNECTIVITY_MESSAGES[code])
            if data_lost:
                for s in self._clients():
                    s.unsubscribe_market_data()
            self._deliver(events)
            cancels, self._held_cancels = self._held_cancels, []
            for order_id in cancels:
                order = self.account.orders.get(order_id)
                if order is not None and order.is_working:  # unless it filled at "IB" meanwhile
                    self._cancel(order)
            if not data_lost:
                for index in missed:
                    self._publish_bar(index)
