"""The research command: ``sweep`` (parameter sweeps and walk-forward analysis)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from algotrade.cli.app import EXIT_INTERRUPTED, EXIT_OTHER, cli, set_option


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a process pool on this machine; ray: Ray actors (a local Ray, or --address).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: one per CPU).")
@click.option("--address", default=None,
              help="A Ray cluster to join: HOST:PORT as `ray start --head` prints it, or auto (default: RAY_ADDRESS, "
                   "else a private Ray on this machine); needs --executor ray.")
@click.option("--out", type=click.Path(file_okay=False), help="Results folder (default: output.dir of the file).")
@set_option
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
