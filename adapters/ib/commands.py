"""The IB adapter's commands, ``gateway`` (serve an experiment as a simulated IB Gateway) and
``gateway-ctl`` (control a running one), added to ``algotrade`` through the entry-point group
``algotrade.commands`` (pyproject.toml). Only click loads with this module: ``algotrade --help``
lists the commands without importing the simulator."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

#: ``--set``, as every experiment command of ``algotrade`` takes it
_set_option = click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
                           help="Override one named field, e.g. --set strategy.params.fast=5 (repeatable).")


def _speed(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    from adapters.ib.gateway.serve import parse_speed

    try:
        return parse_speed(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--port", type=click.IntRange(0, 65535), default=7497, show_default=True,
              help="TCP port to listen on (0: any free port; the banner says which).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface, e.g. inside a container).")
@click.option("--speed", default="auto", show_default=True, callback=_speed,
              help="What replays the sessions: 'manual' (Enter replays one), 'hold' (each SIGUSR1 replays "
                   "one), N sessions a second, 'max', or 'auto': manual when stdin is a terminal, else hold.")
@click.option("--start", "start_at", default=None, help="Session to start at: an index, or a date (default: the first).")
@click.option("--account", default="DU0000001", show_default=True, help="The simulated (paper) account id.")
@click.option("--state", "state_path", type=click.Path(dir_okay=False), default=None,
              help="Persist the broker (account, orders, executions, next ids, the session) in this SQLite file "
                   "and resume from it when it exists, as IB after its nightly restart (default: in memory).")
@click.option("--fresh", is_flag=True, help="With --state: empty the file first (a broker that lost its state).")
@click.option("--control", "control_port", type=click.IntRange(0, 65535), default=None,
              help="Listen for control commands on 127.0.0.1:PORT (0: any free port): advance, play, faults; "
                   "see `algotrade gateway-ctl --help`.")
@click.option("--faults", "faults_text", default=None, metavar="KIND[:S]@WHEN,...",
              help="Inject faults on a schedule: KIND 1100, 1101, 1102, drop or restart[:window seconds], WHEN a "
                   "session date (after it is replayed) or +N s after the server listens, e.g. "
                   "1100@2011-06-03,1102@2011-06-06 or restart:5@2011-06-08,drop@+2s.")
@click.option("--handshake-timeout", type=click.FloatRange(0, min_open=True), default=10.0, show_default=True,
              help="Close a connection that has not completed the API handshake within this many seconds.")
@click.option("--idle-timeout", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Close a connected client silent for this many seconds (0: never, as IB).")
@_set_option
def gateway(experiment: str, port: int, host: str, speed: Any, start_at: str | None, account: str,
            state_path: str | None, fresh: bool, control_port: int | None, faults_text: str | None,
            handshake_timeout: float, idle_timeout: float, overrides: Sequence[str]) -> None:
    """Serve an experiment's data as a simulated IB Gateway (the TWS API) until stopped.

    \b
    Any IB client (ib_async, ib_insync, IB's ibapi) can connect to it, qualify the experiment's
    symbols as STK/SMART/USD, read and stream bars, and trade a simulated paper account that
    fills by the experiment's broker settings. It serves until SIGTERM, SIGINT (Ctrl-C) or SIGHUP,
    which close the client connections and exit 0; neither the end of stdin nor of the replay
    stops it. In every mode SIGUSR1 (kill -USR1 PID) replays one session. Started in the
    background, under nohup, docker, systemd or CI (stdin not a terminal) it holds by default.
    Examples:
      algotrade gateway experiments/quickstart.yaml                  # Enter replays a session
      algotrade gateway experiments/quickstart.yaml --speed 5 &      # 5 sessions a second
      algotrade gateway experiments/quickstart.yaml </dev/null &     # holds; kill -USR1 $! steps
      algotrade gateway X.yaml --state gw.sqlite --control 7600 &    # then: algotrade gateway-ctl 7600 1100
    """
    from algotrade.live.signals import StepCounter, StopSignals

    # first: a stop signal while the market loads ends the command cleanly, and an early SIGUSR1
    # (a step) is kept for when the server listens instead of killing the process
    with StopSignals() as signals, StepCounter() as early:
        try:
            signals.check()  # one received while the command started
            from adapters.ib.gateway import GatewaySimulator
            from adapters.ib.gateway.control import parse_faults
            from adapters.ib.gateway.serve import check_account, serve, start_index
            from algotrade.core.config import load_experiment
            from algotrade.core.data import load_market
            from algotrade.core.errors import ConfigError

            if fresh and state_path is None:
                raise ConfigError("--fresh: empties a state file; give it with --state PATH (without --state the "
                                  "gateway always starts as an empty broker)")
            account = check_account(account)
            exp = load_experiment(experiment, tuple(overrides))
            market = load_market(exp.data, experiment, overrides)
            dates = [d.date() for d in market.dates]
            start = start_index(start_at, dates)
            faults = parse_faults(faults_text or "", dates)
            sim = GatewaySimulator(market, exp.broker, account=account, start=start, state=state_path, fresh=fresh,
                                   handshake_timeout=handshake_timeout, idle_timeout=idle_timeout)
            if sim.resumed:
                a = sim.account
                held = ", ".join(f"{sym} {p.quantity:g}" for sym, p in sorted(a.positions.items())
                                 if p.quantity) or "flat"
                click.echo(f"gateway: resumed the broker state of {state_path} at session {sim.current_date} "
                           f"({len(a.working_orders())} open orders, {len(a.executions)} executions, {held})")
            elif state_path is not None:
                click.echo(f"gateway: an empty broker, persisted in {state_path}")
        except KeyboardInterrupt:
            click.echo(f"gateway: stopped by {signals.name} before it served")
            return
        # the stop signals stay handled while it serves and shuts down: one ends the serving (serve
        # says which), and none interrupts the shutdown
        with signals.calling(lambda sig: None):
            serve(sim, speed, host=host, port=port, echo=click.echo, early=early, control=control_port,
                  faults=faults, signals=signals)


@click.command("gateway-ctl")
@click.argument("port", type=click.IntRange(1, 65535))
@click.argument("command", nargs=-1, required=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Where the gateway's control port listens.")
def gateway_ctl(port: int, command: Sequence[str], host: str) -> None:
    """Send one command to a running gateway (started with --control PORT) and print its answer.

    \b
    Commands:
      status              the session, clients, connectivity, port, restarts, orders, executions
      advance [N]         replay N sessions (default 1); answers once they are sent
      play SPEED | pause  replay N sessions a second (or max) / stop replaying
      1100                connectivity lost: no market data, new orders refused, cancels held
      1101                restored, data lost: held fills reported, market data subscriptions dropped
      1102                restored, data maintained: held fills and the missed bars delivered
      drop                cut every client socket
      restart [SECONDS]   IB's daily restart: clients dropped, refused for SECONDS (default 3)
    Exit 0 when the gateway answers ok, 2 when it refuses the command or nothing listens.
    Examples:
      algotrade gateway-ctl 7600 advance 5
      algotrade gateway-ctl 7600 restart 10
    """
    from adapters.ib.gateway.control import send

    answer = send(host, port, " ".join(command))
    status, _, rest = answer.partition(" ")
    if status != "ok":
        click.echo(f"gateway-ctl: {rest or answer or 'no answer'}", err=True)
        sys.exit(2)
    click.echo(rest)
