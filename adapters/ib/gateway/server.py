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

This module holds the control API, the socket server and :func:`run_in_thread`. The simulator's
other parts, each a layer of :class:`GatewaySimulator`: its state, clock and persistence
(:mod:`~adapters.ib.gateway.simcore`), one client connection (:mod:`~adapters.ib.gateway.session`),
the answers to market data requests (:mod:`~adapters.ib.gateway.market_requests`) and to the
start, order and account ones (:mod:`~adapters.ib.gateway.broker_requests`), the replay and the
injected faults (:mod:`~adapters.ib.gateway.replay`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import errno
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.ib.gateway import wire
from adapters.ib.gateway.replay import Replay
from adapters.ib.gateway.session import Session
from adapters.ib.gateway.simcore import (
    CONNECTIVITY_MESSAGES,
    DEFAULT_RESTART_WINDOW_S,
    FAULTS,
)
from adapters.ib.gateway.wire import In
from algotrade.core.errors import ConfigError

if TYPE_CHECKING:
    from algotrade.core.config import Experiment

log = logging.getLogger("algotrade.gateway")

T = TypeVar("T")


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


class GatewaySimulator(Replay):
    """Serve a Market over the TWS API, replaying it session by session."""

    @classmethod
    def from_experiment(cls, experiment: Experiment, **kwargs: Any) -> GatewaySimulator:
        """Serve an experiment's data with its broker settings (fill model, costs, cash)."""
        from algotrade.core.data import load_market

        return cls(load_market(experiment.data), experiment.broker, **kwargs)

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
        session: Session | None = None
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
            session = Session(writer, sv)
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

    def _dispatch(self, s: Session, fields: list[str]) -> None:
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
