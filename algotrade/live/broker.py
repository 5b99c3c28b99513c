"""The broker seam for live and paper trading, its public in-memory double, and the live runner.

* :class:`Broker` is the one small interface a live adapter implements (connect, account and
  positions, place with an ``orderRef`` and cancel, open/completed orders, executions, and a
  queue of events: fills, status changes, disconnects).
* :class:`InMemoryBroker` is a complete broker in memory. It fills pending orders when the
  next bar reaches it, by a rule you can script (the default is the backtest's: next close,
  with the experiment's costs and the fill-time cash rule). Tests and offline rehearsal use it.
* :class:`LiveRunner` drives a :class:`~algotrade.core.host.StrategyHost` from a stream of bars
  through a :class:`Broker`, with the :class:`~algotrade.live.journal.Journal` in between: every
  order is journaled before it is sent, every broker event is journaled before the host sees
  it, and on every (re)connect the runner reconciles the journal with the broker
  (:mod:`algotrade.live.reconcile`) before it sends anything.

Restarts: a new runner on the same journal replays the bars the journal marks as done (the
strategy is deterministic, so it makes the same decisions, numbered the same way; each is
matched to its journaled intent instead of being sent, and journaled fills reach the host
before the same bar as before), then reconciles with the broker and continues live. Replayed
bars never create orders.

This module is the one to import from: the seam is in :mod:`algotrade.live.broker_protocol`, the
in-memory broker in :mod:`algotrade.live.memory_broker`, the runner's default schedule and IB's
restart window in :mod:`algotrade.live.runner_schedule`, the runner's broker side (connect,
events, reconcile, send, halt, kill switch) in :mod:`algotrade.live.broker_side`; every name is
re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from typing import Any

import numpy as np

from algotrade.core.config import AnySizing, Experiment, StopsConfig
from algotrade.core.errors import BrokerError, DataError, TransientBrokerError
from algotrade.core.host import StrategyHost
from algotrade.core.risk import RiskCheck
from algotrade.core.strategy import FIELDS, Bars, Order, Strategy
from algotrade.live.broker_protocol import (
    Account,
    BarLike,
    BarStream,
    Broker,
    BrokerEvent,
    ConnectivityEvent,
    DisconnectEvent,
    FillEvent,
    OrderRequest,
    StatusEvent,
    _fields,
)
from algotrade.live.broker_side import KILL_SWITCH_HALT, BrokerSide, log
from algotrade.live.journal import Journal, JournalEvent
from algotrade.live.memory_broker import FillRule, InMemoryBroker, SimOrder, backtest_rule, bar_stream
from algotrade.live.observer import NULL_OBSERVER, Observer
from algotrade.live.reconcile import ReconcilePlan, UnsentPolicy
from algotrade.live.runner_schedule import default_bar_due, ib_restart_window, next_weekday


class _Port:
    """The BrokerPort the host sees: the account as of the bar's start, orders to the runner."""

    def __init__(self, runner: LiveRunner) -> None:
        self.runner = runner
        self.snapshot = (0.0, 0.0)

    def cash(self) -> float:
        return self.snapshot[0]

    def value(self) -> float:
        return self.snapshot[1]

    def submit(self, order: Order) -> None:
        self.runner._submit(order)

    def cancel(self, order: Order) -> None:
        self.runner._cancel(order)

    def modify(self, order: Order) -> None:
        self.runner._modify(order)


class LiveRunner(BrokerSide):
    """Drives a strategy from arriving bars through a :class:`Broker`, journaling every step.

    ``checkpoint`` is called with a step name at each point where a process could die (after a
    journal write, after a broker call); tests raise from it to simulate a kill.
    """

    def __init__(
        self,
        strategy: Strategy[Any],
        symbols: Sequence[str],
        broker: Broker,
        journal: Journal,
        run_id: str,
        sizing: AnySizing,
        risk_checks: tuple[RiskCheck, ...] = (),
        name: str = "",
        policy: UnsentPolicy = "send",
        clock: Callable[[], dt.datetime] | None = None,
        bar_due: Callable[[dt.date], dt.datetime] = default_bar_due,
        next_session: Callable[[dt.date], dt.date] = next_weekday,
        checkpoint: Callable[[str], None] | None = None,
        restart_window: Callable[[dt.datetime], bool] | None = None,
        stops: StopsConfig | None = None,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        if ":" in run_id:
            raise ValueError(f"run_id {run_id!r} must not contain ':' (it prefixes every orderRef)")
        self.broker = broker
        self.journal = journal
        self.run_id = run_id
        self.symbols = tuple(symbols)
        self.policy: UnsentPolicy = policy
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.bar_due = bar_due
        self.next_session = next_session
        self.checkpoint = checkpoint or (lambda step: None)
        self.observer = observer  # told of each step, order, fill, link change, risk event and halt
        self._bar_open: dt.date | None = None  # the bar in its step, until its first order goes out
        #: when it says so for the clock's time, orders are held (journaled) and sent by the
        #: reconcile of the first step outside the window (e.g. ib_restart_window)
        self.restart_window = restart_window
        self._held_for_window = False
        #: an order was journaled but not sent because the broker was unreachable (see send_held)
        self._holding = False
        empty = {s: {f: np.empty(0, dtype=np.float64) for f in FIELDS} for s in self.symbols}
        warm = journal.state(run_id, "live_from")
        #: bars before this index are history that only warms the strategy's indicators up
        self.live_from = int(warm) if warm is not None else 0
        self.host = StrategyHost(strategy, Bars((), empty), sizing, risk_checks, name=name, live_from=self.live_from,
                                 stops=stops)
        self.name = self.host.name
        self.port = _Port(self)
        self.connected = False
        self.halted: str | None = journal.halt(run_id)
        self.plans: list[ReconcilePlan] = []  # the reconciles at (re)connect and after a restored link
        self.checks: list[ReconcilePlan] = []  # the reconcile of every live session
        self._reconciled_at = -1
        self._was_connected = False
        self._done = {k: row for k, row in journal.bars(run_id).items()}
        self._pending: list[JournalEvent] = []  # journaled fills/closures the host has not seen
        self._last_event = 0
        self._owner: dict[str, tuple[str, int]] = {}  # orderRef -> (strategy, seq)
        self._replaying = False
        self._started = False

    @classmethod
    def from_experiment(cls, exp: Experiment, broker: Broker, journal: Journal, run_id: str | None = None,
                        **kwargs: Any) -> LiveRunner:
        """A runner for an :class:`~algotrade.core.config.Experiment` (run id: its config id)."""
        from algotrade.core import sizing
        from algotrade.core.registry import resolve_strategy
        from algotrade.core.risk import checks_from_config

        cls_ = resolve_strategy(exp.strategy.name)
        strategy = cls_(cls_.config_class.model_validate(exp.strategy.params))
        return cls(strategy, exp.data.symbols, broker, journal, run_id or exp.config_id, sizing.resolve(exp),
                   checks_from_config(exp.risk), name=exp.strategy.name, stops=sizing.run_stops(exp), **kwargs)

    # --- public ----------------------------------------------------------------------------------
    def run(self, stream: BarStream) -> StrategyHost:
        """Process every bar of a (finite) stream; returns the host with its records."""
        for date, bars in stream:
            self.step(date, bars)
        self.host.stop()
        return self.host

    async def run_async(self, stream: AsyncIterable[tuple[dt.date, Mapping[str, BarLike]]]) -> StrategyHost:
        """Process bars as they arrive; halt and return if one is late (stale data)."""
        it = aiter(stream)
        while True:
            task: asyncio.Future[tuple[dt.date, Mapping[str, BarLike]]] = asyncio.ensure_future(anext(it))
            done, _ = await asyncio.wait({task}, timeout=self._seconds_until_due())
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await task
                self.check_stale()
                break
            try:
                date, bars = task.result()
            except StopAsyncIteration:
                break
            self.step(date, bars)
        self.host.stop()
        return self.host

    def warm_up(self, sessions: int) -> int:
        """Declare the first ``sessions`` bars of a new run history (indicators only: no strategy
        call, no order). A run that already has a journal keeps what it declared first; returns
        the number in force."""
        if self.journal.state(self.run_id, "live_from") is None and not self._done:
            self.journal.set_state(self.run_id, "live_from", str(sessions))
            self.live_from = sessions
        self.host.live_from = self.live_from
        self.host.evaluation_start = self.live_from or None
        return self.live_from

    def check_stale(self, now: dt.datetime | None = None) -> bool:
        """Halt trading if the next bar is overdue; True when halted for it."""
        dates = self.host.bars.dates
        if not dates:
            return False
        now = now or self.clock()
        due = self.bar_due(dates[-1])
        if now > due:
            self._halt(f"stale data: no bar after {dates[-1]} although one was due by {due.isoformat()}", kind="stale")
            return True
        return False

    def resume(self) -> None:
        """Lift a halt (an operator's decision, after fixing its cause); when connected, reconcile
        again at once (which halts again if the cause is still there)."""
        self.halted = None
        self.journal.set_halt(self.run_id, None)
        self.observer.halt_changed(None)
        if self.connected:
            self.reconcile()

    def give_up(self, message: str) -> None:
        """The broker stayed unreachable too long: halt, and count the outage."""
        self.journal.bump(self.run_id, "outages")
        self._halt(f"outage: {message}", kind="outage")

    def step(self, date: dt.date, bars: Mapping[str, BarLike]) -> None:
        """One bar has closed: fills first, then the strategy, then its orders."""
        host = self.host
        k = len(host.bars)
        self.observer.bar_arrived(date, self.clock())
        self._append(date, bars)
        row = self._done.get(k)
        if row is not None and row.date != date.isoformat():
            raise DataError(
                f"bar {k} is {date} but the journal processed {row.date} as bar {k}; replay the "
                "run from its first bar, or start a new run id"
            )
        self._replaying = row is not None and row.done
        if row is None:  # kept so that a resumed run replays its own bars, whatever its age
            self.journal.record_bar_data(self.run_id, k, {s: _fields(bars[s]) for s in self.symbols})
        if not self._started:
            host.start(self.port)
            self._started = True
            self._refresh_schedules()
        if k < self.live_from:  # history: indicators warm up; nothing is traded
            if row is None:
                self.journal.record_bar_start(self.run_id, k, date, 0.0, 0.0)
                self.journal.record_bar_done(self.run_id, k)
            host.on_bar(k)
            self._bar_done(date, bars, live=False)
            return
        if not self._replaying:
            outside = self.journal.halt(self.run_id)  # `algotrade kill` from another process
            killed = outside is not None and outside.startswith(f"{KILL_SWITCH_HALT} at ")
            if killed and outside != self.halted:
                self.halted = outside
                self.observer.halt_changed(outside)
            self._catch_up(k)
            if killed and self.connected:
                self.cancel_open_orders()  # `algotrade kill` could not: IB hid this client's orders from it
            if self._held_for_window and self.connected and not self._in_restart_window():
                self._held_for_window = False
                self.reconcile(k)  # sends the orders held during the window, once
            if self.connected and self._reconciled_at != k:
                self.reconcile(k, session=True)  # every session: a broker that lost its state halts
        self._apply_journal(k)
        if row is None:
            account = self._account()
            self.journal.record_bar_start(self.run_id, k, date, account[0], account[1])
            self.port.snapshot = account
        else:
            self.port.snapshot = (row.cash, row.value)
        self._bar_open = None if self._replaying else date
        host.on_bar(k)
        self.checkpoint("bar")
        if not self._replaying:
            self.journal.record_bar_done(self.run_id, k)
        self._replaying = False
        self._bar_done(date, bars, live=True)

    def _bar_done(self, date: dt.date, bars: Mapping[str, BarLike], live: bool) -> None:
        self._bar_open = None
        h = self.host
        self.observer.bar_done(date, bars, h.equity[-1][2], h.equity[-1][1], h.positions, live)

    def _append(self, date: dt.date, bars: Mapping[str, BarLike]) -> None:
        host = self.host
        if host.bars.dates and date <= host.bars.dates[-1]:
            raise DataError(f"bar {date} does not follow {host.bars.dates[-1]}; bars must arrive in order")
        missing = [s for s in self.symbols if s not in bars]
        if missing:
            raise DataError(f"bar {date} has no data for {', '.join(missing)}; every symbol needs a bar")
        host.append_bar(date, {s: _fields(bars[s]) for s in self.symbols}, self.next_session(date))

    def _refresh_schedules(self) -> None:
        dates = self.host.bars.dates
        if dates:
            self.host.refresh_schedules(self.next_session(dates[-1]))

    def _account(self) -> tuple[float, float]:
        if self.connected:
            try:
                acct = self.broker.account()
                return acct.cash, acct.value
            except TransientBrokerError as exc:
                self._lost(str(exc))
        # disconnected: size against the last account the journal recorded
        rows = self.journal.bars(self.run_id)
        if rows:
            last = rows[max(rows)]
            return last.cash, last.value
        raise TransientBrokerError("no account values yet: the broker was never reachable")

    def _apply_journal(self, k: int) -> None:
        """Hand the host the journaled fills and closures it has not seen (up to bar ``k``)."""
        host = self.host
        new = self.journal.timeline(self.run_id, after=self._last_event)
        if new:
            self._last_event = new[-1].id
            self._pending.extend(new)
        keep = []
        for ev in self._pending:
            owner = self._owner.get(ev.order_ref)
            if owner is None:
                intent = self.journal.intent(ev.order_ref)
                owner = self._owner[ev.order_ref] = ("", 0) if intent is None else (intent.strategy, intent.seq)
            if owner[0] != self.name:
                continue  # not the strategy's order (the kill switch's)
            if (ev.host_bar is not None and ev.host_bar > k) or owner[1] not in host.by_id:
                keep.append(ev)  # later, or its order is re-created later in the replay
            elif ev.fill is not None:
                f = ev.fill
                host.on_fill(owner[1], dt.date.fromisoformat(f.date), f.quantity, f.price, f.commission)
            else:
                host.on_order_closed(owner[1], ev.status or "cancelled", ev.reason)
        self._pending = keep

    # --- the host's orders -----------------------------------------------------------------------
    def _submit(self, order: Order) -> None:
        host = self.host
        existing = self.journal.intent(self._ref(order))
        if existing is not None:
            theirs = (existing.symbol, existing.quantity, existing.type, existing.limit, existing.stop)
            ours = (order.symbol, order.quantity, order.type, order.limit, order.stop)
            if theirs != ours:
                raise BrokerError(
                    f"order {existing.order_ref} is journaled as {theirs} but the strategy now makes "
                    f"{ours}: the strategy or its parameters changed since this run started; start a "
                    "new run id"
                )
            return  # journaled before: sent, attached, held or dropped by reconcile, never re-sent here
        if self._replaying:
            host.on_order_closed(order.id, "blocked", "not in the journal: replayed bars never create orders")
            return
        if self.halted:
            host.on_order_closed(order.id, "blocked", f"trading halted: {self.halted}")
            return
        intent = self.journal.record_intent(self.run_id, self.name, order.id, order.symbol, order.quantity,
                                            order.type, order.limit, order.stop, order.created)
        self.checkpoint("intent")
        if self.connected and self._in_restart_window():
            self._held_for_window = True
            log.warning("%s: %s held: inside the broker's daily restart window", self.run_id, intent.order_ref)
        elif self.connected:
            self._send(intent)
        else:
            self._holding = True  # sent by the first reconcile once the broker takes orders again
            log.warning("%s: %s held while disconnected", self.run_id, intent.order_ref)

    def _seconds_until_due(self) -> float | None:
        dates = self.host.bars.dates
        if not dates:
            return None
        return max(0.0, (self.bar_due(dates[-1]) - self.clock()).total_seconds())


__all__ = [
    "Account", "BarStream", "Broker", "BrokerEvent", "ConnectivityEvent", "DisconnectEvent", "FillEvent",
    "FillRule", "KILL_SWITCH_HALT", "InMemoryBroker", "LiveRunner", "OrderRequest", "SimOrder", "StatusEvent",
    "backtest_rule", "bar_stream", "default_bar_due", "ib_restart_window", "next_weekday",
]
