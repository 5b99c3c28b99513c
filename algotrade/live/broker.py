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
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from algotrade.core.config import BrokerConfig, Experiment, FixedSharesSizing, TargetPercentSizing
from algotrade.core.costs import commission, slippage_fraction, slipped
from algotrade.core.errors import BrokerError, DataError, TransientBrokerError
from algotrade.core.host import StrategyHost
from algotrade.core.risk import RiskCheck
from algotrade.core.strategy import FIELDS, Bar, Bars, Order, Strategy
from algotrade.live.journal import FillConflict, Intent, Journal, JournalEvent, order_ref
from algotrade.live.reconcile import (
    BrokerOrder,
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

BarLike = Bar | Mapping[str, float]
BarStream = Iterable[tuple[dt.date, Mapping[str, BarLike]]]

# ------------------------------------------------------------------------------------------------
# the seam


@dataclass(frozen=True)
class OrderRequest:
    """What is sent to a broker: an order under its deterministic ``orderRef``."""

    order_ref: str
    symbol: str
    quantity: int  # signed: + buy, - sell
    type: str = "market"
    limit: float | None = None
    stop: float | None = None


@dataclass(frozen=True)
class Account:
    account_id: str
    cash: float
    value: float


@dataclass(frozen=True)
class FillEvent:
    execution: Execution


@dataclass(frozen=True)
class StatusEvent:
    order_ref: str
    broker_id: str
    status: str  # submitted | cancelled | rejected | expired | filled
    reason: str = ""


@dataclass(frozen=True)
class DisconnectEvent:
    reason: str = ""


@dataclass(frozen=True)
class ConnectivityEvent:
    """IB's connectivity codes, the socket still up: 1100 the gateway lost IB's servers (orders
    are held), 1101 restored with market data lost (resubscribe, reconcile), 1102 restored with
    data kept (reconcile)."""

    code: int
    message: str = ""


BrokerEvent = FillEvent | StatusEvent | DisconnectEvent | ConnectivityEvent


class Broker(Protocol):
    """What a live runner needs from a broker. ``place`` and ``connect`` raise
    :class:`~algotrade.core.errors.TransientBrokerError` when the connection is down."""

    def connect(self) -> None: ...

    def disconnect(self) -> None: ...

    def is_connected(self) -> bool: ...

    def account(self) -> Account: ...

    def positions(self) -> dict[str, int]: ...

    def place(self, request: OrderRequest) -> str:
        """Send an order; returns the broker's order id."""
        ...

    def cancel(self, broker_id: str) -> None: ...

    def open_orders(self) -> list[BrokerOrder]: ...

    def completed_orders(self) -> list[BrokerOrder]: ...

    def executions(self, since: str | None = None) -> list[Execution]:
        """Executions of this session, after the one with exec id ``since`` when given."""
        ...

    def poll_events(self) -> list[BrokerEvent]:
        """Events since the last poll, oldest first (fills, status changes, disconnects)."""
        ...


# ------------------------------------------------------------------------------------------------
# the in-memory double

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


def _fields(bar: BarLike) -> dict[str, float]:
    if isinstance(bar, Bar):
        return {f: float(getattr(bar, f)) for f in FIELDS}
    return {f: float(bar[f]) for f in FIELDS}


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
    rejected). Events reach the client only while it is connected; a new connection starts with
    an empty event queue, as a real one does, so a restarted client must reconcile.
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
        self.orders: list[SimOrder] = []
        self.execs: list[Execution] = []
        self.last_date: dt.date | None = None
        self.connected = False
        self.fail_connects = 0  # script: the next N connect() calls fail
        self.connects = 0
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
        for order in [o for o in self.orders if o.status == "open"]:
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
            self.cash = after
            self.holdings[r.symbol] = self.holdings.get(r.symbol, 0) + qty
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
        self.last_date = date

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


# ------------------------------------------------------------------------------------------------
# the live runner


def next_weekday(date: dt.date) -> dt.date:
    nxt = date + dt.timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += dt.timedelta(days=1)
    return nxt


def default_bar_due(date: dt.date) -> dt.datetime:
    """When the bar after ``date`` must have arrived: 06:00 UTC the day after the next weekday
    (a daily US-equity bar closes at about 21:00 UTC)."""
    nxt = next_weekday(date) + dt.timedelta(days=1)
    return dt.datetime.combine(nxt, dt.time(6, 0), tzinfo=dt.UTC)


def ib_restart_window(now: dt.datetime, start: dt.time = dt.time(23, 45), end: dt.time = dt.time(0, 45)) -> bool:
    """True inside IB's daily server restart (by default 23:45-00:45 New York time), when TWS and
    the Gateway disconnect and reconnect: no order is sent then."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo("America/New_York")).time() if now.tzinfo else now.time()
    return local >= start or local < end if start > end else start <= local < end


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


class LiveRunner:
    """Drives a strategy from arriving bars through a :class:`Broker`, journaling every step.

    ``checkpoint`` is called with a step name at each point where a process could die (after a
    journal write, after a broker call); tests raise from it to simulate a kill.
    """

    KILL = "kill"

    def __init__(
        self,
        strategy: Strategy[Any],
        symbols: Sequence[str],
        broker: Broker,
        journal: Journal,
        run_id: str,
        sizing: TargetPercentSizing | FixedSharesSizing,
        risk_checks: tuple[RiskCheck, ...] = (),
        name: str = "",
        policy: UnsentPolicy = "send",
        clock: Callable[[], dt.datetime] | None = None,
        bar_due: Callable[[dt.date], dt.datetime] = default_bar_due,
        next_session: Callable[[dt.date], dt.date] = next_weekday,
        checkpoint: Callable[[str], None] | None = None,
        restart_window: Callable[[dt.datetime], bool] | None = None,
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
        self.host = StrategyHost(strategy, Bars((), empty), sizing, risk_checks, name=name, live_from=self.live_from)
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
        from algotrade.core.registry import resolve_strategy
        from algotrade.core.risk import checks_from_config

        cls_ = resolve_strategy(exp.strategy.name)
        strategy = cls_(cls_.config_class.model_validate(exp.strategy.params))
        return cls(strategy, exp.data.symbols, broker, journal, run_id or exp.config_id, exp.sizing,
                   checks_from_config(exp.risk), name=exp.strategy.name, **kwargs)

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
        if self.connected:
            self.reconcile()

    def give_up(self, message: str) -> None:
        """The broker stayed unreachable too long: halt, and count the outage."""
        self.journal.bump(self.run_id, "outages")
        self._halt(f"outage: {message}", kind="outage")

    def kill_switch(self, reason: str = "operator") -> list[str]:
        """Halt, cancel every open order of this run (and any open order on its symbols), and
        flatten this run's symbols with market orders. Returns the flattening orderRefs."""
        at = self.clock().astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        self._halt(f"{KILL_SWITCH_HALT} at {at}: {reason}", kind="kill_switch")
        if not self.connected:
            self.broker.connect()
            self.connected = True
        for bo in self.broker.open_orders():
            if bo.order_ref.startswith(f"{self.run_id}:") or bo.symbol in self.symbols:
                if self.journal.intent(bo.order_ref) is not None:
                    self.journal.record_cancel_request(bo.order_ref)
                self.broker.cancel(bo.broker_id)
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

    # --- one bar -----------------------------------------------------------------------------
    def step(self, date: dt.date, bars: Mapping[str, BarLike]) -> None:
        """One bar has closed: fills first, then the strategy, then its orders."""
        host = self.host
        k = len(host.bars)
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
            return
        if not self._replaying:
            outside = self.journal.halt(self.run_id)  # `algotrade kill` from another process
            if outside is not None and outside.startswith(f"{KILL_SWITCH_HALT} at ") and outside != self.halted:
                self.halted = outside
            self._catch_up(k)
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
        host.on_bar(k)
        self.checkpoint("bar")
        if not self._replaying:
            self.journal.record_bar_done(self.run_id, k)
        self._replaying = False

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

    # --- broker side ---------------------------------------------------------------------------
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
        for ref in plan.drop:
            j.record_status(ref, "dropped", "never reached the broker; dropped at reconcile", k)
        for bid in plan.cancel:
            b.cancel(bid)
        (self.checks if session else self.plans).append(plan)
        if plan.mismatches:
            reason = "reconcile found mismatches: " + "; ".join(m.message for m in plan.mismatches)
            if reason != self.halted:
                log.error("%s", plan.summary())
                for m in plan.mismatches:
                    j.record_risk_event(self.run_id, f"mismatch:{m.kind}", m.message, m.subject)
            self._halt(reason, kind=None)
        elif not self.halted and plan.send and self._in_restart_window():
            self._held_for_window = True  # sent by the first reconcile outside the window
        elif not self.halted:
            for ref in plan.send:
                intent = j.intent(ref)
                if intent is not None:
                    self._send(intent)
        return plan

    def _in_restart_window(self) -> bool:
        return bool(self.restart_window and self.restart_window(self.clock()))

    def _send(self, intent: Intent) -> None:
        request = OrderRequest(intent.order_ref, intent.symbol, intent.quantity, intent.type, intent.limit, intent.stop)
        try:
            broker_id = self.broker.place(request)
        except TransientBrokerError as exc:
            self._lost(str(exc))  # the next reconcile finds out whether it arrived
            self._holding = True
            return
        self.checkpoint("placed")
        self.journal.record_submitted(intent.order_ref, broker_id)
        self.checkpoint("submitted")

    def _lost(self, reason: str) -> None:
        if self.connected:
            log.warning("%s: disconnected (%s); no order is sent until reconnected and reconciled",
                        self.run_id, reason)
            self.journal.bump(self.run_id, "disconnects")
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
                    j.record_risk_event(self.run_id, "connectivity", f"IB {ev.code}: {ev.message}; orders held")
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
                    self.checkpoint("closed")

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
    def _ref(self, order: Order) -> str:
        return order_ref(self.run_id, self.name, order.id)

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

    def _record_fill(self, ex: Execution, k: int) -> bool:
        """Journal one execution; one that cannot be matched to the journal (an orderRef it never
        wrote, or figures that contradict the fill recorded under the same key) is never dropped
        quietly: it is recorded as a risk event and trading halts."""
        try:
            return self.journal.record_fill(ex.exec_id, ex.order_ref, ex.symbol, ex.quantity, ex.price,
                                            ex.commission, ex.date, k)
        except FillConflict as exc:
            self._halt(f"unmatched fill: {exc}; reconcile with `algotrade reconcile` before trading",
                       kind="unmatched_fill", subject=ex.order_ref)
            return False

    def _halt(self, reason: str, kind: str | None = "halt", subject: str = "") -> None:
        """Halt new orders; a new reason is recorded as a risk event of ``kind`` (None: the
        caller recorded its own)."""
        if self.halted != reason:
            log.error("%s: trading halted: %s", self.run_id, reason)
            if kind is not None:
                self.journal.record_risk_event(self.run_id, kind, reason, subject)
        self.halted = reason
        self.journal.set_halt(self.run_id, reason)

    def _seconds_until_due(self) -> float | None:
        dates = self.host.bars.dates
        if not dates:
            return None
        return max(0.0, (self.bar_due(dates[-1]) - self.clock()).total_seconds())


__all__ = [
    "Account",
    "BarStream",
    "Broker",
    "BrokerEvent",
    "ConnectivityEvent",
    "DisconnectEvent",
    "FillEvent",
    "FillRule",
    "KILL_SWITCH_HALT",
    "InMemoryBroker",
    "LiveRunner",
    "OrderRequest",
    "SimOrder",
    "StatusEvent",
    "backtest_rule",
    "bar_stream",
    "default_bar_due",
    "next_weekday",
]
