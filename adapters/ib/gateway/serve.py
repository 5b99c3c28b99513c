"""`algotrade gateway`: the simulator as a long-running server process, attended or not.

``--speed`` says what replays the sessions:

========  ==========================================================================================
auto      the default: ``manual`` when stdin is a terminal, ``hold`` otherwise (started with ``&``,
          under nohup, docker, systemd or CI, where nobody can press Enter)
manual    each line on stdin (Enter) replays one session; once stdin ends, it holds
hold      nothing replays by itself: each SIGUSR1 replays one session (``kill -USR1 PID``)
N         N sessions a second (e.g. 5 or 0.5), then it holds at the last session
max       as fast as it can, then it holds at the last session
========  ==========================================================================================

In every mode SIGUSR1 replays one session, and SIGTERM, SIGINT (Ctrl-C) and SIGHUP (the terminal
closed) stop the server: the client connections are closed, the output is flushed and the process
exits 0. It never stops by itself: the end of stdin or of the replay leaves it serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from adapters.ib.gateway.control import Fault, schedule, start_control
from algotrade.core.errors import ConfigError
from algotrade.live.signals import STEP_SIGNAL, STOP_SIGNALS, StepCounter, StopSignals

if TYPE_CHECKING:  # imported lazily: the command parses its options before pandas loads
    from adapters.ib.gateway.server import GatewaySimulator

Speed = str | float
MODES = ("auto", "manual", "hold", "max")
ACCOUNT_ID = re.compile(r"^[A-Za-z]{1,3}[0-9]{1,12}$")
FAULT_LINES = {
    "1100": "connectivity lost: no market data, orders refused",
    "1101": "connectivity restored, data lost: subscriptions dropped",
    "1102": "connectivity restored, data maintained",
    "drop": "every client socket cut",
    "restart": "daily restart: clients dropped, connections refused for the window",
}


def parse_speed(text: str) -> Speed:
    """``--speed``: one of :data:`MODES`, or a positive number of sessions per second."""
    word = text.strip().lower()
    if word in MODES:
        return word
    try:
        rate = float(word)
    except ValueError:
        rate = float("nan")
    if not rate > 0 or rate == float("inf"):
        raise ValueError(
            f"{text!r} is not a speed; give sessions per second (a positive number such as 5 or 0.5), "
            "'max', 'manual' (Enter replays one session), 'hold' (SIGUSR1 replays one) or 'auto'"
        )
    return rate


def stdin_is_terminal() -> bool:
    """Whether a person can press Enter: stdin is open and a terminal."""
    return os.isatty(0)


def resolve_speed(speed: Speed, terminal: bool) -> Speed:
    """``auto`` becomes ``manual`` on a terminal and ``hold`` otherwise."""
    if speed == "auto":
        return "manual" if terminal else "hold"
    return speed


def start_index(text: str | None, dates: Sequence[dt.date]) -> int:
    """``--start``: a session index (negative counts from the end) or a date (its session, or the
    last one before it), checked against the market's sessions."""
    n = len(dates)
    first, last = dates[0], dates[-1]
    if text is None or not text.strip():
        return 0
    value = text.strip()
    if re.fullmatch(r"[+-]?\d+", value):
        i = int(value)
        if not -n <= i < n:
            raise ConfigError(f"--start {value}: there is no session {i}; give an index 0..{n - 1} (or -{n}..-1 "
                              f"from the end) or a date {first}..{last}")
        return i % n
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--start {value!r}: not a session index or a date; give e.g. --start 0, "
                          f"--start -20 or --start {first} (YYYY-MM-DD)") from None
    if day < first or day > last:
        raise ConfigError(f"--start {value}: outside the data's sessions {first}..{last}; give a date in that range")
    return max(i for i, d in enumerate(dates) if d <= day)


def check_account(account: str) -> str:
    """``--account``: the id the simulated account manages (clients wait for a non-empty one)."""
    if not ACCOUNT_ID.fullmatch(account.strip()):
        raise ConfigError(f"--account {account!r}: not an IB account id; give letters then digits, such as "
                          "DU0000001 (paper) or U1234567 (live)")
    return account.strip()


class _Output:
    """Writes lines through ``echo``; if the output is gone (a closed pipe, a hung-up terminal) the
    rest goes to /dev/null, so the server neither fails nor exits non-zero for it."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo

    def __call__(self, line: str) -> None:
        try:
            self.echo(line)
        except OSError:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.close(null)


def serve(sim: GatewaySimulator, speed: Speed, *, host: str = "127.0.0.1", port: int = 7497,
          echo: Callable[[str], None] = print, early: StepCounter | None = None,
          control: int | None = None, faults: Sequence[Fault] = (), signals: StopSignals | None = None) -> str:
    """Serve ``sim`` on host:port until a stop signal; returns the signal's name. ``early``
    counted the SIGUSR1 received while the caller loaded the market: those sessions are replayed
    once the server listens. ``control``: the port of the control commands on 127.0.0.1 (0: any
    free one; :mod:`adapters.ib.gateway.control`); ``faults``: the ``--faults`` schedule;
    ``signals``: the command's stop signals, which end the serving (one received before it
    served ends it once it listens); without them it handles the stop signals itself. Call it in
    the main thread (it handles signals)."""
    mode = resolve_speed(speed, stdin_is_terminal())
    why_hold = "(--speed hold)" if speed == "hold" else "(stdin is not a terminal)"
    # a loop of its own that is never made the thread's current one (asyncio.run would leave the
    # thread without one, which breaks ib_insync in the same process afterwards)
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_serve(sim, mode, why_hold, host, port, _Output(echo),
                                              early.count if early else 0, control, faults, signals))
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _serve(sim: GatewaySimulator, mode: Speed, why_hold: str, host: str, port: int,
                 say: Callable[[str], None], early_steps: int, control: int | None,
                 faults: Sequence[Fault], signals: StopSignals | None) -> str:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    received: list[signal.Signals] = []
    pid = os.getpid()

    def stop(sig: signal.Signals) -> None:
        received.append(sig)
        stopped.set()

    def step() -> None:
        if not sim.advance():
            say(f"gateway: at the last session ({sim.current_date}); nothing left to replay")

    def replayed() -> None:
        if not isinstance(mode, float) and mode != "max":
            say(f"gateway: replayed {sim.current_date} ({sim.sessions_left} sessions left)")
        elif not sim.sessions_left:
            say(f"gateway: replay finished at {sim.current_date}; serving until stopped")

    def stdin_ended() -> None:
        say(f"gateway: stdin ended; holding at {sim.current_date}: `kill -USR1 {pid}` replays one session, "
            f"`kill {pid}` stops")

    def injected(kind: str) -> None:
        say(f"gateway: fault {kind} at {sim.current_date} ({FAULT_LINES[kind]})")

    handled = contextlib.ExitStack()
    if signals is not None:  # called from the signal handler: the loop stops the serving
        handled.enter_context(signals.calling(lambda sig: loop.call_soon_threadsafe(stop, sig)))
    else:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop, sig)
    loop.add_signal_handler(STEP_SIGNAL, step)
    controller: asyncio.AbstractServer | None = None
    try:
        bound_host, bound_port = await sim.start(host, port)
        sim.on_session = replayed
        sim.on_fault = injected
        sim.on_restarted = lambda: say(f"gateway: serving again after the restart, at {sim.current_date} "
                                       f"(restart {sim.restarts})")
        if control is not None:
            controller, control_port = await start_control(sim, "127.0.0.1", control, parse_speed)
        from algotrade.core.config import symbols_text

        say(f"gateway: serving {symbols_text(list(sim.market.frames))} ({len(sim.dates)} sessions, at {sim.current_date}) "
            f"on {bound_host}:{bound_port} as account {sim.account_id} (pid {pid})")
        if control is not None:
            say(f"gateway: control on 127.0.0.1:{control_port} (`algotrade gateway-ctl {control_port} help` lists "
                "the commands)")
        if faults:
            schedule(sim, faults)
            say(f"gateway: {len(faults)} fault{'s' if len(faults) != 1 else ''} scheduled: "
                + ", ".join(f"{f.kind}@{f.day or f'+{f.offset:g}s'}" for f in faults))
        if mode == "manual":
            say(f"gateway: Enter replays one session (so does `kill -USR1 {pid}`); Ctrl-C or `kill {pid}` stops")
            _read_lines(loop, step, stdin_ended)
        elif mode == "hold":
            say(f"gateway: holding at {sim.current_date} {why_hold}: `kill -USR1 {pid}` replays one session, "
                f"`kill {pid}` or Ctrl-C stops")
        else:
            rate = "as fast as it can" if mode == "max" else f"at {mode:g} sessions a second"
            say(f"gateway: replaying {rate}, then holding at the last session; `kill {pid}` or Ctrl-C stops")
            sim.play(mode)
        for _ in range(early_steps):
            step()
        await stopped.wait()
    finally:
        for sig in (*(STOP_SIGNALS if signals is None else ()), STEP_SIGNAL):
            loop.remove_signal_handler(sig)
        handled.close()
        clients = len(sim.connected_clients)
        if controller is not None:
            controller.close()
        await sim.stop()
    name = received[0].name
    say(f"gateway: stopped by {name}; {clients} client connection{'s' if clients != 1 else ''} closed")
    return name


def _read_lines(loop: asyncio.AbstractEventLoop, on_line: Callable[[], None], on_end: Callable[[], None]) -> None:
    """Calls ``on_line`` on the loop for each line read from stdin and ``on_end`` once it ends
    (a daemon thread reading the file descriptor: stdin may be a terminal, a pipe or a file)."""

    def call(fn: Callable[[], None]) -> bool:
        try:
            loop.call_soon_threadsafe(fn)
        except RuntimeError:  # the loop is closed: the server stopped
            return False
        return True

    def read() -> None:
        while True:
            try:
                data = os.read(0, 4096)
            except OSError:  # closed, or the terminal hung up
                data = b""
            if not data:
                call(on_end)
                return
            for _ in range(data.count(b"\n")):
                if not call(on_line):
                    return

    threading.Thread(target=read, name="gateway-stdin", daemon=True).start()


__all__ = ["MODES", "check_account", "parse_speed", "resolve_speed", "serve", "start_index",
           "stdin_is_terminal"]
