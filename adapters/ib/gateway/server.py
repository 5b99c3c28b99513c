"""GatewaySimulator: a localhost TWS API server that replays an experiment's market.

The unmodified ib_async (server version 178) and ib_insync (176) clients connect to it as to
an IB Gateway: handshake, startup sync, contract details, daily history with keepUpToDate
streaming, real-time bars, minimal market data, orders with fills, commissions, positions,
portfolio, account values, account summary, PnL and executions.

The replay clock: ``position`` is the index of the current (last completed) session.
:meth:`GatewaySimulator.advance` replays the next session: it fills the working orders at that
bar by the experiment's fill model (:mod:`adapters.ib.gateway.account`), then publishes the bar to
subscribers. :meth:`GatewaySimulator.play` advances by itself (sessions per second, or
``"max"``). Scripted scenarios for tests: :meth:`~GatewaySimulator.disconnect_all`,
:meth:`~GatewaySimulator.restart` (connections dropped, state and order ids kept),
:meth:`~GatewaySimulator.inject_error` (e.g. 1100/1101/1102),
:meth:`~GatewaySimulator.reject_next_order`, :meth:`~GatewaySimulator.partial_fill_next_order`.

The simulator runs on one asyncio loop. Its control methods may be called from any thread:
when the loop runs in another thread (:func:`run_in_thread`), they are executed on it and
return once done, so every message they cause has been written to the sockets.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import errno
import logging
import os
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from adapters.ib.gateway import wire
from adapters.ib.gateway.account import (
    BarRow,
    Execution,
    Fill,
    OrderRejected,
    Rejection,
    SimAccount,
    SimOrder,
    ib_time,
)
from adapters.ib.gateway.state import StateStore
from adapters.ib.gateway.wire import In
from algotrade.core.config import BrokerConfig
from algotrade.core.errors import ConfigError
from algotrade.core.symbols import SymbolMap, map_symbols

if TYPE_CHECKING:
    from algotrade.core.config import Experiment
    from algotrade.core.data import Market

log = logging.getLogger("algotrade.gateway")

T = TypeVar("T")
NEW_YORK = ZoneInfo("America/New_York")
OPEN_TIME = dt.time(9, 30)
CLOSE_TIME = dt.time(16, 0)
FINAL_TIME = dt.time(16, 15)  # the simulated clock stands here once a session is replayed: its bar is final

CONNECTIVITY_MESSAGES = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2103: "Market data farm connection is broken:usfarm",
    2104: "Market data farm connection is OK:usfarm",
    2105: "HMDS data farm connection is broken:ushmds",
    2106: "HMDS data farm connection is OK:ushmds",
    2158: "Sec-def data farm connection is OK:secdefnj",
}
NO_SECURITY = "No security definition has been found for the request"
LOST = "connectivity between IB and Trader Workstation has been lost"
#: the faults the simulator injects (control command and --faults schedule)
FAULTS = ("1100", "1101", "1102", "drop", "restart")
DEFAULT_RESTART_WINDOW_S = 3.0


class AddressUnavailable(ConfigError):
    """The simulator cannot listen where it was asked to (the port is taken, the host unknown)."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        reason = os.strerror(error.errno) if error.errno and error.errno > 0 else (error.strerror or str(error))
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            fix = f"--port {port}: cannot listen on {host}:{port} ({reason}); stop what listens there or pick "
            fix += "another port (--port 0 picks any free one)"
        else:
            fix = f"--host {host}: cannot listen on {host}:{port} ({reason}); give a local address such as "
            fix += "127.0.0.1, or 0.0.0.0 for every interface"
        super().__init__(fix)


@dataclass(eq=False)
class _Session:
    """One client connection and its subscriptions."""

    writer: asyncio.StreamWriter
    server_version: int
    client_id: int | None = None
    positions: bool = False
    account_updates: str | None = None
    account_multi: set[int] = field(default_factory=set)
    account_summary: dict[int, frozenset[str]] = field(default_factory=dict)
    pnl: set[int] = field(default_factory=set)
    pnl_single: dict[int, str] = field(default_factory=dict)
    history: dict[int, str] = field(default_factory=dict)
    realtime: dict[int, str] = field(default_factory=dict)
    tickers: dict[int, str] = field(default_factory=dict)
    market_data_type: int = 1
    closed: bool = False
    #: while the simulator persists a change, what it causes waits here (see ``_durable``)
    held: list[bytes] | None = None

    def send(self, fields: list[Any]) -> None:
        if self.held is not None:
            self.held.append(wire.frame(fields))
        elif not self.closed and not self.writer.is_closing():
            self.writer.write(wire.frame(fields))

    def release(self) -> None:
        held, self.held = self.held, None
        if held and not self.closed and not self.writer.is_closing():
            self.writer.write(b"".join(held))

    def unsubscribe_market_data(self) -> None:
        self.history.clear()
        self.realtime.clear()
        self.tickers.clear()

    def drop(self) -> None:
        self.closed = True
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()


class GatewaySimulator:
    """Serve a Market over the TWS API, replaying it session by session."""

    def __init__(
        self,
        market: Market,
        broker: BrokerConfig | None = None,
        *,
        account: str = "DU0000001",
        start: int | str | dt.date | None = None,
        speed: float | str | None = None,
        max_version: int = wire.MAX_SERVER_VERSION,
        primary_exchange: str = "NYSE",
        farm_messages: bool = True,
        state: str | os.PathLike[str] | StateStore | None = None,
        fresh: bool = False,
        handshake_timeout: float = 10.0,
        idle_timeout: float = 0.0,
    ) -> None:
        if not market.frames:
            raise ValueError("the market has no symbols; load at least one")
        if not wire.MIN_SERVER_VERSION <= max_version <= wire.MAX_SERVER_VERSION:
            raise ValueError(
                f"max_version {max_version} is outside {wire.MIN_SERVER_VERSION}..{wire.MAX_SERVER_VERSION}"
            )
        self.market = market
        self.account_id = account
        self.account = SimAccount(account, broker or BrokerConfig.model_validate({}))
        self.max_version = max_version
        self.farm_messages = farm_messages
        self.dates = pd.DatetimeIndex(market.dates)
        from adapters.ib.mapping import SYMBOLS as IB_SYMBOLS

        #: the data's symbols and IB's spelling of each, under which the simulator lists, trades and
        #: reports them (``BRK.B`` -> ``BRK B``), as IB does; two with one IB spelling are refused
        self.symbols: SymbolMap = map_symbols(market.frames, IB_SYMBOLS)
        self._rows = {
            self.symbols.engine(sym): {c: np.asarray(frame[c].reindex(self.dates), dtype=np.float64)
                                       for c in ("open", "high", "low", "close", "volume")}
            for sym, frame in market.frames.items()
        }
        self.details: dict[str, wire.ContractDetailsInfo] = {}
        for i, sym in enumerate(sorted(self._rows)):
            c = wire.WireContract(
                con_id=1001 + i, symbol=sym, exchange="SMART", primary_exchange=primary_exchange,
                local_symbol=sym, trading_class=sym,
            )
            self.details[sym] = wire.ContractDetailsInfo(c, market_name=sym, long_name=sym)
        self._by_con_id = {d.contract.con_id: sym for sym, d in self.details.items()}
        self.position = self._start_index(start)
        for sym in self._rows:
            close = self._rows[sym]["close"][self.position]
            if np.isfinite(close):
                self.account.marks[sym] = float(close)
        self.account.day_start_value = self.account.net_liquidation()
        self.speed = speed
        self.next_order_id = 1
        # permIds never repeat across starts, as IB's: a fresh broker counts from the start time in
        # milliseconds, a persisted one from where it stopped (whichever is higher)
        self._next_perm_id = int(time.time() * 1000)
        #: a connection that has not completed the API handshake (greeting, version, startApi)
        #: within this many seconds is closed; a connected client silent for ``idle_timeout`` s
        #: (0: never) too
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        #: connectivity between "IB" and this gateway is lost (after an injected 1100)
        self.lost = False
        #: the API port is closed for a daily restart
        self.down = False
        self._held_events: list[Fill | Rejection] = []
        self._held_bars: list[int] = []
        self._held_cancels: list[int] = []
        #: faults to inject once a session is replayed, by its date (``--faults``)
        self.scheduled: dict[dt.date, list[tuple[str, float | None]]] = {}
        self.faults_injected: list[str] = []
        self._prefixes: tuple[str, ...] = ()
        self._durable_depth = 0
        self._tasks: set[asyncio.Task[None]] = set()
        #: a restart was asked for and has not finished
        self.restarting = False
        #: called on the simulator's loop with each injected fault's name
        self.on_fault: Callable[[str], None] | None = None
        #: called on the simulator's loop when a restart is over (the port accepts again)
        self.on_restarted: Callable[[], None] | None = None
        self._stopping = False
        self.state: StateStore | None = None
        self.resumed = False
        if state is not None:
            self.state = state if isinstance(state, StateStore) else StateStore(state, fresh=fresh)
            self._restore()
        self._prefixes = (*self._prefixes, self.account.exec_prefix)
        self._sessions: list[_Session] = []
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}  # every open socket, greeted or not
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._player: asyncio.Task[None] | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self.restarts = 0
        #: set when the replay reaches the last session
        self.finished = threading.Event()
        #: called on the simulator's loop after each replayed session (its bar is published)
        self.on_session: Callable[[], None] | None = None
        self._handlers: dict[int, Callable[[_Session, list[str]], None]] = {
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

    @classmethod
    def from_experiment(cls, experiment: Experiment, **kwargs: Any) -> GatewaySimulator:
        """Serve an experiment's data with its broker settings (fill model, costs, cash)."""
        from algotrade.core.data import load_market

        return cls(load_market(experiment.data), experiment.broker, **kwargs)

    # ================================================================================ clock

    def _start_index(self, start: int | str | dt.date | None) -> int:
        n = len(self.dates)
        if start is None:
            return 0
        if isinstance(start, int):
            if not -n <= start < n:
                raise ValueError(f"start {start} is outside the market's {n} sessions")
            return start % n
        ts = pd.Timestamp(start)
        i = int(self.dates.searchsorted(ts, side="right")) - 1
        if i < 0:
            raise ValueError(f"start {start} is before the first session {self.dates[0].date()}")
        return i

    @property
    def current_date(self) -> dt.date:
        return self.dates[self.position].date()

    @property
    def sessions_left(self) -> int:
        return len(self.dates) - 1 - self.position

    def now(self) -> dt.datetime:
        """Simulated time: a quarter of an hour after the close of the current session (its daily
        bar is final), New York time. ``reqCurrentTime`` answers with it."""
        return dt.datetime.combine(self.current_date, FINAL_TIME, NEW_YORK)

    def bar(self, symbol: str, index: int | None = None) -> BarRow | None:
        """A session's bar of ``symbol`` (IB's spelling, or the data's)."""
        rows = self._rows[self.symbols.to_engine.get(symbol, symbol)]
        i = self.position if index is None else index
        values = [float(rows[c][i]) for c in ("open", "high", "low", "close", "volume")]
        if not all(np.isfinite(values)):
            return None
        return BarRow(*values)

    # ================================================================================ control API

    def advance(self, sessions: int = 1) -> int:
        """Replay the next ``sessions`` sessions; returns how many were replayed."""
        return self._call(self._advance_many, sessions)

    def play(self, speed: float | str = "max") -> None:
        """Advance by itself: ``speed`` sessions per second, or ``"max"``."""
        self._call(self._play_now, speed)

    def pause(self) -> None:
        self._call(self._pause_now)

    def disconnect_all(self) -> None:
        """Drop every client connection (the server keeps listening)."""
        self._call(self._drop_all)

    def restart(self) -> None:
        """A gateway restart: connections dropped, listening socket reopened on the same port;
        account, orders, executions and order ids are kept."""
        loop = self._loop
        if loop is None:
            return
        if _on_loop(loop):
            raise RuntimeError("restart() from the simulator's own loop: use `await restart_async()`")
        asyncio.run_coroutine_threadsafe(self.restart_async(), loop).result(timeout=10)

    def inject_error(self, code: int, message: str | None = None, req_id: int = -1) -> None:
        """Send error(req_id, code, message) to every connected client (e.g. 1100, 1101, 1102)."""
        text = message if message is not None else CONNECTIVITY_MESSAGES.get(code, f"simulated error {code}")
        self._call(self._broadcast_error, req_id, code, text)

    def fault(self, kind: str, window: float | None = None) -> None:
        """Inject one of :data:`FAULTS`: ``1100`` (connectivity lost: market data stops, orders are
        refused, fills are reported once it is restored), ``1101`` (restored, data lost: every market
        data subscription is dropped and must be made again), ``1102`` (restored, data maintained:
        the bars missed meanwhile are delivered), ``drop`` (every client socket is cut) or
        ``restart`` (IB's daily restart: clients dropped, connections refused for ``window``
        seconds, then it serves again with its persisted state)."""
        if kind == "restart":
            loop = self._loop
            if loop is not None and loop.is_running() and not _on_loop(loop):
                if self.restarting:
                    raise ValueError("a restart is under way; wait until the status says `port open`")
                self.faults_injected.append(kind)
                self.restarting = True
                wait = DEFAULT_RESTART_WINDOW_S if window is None else window
                asyncio.run_coroutine_threadsafe(self.restart_async(wait), loop).result(timeout=wait + 30)
                return
        self._call(self._fault_now, kind, window)

    def schedule_fault(self, day: dt.date, kind: str, window: float | None = None) -> None:
        """Inject ``kind`` right after the session of ``day`` is replayed."""
        if kind not in FAULTS:
            raise ValueError(f"fault {kind!r} is not one of {', '.join(FAULTS)}")
        self.scheduled.setdefault(day, []).append((kind, window))

    def reject_next_order(self, reason: str = "scripted rejection") -> None:
        self._call(self.account.reject_next_order, reason)

    def partial_fill_next_order(self, fraction: float = 0.5) -> None:
        """The next order fills ``fraction`` of its quantity (floored, at least 1) on its first
        fill bar and the rest on the following one."""
        self._call(self.account.partial_fill_next_order, fraction)

    @property
    def connected_clients(self) -> list[int]:
        return sorted(s.client_id for s in self._sessions if s.client_id is not None and not s.closed)

    # ================================================================================ server

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on host:port (0 picks a free port); returns the bound address."""
        self._loop = asyncio.get_running_loop()
        try:
            self._server = await asyncio.start_server(self._handle, host, port)
        except OSError as exc:
            raise AddressUnavailable(host, port, exc) from None
        sock = self._server.sockets[0]
        self.host, self.port = sock.getsockname()[:2]
        log.info("gateway simulator listening on %s:%d", self.host, self.port)
        if self.speed is not None:
            self._play_now(self.speed)
        return self.host, self.port

    async def stop(self) -> None:
        """Stop listening and close every client connection (their handlers end before it returns)."""
        self._stopping = True
        self._pause_now()
        for task in list(self._tasks):
            task.cancel()
        await self._close_connections()
        self._server = None
        self._save()

    async def restart_async(self, window: float | None = None) -> None:
        """IB's daily restart: every client dropped, the port refuses connections for ``window``
        seconds (0 or None: reopened at once), then it serves again with the state it kept (and
        persisted, with a state file); a replay that was playing goes on."""
        playing = self.speed if self._player is not None else None
        self._pause_now()
        self.down = self.restarting = True
        try:
            await self._close_connections()
            self._save()
            if window:
                await asyncio.sleep(window)
            if self._stopping:
                return
            # connectivity comes back with the restart; what was held is in the state clients query
            self.lost = False
            self._held_events.clear()
            self._held_bars.clear()
            self._held_cancels.clear()  # never reached "IB": the orders are still working
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        finally:
            self.down = self.restarting = False
        self.restarts += 1
        log.info("gateway simulator restarted on %s:%d", self.host, self.port)
        if self.on_restarted is not None:
            self.on_restarted()
        if playing is not None:
            self._play_now(playing)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running() or _on_loop(loop):
            return fn(*args)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    async def _close_connections(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in self._connections.values():
            writer.transport.abort()
        self._drop_all()
        if self._connections:  # each handler sees its connection lost and ends
            await asyncio.wait(list(self._connections), timeout=5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session: _Session | None = None
        task = asyncio.current_task()
        if task is not None:
            self._connections[task] = writer
        _keepalive(writer)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.handshake_timeout
        try:
            async with asyncio.timeout_at(deadline):
                greeting = await reader.readexactly(4)
                if greeting != b"API\0":
                    log.warning("not a TWS API client (greeting %r); closing", greeting)
                    return
                payload = await _read_frame(reader)
            _low, high, _options = wire.parse_greeting(payload)
            if high < wire.MIN_SERVER_VERSION:
                log.warning("client maximum version %d is below %d; closing", high, wire.MIN_SERVER_VERSION)
                return
            sv = wire.negotiate(high, self.max_version)
            session = _Session(writer, sv)
            self._sessions.append(session)
            conn_time = dt.datetime.now(dt.UTC).strftime("%Y%m%d %H:%M:%S") + " Greenwich Mean Time"
            writer.write(wire.frame(wire.handshake_reply(sv, conn_time)))
            while not session.closed:
                if session.client_id is None:
                    until: float | None = deadline
                else:
                    until = loop.time() + self.idle_timeout if self.idle_timeout > 0 else None
                async with asyncio.timeout_at(until):
                    frame = await _read_frame(reader)
                fields = wire.split_fields(frame)
                if fields:
                    self._dispatch(session, fields)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except TimeoutError:
            what = "complete the API handshake" if session is None or session.client_id is None else "send anything"
            limit = self.handshake_timeout if what.startswith("complete") else self.idle_timeout
            log.debug("closing a connection that did not %s within %g s", what, limit)
        except wire.WireError as exc:
            log.warning("closing a connection: %s", exc)
        finally:
            if session is not None:
                session.closed = True
                with contextlib.suppress(ValueError):
                    self._sessions.remove(session)
            if not writer.transport.is_closing():
                writer.transport.abort()
            if task is not None:
                self._connections.pop(task, None)

    def _dispatch(self, s: _Session, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except ValueError:
            log.warning("message without a numeric id: %r", fields[:3])
            return
        if s.client_id is None and msg_id != In.START_API:
            log.warning("request %d before startApi; ignored", msg_id)
            return
        handler = self._handlers.get(msg_id)
        if handler is None:
            log.info("request %d is not simulated; ignored: %r", msg_id, fields[:6])
            return
        try:
            if msg_id in _MUTATING:
                with self._durable():
                    handler(s, fields)
            else:
                handler(s, fields)
        except (wire.WireError, ValueError, IndexError) as exc:
            log.exception("request %r failed", fields[:6])
            s.send(wire.error(s.server_version, -1, 320, f"Server error when reading an API client request: {exc}"))

    # ================================================================================ helpers

    def _clients(self) -> list[_Session]:
        return [s for s in self._sessions if s.client_id is not None and not s.closed]

    def _client(self, client_id: int) -> _Session | None:
        return next((s for s in self._clients() if s.client_id == client_id), None)

    def _resolve(self, rc: wire.RequestContract) -> str | None:
        sym: str | None
        if rc.con_id:
            sym = self._by_con_id.get(rc.con_id)
            if sym is None or (rc.symbol and rc.symbol != sym):
                return None
        else:
            sym = rc.symbol if rc.symbol in self.details else (rc.local_symbol if rc.local_symbol in self.details else None)
        if sym is None:
            return None
        d = self.details[sym]
        if rc.sec_type not in ("", d.contract.sec_type) or rc.currency not in ("", d.contract.currency):
            return None
        if rc.exchange and rc.exchange not in d.valid_exchanges.split(","):
            return None
        return sym

    def _contract(self, sym: str) -> wire.WireContract:
        return self.details[sym].contract

    def _wire_bar(self, sym: str, index: int) -> wire.WireBar | None:
        b = self.bar(sym, index)
        if b is None:
            return None
        wap = (b.high + b.low + b.close) / 3
        return wire.WireBar(f"{self.dates[index]:%Y%m%d}", b.open, b.high, b.low, b.close, b.volume, wap, 0)

    def _wire_order(self, o: SimOrder) -> wire.WireOrder:
        completed_status = {"Filled": "Filled", "Cancelled": "Cancelled by Trader"}.get(o.status, "")
        if o.status == "Cancelled" and o.reason != "cancelled":
            completed_status = f"Rejected: {o.reason}"
        return wire.WireOrder(
            order_id=o.order_id, client_id=o.client_id, perm_id=o.perm_id, action=o.action,
            total_quantity=o.quantity, order_type=o.order_type, lmt_price=o.lmt_price,
            aux_price=o.aux_price, tif=o.tif, account=o.account or self.account_id,
            order_ref=o.order_ref, outside_rth=o.outside_rth, parent_id=o.parent_id,
            status=o.status, filled_quantity=o.filled,
            commission=o.commission if o.filled else None,
            completed_time=o.completed_time, completed_status=completed_status,
        )

    def _wire_execution(self, e: Execution) -> wire.WireExecution:
        return wire.WireExecution(
            exec_id=e.exec_id, time=ib_time(e.time), account=e.account,
            exchange=self.details[e.symbol].contract.primary_exchange or "NYSE", side=e.side,
            shares=e.shares, price=e.price, perm_id=e.perm_id, client_id=e.client_id,
            order_id=e.order_id, cum_qty=e.cum_qty, avg_price=e.avg_price, order_ref=e.order_ref,
        )

    def _send_order(self, s: _Session, o: SimOrder) -> None:
        """openOrder then orderStatus for one order."""
        s.send(wire.open_order(s.server_version, self._wire_order(o), self._contract(o.symbol)))
        self._send_status(s, o)

    def _send_status(self, s: _Session, o: SimOrder) -> None:
        s.send(wire.order_status(
            o.order_id, o.status, o.filled, max(o.remaining, 0.0) if o.is_working or o.status == "Filled" else 0.0,
            o.avg_fill_price, o.perm_id, o.parent_id, o.last_fill_price, o.client_id,
        ))

    def _send_execution(self, s: _Session, req_id: int, e: Execution) -> None:
        s.send(wire.exec_details(s.server_version, req_id, self._wire_execution(e), self._contract(e.symbol)))
        s.send(wire.commission_report(e.exec_id, e.commission, "USD", e.realized_pnl))

    def _portfolio_row(self, sym: str) -> list[Any]:
        pos = self.account.positions.get(sym)
        qty = pos.quantity if pos else 0.0
        mark = self.account.marks.get(sym, 0.0)
        return wire.update_portfolio(
            self._contract(sym), qty, mark, qty * mark, pos.avg_cost if pos else 0.0,
            self.account.unrealized(sym), pos.realized if pos else 0.0, self.account_id,
        )

    def _send_account_values(self, s: _Session) -> None:
        for key, value, currency in self.account.values():
            s.send(wire.update_account_value(key, value, currency, self.account_id))

    def _send_summary(self, s: _Session, req_id: int, tags: frozenset[str]) -> None:
        for key, value, currency in self.account.values():
            if not tags or key in tags:
                s.send(wire.account_summary(req_id, self.account_id, key, value, currency))

    def _pnl_single_row(self, req_id: int, sym: str) -> list[Any]:
        pos = self.account.positions.get(sym)
        qty = pos.quantity if pos else 0.0
        daily = 0.0
        if qty and self.position > 0:
            prev = self.bar(sym, self.position - 1)
            if prev is not None:
                daily = qty * (self.account.marks.get(sym, prev.close) - prev.close)
        return wire.pnl_single(
            req_id, qty, daily, self.account.unrealized(sym), pos.realized if pos else 0.0,
            self.account.position_value(sym),
        )

    def _new_perm_id(self) -> int:
        self._next_perm_id += 1
        return self._next_perm_id

    # ================================================================================ state

    def _restore(self) -> None:
        assert self.state is not None
        saved = self.state.load()
        if saved is None:
            self._save()
            return
        where = f"--state {self.state.path}"
        if saved.account_id != self.account_id:
            raise ConfigError(f"{where}: holds account {saved.account_id}, not {self.account_id}; give "
                              f"--account {saved.account_id}, another state file, or --fresh for an empty broker")
        unknown = sorted({o.symbol for o in saved.orders.values()} - set(self.details))
        if unknown:
            raise ConfigError(f"{where}: has orders for {', '.join(unknown)}, which this experiment does not "
                              "serve; use the experiment it was made with, or --fresh for an empty broker")
        i = int(self.dates.searchsorted(pd.Timestamp(saved.session)))
        if i >= len(self.dates) or self.dates[i].date() != saved.session:
            raise ConfigError(f"{where}: was saved at session {saved.session}, which the data "
                              f"({self.dates[0].date()}..{self.dates[-1].date()}) does not have; use the "
                              "experiment it was made with, or --fresh for an empty broker")
        a = self.account
        self.position = i
        a.cash, a.realized_pnl, a.day_start_value = saved.cash, saved.realized_pnl, saved.day_start_value
        a.positions, a.orders, a.executions = saved.positions, saved.orders, saved.executions
        a.marks.update(saved.marks)
        a._exec_seq = saved.exec_seq
        while a.exec_prefix in saved.prefixes:
            a.exec_prefix = secrets.token_hex(4)
        self._prefixes = saved.prefixes
        self.next_order_id = max(saved.next_order_id, self.next_order_id)
        self._next_perm_id = max(saved.next_perm_id, self._next_perm_id)
        self.resumed = True

    def _save(self) -> None:
        if self.state is not None:
            self.state.save(self.account, self.current_date, self.next_order_id, self._next_perm_id, self._prefixes)

    @contextlib.contextmanager
    def _durable(self) -> Iterator[None]:
        """A change to the broker state: what it sends waits until the state file has it."""
        if self.state is None or self._durable_depth:
            yield
            return
        sessions = list(self._sessions)
        for s in sessions:
            s.held = []
        self._durable_depth += 1
        try:
            yield
        finally:
            self._durable_depth -= 1
            try:
                self._save()
            finally:
                for s in sessions:
                    s.release()

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

    # ================================================================================ handlers

    def _on_start_api(self, s: _Session, fields: list[str]) -> None:
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

    def _on_req_ids(self, s: _Session, fields: list[str]) -> None:
        s.send(wire.next_valid_id(self.next_order_id))

    def _on_current_time(self, s: _Session, fields: list[str]) -> None:
        s.send(wire.current_time(int(self.now().timestamp())))

    def _on_managed_accounts(self, s: _Session, fields: list[str]) -> None:
        s.send(wire.managed_accounts([self.account_id]))

    def _on_contract_details(self, s: _Session, fields: list[str]) -> None:
        req = wire.parse_contract_details(fields)
        sym = self._resolve(req.contract)
        if sym is None:
            s.send(wire.error(s.server_version, req.req_id, 200, NO_SECURITY))
            return
        s.send(wire.contract_data(s.server_version, req.req_id, self.details[sym]))
        s.send(wire.contract_data_end(req.req_id))

    def _on_historical_data(self, s: _Session, fields: list[str]) -> None:
        req = wire.parse_historical_data(fields)
        sym = self._resolve(req.contract)
        if sym is None:
            s.send(wire.error(s.server_version, req.req_id, 162, f"Historical Market Data Service error message:{NO_SECURITY}"))
            return
        if self.lost:
            s.send(wire.error(s.server_version, req.req_id, 162, f"Historical Market Data Service error message:{LOST}"))
            return
        if " ".join(req.bar_size.split()).lower() not in ("1 day", "1 d"):
            s.send(wire.error(s.server_version, req.req_id, 162, (
                "Historical Market Data Service error message:the simulator serves daily bars only; "
                f"use barSizeSetting '1 day' (got {req.bar_size!r})"
            )))
            return
        try:
            last = self._history_end(req.end)
            first = self._history_start(last, req.duration)
        except ValueError as exc:
            s.send(wire.error(s.server_version, req.req_id, 321, f"Error validating request:-'{exc}'"))
            return
        bars = [b for i in range(first, last + 1) if (b := self._wire_bar(sym, i)) is not None]
        start_s = f"{self.dates[first]:%Y%m%d} 00:00:00" if last >= first else ""
        end_s = f"{self.dates[last]:%Y%m%d} 23:59:59" if last >= 0 else ""
        s.send(wire.historical_data(req.req_id, start_s, end_s, bars))
        if req.keep_up_to_date:
            s.history[req.req_id] = sym

    def _history_end(self, end: str) -> int:
        """Index of the last bar a request ending at ``end`` gets (never past the replay)."""
        if not end.strip():
            return self.position
        text = end.strip()
        date_part, _, rest = text.replace("-", " ", 1).partition(" ")
        day = dt.datetime.strptime(date_part[:8], "%Y%m%d")
        time_part, _, zone = rest.strip().partition(" ")
        if time_part:
            moment = dt.datetime.combine(day.date(), dt.time.fromisoformat(time_part))
            tz = ZoneInfo(zone.strip()) if zone.strip() else (dt.UTC if "-" in text[:9] else NEW_YORK)
            moment = moment.replace(tzinfo=tz).astimezone(NEW_YORK)
            # a bar belongs to the request once its session has closed
            cutoff = moment.date() if moment.time() >= CLOSE_TIME else moment.date() - dt.timedelta(days=1)
        else:
            cutoff = day.date()
        i = int(self.dates.searchsorted(pd.Timestamp(cutoff), side="right")) - 1
        return min(i, self.position)

    def _history_start(self, last: int, duration: str) -> int:
        parts = duration.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"durationStr {duration!r} is not 'N S|D|W|M|Y'")
        n, unit = int(parts[0]), parts[1].upper()
        if last < 0:
            return 0
        if unit == "S":
            return last
        if unit == "D":
            return max(0, last - n + 1)
        offsets = {"W": pd.DateOffset(weeks=n), "M": pd.DateOffset(months=n), "Y": pd.DateOffset(years=n)}
        if unit not in offsets:
            raise ValueError(f"durationStr {duration!r}: unit {unit!r} is not S, D, W, M or Y")
        since = self.dates[last] - offsets[unit]
        return int(self.dates.searchsorted(since, side="right"))

    def _on_head_timestamp(self, s: _Session, fields: list[str]) -> None:
        r = wire.Reader(fields)
        req_id = r.integer()
        sym = self._resolve(r.contract12())
        if sym is None:
            s.send(wire.error(s.server_version, req_id, 162, f"Historical Market Data Service error message:{NO_SECURITY}"))
            return
        s.send(wire.head_timestamp(req_id, f"{self.dates[0]:%Y%m%d}  09:30:00"))

    def _on_real_time_bars(self, s: _Session, fields: list[str]) -> None:
        req = wire.parse_real_time_bars(fields)
        sym = self._resolve(req.contract)
        if sym is None:
            s.send(wire.error(s.server_version, req.req_id, 200, NO_SECURITY))
            return
        s.realtime[req.req_id] = sym

    def _on_mkt_data(self, s: _Session, fields: list[str]) -> None:
        req = wire.parse_mkt_data(fields)
        sym = self._resolve(req.contract)
        if sym is None:
            s.send(wire.error(s.server_version, req.req_id, 200, NO_SECURITY))
            return
        s.send(wire.market_data_type(req.req_id, s.market_data_type))
        s.send(wire.tick_req_params(req.req_id, self.details[sym].min_tick, "9c0001", 3))
        if not self.lost:
            self._send_ticks(s, req.req_id, sym)
        if req.snapshot or req.regulatory_snapshot:
            s.send(wire.tick_snapshot_end(req.req_id))
        else:
            s.tickers[req.req_id] = sym

    def _send_ticks(self, s: _Session, req_id: int, sym: str) -> None:
        b = self.bar(sym)
        if b is None:
            return
        prev = self.bar(sym, self.position - 1) if self.position > 0 else None
        s.send(wire.tick_price(req_id, 1, b.close, 100))  # bid
        s.send(wire.tick_price(req_id, 2, b.close, 100))  # ask
        s.send(wire.tick_price(req_id, 4, b.close, 100))  # last
        s.send(wire.tick_price(req_id, 6, b.high, 0))
        s.send(wire.tick_price(req_id, 7, b.low, 0))
        s.send(wire.tick_price(req_id, 14, b.open, 0))
        if prev is not None:
            s.send(wire.tick_price(req_id, 9, prev.close, 0))
        s.send(wire.tick_size(req_id, 8, b.volume))

    def _on_market_data_type(self, s: _Session, fields: list[str]) -> None:
        s.market_data_type = wire.Reader(fields, 2).integer(1)

    def _on_cancel(self, attr: Callable[[_Session], dict[int, Any]], version: bool = True) -> Callable[[_Session, list[str]], None]:
        def handler(s: _Session, fields: list[str]) -> None:
            attr(s).pop(wire.Reader(fields, 2 if version else 1).integer(), None)

        return handler

    def _on_cancel_set(self, attr: Callable[[_Session], set[int]], version: bool = True) -> Callable[[_Session, list[str]], None]:
        def handler(s: _Session, fields: list[str]) -> None:
            attr(s).discard(wire.Reader(fields, 2 if version else 1).integer())

        return handler

    # ---------------------------------------------------------------------------- orders

    def _on_place_order(self, s: _Session, fields: list[str]) -> None:
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

    def _on_cancel_order(self, s: _Session, fields: list[str]) -> None:
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

    def _on_global_cancel(self, s: _Session, fields: list[str]) -> None:
        for order in self.account.working_orders():
            if self.lost:
                self._hold_cancel(order)
                continue
            self._cancel(order)

    def _on_open_orders(self, s: _Session, fields: list[str]) -> None:
        for order in self.account.working_orders():
            if s.client_id in (0, order.client_id):
                self._send_order(s, order)
        s.send(wire.open_order_end())

    def _on_all_open_orders(self, s: _Session, fields: list[str]) -> None:
        for order in self.account.working_orders():
            self._send_order(s, order)
        s.send(wire.open_order_end())

    def _on_completed_orders(self, s: _Session, fields: list[str]) -> None:
        for order in self.account.orders.values():
            if order.status in ("Filled", "Cancelled"):
                s.send(wire.completed_order(s.server_version, self._wire_order(order), self._contract(order.symbol)))
        s.send(wire.completed_orders_end())

    def _on_executions(self, s: _Session, fields: list[str]) -> None:
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

    def _on_account_updates(self, s: _Session, fields: list[str]) -> None:
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

    def _on_account_updates_multi(self, s: _Session, fields: list[str]) -> None:
        r = wire.Reader(fields, 2)
        req_id = r.integer()
        account = r.text() or self.account_id
        model = r.text()
        s.account_multi.add(req_id)
        for key, value, currency in self.account.values():
            s.send(wire.account_update_multi(req_id, account, model, key, value, currency))
        s.send(wire.account_update_multi_end(req_id))

    def _on_positions(self, s: _Session, fields: list[str]) -> None:
        s.positions = True
        for sym, pos in self.account.positions.items():
            if pos.quantity:
                s.send(wire.position(self.account_id, self._contract(sym), pos.quantity, pos.avg_cost))
        s.send(wire.position_end())

    def _on_cancel_positions(self, s: _Session, fields: list[str]) -> None:
        s.positions = False

    def _on_account_summary(self, s: _Session, fields: list[str]) -> None:
        r = wire.Reader(fields, 2)
        req_id = r.integer()
        r.text()  # group
        tags = frozenset(t.strip() for t in r.text().split(",") if t.strip() and not t.strip().startswith("$"))
        s.account_summary[req_id] = tags
        self._send_summary(s, req_id, tags)
        s.send(wire.account_summary_end(req_id))

    def _on_pnl(self, s: _Session, fields: list[str]) -> None:
        req_id = wire.Reader(fields).integer()
        s.pnl.add(req_id)
        a = self.account
        s.send(wire.pnl(req_id, a.daily_pnl(), a.unrealized_pnl(), a.realized_pnl))

    def _on_pnl_single(self, s: _Session, fields: list[str]) -> None:
        r = wire.Reader(fields)
        req_id = r.integer()
        r.skip(2)  # account, model
        sym = self._by_con_id.get(r.integer())
        if sym is None:
            s.send(wire.error(s.server_version, req_id, 200, NO_SECURITY))
            return
        s.pnl_single[req_id] = sym
        s.send(self._pnl_single_row(req_id, sym))

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

    def _deliver(self, events: list[Fill | Rejection]) -> None:
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

    def _drop_all(self) -> None:
        for s in list(self._sessions):
            s.drop()

    def _broadcast_error(self, req_id: int, code: int, text: str) -> None:
        for s in self._clients():
            s.send(wire.error(s.server_version, req_id, code, text))


# ==================================================================================== helpers


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (n,) = struct.unpack(">I", await reader.readexactly(4))
    if n > 16 * 1024 * 1024:
        raise wire.WireError(f"message length {n} is implausible")
    return await reader.readexactly(n)


#: requests that change the broker state: persisted before their answers are sent
_MUTATING = frozenset({In.PLACE_ORDER, In.CANCEL_ORDER, In.REQ_GLOBAL_CANCEL})


def _keepalive(writer: asyncio.StreamWriter) -> None:
    """TCP keepalive on a client socket: a peer that vanished (no FIN) is found within ~2 min."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 6)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _parse_filter_time(text: str) -> dt.datetime | None:
    """ExecutionFilter.time: 'yyyymmdd hh:mm:ss' (New York unless a zone follows) or empty."""
    text = text.strip()
    if not text:
        return None
    date_part, _, rest = text.replace("-", " ", 1).partition(" ")
    time_part, _, zone = rest.strip().partition(" ")
    moment = dt.datetime.strptime(date_part[:8] + (time_part or "00:00:00"), "%Y%m%d%H:%M:%S")
    return moment.replace(tzinfo=ZoneInfo(zone) if zone else NEW_YORK)


@contextlib.contextmanager
def run_in_thread(simulator: GatewaySimulator, port: int = 0, host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    """Run the simulator on its own event loop in a daemon thread; yields (host, port)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["address"] = loop.run_until_complete(simulator.start(host, port))
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            return
        ready.set()
        loop.run_forever()
        try:
            loop.run_until_complete(simulator.stop())
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="gateway-simulator", daemon=True)
    thread.start()
    if not ready.wait(timeout=30):
        raise RuntimeError("the gateway simulator did not start within 30 s")
    if "error" in box:
        thread.join(timeout=5)
        raise box["error"]
    try:
        yield box["address"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)


__all__ = [
    "AddressUnavailable",
    "GatewaySimulator",
    "run_in_thread",
]
