"""Daily bars from Interactive Brokers as a live runner's stream: from the gateway simulator
replayed at full speed (:func:`simulated_stream`), and from a TWS / IB Gateway session, each
session once it is final by the gateway's clock (:class:`GatewayClock`, :func:`gateway_stream`),
connecting and resubscribing with backoff (:func:`subscribe`). Used by :mod:`algotrade.live.paper`,
which re-exports these names.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from algotrade.core.errors import BrokerError, TransientBrokerError
from algotrade.core.sessions import Backoff, SessionSchedule

BAR_WAIT_S = 30.0
log = logging.getLogger("algotrade.paper")

#: runs each wait of a stream (for a bar, to reconnect): a stop signal may interrupt it there
Waiting = Callable[[], AbstractContextManager[Any]]


def _bar_dict(bar: Any) -> dict[str, float]:
    return {"open": float(bar.open), "high": float(bar.high), "low": float(bar.low), "close": float(bar.close),
            "volume": float(bar.volume)}


def _bar_date(bar: Any) -> dt.date:
    d = bar.date
    return d.date() if isinstance(d, dt.datetime) else d  # type: ignore[no-any-return]


def _subscribe(broker: Any, symbols: tuple[str, ...], history: str = "30 Y") -> dict[str, Any]:
    return {s: broker.daily_bars(s, keep_up_to_date=True, duration=history) for s in symbols}


def simulated_stream(broker: Any, sim: Any, symbols: tuple[str, ...],
                     waiting: Waiting = contextlib.nullcontext) -> Iterator[tuple[dt.date, Mapping[str, Any]]]:
    """Bars as the IB client receives them: the history up to the simulator's current session
    (so a restarted run can replay what its journal already processed), then, subscribed with
    keepUpToDate, each session the simulator closes, once every symbol's bar has arrived.

    A dropped connection (a network cut, a gateway restart) ends the client's subscriptions: the
    stream reconnects and subscribes again, and the new subscription's history brings the session
    it missed. The runner learns of the drop from the broker's DisconnectEvent and reconciles.
    Its waits (for the connection, for a bar) run inside ``waiting()``."""
    with waiting():
        broker.connect()
        lists = _subscribe(broker, symbols)
    history = {s: {_bar_date(b): b for b in lst} for s, lst in lists.items()}
    for date in sorted(set.intersection(*(set(h) for h in history.values()))):
        if date < sim.current_date:
            yield date, {s: _bar_dict(history[s][date]) for s in symbols}
    while True:
        date = sim.current_date
        deadline = time.monotonic() + BAR_WAIT_S
        with waiting():
            while not all(lst and _bar_date(lst[-1]) == date for lst in lists.values()):
                if time.monotonic() > deadline:
                    raise BrokerError(f"no bar for {date} arrived from IB within {BAR_WAIT_S:.0f} s")
                if not broker.is_connected():
                    try:
                        broker.connect()
                    except TransientBrokerError:
                        time.sleep(0.05)  # the gateway is not back yet
                        continue
                    lists = _subscribe(broker, symbols)
                    continue
                # run the client's loop briefly: the update may already be in the socket buffer
                # (waitOnUpdate would wait for the *next* update and sleep out its timeout)
                with contextlib.suppress(ConnectionError):  # a drop is handled on the next turn
                    broker.ib.sleep(0.001)
        yield date, {s: _bar_dict(lst[-1]) for s, lst in lists.items()}
        if not sim.sessions_left:
            return
        with contextlib.suppress(ConnectionError, TransientBrokerError):  # a drop is handled on the next turn
            broker.wait_acknowledged()  # the gateway has every order of this session before it closes the next
        sim.advance()


class GatewayClock:
    """The gateway's time, UTC: asked with ``reqCurrentTime`` when a new bar appears (or every
    ``refresh_s``) and carried forward with the monotonic clock in between and while disconnected.

    Against TWS this is the wall clock; against the simulator it is the replay's time, so the same
    code decides when a bar is final, due or stale in both."""

    def __init__(self, broker: Any, refresh_s: float = 5.0) -> None:
        self.broker, self.refresh_s = broker, refresh_s
        self._at: dt.datetime | None = None
        self._mono = 0.0

    def sync(self) -> None:
        with contextlib.suppress(TransientBrokerError, ConnectionError):
            self._at, self._mono = self.broker.server_time(), time.monotonic()

    def __call__(self) -> dt.datetime:
        if self._at is None or time.monotonic() - self._mono > self.refresh_s:
            self.sync()
        if self._at is None:
            return dt.datetime.now(dt.UTC)
        return self._at + dt.timedelta(seconds=time.monotonic() - self._mono)


class OutageTooLong(BrokerError):
    """IB stayed unreachable longer than ib.max_outage_minutes: the run gave up."""


def subscribe(broker: Any, symbols: tuple[str, ...], history: str, backoff: Backoff,
              max_outage_s: float | None = None, stale: Callable[[], bool] = lambda: False) -> dict[str, Any] | None:
    """Connect (retrying with exponential backoff while the gateway is unreachable) and subscribe
    to every symbol's daily bars, kept up to date; returns the live bar lists. Gives up with
    :class:`OutageTooLong` after ``max_outage_s`` seconds of retrying; returns None when
    ``stale`` says the data went stale meanwhile (the runner has halted)."""
    began = time.monotonic()
    while True:
        try:
            broker.connect()
            lists = _subscribe(broker, symbols, history)
        except (TransientBrokerError, ConnectionError, TimeoutError) as exc:
            waited = time.monotonic() - began
            if max_outage_s is not None and waited >= max_outage_s:
                raise OutageTooLong(f"IB at {broker.host}:{broker.port} unreachable for {waited / 60:.1f} min, longer "
                                    f"than ib.max_outage_minutes {max_outage_s / 60:g} ({exc}); the run is halted and "
                                    "its burn-in counts the outage; bring the gateway back, then run the same command "
                                    "to resume") from None
            if stale():
                return None
            delay = backoff.next_delay()
            if max_outage_s is not None:
                delay = min(delay, max(0.0, max_outage_s - waited))
            log.warning("IB not reachable (%s); reconnecting in %.1f s", exc, delay)
            with contextlib.suppress(Exception):
                broker.disconnect()
            time.sleep(delay)
            continue
        backoff.reset()
        return lists


def final_sessions(lists: Mapping[str, Any], after: dt.date | None, final: dt.date,
                   first: dt.date | None = None) -> list[tuple[dt.date, dict[str, dict[str, float]]]]:
    """The sessions after ``after`` (and from ``first``) up to ``final`` for which every symbol has
    its bar, oldest first."""
    by_symbol: dict[str, dict[dt.date, Any]] = {}
    for s, lst in lists.items():
        got: dict[dt.date, Any] = {}
        for bar in reversed(lst):
            d = _bar_date(bar)
            if after is not None and d <= after:
                break
            if d <= final and (first is None or d >= first):
                got[d] = bar
        by_symbol[s] = got
    common = sorted(set.intersection(*(set(g) for g in by_symbol.values()))) if by_symbol else []
    return [(d, {s: _bar_dict(by_symbol[s][d]) for s in lists}) for d in common]


def gateway_stream(broker: Any, symbols: tuple[str, ...], schedule: SessionSchedule, clock: GatewayClock,
                   lists: dict[str, Any], *, history: str, backoff: Backoff, first: dt.date | None = None,
                   after: dt.date | None = None,
                   stop: Callable[[], bool] = lambda: False, stale: Callable[[], bool] = lambda: False,
                   on_session: Callable[[dt.date], None] = lambda d: None,
                   on_outage: Callable[[str], None] = lambda message: None, max_outage_s: float | None = None,
                   holds_orders: Callable[[], bool] = lambda: False, send_held: Callable[[], None] = lambda: None,
                   poll_s: float = 1.0, slice_s: float = 0.002, on_link: Callable[[bool], None] = lambda up: None,
                   waiting: Waiting = contextlib.nullcontext) -> Iterator[tuple[dt.date, Mapping[str, Any]]]:
    """Daily bars from a TWS / IB Gateway session, each once it is final on the exchange's calendar
    (its close plus the settle time, by the gateway's clock): first the history (warm-up, or on a
    restart what the journal already processed and what was missed), then each session as it
    closes. A dropped connection or a gateway restart is retried with exponential backoff and the
    bars resubscribed (the new history brings any session missed meanwhile). Ends when ``stop``
    says so, or when ``stale`` does (no bar although one was due: the runner halts), also when
    a later session's bar arrives but one in between never did. Its waits (for a bar, to
    reconnect) run inside ``waiting()``. ``after``: the last session already processed (a resumed
    run replays its own bars up to it); only later sessions are yielded. Between sessions, once
    ``holds_orders`` says the broker takes orders held while it was unreachable again, the wait
    ends and ``send_held`` sends them (outside ``waiting()``: a stop signal never cuts a send).
    ``on_link`` is told at every turn of its waits whether IB's link looks up (connected, no 1100),
    so that watchers see a drop and a recovery between sessions."""
    last: dt.date | None = after
    tails = {s: _bar_date(lst[-1]) if lst else None for s, lst in lists.items()}
    def link() -> None:
        on_link(broker.is_connected() and not getattr(broker, "link_lost", False))

    while True:
        link()
        if holds_orders():
            send_held()
        if getattr(broker, "resubscribe", False) and broker.is_connected():  # IB 1101: market data lost
            with contextlib.suppress(ConnectionError, TransientBrokerError, TimeoutError):
                lists = _subscribe(broker, symbols, history)
                broker.resubscribe = False
        if not broker.is_connected():
            try:
                with waiting():
                    got = subscribe(broker, symbols, history, backoff, max_outage_s, stale)
            except OutageTooLong as exc:
                on_outage(str(exc))
                return
            if got is None:
                return  # stale while reconnecting: halted
            lists = got
            clock.sync()
        ready = final_sessions(lists, last, schedule.last_final(clock()), first)
        for date, bars in ready:
            if stop():
                return
            if last is not None and date != schedule.next_session(last) and stale():
                return  # a session in between never came and is overdue: halted, not skipped
            yield date, bars
            last = date
            with contextlib.suppress(ConnectionError, TransientBrokerError):
                broker.wait_acknowledged()  # the gateway has this session's orders before we go on
            on_session(date)
        if ready:
            continue
        if stop() or stale():
            return
        # run the client's loop in short slices until a new session's bar appears (then ask the
        # gateway's clock whether the one before is final) or ``poll_s`` passes (then check stop
        # and staleness). An update may already sit in the client's buffers from a request made
        # meanwhile, so waiting on the client's next update event could sleep it out.
        deadline = time.monotonic() + poll_s
        with waiting():
            while time.monotonic() < deadline and broker.is_connected():
                with contextlib.suppress(ConnectionError):  # a drop is handled on the next turn
                    broker.ib.sleep(slice_s)
                link()
                if stale():
                    return
                if holds_orders():
                    break
                now_tails = {s: _bar_date(lst[-1]) if lst else None for s, lst in lists.items()}
                if now_tails != tails:
                    tails = now_tails
                    clock.sync()
                    break
