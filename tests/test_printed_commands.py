"""Every command the project prints for the user to copy has the one form of algotrade.core.shell:
``bin/algotrade ...`` in the project folder, the script's full path elsewhere, ``algotrade`` as
the installed console script. No output or message says a bare ``algotrade <subcommand>``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from algotrade.cli import cli
from algotrade.core.shell import SUBCOMMANDS, command, launcher, render

ROOT = Path(__file__).resolve().parents[1]
#: a bare `algotrade <subcommand>` that no launcher starts: what shell.py never prints
BARE = re.compile(rf"(?<![\w/.-])(?<!-m )algotrade (?:{'|'.join(SUBCOMMANDS)})\b")
CSV_HEADER = "Date,Open,High,Low,Close,Volume,OpenInterest\n"


def bare(text: str) -> list[str]:
    return [text[max(0, m.start() - 30):m.end() + 30] for m in BARE.finditer(text)]


@pytest.fixture(autouse=True)
def _in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_the_subcommand_list_is_the_clis() -> None:
    assert tuple(sorted(cli.commands)) == SUBCOMMANDS


@pytest.mark.parametrize("args", [[], *([name] for name in SUBCOMMANDS), ["data", "validate"], ["data", "list"]])
def test_every_help_names_commands_with_the_launcher(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert not bare(result.output), bare(result.output)
    for line in result.output.splitlines():
        example = re.match(r"\s+(?:\w+=\S+ )*([\w/.-]*)algotrade \w", line)  # copyable as it stands
        if example:
            assert example.group(1) == "bin/", line


def test_help_from_another_folder_gives_the_scripts_full_path(tmp_path: Path) -> None:
    proc = subprocess.run([str(ROOT / "bin" / "algotrade"), "sweep", "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{ROOT / 'bin' / 'algotrade'} sweep experiments/sweep_sma.yaml" in proc.stdout
    assert not bare(proc.stdout)


def test_click_usage_errors_name_the_launcher() -> None:
    proc = subprocess.run([sys.executable, "-m", "algotrade", "run"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "Try 'bin/algotrade run --help' for help." in proc.stderr, proc.stderr


def test_the_installed_console_script_is_named_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "venv" / "bin" / "algotrade"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(script), "run"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert launcher() == [str(script)]
    assert render("see `algotrade schema`") == f"see `{script} schema`"
    monkeypatch.setenv("PATH", str(script.parent))
    assert launcher() == ["algotrade"]
    assert render("see `algotrade schema`") == "see `algotrade schema`"


def test_schema_and_listings_name_the_launcher() -> None:
    for args in (["schema"], ["engines"], ["strategies"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert not bare(result.output), (args, bare(result.output))
    assert "bin/algotrade data list" in CliRunner().invoke(cli, ["schema"]).output


def test_a_missing_key_points_at_the_schema_command(tmp_path: Path) -> None:
    exp = tmp_path / "x.yaml"
    exp.write_text("data: {source: sample}\nstrategy: {}\n")
    result = CliRunner().invoke(cli, ["validate", str(exp)])
    assert result.exit_code == 2
    assert "`bin/algotrade schema`" in result.stderr and not bare(result.stderr), result.stderr


def _bad_data(tmp_path: Path) -> Path:
    rows = [f"2020-01-{d:02d},10,11,9,10.5,{-5 if d == 3 else 100},0\n" for d in range(1, 6)]
    (tmp_path / "my data.csv").write_text(CSV_HEADER + "".join(rows))
    exp = tmp_path / "my exp.yaml"
    exp.write_text("name: bad\ndata: {source: csv, path: my data.csv, symbols: [AAA], calendar: none}\n"
                   "strategy: {name: sma_cross, params: {fast: 2, slow: 3}}\n")
    return exp


@pytest.mark.parametrize("verb", ["validate", "run", "compare"])
def test_a_data_error_names_the_real_file_in_its_data_validate_command(tmp_path: Path, verb: str) -> None:
    exp = _bad_data(tmp_path)
    out = ["--out", str(tmp_path / "o")] if verb != "validate" else []
    result = CliRunner().invoke(cli, [verb, str(exp), "--set", "broker.cash=5000", *out])
    assert result.exit_code == 2, result.output
    expected = command("data", "validate", exp, "--set", "broker.cash=5000")
    assert f"`{expected}`" in result.stderr, result.stderr
    assert "X.yaml" not in result.stderr and not bare(result.stderr)


def test_sweep_without_a_sweep_section_names_the_run_command() -> None:
    result = CliRunner().invoke(cli, ["sweep", "experiments/quickstart.yaml"])
    assert result.exit_code == 2
    assert "`bin/algotrade run experiments/quickstart.yaml`" in result.stderr, result.stderr


def test_the_live_refusal_and_the_burnin_pages_use_the_launcher(tmp_path: Path) -> None:
    from algotrade.core.config import load_experiment
    from algotrade.live.burnin_report import next_steps

    result = CliRunner().invoke(cli, ["live", "experiments/paper_quickstart.yaml", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert f"`bin/algotrade paper experiments/paper_quickstart.yaml --out {tmp_path}`" in result.stderr, result.stderr
    assert not bare(result.output + result.stderr)
    exp = load_experiment("experiments/paper_quickstart.yaml")
    folder = tmp_path / exp.name / "paper"
    base = {"config_id": exp.config_id, "gates": {"min_sessions": 250, "max_unreconciled": 0},
            "measured": {"sessions": 10, "unreconciled": 2}}
    for mode, verdict in (("paper", "go"), ("paper", "no-go"), ("simulate", "no-go"), ("live", "no-go")):
        steps = " ".join(next_steps(exp, {**base, "mode": mode, "verdict": verdict}, folder,
                                    "experiments/paper_quickstart.yaml"))
        assert "bin/algotrade " in steps and not bare(steps), (mode, verdict, steps)


def test_the_generated_recipes_table_uses_the_projects_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from algotrade.recipes_table import markdown, rows

    monkeypatch.chdir(tmp_path)  # committed: the same text whoever generates it, wherever
    text = markdown(rows(), checked=False)
    assert "`bin/algotrade recipes --check --write docs/recipes.md`" in text
    assert text.splitlines()[2] == (ROOT / "docs" / "recipes.md").read_text().splitlines()[2]


def test_the_sweep_page_names_its_rerun_with_the_launcher(tmp_path: Path) -> None:
    exp = tmp_path / "s.yaml"
    exp.write_text("name: s\ndata: {source: sample, symbols: [SPX], start: 2010-01-04, end: 2011-12-30}\n"
                   "strategy: {name: sma_cross, params: {fast: 5, slow: 20}}\n"
                   "sweep: {space: {strategy.params.fast: [5, 10]}, min_trades: 1}\n")
    proc = subprocess.run([sys.executable, "-m", "algotrade", "sweep", str(exp), "--workers", "1", "--out",
                           str(tmp_path / "o"), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RAY_ADDRESS": ""})
    assert proc.returncode == 0, proc.stderr
    page = Path(proc.stdout.strip().splitlines()[-1]).read_text()
    assert "bin/algotrade run " in page and not bare(page), bare(page)
