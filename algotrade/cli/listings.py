"""The listing commands: ``strategies``, ``engines`` and ``recipes``."""

from __future__ import annotations

import sys

import click

from algotrade.cli.app import EXIT_OTHER, cli


@cli.command()
def strategies() -> None:
    """List the strategies with their parameters, defaults and meaning."""
    from algotrade.core.listing import strategy_lines, terminal_width

    click.echo("\n".join(strategy_lines(terminal_width())))


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
