"""The live runner's side of the broker connection: connecting and reconnecting, taking in the
broker's events, reconciling the journal with the broker, sending journaled orders (or holding
them while the broker is unreachable or restarting), halting, and the kill switch. :class:`BrokerSide` is the base
of :class:`~algotrade.live.broker.LiveRunner`, which sets every attribute declared here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import replace

from algotrade.core.errors import TransientBrokerError
from algotrade.core.host import StrategyHost
from algotrade.core.strategy import Order
from algotrade.live.broker_protocol import Broker, ConnectivityEvent, DisconnectEvent, FillEvent, OrderRequest
from algotrade.live.journal import FillConflict, Intent, Journal, order_ref
from algotrade.live.observer import Observer
from algotrade.live.reconcile import (
    BrokerView,
    Execution,
    JournalView,
    ReconcilePlan,
    UnsentPolicy,
    reconcile,
)

log = logging.getLogger("algotrade.live")

#: how a kill-switch halt starts in the journal ("kill switch at <UTC time>: <reason>"); every
#: output shows it as "halted by the kill switch at ..."
KILL_SWITCH_HALT = "kill switch"


class BrokerSide:
    """Connection, events, reconcile and sending for :class:`~algotrade.live.broker.LiveRunner`."""

    broker: Broker
    journal: Journal
    run_id: str
    name: str
    observer: Observer
    symbols: tuple[str, ...]
    policy: UnsentPolicy
    clock: Callable[[], dt.datetime]
    checkpoint: Callable[[str], None]
    restart_window: Callable[[dt.datetime], bool] | None
    host: StrategyHost
    connected: bool
    halted: str | None
    plans: list[ReconcilePlan]
    checks: list[ReconcilePlan]
    _held_for_window: bool
    _holding: bool
    _reconciled_at: int
    _was_connected: bool
    _replaying: bool
    _bar_open: dt.date | None

    KILL = "kill"

    def kill_switch(self, reason: str = "operator") -> list[str]:
        """Halt, cancel every open order of this run (and any open order on its symbols), and
        flatten this run's symbols with market orders. Returns the flattening orderRefs."""
        at = self.clock().astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        self._halt(f"{KILL_SWITCH_HALT} at {at}: {reason}", kind="kill_switch")
        if not self.connected:
            self.broker.connect()
            self.connected = True
        self.cancel_open_orders()
        refs = []
        held = self.broker.positions()
        created = self.host.bars.dates[-1] if self.host.bars.dates else dt.date.today()
        for sym in self.symbols:
            qty = held.get(sym, 0)
            if qty:
                seq = self.journal.next_seq(self.run_id, self.KILL)
                intent = self.journal.record_intent(self.run_id, self.KILL, seq, sym, -qty, "market",
                                                    created=created)
                self._send(intent)
                refs.append(intent.order_ref)
        return refs

    def cancel_open_orders(self) -> None:
        """Cancel every open order of this run (and any open order on its symbols) that this
        client sees. IB shows a client only its own orders, so `algotrade kill` (its own client id)
        cannot cancel the running run's: the run cancels them itself when it finds the kill."""
        for bo in self.broker.open_orders():
            if bo.order_ref.startswith(f"{self.run_id}:") or bo.symbol in self.symbols:
                if self.journal.intent(bo.order_ref) is not None:
                    self.journal.record_cancel_request(bo.order_ref)
                self.broker.cancel(bo.broker_id)

    # --- one bar -----------------------------------------------------------------------------
    def holds_orders(self) -> bool:
        """Orders decided while the broker was unreachable (a dropped socket, IB's 1100) wait to be
        sent and the broker's session looks able to take them again (cheap: no request)."""
        return (self._holding and self.halted is None and self.broker.is_connected()
                and not getattr(self.broker, "link_lost", False))

    def send_held(self) -> int:
        """Between two bars, as soon as :meth:`holds_orders`: reconnect, take in the broker's
        events, reconcile and send the held orders once, so that they reach the broker before the
        next session opens (as they would have, had it stayed up). The next bar still gets its
        own reconcile. Returns how many orders were sent."""
        if not self.holds_orders():
            return 0
        k, checked = len(self.host.bars), self._reconciled_at
        before = len(self.journal.unsent_intents(self.run_id))
        self._catch_up(k, quiet=True)
        self._reconciled_at = checked
        after = len(self.journal.unsent_intents(self.run_id))
        self._holding = after > 0 and not self.connected  # connected: any left wait for the restart window
        return before - after

    def _catch_up(self, k: int, quiet: bool = False) -> None:
        """Connect if needed and take in the broker's events (reconciling on a (re)connect)."""
        self._go_live(k, quiet)
        self._drain(k)
        if not self.connected:  # the link dropped and may be back already: retry before deciding
            self._go_live(k, quiet)
            self._drain(k)

    def _go_live(self, k: int, quiet: bool = False) -> None:
        if self.connected:
            return
        try:
            self.broker.connect()
        except TransientBrokerError as exc:
            if not quiet:
                log.warning("%s: still disconnected at bar %d (%s); orders are held", self.run_id, k, exc)
            return
        self.connected = True
        if self._was_connected:
            self.journal.bump(self.run_id, "reconnects")
        self.observer.connection_restored(self._was_connected)
        self._was_connected = True
        self.reconcile(k)

    def _plan(self) -> ReconcilePlan:
        b = self.broker
        view = BrokerView(tuple(b.open_orders()), tuple(b.executions()), b.positions(), tuple(b.completed_orders()))
        return reconcile(JournalView.from_journal(self.journal, self.run_id), view, self.run_id,
                         self.symbols, self.policy)

    def reconcile(self, k: int | None = None, session: bool = False) -> ReconcilePlan:
        """Compare the journal with the broker and carry out the plan (sending only when the
        plan has no mismatch and trading is not halted). ``session``: the check of every session
        (kept in ``checks``, not ``plans``); a mismatch is confirmed once after reading the
        broker's pending events, since a fill may be on its way while the positions already
        moved."""
        k = len(self.host.bars) if k is None else k
        self._reconciled_at = k
        b = self.broker
        try:
            plan = self._plan()
            if plan.mismatches and session:
                self._drain(k)
                plan = self._plan() if self.connected else plan
        except TransientBrokerError as exc:
            self._lost(str(exc))
            return ReconcilePlan()
        j = self.journal
        for ref, bid in plan.attach:
            j.record_submitted(ref, bid)
        for ex in plan.record_fills:
            self._record_fill(ex, k)
        for ref, status, reason in plan.close:
            j.record_status(ref, status, reason, k)
            self.observer.order_closed(ref, status, reason)
        for ref in plan.drop:
            j.record_status(ref, "dropped", "never reached the broker; dropped at reconcile", k)
            self.observer.order_closed(ref, "dropped", "never reached the broker; dropped at reconcile")
        for bid in plan.cancel:
            b.cancel(bid)
        for ref in plan.modify:
            intent = j.intent(ref)
            if intent is not None and intent.broker_id is not None:
                self._send_modify(intent)
        (self.checks if session else self.plans).append(plan)
        if plan.mismatches:
            reason = "reconcile found mismatches: " + "; ".join(m.message for m in plan.mismatches)
            if reason != self.halted:
                log.error("%s", plan.summary())
                for m in plan.mismatches:
                    self._risk_event(f"mismatch:{m.kind}", m.message, m.subject)
            self._halt(reason, kind=None)
        elif not self.halted and plan.send and self._in_restart_window():
            self._held_for_window = True  # sent by the first reconcile outside the window
        elif not self.halted:
            for ref in plan.send:
                intent = j.intent(ref)
                if intent is not None:
                    self._send(intent)
        return plan

    def _ref(self, order: Order) -> str:
        return order_ref(self.run_id, self.name, order.id)

    def _cancel(self, order: Order) -> None:
        ref = self._ref(order)
        intent = self.journal.intent(ref)
        if intent is None:
            return
        if not intent.cancel_requested:
            self.journal.record_cancel_request(ref)
        if self.connected and intent.broker_id is not None and not self._replaying:
            try:
                self.broker.cancel(intent.broker_id)
            except TransientBrokerError as exc:
                self._lost(str(exc))

    def _modify(self, order: Order) -> None:
        """A resting exit's new levels (a trailing stop): journaled, then sent as a modify of it."""
        intent = self.journal.intent(self._ref(order))
        if intent is None or not intent.is_open or self._replaying:
            return
        levels = (order.quantity, order.limit, order.stop)
        if levels == intent.levels:
            return
        self.journal.record_modify(intent.order_ref, *levels)
        self.checkpoint("modify")
        if self.connected and intent.broker_id is not None and not self._held_for_window:
            self._send_modify(replace(intent, modified=levels))

    def _in_restart_window(self) -> bool:
        return bool(self.restart_window and self.restart_window(self.clock()))

    def _send_modify(self, intent: Intent) -> None:
        """Send an exit's journaled modification (its broker id changes only if a leg came or went)."""
        assert intent.broker_id is not None
        try:
            broker_id = self.broker.modify(intent.broker_id, _request(intent))
        except TransientBrokerError as exc:
            self._lost(str(exc))  # the next reconcile sends it again
            return
        self.checkpoint("modified")
        self.journal.record_submitted(intent.order_ref, broker_id)

    def _send(self, intent: Intent) -> None:
        request = _request(intent)
        try:
            broker_id = self.broker.place(request)
        except TransientBrokerError as exc:
            self._lost(str(exc))  # the next reconcile finds out whether it arrived
            self._holding = True
            return
        if self._bar_open is not None:  # the bar's first order is at the broker
            self.observer.first_order(self._bar_open)
            self._bar_open = None
        self.checkpoint("placed")
        self.journal.record_submitted(intent.order_ref, broker_id)
        self.observer.order_submitted(intent.order_ref, intent.symbol, intent.quantity, intent.type)
        self.checkpoint("submitted")

    def _lost(self, reason: str) -> None:
        if self.connected:
            log.warning("%s: disconnected (%s); no order is sent until reconnected and reconciled",
                        self.run_id, reason)
            self.journal.bump(self.run_id, "disconnects")
            self.observer.connection_lost(reason)
        self.connected = False

    def _drain(self, k: int) -> None:
        if not self.connected:
            return
        events = self.broker.poll_events()
        self.checkpoint("polled")
        j = self.journal
        for ev in events:
            if isinstance(ev, DisconnectEvent):
                self._lost(ev.reason)
                continue
            if isinstance(ev, ConnectivityEvent):
                if ev.code == 1100:  # held: the broker refuses to connect/place until restored
                    self._lost(f"IB {ev.code}: {ev.message}")
                    self._risk_event("connectivity", f"IB {ev.code}: {ev.message}; orders held")
                elif self.connected:
                    if self._reconciled_at != k:  # 1101 / 1102: restored; reconcile what happened meanwhile
                        self.reconcile(k)
                else:
                    self._go_live(k)  # reconnects (the broker accepts again) and reconciles
                continue
            if isinstance(ev, FillEvent):
                ex = ev.execution
                ours = ex.order_ref.startswith(f"{self.run_id}:") or ex.symbol in self.symbols
                if j.intent(ex.order_ref) is None and not ours:
                    continue  # another client's fill on a symbol this run does not trade
                if self._record_fill(ex, k):
                    self.checkpoint("fill")
            elif j.intent(ev.order_ref) is not None:
                if ev.status == "submitted":
                    j.record_submitted(ev.order_ref, ev.broker_id)
                elif ev.status in ("cancelled", "rejected", "expired"):
                    j.record_status(ev.order_ref, ev.status, ev.reason, k)
                    self.observer.order_closed(ev.order_ref, ev.status, ev.reason)
                    self.checkpoint("closed")

    def _record_fill(self, ex: Execution, k: int) -> bool:
        """Journal one execution; one that cannot be matched to the journal (an orderRef it never
        wrote, or figures that contradict the fill recorded under the same key) is never dropped
        quietly: it is recorded as a risk event and trading halts."""
        try:
            new = self.journal.record_fill(ex.exec_id, ex.order_ref, ex.symbol, ex.quantity, ex.price,
                                           ex.commission, ex.date, k)
        except FillConflict as exc:
            self._halt(f"unmatched fill: {exc}; reconcile with `algotrade reconcile` before trading",
                       kind="unmatched_fill", subject=ex.order_ref)
            return False
        if new:
            self.observer.order_filled(ex.order_ref, ex.symbol, ex.quantity, ex.price, ex.date)
        return new

    def _halt(self, reason: str, kind: str | None = "halt", subject: str = "") -> None:
        """Halt new orders; a new reason is recorded as a risk event of ``kind`` (None: the
        caller recorded its own)."""
        if self.halted != reason:
            log.error("%s: trading halted: %s", self.run_id, reason)
            if kind is not None:
                self._risk_event(kind, reason, subject)
            self.observer.halt_changed(reason)
        self.halted = reason
        self.journal.set_halt(self.run_id, reason)

    def _risk_event(self, kind: str, message: str, subject: str = "") -> None:
        self.journal.record_risk_event(self.run_id, kind, message, subject)
        self.observer.risk_event(kind, message)


def _request(intent: Intent) -> OrderRequest:
    """What is sent for ``intent``: as it stands now (an exit's latest journaled levels)."""
    quantity, limit, stop = intent.levels
    return OrderRequest(intent.order_ref, intent.symbol, quantity, intent.type, limit, stop)
