"""Driving a running ``algotrade gateway`` from outside: the control port and the fault schedule.

``algotrade gateway X.yaml --control PORT`` listens on ``127.0.0.1:PORT`` (0: any free port; the
banner says ``control on 127.0.0.1:N``) for one-line text commands, each answered with one line,
``ok ...`` or ``error ...``. ``algotrade gateway-ctl PORT COMMAND ...`` sends one and prints the
answer. Commands (see :data:`HELP`):

``status``                 where the replay stands (the status line below)
``advance [N]``            replay N sessions (default 1); answers once their messages are sent
``play SPEED`` / ``pause`` replay N sessions a second (or ``max``) / stop replaying
``1100``                   IB's "connectivity lost": no market data, new orders refused (error
                           201), cancels held (PendingCancel), fills at "IB" held back
``1101``                   "restored, data lost": held fills reported, every market data
                           subscription dropped (clients must subscribe again)
``1102``                   "restored, data maintained": held fills and the missed bars delivered
``drop``                   every client socket cut (the port stays open)
``restart [SECONDS]``      IB's daily restart: clients dropped, connections refused for SECONDS
                           (default 3), then it serves again with the state it kept
``help``                   the list of commands

The status line: ``ok session 2011-06-02 index 103 left 650 clients 1,7 connectivity ok
port open restarts 0 orders 4 executions 3`` (``clients -`` when none; ``connectivity lost``
after 1100; ``port down`` during a restart window).

``--faults`` schedules the same faults: a comma-separated list of ``KIND[:SECONDS]@WHEN``, where
KIND is one of ``1100 1101 1102 drop restart``, ``:SECONDS`` the restart window, and WHEN a
session date (``2011-06-03``: injected right after that session is replayed) or a wall-clock
offset from when the server listens (``+2.5s``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from algotrade.core.errors import ConfigError

if TYPE_CHECKING:
    from adapters.ib.gateway.server import GatewaySimulator

FAULT_KINDS = ("1100", "1101", "1102", "drop", "restart")
HELP = ("commands: status | advance [N] | play SPEED | pause | 1100 | 1101 | 1102 | drop | restart [SECONDS] | help")
_ITEM = re.compile(r"^(?P<kind>[a-z0-9]+)(?::(?P<window>[0-9.]+))?@(?P<when>\S+)$")
_OFFSET = re.compile(r"^\+(?P<s>[0-9]*\.?[0-9]+)s?$")


@dataclass(frozen=True)
class Fault:
    """One scheduled fault: at a session date, or ``offset`` seconds after the server listens."""

    kind: str
    window: float | None = None
    day: dt.date | None = None
    offset: float | None = None


def parse_faults(text: str, dates: Sequence[dt.date]) -> list[Fault]:
    """``--faults``: checked against the market's sessions; a bad item is one ConfigError line."""
    faults = []
    sessions = set(dates)
    for raw in (t.strip() for t in text.split(",")):
        if not raw:
            continue
        m = _ITEM.match(raw.lower())
        example = "e.g. --faults 1100@2011-06-03,1102@2011-06-06,restart:5@2011-06-08,drop@+2s"
        if m is None:
            raise ConfigError(f"--faults {raw!r}: not KIND[:SECONDS]@WHEN; {example}")
        kind = m["kind"]
        if kind not in FAULT_KINDS:
            raise ConfigError(f"--faults {raw!r}: fault {kind!r} is not one of {', '.join(FAULT_KINDS)}; {example}")
        window = float(m["window"]) if m["window"] else None
        if window is not None and kind != "restart":
            raise ConfigError(f"--faults {raw!r}: only restart takes :SECONDS (its window); {example}")
        when = m["when"]
        off = _OFFSET.match(when)
        if off is not None:
            faults.append(Fault(kind, window, offset=float(off["s"])))
            continue
        try:
            day = dt.date.fromisoformat(when)
        except ValueError:
            raise ConfigError(f"--faults {raw!r}: {when!r} is neither a session date (YYYY-MM-DD) nor an offset "
                              f"such as +2.5s; {example}") from None
        if day not in sessions:
            raise ConfigError(f"--faults {raw!r}: {day} is not a session of the data ({dates[0]}..{dates[-1]}); "
                              "give a trading day")
        faults.append(Fault(kind, window, day=day))
    return faults


def schedule(sim: GatewaySimulator, faults: Sequence[Fault]) -> None:
    """Date-keyed faults go to the simulator; offsets are armed on its loop (call it on the loop,
    once the server listens)."""
    loop = asyncio.get_running_loop()
    for f in faults:
        if f.day is not None:
            sim.schedule_fault(f.day, f.kind, f.window)
        elif f.offset is not None:
            loop.call_later(f.offset, sim.fault, f.kind, f.window)


def status(sim: GatewaySimulator) -> str:
    clients = ",".join(str(c) for c in sim.connected_clients) or "-"
    return (f"session {sim.current_date} index {sim.position} left {sim.sessions_left} clients {clients} "
            f"connectivity {'lost' if sim.lost else 'ok'} port {'down' if sim.down else 'open'} "
            f"restarts {sim.restarts} orders {len(sim.account.orders)} executions {len(sim.account.executions)}")


async def execute(sim: GatewaySimulator, line: str, parse_speed: Callable[[str], str | float]) -> str:
    """One control command; the answer line (``ok ...`` or ``error ...``)."""
    words = line.split()
    if not words:
        return f"error empty command; {HELP}"
    cmd, args = words[0].lower(), words[1:]
    try:
        if cmd == "status" and not args:
            return f"ok {status(sim)}"
        if cmd == "help":
            return f"ok {HELP}"
        if cmd == "advance" and len(args) <= 1:
            n = int(args[0]) if args else 1
            if n < 1:
                raise ValueError(f"advance {n}: give a positive number of sessions")
            done = sim.advance(n)
            return f"ok replayed {done} {status(sim)}"
        if cmd == "play" and len(args) == 1:
            speed = parse_speed(args[0])
            if not (speed == "max" or isinstance(speed, float)):
                raise ValueError(f"play {args[0]}: give sessions per second (e.g. 5) or max")
            sim.play(speed)
            return f"ok playing {status(sim)}"
        if cmd == "pause" and not args:
            sim.pause()
            return f"ok paused {status(sim)}"
        if cmd in ("1100", "1101", "1102", "drop") and not args:
            sim.fault(cmd)
            return f"ok injected {cmd} {status(sim)}"
        if cmd == "restart" and len(args) <= 1:
            window = float(args[0]) if args else None
            if window is not None and not window >= 0:
                raise ValueError(f"restart {args[0]}: give the window in seconds (0 or more)")
            sim.fault("restart", window)
            while not sim.down and sim.restarting:  # answered once the port refuses connections
                await asyncio.sleep(0.005)
            return f"ok restarting {status(sim)}"
    except ValueError as exc:
        return f"error {exc}"
    return f"error unknown command {line.strip()!r}; {HELP}"


async def start_control(sim: GatewaySimulator, host: str, port: int,
                        parse_speed: Callable[[str], str | float]) -> tuple[asyncio.AbstractServer, int]:
    """Listen for control commands; returns the server and its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                answer = await execute(sim, line.decode("utf-8", "replace"), parse_speed)
                writer.write(answer.encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    try:
        server = await asyncio.start_server(handle, host, port)
    except OSError as exc:
        raise ConfigError(f"--control {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); pick another "
                          "port (--control 0 picks any free one)") from None
    return server, server.sockets[0].getsockname()[1]


def send(host: str, port: int, command: str, timeout: float = 60.0) -> str:
    """Send one control command to a running gateway; its answer line."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(command.strip().encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise ConfigError(f"PORT {port}: no gateway control port at {host}:{port} ({exc.strerror or exc}); start "
                          "`algotrade gateway X.yaml --control PORT` and give that port") from None
    return data.decode().strip()


__all__ = ["FAULT_KINDS", "HELP", "Fault", "execute", "parse_faults", "schedule", "send", "start_control", "status"]
