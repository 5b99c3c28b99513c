"""Fixtures for tests that run the real IB client against the gateway simulator.

The client is whichever the adapter's shim picks: ib_async in .venv, ib_insync when bin/test
runs the IB test modules again in .venv-insync with ALGOTRADE_IB_CLIENT=ib_insync.

Import them explicitly in a test module (they are not in conftest.py):

    from tests import gateway_fixtures as gf
    gateway = gf.gateway
    ib_guard = gf.ib_guard
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from adapters.ib.client import ib_module
from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.core.config import BrokerConfig
from algotrade.core.data import Market

ib_client = ib_module()  # ib_async or ib_insync: the same API
CLIENT = ib_client.__name__
IB = ib_client.IB
SERVER_VERSION = 176 if CLIENT == "ib_insync" else 178  # the highest each client asks for
DECODER_VERSIONS = tuple(v for v in (176, 178) if v <= SERVER_VERSION)  # layouts its decoder reads
IB_LOGGERS = tuple(f"{CLIENT}.{name}" for name in ("Decoder", "wrapper", "client", "ib"))
TIMEOUT = 5.0
LIVE_PORT = 4001  # IB Gateway's live port: the only one the live guard lets `algotrade live` use


def make_market(sessions: int = 40, symbols: tuple[str, ...] = ("AAA", "BBB"), seed: int = 3) -> Market:
    """Small deterministic daily bars: low < open < close-ish < high on every row."""
    idx = pd.bdate_range("2021-03-01", periods=sessions, name="date")
    rng = np.random.default_rng(seed)
    frames = {}
    for k, sym in enumerate(symbols):
        close = np.round(50.0 * (k + 1) + np.cumsum(rng.normal(0, 1, sessions)), 2)
        frames[sym] = pd.DataFrame(
            {
                "open": close - 0.37,
                "high": close + 1.25,
                "low": close - 1.5,
                "close": close,
                "volume": np.round(rng.uniform(1e5, 1e6, sessions)),
            },
            index=idx,
        )
    return Market(frames, "none")


class LogGuard(logging.Handler):
    """Collects ERROR records of ib_async's loggers; the test fails on any not allowed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.allowed_codes: set[int] = set()
        self.allowed_text: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, *codes: int) -> None:
        """Errors the test provokes on purpose (ib_async logs e.g. 200, 201, 202 as ERROR)."""
        self.allowed_codes.update(codes)

    def allow_text(self, text: str) -> None:
        self.allowed_text.append(text)

    def unexpected(self) -> list[str]:
        out = []
        for r in self.records:
            msg = r.getMessage()
            if r.name != f"{CLIENT}.Decoder":
                if any(msg.startswith(f"Error {c},") for c in self.allowed_codes):
                    continue
                if any(t in msg for t in self.allowed_text):
                    continue
            out.append(f"{r.name}: {logging.Formatter().format(r)}")
        return out


@pytest.fixture
def ib_guard() -> Iterator[LogGuard]:
    guard = LogGuard()
    loggers = [logging.getLogger(n) for n in IB_LOGGERS]
    for lg in loggers:
        lg.addHandler(guard)
    try:
        yield guard
    finally:
        for lg in loggers:
            lg.removeHandler(guard)
    bad = guard.unexpected()
    assert not bad, "ib_async logged errors:\n" + "\n".join(bad)


@dataclass
class Gateway:
    """A running simulator and helpers to connect real ib_async clients to it."""

    sim: GatewaySimulator
    host: str
    port: int
    clients: list[IB] = field(default_factory=list)

    def connect(self, client_id: int = 1, timeout: float = 3.0) -> IB:
        ib = IB()
        ib.RequestTimeout = TIMEOUT
        ib.connect(self.host, self.port, clientId=client_id, timeout=timeout)
        self.clients.append(ib)
        return ib


@pytest.fixture
def gateway() -> Iterator[Callable[..., Gateway]]:
    """``gateway(broker=None, start=9, market=None, **simulator_kwargs) -> Gateway``."""
    stack = contextlib.ExitStack()
    made: list[Gateway] = []

    def start(broker: dict[str, Any] | BrokerConfig | None = None, start: int = 9,
              market: Market | None = None, **kwargs: Any) -> Gateway:
        cfg = broker if isinstance(broker, BrokerConfig) else BrokerConfig.model_validate(broker or {})
        sim = GatewaySimulator(market or make_market(), cfg, start=start, **kwargs)
        host, port = stack.enter_context(run_in_thread(sim))
        gw = Gateway(sim, host, port)
        made.append(gw)
        return gw

    try:
        yield start
    finally:
        for gw in made:
            for ib in gw.clients:
                ib.disconnect()
        stack.close()


def wait_until(ib: IB, predicate: Callable[[], bool], timeout: float = TIMEOUT, what: str = "") -> None:
    """Run ib_async's loop until ``predicate()`` holds, waking on every processed packet."""

    async def run() -> None:
        woke = asyncio.Event()

        def wake(*_args: Any) -> None:
            woke.set()

        ib.updateEvent += wake
        ib.disconnectedEvent += wake
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not predicate():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"timed out after {timeout} s waiting for {what or predicate}")
                woke.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woke.wait(), remaining)
        finally:
            ib.updateEvent -= wake
            ib.disconnectedEvent -= wake

    try:
        ib.run(run())
    except ConnectionError:
        # ib_async raises its "Socket disconnect" error into a running ib.run(); that is the
        # awaited outcome when the test waits for a disconnect
        if not predicate():
            raise


@pytest.fixture
def live_port() -> Iterator[int]:
    """IB Gateway's live port 4001, held by this test alone while it runs.

    The live tests must serve the simulator on that fixed port, and several pytest processes may
    run them at once: this suite, its ib_insync re-run (started in the background at session start,
    tests/test_gateway_insync.py) and the suites of other checkouts on the machine. Each takes the
    same lock file first, so no two ever serve on 4001 together. The wait is a blocking ``flock``
    (woken by the kernel when the holder lets go): the holder is one test with bounded timeouts of
    its own, and the kernel drops the lock of a process that dies. Once it holds the lock, the test
    still checks that nothing else (not a test) listens there."""
    lock = Path(tempfile.gettempdir()) / f"algotrade-tests-port-{LIVE_PORT}.lock"
    with lock.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", LIVE_PORT)) == 0:
                    pytest.fail(f"port {LIVE_PORT} is taken by a process outside the test suite; "
                                "the live tests need it free")
            yield LIVE_PORT
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class GatewayProcess:
    """`algotrade gateway` running as its own process in manual mode, as a user starts it."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port = proc, port

    def advance(self) -> str:
        """Replay one session (Enter on its stdin); returns the session's date."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return wait_output(self.proc, r"replayed (\d{4}-\d\d-\d\d)").group(1)


def wait_output(proc: subprocess.Popen[str], pattern: str) -> re.Match[str]:
    """Read the process's stdout up to the first line matching ``pattern``."""
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"the process ended (rc {proc.wait()}) before printing {pattern!r}")


def wait_started(pid: int, timeout: float = 30.0) -> None:
    """Wait until the command ``pid`` runs its own first line: its program is ours (it has
    exec'd: before, /proc shows the handlers this process forked it with) and it catches every
    stop signal (Linux: SigCgt in /proc/PID/status; Python itself catches only SIGINT), so a stop
    signal from now on is the command's to handle."""
    from algotrade.live.signals import STOP_SIGNALS

    wanted = sum(1 << (sig - 1) for sig in STOP_SIGNALS)
    own = Path("/proc/self/cmdline").read_bytes()
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}/cmdline").read_bytes() == own or \
            int(_proc_status(pid).get("SigCgt", "0"), 16) & wanted != wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} did not catch {', '.join(s.name for s in STOP_SIGNALS)} "
                                 f"within {timeout} s")
        threading.Event().wait(0.001)  # the interpreter is starting: nothing to wait on but its status


def _proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


@contextlib.contextmanager
def gateway_process(cwd: Path, experiment: Path, start: str, *extra: str, port: int = 0) -> Iterator[GatewayProcess]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "algotrade", "gateway", str(experiment), "--port", str(port), "--speed", "manual",
         "--start", start, *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd,
    )
    try:
        port = int(wait_output(proc, r"on 127\.0\.0\.1:(\d+)").group(1))
        yield GatewayProcess(proc, port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Lines:
    """A process's output (``stream``: its stdout or stderr), read in a thread so that a long run
    never blocks on a full pipe; :meth:`line` waits, for a bounded time, for a line of it."""

    def __init__(self, proc: subprocess.Popen[str], stream: Any, what: str = "the gateway") -> None:
        self.proc, self.what = proc, what
        self.lines: list[str] = []
        self._new = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), name=f"{what}-output", daemon=True).start()

    def _read(self, stream: Any) -> None:
        for text in stream:
            with self._new:
                self.lines.append(text)
                self._new.notify_all()
        with self._new:
            self.lines.append("")  # the end
            self._new.notify_all()

    def line(self, pattern: str, timeout: float = 60.0, after: int = 0) -> re.Match[str]:
        """The first output line from index ``after`` on that matches ``pattern``."""
        with self._new:
            i = after
            while True:
                while i < len(self.lines):
                    if self.lines[i] == "":  # its output ended
                        raise AssertionError(f"{self.what} ended (rc {self.proc.wait()}) before printing "
                                             f"{pattern!r}:\n{''.join(self.lines)}")
                    match = re.search(pattern, self.lines[i])
                    if match:
                        return match
                    i += 1
                if not self._new.wait(timeout):
                    raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{''.join(self.lines)}")


class ControlledGateway(Lines):
    """`algotrade gateway ... --control 0 --speed hold` as its own process, driven through its
    control port (what `algotrade gateway-ctl` sends); :meth:`line` waits for a line of its output."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        super().__init__(proc, proc.stdout)
        self.port = int(self.line(r" on 127\.0\.0\.1:(\d+) as account").group(1))
        self.control = int(self.line(r"control on 127\.0\.0\.1:(\d+)").group(1))

    def ctl(self, command: str) -> str:
        """Send a control command; its answer without the ``ok`` (an ``error`` fails the test)."""
        from adapters.ib.gateway.control import send

        answer = send("127.0.0.1", self.control, command)
        assert answer.startswith("ok "), answer
        return answer[3:]

    def status(self) -> dict[str, str]:
        words = self.ctl("status").split()
        return dict(zip(words[::2], words[1::2], strict=True))

    def kill(self) -> None:
        """kill -9, as a crash."""
        self.proc.kill()
        self.proc.wait(timeout=30)


@contextlib.contextmanager
def controlled_gateway(cwd: Path, experiment: Path, *extra: str, start: str = "2011-06-01") -> Iterator[ControlledGateway]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "algotrade", "gateway", str(experiment), "--port", "0", "--control", "0",
         "--speed", "hold", "--start", start, *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd,
    )
    try:
        yield ControlledGateway(proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
