"""`algotrade paper`: a burn-in of an experiment through Interactive Brokers, with a verdict.

With ``--simulate`` the project's own gateway simulator serves the experiment's bars on a free
localhost port and replays them at full speed; the real IB client library talks to it over the
socket, exactly as it would to a paper TWS. The run is journaled (SQLite) so a killed run resumes
without duplicating or losing an order, and it is shadowed by a backtest on the same bars: the
burn-in compares the two fill by fill and writes ``burnin.json`` (with its ``verdict``, tied to the
experiment's config id) and ``burnin.html``.

This module runs the burn-in (its two entry points, the stop signals, the judging and the
summary); the bar streams from IB are in :mod:`algotrade.live.ib_streams`, the comparison with
the shadow and the verdicts on file in :mod:`algotrade.live.burnin_verdict`, both re-exported here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, load_experiment, symbols_text
from algotrade.core.data import Market, load_market
from algotrade.core.errors import AlgotradeError, BrokerError, ConfigError
from algotrade.core.host import StrategyHost
from algotrade.core.results import risk_events_frame
from algotrade.core.sessions import Backoff, SessionSchedule
from algotrade.live.burnin_verdict import _keep_history, _stamp, burnin_report
from algotrade.live.burnin_verdict import summary_text as summary_text  # re-exported
from algotrade.live.halts import halt_text, is_kill_halt
from algotrade.live.ib_streams import (
    GatewayClock,
    OutageTooLong,
    Waiting,
    final_sessions,
    gateway_stream,
    simulated_stream,
    subscribe,
)
from algotrade.live.journal import Journal
from algotrade.live.live_guard import seal, write_verdict
from algotrade.live.signals import StopSignals

SIMULATE_JOURNAL = "simulate-journal.sqlite"

#: exit codes of `algotrade paper` and `algotrade live` by their verdict (the errors keep theirs:
#: 2 a problem in the file, the data or the options, including a refused live start; 5 IB)
EXIT_GO = 0
EXIT_NO_GO = 3
EXIT_INTERRUPTED = 130
#: the run is halted by the kill switch: `algotrade resume` trades again
EXIT_KILLED = 6
#: how a halt for an outage longer than ib.max_outage_minutes starts (paper/live exit 5)
OUTAGE_HALT = "outage: "


class KilledRun(AlgotradeError):
    """A run halted by the kill switch is started with the plain command: it stays halted."""

    exit_code = EXIT_KILLED


@dataclass(frozen=True)
class PaperResult:
    folder: Path
    burnin: dict[str, Any]
    paper: StrategyHost
    shadow: StrategyHost
    #: the stop signal (SIGINT, SIGTERM, SIGHUP) that ended the run before its end, if one did
    interrupted: str | None = None
    #: the longer run's burnin.json, kept because this run was shorter (its verdict went to history)
    kept_verdict: Path | None = None
    #: where this run's verdict was written
    written: Path | None = None
    #: the run's operating layer (algotrade.live.ops.run.OpsRun: its state and metrics stay readable)
    ops: Any = None

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if is_kill_halt(self.burnin.get("halted")):
            return EXIT_KILLED
        if str(self.burnin.get("halted") or "").startswith(OUTAGE_HALT):
            return OutageTooLong.exit_code
        return EXIT_GO if self.burnin["verdict"] == "go" else EXIT_NO_GO


def _waiting(signals: StopSignals | None) -> Waiting:
    return signals.interruptible if signals is not None else contextlib.nullcontext


class NothingRun(KeyboardInterrupt):
    """Stopped before the first session arrived: there is nothing to judge (the journal is kept)."""



def _trade(runner: Any, stream: Iterator[tuple[dt.date, Mapping[str, Any]]],
           signals: StopSignals | None) -> tuple[StrategyHost, str | None]:
    """``runner.run(stream)`` under the stop signals: one that arrives while a session is traded
    (journal, orders, acknowledgements) lets the session finish and takes effect where the stream
    next waits (for a bar, to reconnect), which it interrupts at once. Returns the host and the
    stop signal's name (None when the stream ended by itself)."""
    if signals is None:
        try:
            return runner.run(stream), None
        except KeyboardInterrupt:
            return runner.host, "SIGINT"
    try:
        with signals.deferred():
            host = runner.run(stream)
    except KeyboardInterrupt:
        return runner.host, signals.name
    return host, signals.name if signals.received is not None else None


def paper_simulated(path: str | Path, overrides: tuple[str, ...] = (), out: str | Path | None = None,
                    run_id: str | None = None, *, port: int = 0, sessions: int | None = None,
                    signals: StopSignals | None = None, echo: Callable[[str], None] = lambda line: None,
                    ops_port: int | None = None, json_logs: bool = False,
                    environ: Mapping[str, str] | None = None) -> PaperResult:
    """A burn-in against the gateway simulator, replayed at full speed on 127.0.0.1:``port``
    (0: any free port), where any other IB client may connect to watch it; it ends after the
    last session, or after ``sessions`` sessions. ``ops_port`` (else ops.port): serve the
    run's metrics, health and dashboard there (0: any free port); ``json_logs``: JSON on stderr."""
    from algotrade.core.registry import broker_part, resolve_broker
    from algotrade.live.broker import LiveRunner, ib_restart_window
    from algotrade.live.ops.run import context, ops_run

    IbBroker = resolve_broker("ib")
    GatewaySimulator, run_in_thread = broker_part("ib", "gateway.GatewaySimulator"), broker_part("ib", "gateway.run_in_thread")

    exp = load_experiment(path, overrides)
    market: Market = load_market(exp.data, path, overrides)
    folder = run_folder(exp, path, overrides, out, "paper")
    folder.mkdir(parents=True, exist_ok=True)
    sim = GatewaySimulator(market, exp.broker, start=0)
    # the simulator's account starts empty every time, so an earlier rehearsal's journal would not
    # reconcile with it: a simulated burn-in starts afresh, in a journal of its own (journal.sqlite
    # next to it belongs to a paper run against TWS / IB Gateway, which it never touches)
    for suffix in ("", "-wal", "-shm"):
        (folder / f"{SIMULATE_JOURNAL}{suffix}").unlink(missing_ok=True)
    journal = Journal(folder / SIMULATE_JOURNAL)
    with run_in_thread(sim, port=port) as (host, bound), ops_run(
            exp, folder, context(path, overrides, out, "simulate", host, bound, environ), run_id=run_id or exp.config_id,
            port=ops_port, json_logs=json_logs, echo=echo) as ops:
        echo = ops.echo
        echo(f"paper: the gateway simulator serves {exp.name} on {host}:{bound} as account {sim.account_id} "
             f"({len(sim.dates)} sessions, replayed as fast as the run trades them)")
        broker = IbBroker(host, bound, client_id=exp.ib.client_id, account=sim.account_id, timeout=exp.ib.timeout,
                          symbols=exp.data.symbols)
        # the simulated clock (each session's close) drives the restart-window and stale-data checks
        runner = LiveRunner.from_experiment(exp, broker, journal, run_id=run_id, clock=sim.now,
                                            restart_window=ib_restart_window)
        ops.attach(runner)
        try:
            stream = simulated_stream(broker, sim, exp.data.symbols, _waiting(signals))
            paper, stopped = _trade(runner, itertools.islice(stream, sessions), signals)
        finally:
            broker.disconnect()
        # judged against a backtest on the bars it traded (all of them, unless stopped or --sessions)
        return _judge(exp, folder, runner, paper, _market_of(paper, exp.data.calendar), broker, mode="simulate",
                      missed_bars=0, stopped=stopped, signals=signals, path=path, overrides=overrides,
                      ops=ops)


def _judge(exp: Experiment, folder: Path, runner: Any, paper: StrategyHost, market: Market, broker: Any, *,
           mode: str, missed_bars: int, stopped: str | None, signals: StopSignals | None,
           path: str | Path, overrides: tuple[str, ...], live_from: int = 0, ops: Any = None) -> PaperResult:
    """The shadow backtest on ``market``, the verdict (burnin.json) and its page (burnin.html); a
    stop signal meanwhile waits for them to be written (a second one abandons them)."""
    if not len(paper.bars):
        if stopped:
            raise NothingRun(stopped)
        raise BrokerError(f"no daily bar of {symbols_text(exp.data.symbols)} arrived from IB: nothing to judge")
    with signals.deferred() if signals is not None else contextlib.nullcontext():
        shadow, _ = execute(exp, market, "backtrader", live_from=live_from)
        j, run_id = runner.journal, runner.run_id
        unreconciled = sum(1 for e in j.risk_events(run_id)
                           if e.kind.startswith("mismatch:") or e.kind == "unmatched_fill")
        result = burnin_report(exp, paper, shadow, disconnects=j.counter(run_id, "disconnects"),
                               missed_bars=missed_bars, unreconciled=unreconciled, mode=mode,
                               restarts=max(0, j.counter(run_id, "process_starts") - 1),
                               reconnects=j.counter(run_id, "reconnects"), outages=j.counter(run_id, "outages"))
        result["halted"] = runner.halted
        result["interrupted"] = stopped
        result["risk_events"] = [{"kind": e.kind, "subject": e.subject, "message": e.message, "at": e.written_at}
                                 for e in j.risk_events(run_id)]
        seal(result, j.path, run_id)
        result["written_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        from algotrade.live.burnin_report import write_burnin_html

        kept = _keep_history(folder, result)
        target = folder / ("burnin.json" if kept is None else "burnin-history" / Path(f"{_stamp(result)}.json"))
        write_verdict(target, result)
        # the paper run's own risk decisions (cuts, refusals, halts) in this process, as a backtest writes them
        risk_events_frame(paper).to_csv(target.with_name("risk_events.csv"), index=False)
        write_burnin_html(target.with_suffix(".html"), exp, result, paper, shadow, experiment_file=path,
                          overrides=overrides)
    return PaperResult(folder, result, paper, shadow, stopped, kept_verdict=kept, written=target, ops=ops)


def _market_of(host: StrategyHost, calendar: str) -> Market:
    import pandas as pd

    index = pd.DatetimeIndex([pd.Timestamp(d) for d in host.bars.dates])
    frames = {s: pd.DataFrame({f: a[f] for f in a}, index=index) for s, a in host.bars.arrays.items()}
    return Market(frames, calendar)


def paper_gateway(path: str | Path, overrides: tuple[str, ...] = (), out: str | Path | None = None, *,
                  sessions: int | None = None, mode: str = "paper", environ: Mapping[str, str] | None = None,
                  echo: Callable[[str], None] = lambda line: None, signals: StopSignals | None = None,
                  resume: bool = False, ops_port: int | None = None, json_logs: bool = False) -> PaperResult:
    """A burn-in (``mode="paper"``) or a live run (``"live"``, only after the guards) through the
    TWS / IB Gateway at the experiment's ``ib:`` endpoint (or ALGOTRADE_IB_HOST / _PORT, account in
    ALGOTRADE_IB_ACCOUNT).

    On a new run the daily history (``ib.history``) only warms the strategy up; it trades from the
    first session that closes after the start. Every step is journaled in
    ``OUT/<name>/<mode>/journal.sqlite``: run the same command again after a crash or a kill and it
    resumes, reconciling with IB, without duplicating or losing an order. Ends after ``sessions``
    live sessions (in total, across restarts), on Ctrl-C, or when the data goes stale; then writes
    the verdict against a shadow backtest on exactly the bars received. ``ops_port`` and
    ``json_logs`` as for :func:`paper_simulated`."""
    from algotrade.core.registry import resolve_broker
    from algotrade.live.broker import LiveRunner, ib_restart_window
    from algotrade.live.live_guard import LIVE_PORTS
    from algotrade.live.ops.run import context, ops_run

    IbBroker = resolve_broker("ib")

    env = os.environ if environ is None else environ
    exp = load_experiment(path, overrides)
    host_name, port = ib_endpoint(exp, env)
    if exp.data.calendar.lower() == "none":
        raise ConfigError("data.calendar: 'none' cannot tell when a bar is due in a paper or live run; set the "
                          "exchange's calendar, e.g. data.calendar: XNYS")
    if mode == "paper" and port in LIVE_PORTS:
        raise ConfigError(f"ib.port: {port} is the {LIVE_PORTS[port]} port and a paper burn-in never trades a live "
                          "account; use 7497 (TWS paper) or 4002 (IB Gateway paper), or ALGOTRADE_IB_PORT")
    folder = run_folder(exp, path, overrides, out, mode)
    folder.mkdir(parents=True, exist_ok=True)
    schedule = SessionSchedule(exp.data.calendar, dt.timedelta(minutes=exp.ib.bar_settle_minutes),
                               dt.timedelta(minutes=exp.ib.stale_after_minutes))
    backoff = Backoff(exp.ib.reconnect_initial_s, exp.ib.reconnect_max_s)
    with ops_run(exp, folder, context(path, overrides, out, mode, host_name, port, env), run_id=exp.config_id,
                 port=ops_port, json_logs=json_logs, echo=echo) as ops:
        echo = ops.echo
        broker = IbBroker(host_name, port, client_id=exp.ib.client_id, account=env.get("ALGOTRADE_IB_ACCOUNT", ""),
                          timeout=exp.ib.timeout, symbols=exp.data.symbols)
        clock = GatewayClock(broker)
        journal = Journal(folder / "journal.sqlite")
        runner = LiveRunner.from_experiment(exp, broker, journal, clock=clock, bar_due=schedule.bar_due,
                                            next_session=schedule.next_session, restart_window=ib_restart_window)
        monitor = ops.attach(runner)  # before this process's start is counted in the journal
        if is_kill_halt(runner.halted) and not resume:
            journal.close()
            again = f"bin/algotrade resume {path}" + (" --live" if mode == "live" else "") + "".join(
                f" --set {o}" for o in overrides)
            raise KilledRun(f"{mode}: {exp.name} is {halt_text(str(runner.halted))}; run `{again}` to trade again "
                            "(it reconciles with IB first)")
        if resume and runner.halted is not None:
            runner._risk_event("resumed", f"the operator resumed the run ({halt_text(runner.halted)})")
            echo(f"{mode}: resuming {exp.name}, which was {halt_text(runner.halted)}; reconciling with IB before any order")
            runner.halted = None
            journal.set_halt(runner.run_id, None)
            runner.observer.halt_changed(None)
        journal.bump(runner.run_id, "process_starts")
        done = journal.bars(runner.run_id)
        # a resumed run replays its own bars from the journal (any age: IB's history need not reach
        # back to its first bar) and takes from IB only the sessions after them; a journal without
        # stored bars (schema 0) is replayed from IB's history from its first bar, as before
        stored = journal.bar_data(runner.run_id)
        own = stored if done and len(stored) == len(done) else []
        first = dt.date.fromisoformat(done[0].date) if done and not own else None
        after = dt.date.fromisoformat(own[-1][0]) if own else None
        try:
            lists = subscribe(broker, exp.data.symbols, exp.ib.history, backoff, exp.ib.max_outage_minutes * 60) or {}
            if mode == "paper" and not broker.account_id.startswith("D"):
                raise BrokerError(f"the IB session at {host_name}:{port} manages account {mask_account(broker.account_id)}, "
                                  "not a paper account (DU...): a burn-in trades paper only; connect to a paper login")
            clock.sync()
            history = final_sessions(lists, None, schedule.last_final(clock()), first)
            live_from = runner.warm_up(len(history))
            warm_end = (own[live_from - 1][0] if own and live_from <= len(own) else
                        history[live_from - 1][0] if live_from and live_from <= len(history) else None)
            echo(f"{mode}: {exp.name} via {host_name}:{port}, account {mask_account(broker.account_id)}; "
                 f"{live_from} sessions of history warm up the strategy"
                 + (f" (resuming: {len(done)} sessions in the journal"
                    + (f", replayed from its own bars from {own[0][0]})" if own else ")") if done else "")
                 + (f"; trading from the session after {warm_end}" if warm_end else ""))

            def live_sessions() -> int:
                return max(0, len(runner.host.bars) - runner.live_from)

            def report(date: dt.date) -> None:
                if len(runner.host.bars) > runner.live_from:
                    eq = runner.host.equity[-1][2] if runner.host.equity else 0.0
                    echo(f"{mode}: {date} done: session {live_sessions()}, orders {len(runner.host.orders)}, "
                         f"fills {len(runner.host.fills)}, equity {eq:,.2f}")

            def send_held() -> None:
                sent = runner.send_held()
                if sent:
                    echo(f"{mode}: IB takes orders again: reconciled, and sent {sent} held order{'s' * (sent > 1)} "
                         f"before the session after {runner.host.bars.dates[-1]}")

            def replay() -> Iterator[tuple[dt.date, Mapping[str, Any]]]:
                for d, bars in own:
                    yield dt.date.fromisoformat(d), bars
                    report(dt.date.fromisoformat(d))

            stream = itertools.chain(replay(), gateway_stream(
                broker, exp.data.symbols, schedule, clock, lists, history=exp.ib.history, backoff=backoff, first=first,
                after=after,
                stop=lambda: ((sessions is not None and live_sessions() >= sessions) or runner.halted is not None
                              or (signals is not None and signals.received is not None)),
                stale=runner.check_stale, on_session=report, waiting=_waiting(signals),
                on_outage=runner.give_up, max_outage_s=exp.ib.max_outage_minutes * 60,
                holds_orders=runner.holds_orders, send_held=send_held, on_link=monitor.link_seen,
            ))
            paper, stopped = _trade(runner, stream, signals)
        except KeyboardInterrupt:  # while connecting, before any session
            raise NothingRun(signals.name if signals is not None else "SIGINT") from None
        finally:
            broker.disconnect()
        return _judge(exp, folder, runner, paper, _market_of(paper, exp.data.calendar), broker, mode=mode,
                      missed_bars=missed_sessions(paper, schedule), stopped=stopped, signals=signals,
                      path=path, overrides=overrides, live_from=runner.live_from, ops=ops)


def missed_sessions(host: StrategyHost, schedule: SessionSchedule) -> int:
    """Exchange sessions between the first and the last live bar that never arrived."""
    dates = host.bars.dates[host.live_from:]
    if len(dates) < 2:
        return 0
    missed, day = 0, dates[0]
    got = set(dates)
    while day < dates[-1]:
        day = schedule.next_session(day)
        missed += day not in got
    return missed


def run_folder(exp: Experiment, path: str | Path, overrides: tuple[str, ...], out: str | Path | None,
               mode: str) -> Path:
    """OUT/<name>/<mode>/ (paper or live) for the file as written, OUT/<name>@<config id>/<mode>/
    for a --set variant, as `algotrade run` names its folders: a variant's burn-in never replaces
    the file's own, and `live` and `kill` with the same --set find it."""
    from algotrade.backtest.run import results_name

    return Path(out or exp.output.dir) / results_name(exp, path, overrides) / mode


def mask_account(account: str) -> str:
    """An account id as it may be printed: its kind (DU paper, U live) and nothing that identifies it."""
    return account[:2] + "***"


def ib_endpoint(exp: Experiment, environ: Mapping[str, str] | None = None) -> tuple[str, int]:
    """ib.host:ib.port, or ALGOTRADE_IB_HOST / ALGOTRADE_IB_PORT when set."""
    env = os.environ if environ is None else environ
    host = env.get("ALGOTRADE_IB_HOST", "").strip() or exp.ib.host
    text = env.get("ALGOTRADE_IB_PORT", "").strip()
    if not text:
        return host, exp.ib.port
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"ALGOTRADE_IB_PORT {text!r}: not a TCP port; set it to 1..65535 (7497 TWS paper, 4002 "
                          "IB Gateway paper, 7496 / 4001 live), or unset it to use ib.port")
    return host, int(text)
