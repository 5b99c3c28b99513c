"""Commands another package adds to ``algotrade`` (entry points ``algotrade.commands``): listed and
run as the CLI's own, imported only when listed or run; one that does not import is listed as
unavailable and refuses with exit 2. The IB adapter's gateway commands come this way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TOY_COMMANDS = '''"""A toy distribution's commands."""

import click


@click.command()
@click.argument("name")
def hello(name: str) -> None:
    """Greet NAME, with a first paragraph longer than the forty-five characters click keeps.

    The experiment keys: algotrade schema
    """
    click.echo(f"hello {name}")
'''


def install(site: Path, entry_points: str) -> None:
    """What ``pip install --target site`` leaves for a distribution: its module and a dist-info."""
    (site / "toy_commands.py").write_text(TOY_COMMANDS)
    info = site / "toy_commands-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-commands\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[algotrade.commands]\n{entry_points}")


def algotrade(site: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)} if site else dict(os.environ)
    return subprocess.run([sys.executable, "-m", "algotrade", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def imported(*args: str) -> set[str]:
    """The modules ``algotrade ARGS`` has imported when it exits."""
    code = ("import sys\nfrom algotrade.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
            "    print(*sys.modules, file=sys.stderr)\n")
    run = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return set(run.stderr.split())


def test_a_contributed_command_is_listed_and_runs_as_the_clis_own(tmp_path: Path) -> None:
    install(tmp_path, "hello = toy_commands:hello\n")
    listed = algotrade(tmp_path, "--help")
    assert listed.returncode == 0, listed.stderr
    words = " ".join(listed.stdout.split())
    assert "hello Greet NAME, with a first paragraph longer than the forty-five characters click keeps." in words
    shown = algotrade(tmp_path, "hello", "--help")
    prog = shown.stdout.split()[1]  # Usage: <the launcher> hello ...
    assert shown.returncode == 0 and f"keys: {prog} schema" in shown.stdout  # its commands start with the launcher
    ran = algotrade(tmp_path, "hello", "world")
    assert (ran.returncode, ran.stdout) == (0, "hello world\n")
    assert algotrade(None, "hello", "world").returncode == 2  # without the distribution: no such command


def test_a_command_that_does_not_import_is_listed_as_unavailable_and_exits_2(tmp_path: Path) -> None:
    install(tmp_path, "hello = toy_commands:hello\nbroken = toy_commands:missing\n")
    listed = algotrade(tmp_path, "--help")
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["broken", "Unavailable:"] for line in listed.stdout.splitlines())
    assert any(line.split()[:1] == ["hello"] for line in listed.stdout.splitlines())
    ran = algotrade(tmp_path, "broken", "x", "--y")
    assert ran.returncode == 2 and "toy_commands:missing" in ran.stderr and "Traceback" not in ran.stderr


def test_the_gateway_commands_come_from_the_ib_adapter_and_load_only_when_needed() -> None:
    from algotrade.cli import cli

    assert {name: cli.commands[name].callback.__module__ for name in ("gateway", "gateway-ctl")  # type: ignore[union-attr]
            } == {"gateway": "adapters.ib.commands", "gateway-ctl": "adapters.ib.commands"}
    schema = imported("schema")  # another command: the contributed ones are not even looked up
    assert "algotrade.core.config" in schema and "adapters.ib.commands" not in schema
    listed = imported("--help")
    assert "adapters.ib.commands" in listed  # listed: imported, but not the simulator
    assert "algotrade.cli.app" in listed and not {m for m in listed if m.startswith("adapters.ib.gateway")}
