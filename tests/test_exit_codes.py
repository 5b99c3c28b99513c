"""The exit codes are documented in one list (``algotrade --help`` and the README's table), and
that list is exactly the set of codes the code uses; each one is what the CLI really returns."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import algotrade.core.config
from algotrade import cli as cli_module
from algotrade.cli import cli
from algotrade.core import errors
from algotrade.live import paper

ROOT = Path(__file__).resolve().parents[1]


def _literal_exits() -> set[int]:
    """Integer literals given to sys.exit / SystemExit anywhere in the package."""
    found: set[int] = set()
    for path in (ROOT / "algotrade").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                name = ast.unparse(node.func)
                if name in ("sys.exit", "SystemExit", "exit") and isinstance(node.args[0].value, int):
                    found.add(node.args[0].value)
    return found


def used_codes() -> set[int]:
    classes = [getattr(errors, name) for name in errors.__all__]
    constants = [value for module in (cli_module, paper) for name, value in vars(module).items()
                 if name.startswith("EXIT_") and isinstance(value, int)]
    return {cls.exit_code for cls in classes} | set(constants) | _literal_exits()


def documented(text: str, pattern: str) -> set[int]:
    return {int(code) for code in re.findall(pattern, text, flags=re.MULTILINE)}


def test_the_help_lists_exactly_the_codes_the_code_uses() -> None:
    assert cli.help is not None
    block = cli.help.split("Exit codes", 1)[1]
    assert documented(block, r"^\s+(\d+)\s{2,}\S") == used_codes()


def test_the_readme_lists_exactly_the_codes_the_code_uses() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("Exit codes", 1)[1].split("\n\n", 2)[1]
    assert documented(table, r"^\| `(\d+)` \|") == used_codes()


@pytest.mark.parametrize("args", [["--help"], ["schema"], ["strategies"], ["run", "--help"]])
def test_a_closed_pipe_exits_141(args: list[str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "algotrade", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err


def test_an_interrupt_exits_130_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object, **__: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(algotrade.core.config, "explain", interrupted)
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 130
    assert result.exception is None or isinstance(result.exception, SystemExit)


#: a command that catches a KeyboardInterrupt which left a string being run (a stop signal that
#: landed while a dataclass or namedtuple was being made), then exits with its own code
CAUGHT_IN_EXEC = """
import sys, click
from algotrade.cli import cli, main

@cli.command()
@click.argument("how")
def probe(how):
    try:
        exec("raise KeyboardInterrupt")
    except KeyboardInterrupt:
        pass
    if how == "uncaught":
        exec("raise KeyboardInterrupt")
    sys.exit(int(how))

main()
"""


@pytest.mark.parametrize(("how", "code"), [("0", 0), ("2", 2), ("130", 130), ("uncaught", 130)])
def test_an_interrupt_caught_anywhere_leaves_the_commands_exit_code(tmp_path: Path, how: str, code: int) -> None:
    """Run as a module (``python -m``, as `python -m algotrade`), CPython would end such a process
    by SIGINT (-2), whatever its exit code, had the command not made it forget
    (algotrade.cli.forget_caught_interrupts)."""
    (tmp_path / "probe_command.py").write_text(CAUGHT_IN_EXEC)
    proc = subprocess.run([sys.executable, "-m", "probe_command", "probe", how], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("error", "code"), [(errors.ConfigError, 2), (errors.DataError, 2), (errors.StrategyError, 4),
                                             (errors.BrokerError, 5), (errors.ClusterError, 5),
                                             (errors.AlgotradeError, 1), (ValueError, 1)])
def test_each_error_exits_with_its_code(monkeypatch: pytest.MonkeyPatch, error: type[Exception], code: int) -> None:
    def failing(*_: object, **__: object) -> str:
        if error is errors.StrategyError:
            raise errors.StrategyError("boom", strategy="s", date="2020-01-02", symbol="X")
        raise error("boom")

    monkeypatch.setattr(algotrade.core.config, "explain", failing)
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == code, result.output
    assert len(result.stderr.strip().splitlines()) <= 2  # one line (two for an internal error), no traceback
