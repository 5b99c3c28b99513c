"""The backtest commands: ``run``, ``compare``, ``validate``, ``schema`` and ``data``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from algotrade.cli.app import EXIT_DATA, EXIT_OK, EXIT_OTHER, cli, set_option


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@click.option("--engine", help="Run on this engine instead of the file's engine.")
@set_option
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
@set_option
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
@click.option("--resolved", is_flag=True, help="Also print the resolved experiment: every default filled in, as a run's config.yaml.")
@click.option("--explain", is_flag=True, help="Also print every merged value and who set it (default, profile, file line, --set).")
@set_option
def validate(experiment: str, resolved: bool, explain: bool, overrides: Sequence[str]) -> None:
    """Check an experiment file and its data without running it.

    \b
    Checks keys, types and strategy parameters, loads and validates the data, and prints one
    line: the config id, strategy, engine(s), symbols and the sessions a run would use.
    --resolved adds the resolved experiment; --explain every merged value and where it came
    from: default, profile NAME line N, file PATH line N, or the --set / --engine flag.
    """
    from algotrade.core.config import dump_experiment, load_experiment, symbols_text
    from algotrade.core.config.loading import explain_values
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
        rows = explain_values(experiment, tuple(overrides))
        wide = max(len(key) + len(value) for key, value, _ in rows) + 3
        click.echo("\nvalues:")
        for key, value, origin in rows:
            click.echo(f"  {key} = {value}".ljust(wide + 2) + f"  # {origin}")


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
@set_option
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
