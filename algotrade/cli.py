"""The ``algotrade`` command line. Only this module maps errors to exit codes.

Imports here are kept to click and the standard library: engines, pandas and pydantic load only
inside the command that needs them, so ``algotrade --help`` answers at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

EXAMPLES = """
\b
Examples:
  algotrade run experiments/quickstart.yaml
  algotrade run experiments/quickstart.yaml --set strategy.params.fast=5 --out /tmp/res
  algotrade compare experiments/quickstart.yaml --engines backtrader,zipline
  algotrade sweep experiments/sweep_sma.yaml --workers 2
  algotrade validate experiments/quickstart.yaml
  algotrade schema
  algotrade data list
  algotrade data validate experiments/quickstart.yaml
  algotrade strategies
  algotrade engines
  algotrade recipes --check
  algotrade gateway experiments/quickstart.yaml --port 7497 --speed 5
  algotrade paper experiments/paper_quickstart.yaml --simulate
"""


class _FullShortHelp(click.Command):
    """In a group's list of commands, a command's whole first paragraph: click would cut it at ~45 chars.
    The help's commands (examples, `algotrade schema`) start as the user started this one
    (algotrade.core.shell.render: bin/algotrade in the project folder)."""

    _help: str | None = None
    _epilog: str | None = None

    @property  # type: ignore[override]
    def help(self) -> str | None:
        from algotrade.core.shell import render

        return render(self._help) if self._help else self._help

    @help.setter
    def help(self, text: str | None) -> None:
        self._help = text

    @property  # type: ignore[override]
    def epilog(self) -> str | None:
        from algotrade.core.shell import render

        return render(self._epilog) if self._epilog else self._epilog

    @epilog.setter
    def epilog(self, text: str | None) -> None:
        self._epilog = text

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Options' help too: every ``algotrade <subcommand>`` on the page starts with the launcher."""
        from algotrade.core.shell import render

        super().format_help(ctx, formatter)
        formatter.buffer[:] = [render("".join(formatter.buffer))]

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help or not self.help or self.deprecated:
            return super().get_short_help_str(limit)
        import inspect

        first = inspect.cleandoc(self.help).partition("\n\n")[0]
        return " ".join(word for word in first.split() if word != "\b")


def _reader_gone() -> NoReturn:
    """`algotrade ... | head`: the reader has what it wanted; exit as a shell's pipeline does."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(EXIT_BROKEN_PIPE)


#: exit codes of the CLI itself (the errors carry theirs: algotrade.core.errors, algotrade.live.paper.EXIT_*)
EXIT_OK = 0
EXIT_OTHER = 1
EXIT_DATA = 2  # as DataError's: data validate found a problem that stops a run
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class _Group(_FullShortHelp, click.Group):
    """Turns algotrade errors into one clear message and an exit code (no traceback)."""

    command_class = _FullShortHelp
    group_class = type  # subgroups (algotrade data) are _Group too

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:  # `algotrade --help | head` (click itself would exit 1)
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:
            _reader_gone()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            _reader_gone()
        except KeyboardInterrupt:  # click would print "Aborted!" and exit 1
            if (ctx.obj or {}).get("debug"):
                raise
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            debug = bool((ctx.obj or {}).get("debug"))
            if debug:
                raise
            from algotrade.core.errors import AlgotradeError

            if isinstance(exc, AlgotradeError):
                from algotrade.core.errors import (
                    BrokerError,
                    ClusterError,
                    ConfigError,
                    DataError,
                    StrategyError,
                )

                kind = next((label for cls, label in ((ConfigError, "config error"), (DataError, "data error"),
                                                      (BrokerError, "broker error"), (StrategyError, "strategy error"),
                                                      (ClusterError, "cluster error"))
                             if isinstance(exc, cls)), "error")
                click.echo(f"{kind}: {exc}", err=True)
                sys.exit(exc.exit_code)
            click.echo(
                f"internal error: {type(exc).__name__}: {exc}\n"
                "this is a bug in algotrade; rerun with --debug for the traceback and report it",
                err=True,
            )
            sys.exit(EXIT_OTHER)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("algotrade")
    except PackageNotFoundError:
        return "unknown"


@click.group(cls=_Group, epilog=EXAMPLES,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
@click.version_option(message="algotrade %(version)s", version=None, package_name="algotrade")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """algotrade: cookbook strategies, run unchanged on Backtrader, Zipline and IB.

    Every command takes an experiment file (YAML); `algotrade schema` documents every key.

    \b
    Exit codes (every command):
      0    ok (paper, live: the verdict is GO; compare: the engines agree)
      1    anything else (compare: the engines differ; sweep: every run failed; recipes: a check differs)
      2    a problem in the experiment file, the data or the options (a refused live start too)
      3    paper, live: the verdict is NO-GO; reconcile: the journal and the broker disagree
      4    the strategy raised
      5    the broker (IB) refused or failed; sweep: the Ray cluster is unreachable or refuses us
      6    paper, live: halted by the kill switch (run `algotrade resume`)
      130  interrupted (Ctrl-C; paper, live: also SIGTERM, SIGHUP; the gateway exits 0 on those)
      141  the reader of the output went away (algotrade schema | head)
    """
    ctx.obj = {"debug": debug}
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("algotrade").setLevel(logging.DEBUG if debug else logging.INFO)


_set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Override one named field, e.g. --set strategy.params.fast=5 (repeatable).",
)


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@click.option("--engine", help="Run on this engine instead of the file's engine.")
@_set_option
@click.option("--quiet", "-q", is_flag=True, help="Print only the report path.")
def run(experiment: str, out: str | None, engine: str | None, overrides: Sequence[str], quiet: bool) -> None:
    """Run a backtest and write trades, orders, equity, metrics and report.html.

    \b
    Results go to OUT/<name>/<engine>/; a run with --set overrides that change the results goes
    to OUT/<name>@<config id>/<engine>/, so variants never overwrite each other. Example:
      algotrade run experiments/quickstart.yaml --set broker.fill=next_open
    """
    from algotrade.backtest.run import run_experiment, summary_text

    result = run_experiment(experiment, overrides=tuple(overrides), out=out, progress=not quiet, engine=engine)
    click.echo(result.report_path if quiet else summary_text(result))


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--engines", help="Comma-separated engines (default: the file's engines: list, else backtrader,zipline).")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@_set_option
@click.option("--quiet", "-q", is_flag=True, help="Print only the comparison report path.")
def compare(experiment: str, engines: str | None, out: str | None, overrides: Sequence[str], quiet: bool) -> None:
    """Run one experiment on several engines and explain every difference.

    \b
    Each engine writes OUT/<name>/<engine>/; the comparison goes to OUT/<name>/compare/
    (trades_diff.csv, differences.csv, metrics.csv, compare.json, compare.html); with --set
    overrides that change the results, OUT/<name>@<config id>/ instead. The file needs no
    engine: key: --engines, or its engines: list, names the engines.
    Exits 0 when the engines agree within tolerance, 1 when they differ. Example:
      algotrade compare experiments/quickstart.yaml --engines backtrader,zipline
    """
    from algotrade.backtest.run import compare_experiment, compare_text

    names = tuple(e.strip() for e in engines.split(",") if e.strip()) if engines else ()
    result = compare_experiment(experiment, names, tuple(overrides), out, progress=not quiet)
    click.echo(result.folder / "compare.html" if quiet else compare_text(result))
    sys.exit(EXIT_OK if result.agree else EXIT_OTHER)


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a process pool on this machine; ray: Ray actors (a local Ray, or --address).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: one per CPU).")
@click.option("--address", default=None,
              help="A Ray cluster to join: HOST:PORT as `ray start --head` prints it, or auto (default: RAY_ADDRESS, "
                   "else a private Ray on this machine); needs --executor ray.")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@_set_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; print only the report path.")
def sweep(experiment: str, executor: str, workers: int | None, address: str | None, out: str | None,
          overrides: Sequence[str], quiet: bool) -> None:
    """Run a parameter sweep (and walk-forward analysis) from the file's sweep: section.

    \b
    Every run is exactly `algotrade run` of one point (its own config id and results folder,
    OUT/<name>/runs/<config_id>/<engine>/, whose config.yaml re-runs it alone). Writes
    OUT/<name>/sweep.csv and sweep.parquet (one row per run), sweep.html (heatmap, in-sample vs
    out-of-sample, stitched walk-forward equity, Hansen's SPA data-snooping test) and
    points.jsonl, from which a stopped or killed sweep resumes: run the same command again.
    A cluster (--address or RAY_ADDRESS) is checked first, within seconds; a head that checks
    tokens is joined with the token from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token.
    Exit codes: 0 ok, 1 every run failed, 2 a problem in the file, the data or the options,
    5 the Ray cluster is unreachable or refuses to let us join, 130 interrupted (Ctrl-C).
    Examples:
      algotrade sweep experiments/sweep_sma.yaml
      algotrade sweep experiments/sweep_sma.yaml --executor ray --workers 2
      algotrade sweep experiments/sweep_sma.yaml --executor ray --address 10.0.0.5:6379
    """
    from algotrade.research.sweep import run_sweep, summary_text

    result = run_sweep(experiment, tuple(overrides), executor, workers, address, out, progress=not quiet)
    if result.interrupted:
        from algotrade.core.shell import command

        again = command("sweep", experiment, *(["--executor", executor] if executor != "local" else []),
                        *(["--workers", str(workers)] if workers else []), *(["--address", address] if address else []),
                        *(["--out", out] if out else []), *(a for o in overrides for a in ("--set", o)))
        click.echo(summary_text(result), err=True)
        click.echo(
            f"interrupted: {result.summary['ok']} of {result.summary['runs']} runs are finished and recorded in "
            f"{result.folder / 'points.jsonl'}; resume with: {again}", err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    click.echo(result.report_path if quiet else summary_text(result))
    if result.summary["ok"] == 0:
        click.echo("every run failed (see the error column of sweep.csv)", err=True)
        sys.exit(EXIT_OTHER)


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--resolved", is_flag=True, help="Also print the resolved experiment: every default filled in, as a run's config.yaml.")
@click.option("--explain", is_flag=True, help="Also print the documentation of every field.")
@_set_option
def validate(experiment: str, resolved: bool, explain: bool, overrides: Sequence[str]) -> None:
    """Check an experiment file and its data without running it.

    \b
    Checks keys, types and strategy parameters, loads and validates the data, and prints one
    line: the config id, strategy, engine(s), symbols and the sessions a run would use.
    --resolved adds the resolved experiment, --explain the documentation of every field.
    """
    from algotrade.core.config import dump_experiment, load_experiment, symbols_text
    from algotrade.core.config import explain as explain_fields
    from algotrade.core.data import load_market, snapped

    exp = load_experiment(experiment, tuple(overrides))
    market = load_market(exp.data, experiment, overrides)
    syms, dates = exp.data.symbols, market.dates
    plural = "s" if len(syms) > 1 else ""
    named = f"{len(syms)} symbol{plural} ({', '.join(syms)})" if len(syms) <= 6 else symbols_text(syms)
    click.echo(
        f"ok: {experiment} is valid (config id {exp.config_id}): {exp.strategy.name} {exp.strategy.params} "
        f"on {', '.join(exp.engine_names)}; {named} "
        f"from {exp.data.source}; {len(dates)} sessions {dates[0].date()} .. {dates[-1].date()} ({market.calendar})"
    )
    note = snapped(exp.data, market)
    if note:
        click.echo(f"  {note}")
    if resolved:
        click.echo(dump_experiment(exp).rstrip())
    if explain:
        click.echo("\nfields:\n" + explain_fields())


@cli.command()
def schema() -> None:
    """Print every key an experiment file may hold, with its type, default and meaning."""
    from algotrade.core.config import explain
    from algotrade.core.shell import render

    click.echo(render(explain()))


@cli.group()
def data() -> None:
    """Data sources and data validation."""


@data.command("list")
def data_list() -> None:
    """List the data sources and the sample symbols with their date ranges."""
    from algotrade.core.data import sample_ranges

    click.echo("sources: sample, synthetic, csv, csvdir, parquet\n")
    click.echo("sample symbols (shipped with the install):")
    for sym, first, last, desc, rows in sample_ranges():
        click.echo(f"  {sym:<6} {first} .. {last}  {rows:>5} bars  {desc}")
    click.echo("\nsynthetic: any symbol names; seed, correlation and regimes under data.synthetic")


@data.command("validate")
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--all", "show_all", is_flag=True,
              help="List every problem and repair, one per line (by default repairs are counted per kind).")
@_set_option
def data_validate(experiment: str, show_all: bool, overrides: Sequence[str]) -> None:
    """Check the experiment's data: every problem with symbol, date and value.

    \b
    Problems that stop a run are listed (the first 20; --all lists every one). Repairs the
    data.repair policy makes by design (missing sessions filled, prices rounded to 3 decimals,
    volume clipped) are one line of counts per kind; --all lists each with symbol, date and value.
    Exits 2 when a problem stops a run.
    """
    from algotrade.core.config import load_experiment
    from algotrade.core.data import inspect, snapped

    exp = load_experiment(experiment, tuple(overrides))
    frames, sessions, problems = inspect(exp.data)
    policy = exp.data.repair
    fatal = [p for p in problems if not p.repairable or policy == "none"]
    repairable = [p for p in problems if p.repairable and policy != "none"]
    items = list(frames.items())
    for sym, frame in items if show_all or len(items) <= 10 else items[:5]:
        click.echo(f"{sym}: {len(frame)} bars {frame.index[0].date()} .. {frame.index[-1].date()}")
    if len(items) > 10 and not show_all:
        click.echo(f"... and {len(items) - 5} more symbols ({len(items)} in all; --all lists each)")
    if len(sessions):
        click.echo(f"sessions: {len(sessions)}, {sessions[0].date()} .. {sessions[-1].date()} ({exp.data.calendar})")
        note = snapped(exp.data, sessions)
        if note:
            click.echo(f"  {note}")
    if repairable:
        counts: dict[str, int] = {}
        for p in repairable:
            counts[p.code] = counts.get(p.code, 0) + 1
        click.echo(f"repaired by policy {policy}, the same for every engine: "
                   + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
                   + ("" if show_all else " (--all lists each)"))
        for p in repairable if show_all else ():
            click.echo(f"  {p}")
    if fatal:
        limit = len(fatal) if show_all else 20
        for p in fatal[:limit]:
            click.echo(f"error: {p}", err=True)
        if len(fatal) > limit:
            click.echo(f"error: ... and {len(fatal) - limit} more (--all lists every one)", err=True)
        click.echo(f"{len(fatal)} problem(s) stop a run; fix the data", err=True)
        sys.exit(EXIT_DATA)
    click.echo("ok: the data is usable")


@cli.command()
def strategies() -> None:
    """List the strategies with their parameters, defaults and meaning."""
    from algotrade.core.listing import strategy_lines, terminal_width

    click.echo("\n".join(strategy_lines(terminal_width())))


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
    click.echo(summary_text(result, again=command(*again)))
    sys.exit(result.exit_code)


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
@_set_option
def paper(experiment: str, simulate: bool, port: int | None, sessions: int | None, out: str | None,
          overrides: Sequence[str]) -> None:
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
                                                         sessions=sessions, signals=signals, echo=echo), again)
    else:
        _ib_run("paper", lambda signals: paper_gateway(experiment, tuple(overrides), out, sessions=sessions,
                                                       echo=echo, signals=signals), again)


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--burnin", "burnin_path", type=click.Path(dir_okay=False),
              help="The burn-in verdict (default: OUT/<name>/paper/burnin.json, or OUT/<name>@<config id>/paper/ "
                   "for --set overrides that change the results, as `algotrade paper` writes it).")
@click.option("--confirm-live", is_flag=True, help="The explicit confirmation that real money will trade.")
@click.option("--sessions", type=click.IntRange(min=1), help="Stop after this many traded sessions in total.")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@_set_option
def live(experiment: str, burnin_path: str | None, confirm_live: bool, sessions: int | None, out: str | None,
         overrides: Sequence[str]) -> None:
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
    from algotrade.live.live_guard import check_live_allowed
    from algotrade.live.paper import ib_endpoint, paper_gateway, run_folder

    exp = load_experiment(experiment, tuple(overrides))
    host, port = ib_endpoint(exp)
    path = Path(burnin_path) if burnin_path else run_folder(exp, experiment, tuple(overrides), out, "paper") / "burnin.json"
    click.echo(f"live: {exp.strategy.name} {exp.strategy.params} on {symbols_text(exp.data.symbols)}, sizing "
               f"{exp.sizing.model_dump()}, risk {exp.risk.model_dump(exclude_defaults=True)}, via {host}:{port}")
    check_live_allowed(exp, path, port, confirm_flag=confirm_live,
                       paper_command=command("paper", experiment, *_cli_args(out, overrides)))
    again = ["live", experiment, *(["--burnin", burnin_path] if burnin_path else []), "--confirm-live",
             *_cli_args(out, overrides, sessions)]
    _ib_run("live", lambda signals: paper_gateway(experiment, tuple(overrides), out, sessions=sessions, mode="live",
                                                  echo=lambda line: click.echo(line, err=True), signals=signals),
            again)


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False),
              help="The run's journal (default: OUT/<name>/paper/journal.sqlite, or OUT/<name>@<config id>/paper/ "
                   "for --set overrides that change the results).")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@click.option("--reason", default="operator kill switch", show_default=True, help="Recorded in the journal.")
@click.option("--live", "live_run", is_flag=True, help="The live run's journal (OUT/<name>/live/) instead of the paper run's.")
@_set_option
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
@_set_option
def resume(experiment: str, live_run: bool, confirm_live: bool, burnin_path: str | None, sessions: int | None,
           out: str | None, overrides: Sequence[str]) -> None:
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
                                                resume=True),
            ["resume", experiment, *(["--live", "--confirm-live"] if live_run else []),
             *(["--burnin", burnin_path] if burnin_path else []), *_cli_args(out, overrides, sessions)])


@cli.command(name="reconcile")
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False),
              help="The run's journal (default: OUT/<name>/paper/journal.sqlite).")
@click.option("--live", "live_run", is_flag=True, help="The live run's journal (OUT/<name>/live/).")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@_set_option
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


def _speed(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    from algotrade.core.registry import broker_part

    parse_speed = broker_part("ib", "gateway.serve.parse_speed")

    try:
        return parse_speed(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
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
            from algotrade.core.config import load_experiment
            from algotrade.core.data import load_market
            from algotrade.core.errors import ConfigError
            from algotrade.core.registry import broker_part

            GatewaySimulator, parse_faults = broker_part("ib", "gateway.GatewaySimulator"), broker_part(
                "ib", "gateway.control.parse_faults")
            check_account, serve, start_index = (broker_part("ib", f"gateway.serve.{name}")
                                                 for name in ("check_account", "serve", "start_index"))

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


@cli.command("gateway-ctl")
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
    from algotrade.core.registry import broker_part

    send = broker_part("ib", "gateway.control.send")

    answer = send(host, port, " ".join(command))
    status, _, rest = answer.partition(" ")
    if status != "ok":
        click.echo(f"gateway-ctl: {rest or answer or 'no answer'}", err=True)
        sys.exit(2)
    click.echo(rest)


@cli.command()
@click.option("--check", is_flag=True, help="Run each recipe's native version next to algotrade's wrapper.")
@click.option("--write", "write_to", type=click.Path(dir_okay=False), help="Also write the table as Markdown here.")
def recipes(check: bool, write_to: str | None) -> None:
    """List the cookbook recipes, their production wrappers and parity status.

    \b
    Examples:
      algotrade recipes
      algotrade recipes --check --write docs/recipes.md
    """
    from pathlib import Path

    from algotrade.core.listing import recipe_lines, terminal_width
    from algotrade.recipes_table import chapter_titles, markdown, rows
    from algotrade.recipes_table import check as check_row

    table = rows()
    if check:
        table = [check_row(r) if r.wrapped_by else r for r in table]
    click.echo("\n".join(recipe_lines(table, terminal_width(), chapter_titles())))
    if write_to:
        Path(write_to).write_text(markdown(table, check))
        click.echo(f"\nwrote {write_to}")
    if any(r.status.startswith("DIFFERENT") for r in table):
        sys.exit(EXIT_OTHER)


@cli.command()
def engines() -> None:
    """List the backtest engines and the IB broker, and whether each is installed."""
    from algotrade.core.listing import engine_lines, terminal_width

    click.echo("\n".join(engine_lines(terminal_width())))


def main(argv: Sequence[str] | None = None) -> None:
    import shlex

    from algotrade.core.shell import launcher
    from algotrade.live.signals import hold_early

    if argv is None:  # the process's own command line (python -m algotrade did it already, first thing)
        hold_early(sys.argv[1:])

    # click's own messages ("Usage: ...", "Try '... run -h' for help.") name the launcher too
    cli.main(args=list(argv) if argv is not None else None, prog_name=shlex.join(launcher()))


if __name__ == "__main__":  # pragma: no cover
    main()
