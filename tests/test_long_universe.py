"""A 500-symbol experiment prints short lines: every printout and page header that names the
symbols names a few and the count (algotrade.core.config.symbols_text), never all 500."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from algotrade import Strategy, StrategyConfig
from algotrade.cli import cli

SYMBOLS = [f"S{i:03d}" for i in range(500)]
LONGEST = 220  # characters on one printed line (the validate line with an 8-character file name: 213)


@pytest.fixture(scope="module")
def universe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("universe")
    path = folder / "wide.yaml"
    path.write_text(
        "name: wide\n"
        f"data: {{source: synthetic, symbols: [{', '.join(SYMBOLS)}], start: 2020-01-02, end: 2020-03-31}}\n"
        "strategy: {name: sma_cross, params: {fast: 3, slow: 8}}\n"
        f"output: {{dir: {folder / 'results'}}}\n"
        "sweep: {space: {strategy.params.fast: [2, 3]}, min_trades: 1}\n"
    )
    return path


def _check(output: str, folder: Path) -> None:
    """No line longer than LONGEST once the test's own folder (a long temporary path) is '.'."""
    for line in output.replace(str(folder), ".").splitlines():
        assert len(line) <= LONGEST, line[:300]
    assert "S499" not in output  # the last symbol is one of the "more", not listed


@pytest.mark.parametrize("args", [["validate"], ["data", "validate"]])
def test_checks_print_short_lines(universe: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, str(universe)])
    assert result.exit_code == 0, result.output + result.stderr
    _check(result.output + result.stderr, universe.parent)
    assert "500" in result.output


def test_a_run_prints_short_lines_and_its_report_header_is_short(universe: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(universe)])
    assert result.exit_code == 0, result.output + result.stderr
    _check(result.output + result.stderr, universe.parent)
    assert "495 more: 500 symbols" in result.output
    page = (universe.parent / "results" / "wide" / "backtrader" / "report.html").read_text()
    header = re.search(r"<div class=sub>(.*?)</div>", page, flags=re.DOTALL)
    assert header is not None
    assert len(header.group(1)) < 400 and "S499" not in header.group(1), header.group(1)
    assert "500 symbols" in header.group(1)


def test_a_sweep_prints_short_lines_and_its_page_names_few_symbols(universe: Path) -> None:
    result = CliRunner().invoke(cli, ["sweep", str(universe), "--workers", "1"])
    assert result.exit_code == 0, result.output + result.stderr
    _check(result.output + result.stderr, universe.parent)
    page = (universe.parent / "results" / "wide" / "sweep.html").read_text()
    sub = re.search(r"<div class='sub'>(.*?)</div>", page, flags=re.DOTALL)
    assert sub is not None and "S499" not in sub.group(1) and "500 symbols" in sub.group(1), sub
    assert "S499" not in re.sub(r"<table.*?</table>", "", page, flags=re.DOTALL)


class OrdersAnUnknownSymbolConfig(StrategyConfig):
    pass


class OrdersAnUnknownSymbol(Strategy[OrdersAnUnknownSymbolConfig]):
    """Orders a symbol the run does not have: a strategy bug."""

    config_class = OrdersAnUnknownSymbolConfig

    def on_bar(self, ctx: Any) -> None:
        ctx.order("NOPE", 1)


def test_the_strategy_error_for_an_unknown_symbol_is_one_short_line(universe: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(universe), "--set",
                                      f"strategy.name={__name__}:OrdersAnUnknownSymbol", "--set", "strategy.params={}",
                                      "--set", "sweep=null"])
    assert result.exit_code == 4, result.output + result.stderr
    assert "'NOPE'" in result.stderr and "495 more: 500 symbols" in result.stderr, result.stderr
    _check(result.output + result.stderr, universe.parent)


def test_a_compare_prints_short_lines(universe: Path) -> None:
    from algotrade.core.registry import engine_status

    if engine_status("zipline") != "installed":
        pytest.skip("zipline-reloaded is not installed")
    result = CliRunner().invoke(cli, ["compare", str(universe), "--engines", "backtrader,zipline"])
    assert result.exit_code == 0, result.output + result.stderr
    _check(result.output + result.stderr, universe.parent)
    assert "495 more: 500 symbols" in result.output
    page = (universe.parent / "results" / "wide" / "compare" / "compare.html").read_text()
    assert "S499" not in re.sub(r"<table.*?</table>", "", page, flags=re.DOTALL)
