"""Paper burn-in through the real IB client and the gateway simulator; kill/restart; live refusal."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.ib.broker import IbBroker
from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.backtest.run import execute
from algotrade.core.config import load_experiment
from algotrade.core.data import load_market
from algotrade.live.broker import LiveRunner
from algotrade.live.journal import Journal
from algotrade.live.paper import EXIT_INTERRUPTED, EXIT_NO_GO, _trade, simulated_stream
from algotrade.live.signals import StopSignals
from tests import gateway_fixtures as gf

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "experiments" / "paper_quickstart.yaml"
SHORT = ("data.start=2010-01-04", "data.end=2011-06-30")


class Killed(Exception):
    """Stands for the process dying at a checkpoint."""


def test_paper_simulate_command_gives_the_backtests_trades(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "algotrade", "paper", str(PAPER), "--simulate", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "paper_quickstart" / "paper"
    burnin = json.loads((folder / "burnin.json").read_text())
    assert burnin["verdict"] == "go", burnin["reasons"]
    assert burnin["fills_equal_backtest"] and burnin["paper_fills"] >= 10
    assert burnin["config_id"] == load_experiment(PAPER).config_id
    assert burnin["final_equity"]["paper"] == pytest.approx(burnin["final_equity"]["backtest"], rel=1e-9)
    assert "Verdict: GO" in (folder / "burnin.html").read_text()
    assert (folder / "simulate-journal.sqlite").exists()  # its own journal, started afresh each time


def _kill_at(step: str, occurrence: int):  # type: ignore[no-untyped-def]
    seen = {"n": 0}

    def checkpoint(name: str) -> None:
        if name == step:
            seen["n"] += 1
            if seen["n"] == occurrence:
                raise Killed(f"{step} #{occurrence}")

    return checkpoint, seen


@pytest.mark.slow
@pytest.mark.parametrize(("step", "occurrence"), [
    ("intent", 1), ("placed", 1), ("submitted", 3), ("fill", 2), ("bar", 40), ("polled", 200),
])
def test_killed_paper_run_resumes_without_duplicate_or_lost_orders(step: str, occurrence: int, tmp_path: Path) -> None:
    """Killed between journal write and send, right after send, after a fill...: the restarted
    run sends every order exactly once and ends with the backtest's trades."""
    exp = load_experiment(PAPER, SHORT)
    market = load_market(exp.data)
    sim = GatewaySimulator(market, exp.broker, start=0)
    journal_path = tmp_path / "journal.sqlite"
    checkpoint, seen = _kill_at(step, occurrence)
    with run_in_thread(sim, port=0) as (host, port):
        broker = IbBroker(host, port, client_id=21, account=sim.account_id)
        runner = LiveRunner.from_experiment(exp, broker, Journal(journal_path), checkpoint=checkpoint)
        with pytest.raises(Killed):
            runner.run(simulated_stream(broker, sim, exp.data.symbols))
        broker.disconnect()
        assert seen["n"] == occurrence
        # a new process: a new client on the same journal, the gateway still running
        broker2 = IbBroker(host, port, client_id=21, account=sim.account_id)
        runner2 = LiveRunner.from_experiment(exp, broker2, Journal(journal_path))
        paper = runner2.run(simulated_stream(broker2, sim, exp.data.symbols))
        broker2.disconnect()
    refs = [o.order_ref for o in sim.account.orders.values()]
    assert len(refs) == len(set(refs)), f"an order was sent twice: {refs}"
    shadow, _ = execute(exp, market, "backtrader")
    ours = [(f.date, f.symbol, f.quantity, f.price) for f in paper.fills]
    expected = [(f.date, f.symbol, f.quantity, f.price) for f in shadow.fills]
    assert ours == expected
    assert len(refs) == len(expected)  # every order reached the broker, none lost


def test_live_refuses_without_a_passed_burnin(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "algotrade", "live", str(PAPER), "--out", str(tmp_path),
                           "--confirm-live"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "ALGOTRADE_IB_PORT": "4001", "ALGOTRADE_IB_ACCOUNT": "U7654321"})
    assert proc.returncode == 2
    assert "no burn-in verdict" in proc.stderr and "Traceback" not in proc.stderr
    # it names the burn-in it looked for, the flag to give another, and the command that produces it
    assert str(tmp_path / "paper_quickstart" / "paper" / "burnin.json") in proc.stderr
    assert "--burnin" in proc.stderr and f"algotrade paper {PAPER} --out {tmp_path}`" in proc.stderr  # pasteable
    assert "U7654321" not in proc.stdout + proc.stderr  # the account id is never printed
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_live_refusal_names_every_flag_and_variable_to_set(tmp_path: Path) -> None:
    """A newcomer's first `algotrade live`: paper port, no account, no flag; one refusal, all fixes."""
    proc = subprocess.run([sys.executable, "-m", "algotrade", "live", str(PAPER), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2, proc.stderr
    for name in ("--burnin", "ALGOTRADE_IB_PORT=4001", "ALGOTRADE_IB_ACCOUNT is not set", "--confirm-live"):
        assert name in proc.stderr, (name, proc.stderr)
    assert "port 4002" in proc.stderr and "Traceback" not in proc.stderr


def test_a_bad_ib_port_variable_is_a_config_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "algotrade", "paper", str(PAPER), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "ALGOTRADE_IB_PORT": "40o2"})
    assert proc.returncode == 2
    assert proc.stderr.startswith("config error: ALGOTRADE_IB_PORT '40o2': not a TCP port"), proc.stderr


def _paper(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "algotrade", "paper", str(PAPER), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _variant(*overrides: str) -> str:
    """The results folder name of a --set variant of the paper experiment."""
    return f"paper_quickstart@{load_experiment(PAPER, overrides).config_id}"


def test_paper_simulate_exits_3_on_no_go(tmp_path: Path) -> None:
    """Half a year is fewer sessions than the file's burnin.min_sessions: NO-GO, exit 3, so a
    script can gate on it (GO exits 0: test_paper_simulate_command_gives_the_backtests_trades).
    The --set variant's verdict goes to its own folder, where `live` with the same --set finds it,
    and the file's own verdict stays."""
    own = tmp_path / "paper_quickstart" / "paper" / "burnin.json"
    own.parent.mkdir(parents=True)
    own.write_text('{"verdict": "go"}')
    proc = _paper("--simulate", "--out", str(tmp_path), "--set", "data.end=2010-06-30")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_NO_GO == 3, err
    folder = tmp_path / _variant("data.end=2010-06-30") / "paper"
    burnin = json.loads((folder / "burnin.json").read_text())
    assert burnin["verdict"] == "no-go" and burnin["interrupted"] is None
    assert "verdict NO-GO" in out and "gate failed: ran 124 sessions, fewer than min_sessions 250" in out
    assert own.read_text() == '{"verdict": "go"}'
    live = subprocess.run([sys.executable, "-m", "algotrade", "live", str(PAPER), "--out", str(tmp_path), "--set",
                           "data.end=2010-06-30", "--confirm-live"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "ALGOTRADE_IB_PORT": "4001", "ALGOTRADE_IB_ACCOUNT": "U7654321"})
    assert live.returncode == 2
    assert f"the burn-in {folder / 'burnin.json'} (--burnin) did not pass: ran 124 sessions" in live.stderr, live.stderr


def test_paper_simulate_stops_after_sessions_and_each_run_starts_afresh(tmp_path: Path) -> None:
    """--sessions N ends a simulated burn-in after N sessions; the next one starts from the first
    session again in its own journal, and the journal of a paper run against TWS is not touched."""
    folder = tmp_path / _variant("data.end=2010-12-31") / "paper"
    with Journal(folder / "journal.sqlite") as theirs:  # a paper run against TWS, in the same folder
        theirs.set_state("their-run", "live_from", "42")
    before = (folder / "journal.sqlite").read_bytes()
    year = ("--set", "data.end=2010-12-31")
    proc = _paper("--simulate", "--sessions", "30", "--out", str(tmp_path), *year)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_NO_GO, err
    first = json.loads((folder / "burnin.json").read_text())
    assert first["measured"]["sessions"] == 30 and first["interrupted"] is None and "sessions 30 " in out
    proc = _paper("--simulate", "--out", str(tmp_path), *year)
    _out, err = proc.communicate(timeout=300)
    second = json.loads((folder / "burnin.json").read_text())
    assert second["measured"]["sessions"] == 252 and second["fills_equal_backtest"] is True, err
    assert (folder / "journal.sqlite").read_bytes() == before
    with Journal(folder / "journal.sqlite") as theirs:
        assert theirs.state("their-run", "live_from") == "42"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_paper_simulate_serves_a_watcher_on_its_port_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """--simulate --port P: another IB client connects to P and watches the replay; SIGTERM then
    stops the run like Ctrl-C: exit 130, and the verdict of the sessions it traded is written."""
    port = _free_port()
    proc = _paper("--simulate", "--port", str(port), "--out", str(tmp_path))
    assert proc.stderr is not None
    for line in proc.stderr:
        if "gateway simulator serves" in line:
            break
    assert f"on 127.0.0.1:{port} " in line, line
    watcher = gf.IB()
    watcher.RequestTimeout = gf.TIMEOUT
    watcher.connect("127.0.0.1", port, clientId=99, timeout=10)  # the run's own client is ib.client_id 17
    bars = watcher.reqHistoricalData(gf.ib_client.Stock("SPX", "SMART", "USD"), "", "5 Y", "1 day", "TRADES", True,
                                     keepUpToDate=True)
    gf.wait_until(watcher, lambda: len(bars) >= 30, timeout=60, what="30 sessions replayed for the burn-in")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    gf.wait_until(watcher, lambda: not watcher.isConnected(), what="the simulator closing its connections")
    assert proc.returncode == EXIT_INTERRUPTED == 130, err
    burnin = json.loads((tmp_path / "paper_quickstart" / "paper" / "burnin.json").read_text())
    assert burnin["interrupted"] == "SIGTERM" and 20 <= burnin["measured"]["sessions"] < 754
    assert burnin["fills_equal_backtest"] is True  # judged against a backtest of the bars it traded
    assert "stopped by SIGTERM before the end" in out and "Traceback" not in err


def test_paper_port_is_only_for_simulate(tmp_path: Path) -> None:
    proc = _paper("--port", "4002", "--out", str(tmp_path))
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and err.startswith("config error: --port 4002: only with --simulate"), err
    assert not (tmp_path / "paper_quickstart").exists()


def test_paper_simulate_on_a_taken_port_is_a_config_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _paper("--simulate", "--port", str(port), "--out", str(tmp_path))
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert re.search(rf"^config error: --port {port}: cannot listen on 127\.0\.0\.1:{port} \(Address already in use\)",
                     err), err
    assert "Traceback" not in err


class ScriptedRun:
    """Stands for the LiveRunner: trades each session of the stream, and can send itself a stop
    signal in the middle of one (``signal_at``: session index -> signals to send)."""

    def __init__(self, signal_at: dict[int, tuple[signal.Signals, ...]]) -> None:
        self.host = "the host so far"
        self.signal_at = signal_at
        self.traded: list[dt.date] = []

    def run(self, stream: Iterator[tuple[dt.date, dict[str, float]]]) -> str:
        for date, _bar in stream:
            for sig in self.signal_at.get(len(self.traded), ()):
                os.kill(os.getpid(), sig)  # arrives while the session is traded
            self.traded.append(date)  # the session completes
        return "the host at the end"


def _sessions(n: int, waiting: Any, signal_while_waiting: int | None = None) -> Iterator[tuple[dt.date, dict[str, float]]]:
    """A stream that waits (inside ``waiting()``) before each of its ``n`` sessions."""
    for k in range(n):
        with waiting():
            if k == signal_while_waiting:
                os.kill(os.getpid(), signal.SIGINT)
        yield dt.date(2021, 1, 4) + dt.timedelta(days=k), {"close": 100.0 + k}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_while_a_session_is_traded_lets_it_finish_then_stops_the_next_wait(sig: signal.Signals) -> None:
    runner = ScriptedRun({1: (sig,)})
    with StopSignals() as signals:
        host, stopped = _trade(runner, _sessions(5, signals.interruptible), signals)
    assert len(runner.traded) == 2 and (host, stopped) == ("the host so far", sig.name)
    assert signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler)  # the previous handler is back


def test_a_second_stop_signal_abandons_the_session() -> None:
    runner = ScriptedRun({1: (signal.SIGTERM, signal.SIGTERM)})
    with StopSignals() as signals:
        _host, stopped = _trade(runner, _sessions(5, signals.interruptible), signals)
    assert len(runner.traded) == 1 and stopped == "SIGTERM"  # the second session never completed


def test_a_stop_signal_while_waiting_for_a_bar_stops_at_once() -> None:
    runner = ScriptedRun({})
    with StopSignals() as signals:
        _host, stopped = _trade(runner, _sessions(5, signals.interruptible, signal_while_waiting=3), signals)
    assert len(runner.traded) == 3 and stopped == "SIGINT"


def test_a_stream_that_ends_by_itself_is_not_stopped() -> None:
    runner = ScriptedRun({})
    with StopSignals() as signals:
        assert _trade(runner, _sessions(4, signals.interruptible), signals) == ("the host at the end", None)
    assert len(runner.traded) == 4


class LoopErrors:
    """A loop whose exception handler records what asyncio would log (a task destroyed pending, a
    task exception never retrieved)."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.logged: list[str] = []
        self.loop.set_exception_handler(lambda loop, context: self.logged.append(context["message"]))

    def close(self) -> None:
        import gc

        gc.collect()  # what is left pending or unretrieved is reported as it is collected
        self.loop.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_inside_the_ib_clients_loop_stops_the_wait_and_leaves_no_task_behind(sig: signal.Signals) -> None:
    """As ib_async's sleep does: a task run by run_until_complete; the signal arrives in the
    middle of the task's step. The wait ends with the KeyboardInterrupt, and nothing is left for
    asyncio to log (a task holding the exception, a task destroyed pending)."""
    import asyncio

    async def wait_for_a_bar() -> None:
        os.kill(os.getpid(), sig)  # the handler runs in the middle of this task's step
        await asyncio.sleep(30)

    errors = LoopErrors()
    try:
        with StopSignals() as signals, pytest.raises(KeyboardInterrupt), signals.interruptible():
            task = asyncio.ensure_future(wait_for_a_bar(), loop=errors.loop)
            errors.loop.run_until_complete(task)
        assert signals.received == sig
        assert task.cancelled()  # finished when the stop signals were left, instead of left pending
        del task
    finally:
        errors.close()
    assert errors.logged == []


def test_a_stop_signal_between_two_runs_of_the_clients_loop_waits_for_our_own_code() -> None:
    """The signal finds the IB client's synchronous wrapper (a coroutine and a task made, its loop
    not running yet): the interruption waits until the program is back in our code, which a
    blocking wait there then ends at once."""
    import time

    client = {"__name__": "ib_async.util", "os": os, "signal": signal, "done": []}
    exec("def run():\n    os.kill(os.getpid(), signal.SIGTERM)\n    done.append('the wrapper finished')", client)
    with StopSignals() as signals, pytest.raises(KeyboardInterrupt), signals.interruptible():
        client["run"]()
        t0 = time.monotonic()
        time.sleep(10)  # ended by the interruption
    assert client["done"] == ["the wrapper finished"] and time.monotonic() - t0 < 5
    assert signals.received == signal.SIGTERM


def test_after_the_command_the_stop_signals_are_ignored_until_the_process_ends() -> None:
    """hold_early records a stop signal from the command's first line; the command's StopSignals
    acts on it (check() raises); once it is left, the process is ending: they are ignored."""
    from algotrade.live.signals import hold_early

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    try:
        hold_early(["--debug", "run", "x.yaml"])  # not a long-running command: nothing changes
        assert {s: signal.getsignal(s) for s in saved} == saved
        hold_early(["--debug", "paper", "x.yaml"])
        os.kill(os.getpid(), signal.SIGHUP)  # while the command starts: recorded
        with StopSignals() as signals, pytest.raises(KeyboardInterrupt):
            assert signals.received == signal.SIGHUP
            signals.check()
        assert all(signal.getsignal(s) == signal.SIG_IGN for s in saved)
        os.kill(os.getpid(), signal.SIGTERM)  # ignored: the test goes on
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def test_paper_and_live_help_document_their_exit_codes() -> None:
    from click.testing import CliRunner

    from algotrade.cli import cli

    for args in (["--help"], ["paper", "--help"], ["live", "--help"]):
        text = " ".join(CliRunner().invoke(cli, args).output.split())
        assert "3 verdict NO-GO" in text or "3 they say NO-GO" in text or "3 paper, live: the verdict is NO-GO" in text, text
        assert "130" in text and "SIGTERM" in text, text


def test_a_shorter_run_never_replaces_the_verdict_on_file(tmp_path: Path) -> None:
    from algotrade.live.paper import _keep_history

    (tmp_path / "burnin.json").write_text(json.dumps({"measured": {"sessions": 100}, "written_at": "2026-01-02T03:04:05+00:00"}))
    (tmp_path / "burnin.html").write_text("<p>100 sessions</p>")
    shorter = {"measured": {"sessions": 10}, "written_at": "2026-01-03T00:00:00+00:00"}
    assert _keep_history(tmp_path, shorter) == tmp_path / "burnin.json"  # kept: the new one goes to history only
    assert json.loads((tmp_path / "burnin-history" / "2026-01-02T030405Z.json").read_text())["measured"]["sessions"] == 100
    assert (tmp_path / "burnin-history" / "2026-01-02T030405Z.html").is_file()
    assert _keep_history(tmp_path, {"measured": {"sessions": 150}}) is None  # a longer run replaces it (archived)
