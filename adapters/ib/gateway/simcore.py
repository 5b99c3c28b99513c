"""The gateway simulator's state and clock, its persistence, and the helpers that render it as messages."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from adapters.ib.gateway import wire
from adapters.ib.gateway.account import (
    BarRow,
    Event,
    Execution,
    SimAccount,
    SimOrder,
    ib_time,
)
from adapters.ib.gateway.session import Session
from adapters.ib.gateway.state import StateStore
from algotrade.core.config import BrokerConfig
from algotrade.core.errors import ConfigError
from algotrade.core.symbols import SymbolMap, map_symbols

if TYPE_CHECKING:
    from algotrade.core.data import Market


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


class SimulatorCore:
    """The simulator's state: market, contracts, account, replay clock, sessions, persistence;
    and the helpers that turn it into messages. The requests, the replay and the server build
    on it (:class:`adapters.ib.gateway.server.GatewaySimulator`)."""

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
        self._held_events: list[Event] = []
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
        self._sessions: list[Session] = []
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

    # ================================================================================ helpers

    def _clients(self) -> list[Session]:
        return [s for s in self._sessions if s.client_id is not None and not s.closed]

    def _client(self, client_id: int) -> Session | None:
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
            oca_group=o.oca_group, oca_type=o.oca_type, status=o.status, filled_quantity=o.filled,
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

    def _send_order(self, s: Session, o: SimOrder) -> None:
        """openOrder then orderStatus for one order."""
        s.send(wire.open_order(s.server_version, self._wire_order(o), self._contract(o.symbol)))
        self._send_status(s, o)

    def _send_status(self, s: Session, o: SimOrder) -> None:
        s.send(wire.order_status(
            o.order_id, o.status, o.filled, max(o.remaining, 0.0) if o.is_working or o.status == "Filled" else 0.0,
            o.avg_fill_price, o.perm_id, o.parent_id, o.last_fill_price, o.client_id,
        ))

    def _send_execution(self, s: Session, req_id: int, e: Execution) -> None:
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

    def _send_account_values(self, s: Session) -> None:
        for key, value, currency in self.account.values():
            s.send(wire.update_account_value(key, value, currency, self.account_id))

    def _send_summary(self, s: Session, req_id: int, tags: frozenset[str]) -> None:
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

    def _drop_all(self) -> None:
        for s in list(self._sessions):
            s.drop()

    def _broadcast_error(self, req_id: int, code: int, text: str) -> None:
        for s in self._clients():
            s.send(wire.error(s.server_version, req_id, code, text))
