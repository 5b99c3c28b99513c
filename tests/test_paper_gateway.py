"""`algotrade paper` and `algotrade live` against a gateway they did not start, as against a real TWS.

`algotrade gateway` runs in its own process (as IB Gateway would) in manual mode; the test replays
one session at a time and waits for the paper run to report that session done, so both sides stay
in lockstep without sleeping. The paper run finds out when a bar is final from the gateway's own
clock (reqCurrentTime) and the exchange calendar, exactly as it does against TWS.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import SimpleNamespace

import pytest

from algotrade.core.sessions import Backoff, SessionSchedule
from algotrade.live.broker import InMemoryBroker
from algotrade.live.signals import STOP_SIGNALS
from tests import gateway_fixtures as gf

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "paper_quickstart.yaml"
START = "2011-06-01"


Gateway = gf.GatewayProcess
live_port = gf.live_port


def gateway(tmp_path: Path, *extra: str, port: int = 0) -> AbstractContextManager[Gateway]:
    return gf.gateway_process(tmp_path, EXPERIMENT, START, *extra, port=port)


STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_run_left_behind() -> Iterator[None]:
    """A test that fails midway must not leave its paper or live run reconnecting forever."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def start_run(tmp_path: Path, port: int, *args: str, command: str = "paper",
              env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "algotrade", command, str(EXPERIMENT), "--out", str(tmp_path / "out"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "ALGOTRADE_IB_PORT": str(port), **(env or {})},
    )
    STARTED.append(proc)
    return proc


def wait_line(proc: subprocess.Popen[str], pattern: str) -> str:
    assert proc.stderr is not None
    for line in proc.stderr:
        if re.search(pattern, line):
            return line
    raise AssertionError(f"the run ended (rc {proc.wait()}) before printing {pattern!r}")


def lockstep(gw: Gateway, proc: subprocess.Popen[str], sessions: int, mode: str = "paper") -> list[str]:
    """Replay ``sessions`` sessions, each only after the run has finished the one before."""
    days = []
    for _ in range(sessions):
        day = gw.advance()
        wait_line(proc, rf"^{mode}: {day} done")
        days.append(day)
    return days


def burnin(tmp_path: Path, mode: str = "paper") -> dict[str, object]:
    return json.loads((tmp_path / "out" / "paper_quickstart" / mode / "burnin.json").read_text())  # type: ignore[no-any-return]


def test_paper_burnin_against_a_running_gateway_trades_like_the_backtest(tmp_path: Path) -> None:
    with gateway(tmp_path) as gw:
        proc = start_run(tmp_path, gw.port, "--sessions", "60")
        line = wait_line(proc, r"^paper: .*warm up")
        assert "DU***" in line and f"trading from the session after {START}" in line
        days = lockstep(gw, proc, 60)
        out, err = proc.communicate(timeout=120)
    b = burnin(tmp_path)
    # 60 sessions are fewer than the file's burnin.min_sessions (250): NO-GO, exit 3, for a script to gate on
    assert proc.returncode == 3, err
    assert b["verdict"] == "no-go" and b["reasons"][0].startswith("ran 60 sessions, fewer than min_sessions 250")  # type: ignore[index]
    assert "verdict NO-GO" in out
    assert b["mode"] == "paper" and b["measured"]["sessions"] == 60  # type: ignore[index]
    assert b["fills_equal_backtest"] is True, b
    assert b["paper_fills"] == b["backtest_fills"] and int(b["paper_fills"]) >= 2  # type: ignore[call-overload]
    assert b["missed_bars"] == 0 and b["disconnects"] == 0
    assert days[0] > START and "verdict" in out


def test_killed_paper_run_resumes_without_duplicating_or_losing_an_order(tmp_path: Path) -> None:
    """Kill -9 while the run handles the session that sends an order (2011-07-05: the crossover
    that buys at the next open), restart the same command: the journal carries it on, wherever the
    kill landed (before the intent, between journal and send, after the send); the fills still
    equal the backtest's (nothing sent twice, nothing lost) and each orderRef reached IB once."""
    from algotrade.live.journal import Journal

    with gateway(tmp_path) as gw:
        proc = start_run(tmp_path, gw.port, "--sessions", "60")
        wait_line(proc, r"warm up")
        lockstep(gw, proc, 22)
        assert gw.advance() == "2011-07-05"
        proc.send_signal(signal.SIGKILL)  # at once: the run is somewhere inside that session
        proc.wait(timeout=30)
        proc = start_run(tmp_path, gw.port, "--sessions", "60")
        wait_line(proc, r"resuming")
        wait_line(proc, r"^paper: 2011-07-05 done")  # caught up (a session it had done is replayed)
        lockstep(gw, proc, 37)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err  # the run ended normally, with a NO-GO verdict (60 < min_sessions)
    b = burnin(tmp_path)
    assert b["fills_equal_backtest"] is True, json.dumps(b)
    with Journal(tmp_path / "out" / "paper_quickstart" / "paper" / "journal.sqlite") as j:
        refs = [i.order_ref for i in j.intents()]
        assert len(refs) == len(set(refs))
        assert all(j.broker_id(r) for r in refs[:-1])  # every intent but perhaps the last reached IB


def test_paper_refuses_a_live_port(tmp_path: Path) -> None:
    proc = start_run(tmp_path, 4001)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "ib.port: 4001 is the IB Gateway live port" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "paper_quickstart" / "paper" / "journal.sqlite").exists()


@pytest.fixture(scope="module")
def offline_burnin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results folder of a passed offline burn-in (`algotrade paper --simulate`), which `live`
    requires on file: run once for the module; each live test starts from a copy of it."""
    from algotrade.live.paper import paper_simulated

    out = tmp_path_factory.mktemp("offline") / "out"
    assert paper_simulated(EXPERIMENT, out=out).burnin["verdict"] == "go"
    return out


def passed_burnin(tmp_path: Path, offline_burnin: Path) -> None:
    """The offline burn-in's results in ``tmp_path / "out"``, as if the test had run it there."""
    import shutil

    shutil.copytree(offline_burnin, tmp_path / "out")


def test_live_routes_orders_once_every_guard_passed(tmp_path: Path, offline_burnin: Path, live_port: int) -> None:
    """A passed burn-in for this config id, a live port, a live account and --confirm-live: the live
    run trades through the gateway (here the simulator on the live port 4001, as account U...)."""
    passed_burnin(tmp_path, offline_burnin)
    with gateway(tmp_path, "--account", "U7654321", port=4001) as gw:
        assert gw.port == 4001
        run = start_run(tmp_path, 4001, "--confirm-live", "--sessions", "30", command="live",
                        env={"ALGOTRADE_IB_ACCOUNT": "U7654321"})
        wait_line(run, r"^live: .*warm up")
        lockstep(gw, run, 30, mode="live")
        out, err = run.communicate(timeout=120)
        kill = subprocess.run(
            [sys.executable, "-m", "algotrade", "kill", str(EXPERIMENT), "--live", "--out", str(tmp_path / "out")],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
            env={**os.environ, "ALGOTRADE_IB_PORT": "4001", "ALGOTRADE_IB_ACCOUNT": "U7654321"},
        )
    assert run.returncode == 3, err  # 30 live sessions: the gates (min_sessions 250) say NO-GO, and live exits 3
    assert "gates say NO-GO" in out
    assert "U7654321" not in out + err  # the account id is masked everywhere
    assert kill.returncode == 0 and "halted" in kill.stdout, kill.stderr  # the kill switch finds the live journal
    b = burnin(tmp_path, "live")
    assert b["mode"] == "live" and b["fills_equal_backtest"] is True and int(b["paper_fills"]) >= 1  # type: ignore[call-overload]


def test_session_schedule_follows_the_exchange_calendar() -> None:
    s = SessionSchedule("XNYS")
    assert s.next_session(dt.date(2011, 7, 1)) == dt.date(2011, 7, 5)  # Independence Day weekend
    assert s.close(dt.date(2011, 11, 25)) == dt.datetime(2011, 11, 25, 18, 0, tzinfo=dt.UTC)  # early close, 13:00 NY
    at = dt.datetime(2011, 7, 5, 20, 5, tzinfo=dt.UTC)  # 16:05 New York: the bar is not final yet
    assert s.last_final(at) == dt.date(2011, 7, 1)
    assert s.last_final(at + dt.timedelta(minutes=10)) == dt.date(2011, 7, 5)
    assert s.bar_due(dt.date(2011, 7, 1)) == dt.datetime(2011, 7, 5, 22, 10, tzinfo=dt.UTC)


def test_reconnect_backoff_doubles_up_to_its_cap_and_resets() -> None:
    b = Backoff(0.5, 4.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay() == 0.5


class ScriptedFeed(InMemoryBroker):
    """The in-memory broker plus the data side the gateway stream uses: a daily bar list kept up to
    date, the gateway's clock, and a client loop whose every turn moves the clock an hour on and
    delivers each scripted bar once its session is final."""

    def __init__(self, schedule: SessionSchedule, days: list[dt.date], start: dt.datetime) -> None:
        super().__init__(account_id="DU0000009")
        self.schedule, self.now = schedule, start
        self.script = [SimpleNamespace(date=d, open=100.0 + k, high=101.0 + k, low=99.0 + k, close=100.5 + k,
                                       volume=1e6) for k, d in enumerate(days)]
        self.bars: list[SimpleNamespace] = []
        self.ib = SimpleNamespace(sleep=self._turn)

    def daily_bars(self, symbol: str, keep_up_to_date: bool = True, duration: str = "") -> list[SimpleNamespace]:
        return self.bars

    def server_time(self) -> dt.datetime:
        return self.now

    def wait_acknowledged(self, timeout: float = 30.0) -> None:
        return None

    def _turn(self, seconds: float) -> None:
        self.now += dt.timedelta(hours=1)
        while self.script and self.schedule.final_at(self.script[0].date) <= self.now:
            self.bars.append(self.script.pop(0))


@pytest.mark.parametrize("arrival", ["live", "caught_up"])
def test_a_missing_session_halts_trading_as_stale_data(tmp_path: Path, arrival: str) -> None:
    """2021-02-10 never arrives. live: the bars come one by one, and once 02-10 is overdue by the
    gateway's clock (final + grace) the run halts. caught_up: everything up to March is already
    in the history (the run was down), and the gap itself halts it. Either way the run journals
    why and trades nothing after 2021-02-09, although later sessions' bars are there."""
    from algotrade.core.config import load_experiment
    from algotrade.live.broker import LiveRunner
    from algotrade.live.journal import Journal
    from algotrade.live.paper import GatewayClock, gateway_stream

    schedule = SessionSchedule("XNYS")
    days = [d for d in (dt.date(2021, 1, 4) + dt.timedelta(days=i) for i in range(60)) if schedule.is_session(d)]
    missing = dt.date(2021, 2, 10)
    now = schedule.final_at(days[19] if arrival == "live" else days[-1])
    broker = ScriptedFeed(schedule, [d for d in days if d != missing], now)
    broker.connect()
    broker._turn(0)
    clock = GatewayClock(broker, refresh_s=0.0)
    journal = Journal(tmp_path / "journal.sqlite")
    runner = LiveRunner.from_experiment(load_experiment(EXPERIMENT), broker, journal, clock=clock,
                                        bar_due=schedule.bar_due, next_session=schedule.next_session)
    runner.warm_up(20)  # the first 20 sessions are history
    host = runner.run(gateway_stream(broker, ("SPX",), schedule, clock, {"SPX": broker.bars}, history="1 Y",
                                     backoff=Backoff(), stale=runner.check_stale, poll_s=0.01, slice_s=0.0))
    assert host.bars.dates[-1] == dt.date(2021, 2, 9) and len(host.bars) > runner.live_from
    assert runner.halted is not None and runner.halted.startswith("stale data: no bar after 2021-02-09")
    assert journal.halt(runner.run_id) == runner.halted
    if arrival == "caught_up":
        assert broker.bars[-1].date > missing  # later sessions were there, and were not traded


def test_paper_needs_an_exchange_calendar(tmp_path: Path) -> None:
    proc = start_run(tmp_path, 4002, "--set", "data.calendar=none")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "data.calendar: 'none' cannot tell when a bar is due" in err, err


@pytest.mark.parametrize(("command", "sig"), [("paper", signal.SIGTERM), ("paper", signal.SIGINT), ("live", signal.SIGTERM)])
def test_a_stop_signal_ends_a_run_like_ctrl_c_and_the_same_command_resumes(
        tmp_path: Path, command: str, sig: signal.Signals, request: pytest.FixtureRequest) -> None:
    """`kill`, `docker stop`, systemd (SIGTERM), Ctrl-C (SIGINT) or a closed terminal (SIGHUP) while
    the run waits for the next bar: it writes the verdict of the sessions it traded, exits 130,
    and keeps its journal, from which the same command resumes."""
    args: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    env: dict[str, str] = {}
    port = 0
    if command == "live":  # a passed burn-in on file, a live port, a live account, the flag
        passed_burnin(tmp_path, request.getfixturevalue("offline_burnin"))
        args, extra, env, port = ("--confirm-live",), ("--account", "U7654321"), {"ALGOTRADE_IB_ACCOUNT": "U7654321"}, 4001
        request.getfixturevalue("live_port")  # 4001 for this test alone
    with gateway(tmp_path, *extra, port=port) as gw:
        proc = start_run(tmp_path, gw.port, *args, command=command, env=env)  # no --sessions: until stopped
        wait_line(proc, rf"^{command}: .*warm up")
        lockstep(gw, proc, 3, mode=command)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        b = burnin(tmp_path, command)
        assert b["interrupted"] == sig.name and b["measured"]["sessions"] == 3  # type: ignore[index]
        assert f"stopped by {sig.name} before the end" in out and "resume" in out
        assert not own_lines_only(err, command), err  # no traceback, no `Exception ignored`, no asyncio error
        if sig == signal.SIGTERM and command == "paper":
            again = start_run(tmp_path, gw.port, "--sessions", "5", command=command, env=env)
            wait_line(again, r"resuming: \d+ sessions in the journal")
            lockstep(gw, again, 2, mode=command)
            _out, err = again.communicate(timeout=120)
            assert again.returncode == 3, err  # ended by --sessions: the verdict's code (NO-GO: 5 < 250 sessions)
            b = burnin(tmp_path, command)
            assert b["interrupted"] is None and b["measured"]["sessions"] == 5  # type: ignore[index]
            assert b["fills_equal_backtest"] is True


def own_lines_only(err: str, command: str) -> list[str]:
    """The stderr lines that are not the run's own (a traceback, `Exception ignored`, an asyncio
    error, a warning): there must be none."""
    return [line for line in err.splitlines() if not re.match(rf"({command}|(INFO|WARNING) algotrade[.\w]*): ", line)]


#: where a stop signal lands: the command starting (imports, options, loading the file: a seeded
#: delay after its first line), waiting for its first bar, trading a session, waiting for the next
STOP_MOMENTS = ("starting", "warm-up", "session", "waiting")


@pytest.mark.parametrize("seed", [14])
def test_a_stop_signal_at_any_moment_exits_130_cleanly_and_the_journal_resumes(tmp_path: Path, seed: int) -> None:
    """SIGTERM, SIGINT or SIGHUP (seeded) at each of STOP_MOMENTS, one run after the other on
    the same journal: each run exits 130 with its own lines only on stderr (no traceback, no
    `Exception ignored`, no asyncio error), says which signal stopped it, and the next run
    resumes from the journal; a last run trades on to the backtest's fills."""
    import random

    rng = random.Random(seed)
    with gateway(tmp_path) as gw:
        replayed, traded = 0, False  # sessions the gateway replayed; whether the journal surely has one
        for moment in rng.sample(STOP_MOMENTS, len(STOP_MOMENTS)):
            sig = rng.choice(STOP_SIGNALS)
            proc = start_run(tmp_path, gw.port)
            if moment == "starting":
                gf.wait_started(proc.pid)
                time.sleep(rng.uniform(0.0, 0.8))  # the moment under test, somewhere in the start
            else:
                line = wait_line(proc, r"^paper: .*warm up")
                assert not traded or "resuming" in line, line
                if moment == "session":
                    gw.advance()  # the run receives and trades it as the signal arrives (or just before)
                    replayed += 1
                elif moment == "waiting":
                    lockstep(gw, proc, 1)
                    replayed, traded = replayed + 1, True
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 130, (moment, sig, err)
            assert not own_lines_only(err, "paper"), (moment, sig, err)
            assert f"stopped by {sig.name}" in out + err, (moment, sig, out, err)
        proc = start_run(tmp_path, gw.port, "--sessions", str(replayed + 2))
        lockstep(gw, proc, 2)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err  # ended by --sessions: NO-GO, fewer than min_sessions
    assert not own_lines_only(err, "paper"), err
    b = burnin(tmp_path)
    assert b["interrupted"] is None and b["measured"]["sessions"] == replayed + 2  # type: ignore[index]
    assert b["fills_equal_backtest"] is True, b


def test_a_run_older_than_ib_history_resumes_from_its_own_bars(tmp_path: Path) -> None:
    """ib.history is one month: after 30 sessions the run's first bar is older than any history
    IB would send, so a resume that replayed IB's history from bar 0 could not start (it exited 2);
    it replays its journal's own bars instead, and trades on."""
    from algotrade.live.journal import Journal

    short = ("--set", "ib.history=1 M")
    with gateway(tmp_path) as gw:
        proc = start_run(tmp_path, gw.port, "--sessions", "40", *short)
        wait_line(proc, r"warm up")
        lockstep(gw, proc, 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc = start_run(tmp_path, gw.port, "--sessions", "40", *short)
        line = wait_line(proc, r"resuming")
        assert "replayed from its own bars" in line
        lockstep(gw, proc, 10)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err  # ended normally: 40 sessions < min_sessions
    b = burnin(tmp_path)
    assert b["measured"]["sessions"] == 40 and b["fills_equal_backtest"] is True, b  # type: ignore[index]
    with Journal(tmp_path / "out" / "paper_quickstart" / "paper" / "journal.sqlite") as j:
        run_id = str(b["config_id"])  # the run id is the config id
        rows = j.bars(run_id)
        assert len(rows) == len(j.bar_data(run_id)) > 40
        first = dt.date.fromisoformat(rows[0].date)
        assert first < dt.date(2011, 7, 13) - dt.timedelta(days=31)  # older than ib.history at the resume


def test_kill_then_resume_continues_the_run_and_keeps_its_verdict_history(tmp_path: Path) -> None:
    """`algotrade kill` while the run trades: the run stops halted by the kill switch (exit 6), the
    plain command refuses with a pointer to `resume` and leaves the verdict alone, `resume` carries
    the run on from its journal, and no verdict is replaced by a shorter run's."""
    folder = tmp_path / "out" / "paper_quickstart" / "paper"
    env = {**os.environ}
    with gateway(tmp_path) as gw:
        proc = start_run(tmp_path, gw.port, "--sessions", "30")
        wait_line(proc, r"warm up")
        lockstep(gw, proc, 12)
        kill = subprocess.run([sys.executable, "-m", "algotrade", "kill", str(EXPERIMENT), "--out", str(tmp_path / "out")],
                              capture_output=True, text=True, cwd=tmp_path, timeout=60,
                              env={**env, "ALGOTRADE_IB_PORT": str(gw.port)})
        assert kill.returncode == 0 and "halted by the kill switch at" in kill.stdout, kill.stderr
        assert "bin/algotrade resume" in kill.stdout
        lockstep(gw, proc, 1)  # the running process sees the halt at its next session and stops
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 6, err
        assert "halted by the kill switch at" in out and "Traceback" not in err
        killed = burnin(tmp_path)
        assert killed["measured"]["sessions"] == 13 and str(killed["halted"]).startswith("kill switch at ")  # type: ignore[index]
        assert "halted by the kill switch" in (folder / "burnin.html").read_text()
        before = (folder / "burnin.json").read_text()
        plain = start_run(tmp_path, gw.port, "--sessions", "30")
        _out, err = plain.communicate(timeout=60)
        assert plain.returncode == 6 and "halted by the kill switch at" in err and "bin/algotrade resume" in err, err
        assert "Traceback" not in err and (folder / "burnin.json").read_text() == before  # the record is intact
        again = start_run(tmp_path, gw.port, "--sessions", "20", command="resume")
        wait_line(again, r"resuming paper_quickstart, which was halted by the kill switch")
        wait_line(again, r"^paper: .* done: session 13,")
        lockstep(gw, again, 7)
        out, err = again.communicate(timeout=120)
    assert again.returncode == 3, err  # ran to --sessions 20: NO-GO (20 < min_sessions), not halted
    b = burnin(tmp_path)
    assert b["measured"]["sessions"] == 20 and b["halted"] is None, b  # type: ignore[index]
    assert b["restarts"] == 1 and [e["kind"] for e in b["risk_events"]] == ["kill_switch", "resumed"]  # type: ignore[index]
    kept = sorted((folder / "burnin-history").glob("*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["measured"]["sessions"] == 13
    assert kept[0].with_suffix(".html").is_file()


def test_an_outage_longer_than_the_limit_halts_and_exits_non_zero(tmp_path: Path) -> None:
    """The gateway goes away for good: the run retries for ib.max_outage_minutes (here 3 s), then
    halts, flags the burn-in (an outage, NO-GO) and exits 5 with one line."""
    with gateway(tmp_path) as gw:
        proc = start_run(tmp_path, gw.port, "--sessions", "30", "--set", "ib.max_outage_minutes=0.05")
        wait_line(proc, r"warm up")
        lockstep(gw, proc, 3)
        gw.proc.kill()
        gw.proc.wait(timeout=30)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 5, err
    assert "halted: outage: IB at 127.0.0.1:" in out and "longer than ib.max_outage_minutes 0.05" in out, out
    assert "Traceback" not in err
    b = burnin(tmp_path)
    assert b["verdict"] == "no-go" and b["outages"] == 1 and any("outages" in r for r in b["reasons"]), b  # type: ignore[union-attr]


def test_subscribe_gives_up_after_the_outage_limit_and_stops_when_stale() -> None:
    from algotrade.core.errors import TransientBrokerError
    from algotrade.live.paper import OutageTooLong, subscribe

    class Down:
        host, port = "127.0.0.1", 1

        def connect(self) -> None:
            raise TransientBrokerError("refused")

        def disconnect(self) -> None:
            pass

    with pytest.raises(OutageTooLong, match=r"longer than ib\.max_outage_minutes"):
        subscribe(Down(), ("X",), "1 M", Backoff(0.001, 0.001), max_outage_s=0.01)
    assert subscribe(Down(), ("X",), "1 M", Backoff(0.001, 0.001), max_outage_s=60, stale=lambda: True) is None


def test_a_gateway_restarted_empty_is_a_mismatch_that_halts_and_reconcile_shows_it(tmp_path: Path) -> None:
    """kill -9 the gateway after the run bought, start a new one without its state on the same
    port: the run reconnects, reconciles, finds the broker flat against the journal's position,
    halts new orders (a risk event; NO-GO) and says so; `algotrade reconcile` shows the diff, exit 3."""
    with gateway(tmp_path) as gw:
        proc = start_run(tmp_path, gw.port, "--sessions", "60")
        wait_line(proc, r"warm up")
        days = lockstep(gw, proc, 25)  # the crossover of 2011-07-05 bought at the next open
        port = gw.port
        gw.proc.kill()
        gw.proc.wait(timeout=30)
    with gf.gateway_process(tmp_path, EXPERIMENT, days[-1], port=port) as empty:
        empty.advance()
        out, err = proc.communicate(timeout=120)
        rec = subprocess.run([sys.executable, "-m", "algotrade", "reconcile", str(EXPERIMENT), "--out",
                              str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                             env={**os.environ, "ALGOTRADE_IB_PORT": str(port)})
    assert proc.returncode == 3, err
    assert "halted: reconcile found mismatches: SPX: the broker holds +0, the journal's fills imply +" in out, out
    b = burnin(tmp_path)
    assert b["verdict"] == "no-go" and b["measured"]["unreconciled"] >= 1  # type: ignore[index]
    assert "mismatch:position" in [e["kind"] for e in b["risk_events"]]  # type: ignore[union-attr]
    assert rec.returncode == 3 and "DIFFERS by -" in rec.stdout and "mismatches 1" in rec.stdout, rec.stdout + rec.stderr
