"""The trading commands, through Interactive Brokers: ``paper``, ``live``, ``kill``, ``resume``, ``reconcile``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from algotrade.cli.app import cli, set_option


def _ib_run(mode: str, run: Callable[[Any], Any], again: Sequence[str]) -> None:
    """Runs a paper or live run under the stop signals, prints its summary and exits with its code
    (0 GO, 3 NO-GO, 130 stopped by a signal: algotrade.live.paper.EXIT_*). ``again``: the command's
    arguments, printed as the command that resumes a stopped run."""
    from algotrade.core.shell import command
    from algotrade.live.paper import EXIT_INTERRUPTED, summary_text
    from algotrade.live.signals import StopSignals

    with StopSignals() as signals:
        try:
            signals.check()  # one received while the command started
            result = run(signals)
        except KeyboardInterrupt:
            click.echo(f"{mode}: stopped by {signals.name} before the first session; nothing to judge (the "
                       f"journal is kept); start it again with {command(*again)}", err=True)
            sys.exit(EXIT_INTERRUPTED)
    text = summary_text(result, again=command(*again))
    if result.ops is not None and result.ops.json_logs:  # --json-logs: the summary is one JSON line too
        import os

        from algotrade.live.ops.logs import render_line

        b = result.burnin
        text = render_line(f"{mode}: summary", result.ops.state.identity, os.environ, verdict=b["verdict"],
                           exit_code=result.exit_code, summary=text)
    click.echo(text)
    sys.exit(result.exit_code)


#: the operating layer's options of `paper`, `live` and `resume` (docs/metrics.md)
ops_options = [
    click.option("--ops-port", type=click.IntRange(0, 65535), default=None, envvar="ALGOTRADE_OPS_PORT",
                 help="Serve the run's Prometheus metrics (/metrics), health (/healthz, /readyz) and dashboard (/) "
                      "on ops.host (or ALGOTRADE_OPS_HOST) at this port (0: any free port; the run prints "
                      "`ops: serving http://...`). Default: ALGOTRADE_OPS_PORT, else ops.port of the file "
                      "(none: no server)."),
    click.option("--json-logs", is_flag=True, help="Log JSON lines to stderr (and print the summary as one) instead "
                 "of the human lines; OUT/<name>/<mode>/run.log.jsonl always has them."),
]


def with_ops_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(ops_options):
        f = option(f)
    return f


def _cli_args(out: str | None, overrides: Sequence[str], sessions: int | None = None) -> list[str]:
    """--sessions, --out and --set as the user gave them, for a command to print."""
    return [*(["--sessions", str(sessions)] if sessions else []), *(["--out", out] if out else []),
            *(a for o in overrides for a in ("--set", o))]


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--simulate", is_flag=True,
              help="Run offline against the gateway simulator, replayed at full speed.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="With --simulate: the simulator's port on 127.0.0.1, where another IB client may connect to "
                   "watch (default and 0: any free port; the run says which).")
@click.option("--sessions", type=click.IntRange(min=1),
              help="Stop after this many traded sessions in total (default: run until Ctrl-C or stale data; "
                   "with --simulate: every session of the data).")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@with_ops_options
@set_option
def paper(experiment: str, simulate: bool, port: int | None, sessions: int | None, out: str | None,
          ops_port: int | None, json_logs: bool, overrides: Sequence[str]) -> None:
    """A paper burn-in through Interactive Brokers, with a go/no-go verdict.

    \b
    Without --simulate it connects to the paper TWS / IB Gateway at ib.host:ib.port (or
    ALGOTRADE_IB_HOST / ALGOTRADE_IB_PORT; the account id only from ALGOTRADE_IB_ACCOUNT), warms the
    strategy up on IB's daily history and trades each session as its bar becomes final on the
    exchange calendar. Run the same command again after a crash: it resumes from its journal.
    Ctrl-C, SIGTERM and SIGHUP stop it cleanly (the session in progress finishes, the verdict of
    what ran is written). Writes OUT/<name>/paper/ (OUT/<name>@<config id>/paper/ for --set
    overrides that change the results, as `algotrade run` does): journal.sqlite (every intent and broker
    event; a --simulate run has its own, simulate-journal.sqlite, started afresh each time),
    burnin.json (the verdict against the experiment's burnin: gates, tied to its config id) and
    burnin.html (paper vs its shadow backtest on the same bars, fill-by-fill slippage, tracking
    difference).
    Exit codes: 0 verdict GO, 3 verdict NO-GO, 2 a problem in the file, the data or the options,
    5 IB refused or failed (or unreachable longer than ib.max_outage_minutes), 6 halted by the
    kill switch (`algotrade resume` trades again), 130 stopped by Ctrl-C, SIGTERM or SIGHUP before
    the end (run it again to resume), 1 anything else.
    Examples:
      algotrade paper experiments/paper_quickstart.yaml --simulate
      algotrade paper experiments/paper_quickstart.yaml --simulate --port 7497   # watch it on 7497
      algotrade paper experiments/paper_quickstart.yaml --simulate --ops-port 9108   # metrics on :9108/metrics
      ALGOTRADE_IB_PORT=4002 algotrade paper experiments/paper_quickstart.yaml --sessions 250
    """
    from algotrade.live.paper import paper_gateway, paper_simulated

    if port is not None and not simulate:
        from algotrade.core.errors import ConfigError

        raise ConfigError(f"--port {port}: only with --simulate (the simulator's port); a paper TWS or IB Gateway "
                          "is reached at ib.port in the file, or ALGOTRADE_IB_PORT")

    def echo(line: str) -> None:
        click.echo(line, err=True)

    again = ["paper", experiment, *(["--simulate"] if simulate else []), *(["--port", str(port)] if port else []),
             *_cli_args(out, overrides, sessions)]
    if simulate:
        _ib_run("paper", lambda signals: paper_simulated(experiment, tuple(overrides), out, port=port or 0,
                                                         sessions=sessions, signals=signals, echo=echo,
                                                         ops_port=ops_port, json_logs=json_logs), again)
    else:
        _ib_run("paper", lambda signals: paper_gateway(experiment, tuple(overrides), out, sessions=sessions,
                                                       echo=echo, signals=signals, ops_port=ops_port,
                                                       json_logs=json_logs), again)


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--burnin", "burnin_path", type=click.Path(dir_okay=False),
              help="The burn-in verdict (default: OUT/<name>/paper/burnin.json, or OUT/<name>@<config id>/paper/ "
                   "for --set overrides that change the results, as `algotrade paper` writes it).")
@click.option("--confirm-live", is_flag=True, help="The explicit confirmation that real money will trade.")
@click.option("--sessions", type=click.IntRange(min=1), help="Stop after this many traded sessions in total.")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@with_ops_options
@set_option
def live(experiment: str, burnin_path: str | None, confirm_live: bool, sessions: int | None, out: str | None,
         ops_port: int | None, json_logs: bool, overrides: Sequence[str]) -> None:
    """Trade real money — refused unless every guard passes.

    \b
    Needs: a passed burn-in (`algotrade paper`) for exactly this strategy, parameters and data
    source (same config id); a live port (7496 TWS or 4001 IB Gateway, from ib.port or
    ALGOTRADE_IB_PORT); a live account id in ALGOTRADE_IB_ACCOUNT (never in the file); and
    --confirm-live. It shows what would trade before anything starts, then runs exactly as
    `algotrade paper` does (journal, reconcile, kill switch; Ctrl-C, SIGTERM and SIGHUP stop it
    cleanly) into OUT/<name>/live/, and judges the run against its shadow backtest by the same gates.
    Exit codes: 0 the gates say GO, 3 they say NO-GO, 2 refused (the message names what to fix) or
    a problem in the file or the data, 5 IB refused or failed, 130 stopped by Ctrl-C, SIGTERM or
    SIGHUP (run it again to resume), 1 anything else. Example:
      ALGOTRADE_IB_PORT=4001 ALGOTRADE_IB_ACCOUNT=U1234567 algotrade live experiments/paper_quickstart.yaml --confirm-live
    """
    from pathlib import Path

    from algotrade.core.config import load_experiment, symbols_text
    from algotrade.core.shell import command
    from algotrade.core.sizing import resolve as resolve_sizing
    from algotrade.live.live_guard import check_live_allowed
    from algotrade.live.paper import ib_endpoint, paper_gateway, run_folder

    exp = load_experiment(experiment, tuple(overrides))
    host, port = ib_endpoint(exp)
    path = Path(burnin_path) if burnin_path else run_folder(exp, experiment, tuple(overrides), out, "paper") / "burnin.json"
    click.echo(f"live: {exp.strategy.name} {exp.strategy.params} on {symbols_text(exp.data.symbols)}, sizing "
               f"{resolve_sizing(exp).model_dump()}, risk {exp.risk.model_dump(exclude_defaults=True)}, via {host}:{port}")
    check_live_allowed(exp, path, port, confirm_flag=confirm_live,
                       paper_command=command("paper", experiment, *_cli_args(out, overrides)))
    again = ["live", experiment, *(["--burnin", burnin_path] if burnin_path else []), "--confirm-live",
             *_cli_args(out, overrides, sessions)]
    _ib_run("live", lambda signals: paper_gateway(experiment, tuple(overrides), out, sessions=sessions, mode="live",
                                                  echo=lambda line: click.echo(line, err=True), signals=signals,
                                                  ops_port=ops_port, json_logs=json_logs),
            again)


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False),
              help="The run's journal (default: OUT/<name>/paper/journal.sqlite, or OUT/<name>@<config id>/paper/ "
                   "for --set overrides that change the results).")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@click.option("--reason", default="operator kill switch", show_default=True, help="Recorded in the journal.")
@click.option("--live", "live_run", is_flag=True, help="The live run's journal (OUT/<name>/live/) instead of the paper run's.")
@set_option
def kill(experiment: str, journal_path: str | None, out: str | None, reason: str, live_run: bool,
         overrides: Sequence[str]) -> None:
    """Kill switch: halt the run, cancel its open orders and flatten its positions at IB.

    \b
    Connects to the experiment's IB endpoint (ib.host/ib.port, or ALGOTRADE_IB_HOST/PORT) with
    its own client id, journals everything, and leaves the run halted: a running paper/live run
    stops at its next session, the plain command then refuses (exit 6), and `algotrade resume
    X.yaml` (--live for the live run) is the explicit restart. Example:
      ALGOTRADE_IB_PORT=4002 algotrade kill experiments/paper_quickstart.yaml
      ALGOTRADE_IB_PORT=4001 algotrade kill experiments/paper_quickstart.yaml --live
    """
    import os
    from pathlib import Path

    from algotrade.core.config import load_experiment
    from algotrade.core.registry import resolve_broker
    from algotrade.live.broker import LiveRunner
    from algotrade.live.journal import Journal
    from algotrade.live.paper import ib_endpoint, run_folder

    IbBroker = resolve_broker("ib")
    exp = load_experiment(experiment, tuple(overrides))
    mode = "live" if live_run else "paper"
    path = (Path(journal_path) if journal_path else
            run_folder(exp, experiment, tuple(overrides), out, mode) / "journal.sqlite")
    if not path.exists():
        from algotrade.core.errors import ConfigError

        raise ConfigError(f"--journal: no journal at {path}; give the run's journal.sqlite (or --out of the run)")
    host, port = ib_endpoint(exp)
    broker = IbBroker(host, port, client_id=exp.ib.client_id + 100, account=os.environ.get("ALGOTRADE_IB_ACCOUNT", ""),
                      timeout=exp.ib.timeout, symbols=exp.data.symbols)
    runner = LiveRunner.from_experiment(exp, broker, Journal(path))
    try:
        refs = runner.kill_switch(reason)
        broker.wait_acknowledged()
    finally:
        broker.disconnect()
    again = f"bin/algotrade resume {experiment}" + (" --live" if live_run else "")
    click.echo(f"kill switch: run {runner.run_id} {runner.halted and 'halted by the ' + runner.halted}; open orders "
               "cancelled; " + (f"flattening orders sent: {', '.join(refs)}" if refs else "no position to flatten")
               + f"; it stays halted (the plain `paper`/`live` command refuses, exit 6) until `{again}`")


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--live", "live_run", is_flag=True, help="Resume the live run (OUT/<name>/live/) instead of the paper run.")
@click.option("--confirm-live", is_flag=True, help="With --live: the explicit confirmation that real money will trade.")
@click.option("--burnin", "burnin_path", type=click.Path(dir_okay=False),
              help="With --live: the burn-in verdict (default: OUT/<name>/paper/burnin.json).")
@click.option("--sessions", type=click.IntRange(min=1), help="Stop after this many traded sessions in total.")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@with_ops_options
@set_option
def resume(experiment: str, live_run: bool, confirm_live: bool, burnin_path: str | None, sessions: int | None,
           out: str | None, ops_port: int | None, json_logs: bool, overrides: Sequence[str]) -> None:
    """Lift a halt (the kill switch, a mismatch) and carry the run on from its journal.

    
    The explicit restart after `algotrade kill`: it records the resume in the journal, reconciles
    with IB before any order (a cause still there halts it again), then runs exactly as `algotrade
    paper` (or, with --live, `algotrade live`, every live guard included) does. The verdict on file
    is archived in burnin-history/ and never replaced by a shorter run's. Exit codes as `paper`.
    Example:
      ALGOTRADE_IB_PORT=4002 algotrade resume experiments/paper_quickstart.yaml
    """
    from pathlib import Path

    from algotrade.core.config import load_experiment
    from algotrade.live.live_guard import check_live_allowed
    from algotrade.live.paper import ib_endpoint, paper_gateway

    mode = "live" if live_run else "paper"
    if live_run:
        exp = load_experiment(experiment, tuple(overrides))
        _host, port = ib_endpoint(exp)
        from algotrade.core.shell import command
        from algotrade.live.paper import run_folder

        path = Path(burnin_path) if burnin_path else run_folder(exp, experiment, tuple(overrides), out, "paper") / "burnin.json"
        check_live_allowed(exp, path, port, confirm_flag=confirm_live,
                           paper_command=command("paper", experiment, *_cli_args(out, overrides)))
    _ib_run(mode, lambda signals: paper_gateway(experiment, tuple(overrides), out, sessions=sessions, mode=mode,
                                                echo=lambda line: click.echo(line, err=True), signals=signals,
                                                resume=True, ops_port=ops_port, json_logs=json_logs),
            ["resume", experiment, *(["--live", "--confirm-live"] if live_run else []),
             *(["--burnin", burnin_path] if burnin_path else []), *_cli_args(out, overrides, sessions)])


@cli.command(name="reconcile")
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False),
              help="The run's journal (default: OUT/<name>/paper/journal.sqlite).")
@click.option("--live", "live_run", is_flag=True, help="The live run's journal (OUT/<name>/live/).")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@set_option
def reconcile_cmd(experiment: str, journal_path: str | None, live_run: bool, out: str | None,
                  overrides: Sequence[str]) -> None:
    """The journal against IB, per symbol and per order; changes nothing.

    
    Connects to the experiment's IB endpoint (ib.host/ib.port, or ALGOTRADE_IB_HOST/PORT) with its
    own client id, reads positions, open and completed orders and executions, and prints each
    symbol's position and each order's status in the journal and at IB, then every mismatch with
    what to do. Exit codes: 0 they agree, 3 a mismatch, 2 no journal, 5 IB refused or failed.
    Example:
      ALGOTRADE_IB_PORT=4002 algotrade reconcile experiments/paper_quickstart.yaml
    """
    import os
    from pathlib import Path

    from algotrade.core.config import load_experiment
    from algotrade.core.errors import ConfigError
    from algotrade.core.registry import resolve_broker
    from algotrade.live.journal import Journal
    from algotrade.live.paper import ib_endpoint
    from algotrade.live.reconcile import BrokerView, JournalView, diff_lines, reconcile

    IbBroker = resolve_broker("ib")
    exp = load_experiment(experiment, tuple(overrides))
    mode = "live" if live_run else "paper"
    from algotrade.live.paper import run_folder

    path = Path(journal_path) if journal_path else run_folder(exp, experiment, tuple(overrides), out, mode) / "journal.sqlite"
    if not path.exists():
        raise ConfigError(f"--journal: no journal at {path}; give the run's journal.sqlite (or --out of the run)")
    host, port = ib_endpoint(exp)
    broker = IbBroker(host, port, client_id=exp.ib.client_id + 101, account=os.environ.get("ALGOTRADE_IB_ACCOUNT", ""),
                      timeout=exp.ib.timeout, symbols=exp.data.symbols)
    broker.connect()
    try:
        view = BrokerView(tuple(broker.open_orders()), tuple(broker.executions()), broker.positions(),
                          tuple(broker.completed_orders()))
    finally:
        broker.disconnect()
    with Journal(path) as journal:
        mine = JournalView.from_journal(journal, exp.config_id)
        halted = journal.halt(exp.config_id)
    click.echo(f"reconcile: run {exp.config_id}, journal {path}, IB {host}:{port}"
               + (f"; the run is halted: {halted}" if halted else ""))
    click.echo("\n".join(diff_lines(mine, view, exp.config_id, exp.data.symbols)))
    sys.exit(0 if reconcile(mine, view, exp.config_id, exp.data.symbols).ok else 3)
