"""`algotrade gateway` as a long-running process, the way people start it.

In the background with stdin at /dev/null or closed (`&`, nohup, docker, systemd, CI) it holds the
replay and serves until a stop signal; SIGUSR1 replays one session; SIGTERM, SIGINT and SIGHUP
close the client connections and exit 0 within 2 s, leaving no process behind. On a terminal
(a real pty here) Enter still replays a session, and Ctrl-C or closing the terminal stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from algotrade.cli import cli
from tests import gateway_fixtures as gf

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "paper_quickstart.yaml"
START = "2011-06-01"
STOP_WITHIN_S = 2.0
ib_guard = gf.ib_guard


@dataclass
class Background:
    """`algotrade gateway X.yaml ... &` started by a shell, as in a script; the shell waits for it
    and prints its exit code."""

    shell: subprocess.Popen[str]
    pid: int = 0
    port: int = 0
    seen: str = ""

    def line(self, pattern: str) -> re.Match[str]:
        """Read the output up to the first line matching ``pattern``."""
        assert self.shell.stdout is not None
        for text in self.shell.stdout:
            self.seen += text
            match = re.search(pattern, text)
            if match:
                return match
        raise AssertionError(f"the shell ended (rc {self.shell.wait()}) before printing {pattern!r}:\n{self.seen}")


@contextlib.contextmanager
def background(tmp_path: Path, *args: str, stdin: str = "</dev/null") -> Iterator[Background]:
    script = f'"$0" -m algotrade gateway "$@" {stdin} & echo "pid $!"; wait $!; echo "rc $?"'
    shell = subprocess.Popen(
        ["bash", "-c", script, sys.executable, str(EXPERIMENT), "--port", "0", "--start", START, *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        start_new_session=True,  # its own process group, and no controlling terminal
    )
    try:
        gw = Background(shell)
        gw.pid = int(gw.line(r"^pid (\d+)").group(1))
        gw.port = int(gw.line(r"on 127\.0\.0\.1:(\d+)").group(1))
        yield gw
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        shell.communicate(timeout=30)


def client(port: int) -> Any:
    ib = gf.IB()
    ib.RequestTimeout = gf.TIMEOUT
    ib.connect("127.0.0.1", port, clientId=5, timeout=10)
    return ib


def spx_bars(ib: Any) -> Any:
    (spx,) = ib.qualifyContracts(gf.ib_client.Stock("SPX", "SMART", "USD"))
    return ib.reqHistoricalData(spx, "", "1 M", "1 day", "TRADES", True, keepUpToDate=True)


def assert_group_gone(pgid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def stop(gw: Background, sig: signal.Signals) -> float:
    """Send ``sig``; the gateway's exit code (reported by the shell) must be 0; returns the seconds
    it took to exit."""
    t0 = time.monotonic()
    os.kill(gw.pid, sig)
    rc = int(gw.line(r"^rc (\d+)").group(1))
    elapsed = time.monotonic() - t0
    assert rc == 0
    return elapsed


HOLDS = r"holding at 2011-06-01 \(stdin is not a terminal\)"


@pytest.mark.parametrize(("stdin", "args", "holds", "sig", "alive_s"), [
    ("</dev/null", (), HOLDS, signal.SIGTERM, 5.0),   # `algotrade gateway X.yaml </dev/null &`
    ("0<&-", (), HOLDS, signal.SIGINT, 1.0),          # stdin closed; a background job's inherited SIGINT is ignored
    ("</dev/null", (), HOLDS, signal.SIGHUP, 1.0),    # what a closing terminal sends
    ("</dev/null", ("--speed", "manual"), r"stdin ended; holding at 2011-06-01", signal.SIGTERM, 1.0),
])
def test_gateway_in_the_background_serves_steps_on_sigusr1_and_stops_cleanly(
        tmp_path: Path, stdin: str, args: tuple[str, ...], holds: str, sig: signal.Signals, alive_s: float,
        ib_guard: gf.LogGuard) -> None:
    with background(tmp_path, *args, stdin=stdin) as gw:
        gw.line(holds)
        with pytest.raises(subprocess.TimeoutExpired):  # still serving: stdin's end does not stop it
            gw.shell.wait(timeout=alive_s)
        ib = client(gw.port)
        bars = spx_bars(ib)
        assert str(bars[-1].date) == START
        for day in ("2011-06-02", "2011-06-03"):  # each SIGUSR1 replays one session
            n = len(bars)
            os.kill(gw.pid, signal.SIGUSR1)
            gf.wait_until(ib, lambda n=n: len(bars) == n + 1, what=f"the bar of {day}")
            assert str(bars[-1].date) == day
            assert gw.line(r"replayed (\S+)").group(1) == day
        ib_guard.allow_text("Peer closed connection")
        elapsed = stop(gw, sig)
        assert elapsed < STOP_WITHIN_S, elapsed
        gf.wait_until(ib, lambda: not ib.isConnected(), what="the gateway closing the connection")
        assert gw.shell.wait(timeout=10) == 0
        _out, err = gw.shell.communicate(timeout=10)
    assert f"gateway: stopped by {sig.name}; 1 client connection closed" in gw.seen
    assert "Traceback" not in err and "ERROR" not in err, err
    assert_group_gone(gw.shell.pid)


def test_gateway_replays_by_itself_at_a_speed_without_a_terminal(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    with background(tmp_path, "--speed", "50") as gw:
        gw.line(r"replaying at 50 sessions a second")
        ib = client(gw.port)
        bars = spx_bars(ib)
        n = len(bars)
        gf.wait_until(ib, lambda: len(bars) >= n + 10, what="10 sessions replayed by themselves")
        ib_guard.allow_text("Peer closed connection")
        assert stop(gw, signal.SIGTERM) < STOP_WITHIN_S
        # (and let the client see it now: ib_async would raise it into the next test's requests)
        gf.wait_until(ib, lambda: not ib.isConnected(), what="the gateway closing the connection")
        gw.shell.communicate(timeout=10)
    assert_group_gone(gw.shell.pid)


#: where a stop signal lands: the command starting (imports, options, loading the market: a seeded
#: delay after its first line), serving, replaying a session (SIGUSR1 just before), with a client
GATEWAY_STOP_MOMENTS = ("starting", "serving", "replaying", "client")


@pytest.mark.parametrize("seed", [14])
def test_a_stop_signal_at_any_moment_stops_the_gateway_with_exit_0_and_one_line(
        tmp_path: Path, seed: int, ib_guard: gf.LogGuard) -> None:
    """SIGTERM, SIGINT or SIGHUP (seeded) at each of GATEWAY_STOP_MOMENTS: exit 0, a line that
    says it stopped, and nothing but its own lines on stderr (no traceback, no `Exception
    ignored`)."""
    import random

    from algotrade.live.signals import STOP_SIGNALS

    rng = random.Random(seed)
    ib_guard.allow_text("Peer closed connection")
    for moment in rng.sample(GATEWAY_STOP_MOMENTS, len(GATEWAY_STOP_MOMENTS)):
        sig = rng.choice(STOP_SIGNALS)
        proc = subprocess.Popen(
            [sys.executable, "-m", "algotrade", "gateway", str(EXPERIMENT), "--port", "0", "--start", START],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        ib = None
        try:
            if moment == "starting":
                gf.wait_started(proc.pid)
                time.sleep(rng.uniform(0.0, 1.0))  # the moment under test, somewhere in the start
            else:
                port = int(gf.wait_output(proc, r"on 127\.0\.0\.1:(\d+)").group(1))
                if moment == "replaying":
                    os.kill(proc.pid, signal.SIGUSR1)
                elif moment == "client":
                    ib = client(port)
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
        if ib is not None:
            gf.wait_until(ib, lambda ib=ib: not ib.isConnected(), what="the gateway closing the connection")
        assert proc.returncode == 0, (moment, sig, err)
        assert re.search(r"^gateway: stopped", out, re.MULTILINE), (moment, sig, out)
        assert not [line for line in err.splitlines() if not re.match(r"(INFO|WARNING) algotrade[.\w]*: ", line)], \
            (moment, sig, err)


def _controlling_terminal() -> None:  # in the child, after setsid(): stdin (the pty) becomes its terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.parametrize("end", ["ctrl-c", "terminal closed"])
def test_manual_mode_on_a_terminal_steps_on_enter(tmp_path: Path, end: str, ib_guard: gf.LogGuard) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "algotrade", "gateway", str(EXPERIMENT), "--port", "0", "--start", START],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        start_new_session=True, preexec_fn=_controlling_terminal,
    )
    os.close(slave)
    try:
        port = int(gf.wait_output(proc, r"on 127\.0\.0\.1:(\d+)").group(1))
        gf.wait_output(proc, r"Enter replays one session")
        ib = client(port)
        bars = spx_bars(ib)
        n = len(bars)
        os.write(master, b"\n")  # Enter
        assert gf.wait_output(proc, r"replayed (\S+)").group(1) == "2011-06-02"
        gf.wait_until(ib, lambda: len(bars) == n + 1, what="the bar Enter replayed")
        ib_guard.allow_text("Peer closed connection")
        t0 = time.monotonic()
        if end == "ctrl-c":
            os.write(master, b"\x03")  # the terminal sends SIGINT to its foreground process group
        else:
            os.close(master)  # the terminal goes away: the kernel sends SIGHUP
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - t0 < STOP_WITHIN_S
        gf.wait_until(ib, lambda: not ib.isConnected(), what="the gateway closing the connection")
        assert gf.wait_output(proc, r"stopped by (\S+);").group(1) == ("SIGINT" if end == "ctrl-c" else "SIGHUP")
        _out, err = proc.communicate(timeout=10)
        assert "Traceback" not in err, err
    finally:
        with contextlib.suppress(OSError):
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_group_gone(proc.pid)


# ---------------------------------------------------------------------------------------- bad options


@pytest.mark.parametrize(("args", "message"), [
    (["--speed", "fast"], "Invalid value for '--speed': 'fast' is not a speed"),
    (["--speed", "0"], "Invalid value for '--speed': '0' is not a speed"),
    (["--port", "70000"], "Invalid value for '--port'"),
    (["--start", "99999"], "config error: --start 99999: there is no session 99999; give an index 0..753"),
    (["--start", "1980-01-01"], "config error: --start 1980-01-01: outside the data's sessions 2010-01-04..2012-12-31"),
    (["--start", "2011-13-01"], "config error: --start '2011-13-01': not a session index or a date"),
    (["--account", ""], "config error: --account '': not an IB account id"),
    (["--host", "no.such.host.invalid"], "config error: --host no.such.host.invalid: cannot listen on"),
])
def test_bad_gateway_options_are_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["gateway", str(EXPERIMENT), "--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_a_taken_port_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["gateway", str(EXPERIMENT), "--port", str(port)])
    assert result.exit_code == 2
    assert result.output.startswith(f"config error: --port {port}: cannot listen on 127.0.0.1:{port} "
                                    "(Address already in use)"), result.output
