"""docker/: the Dockerfile passes hadolint; the compose file is paper-only and secret-free; the
simulator's compose file runs the gateway unattended."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    proc = subprocess.run([hadolint, str(DOCKER / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_image_installs_from_the_lock_and_runs_unprivileged() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert "pip install -r requirements.lock" in text
    assert "\nUSER 1000\n" in text
    assert '"paper"' in text and '"live"' not in text  # paper by default, never live


def test_compose_is_paper_mode_with_secrets_from_the_environment() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    gateway, app = compose["services"]["ib-gateway"], compose["services"]["algotrade"]
    assert gateway["environment"]["TRADING_MODE"] == "paper"
    for key in ("TWS_USERID", "TWS_PASSWORD"):
        assert gateway["environment"][key].startswith("${"), f"{key} must come from the environment"
    assert app["environment"]["ALGOTRADE_IB_ACCOUNT"].startswith("${")
    assert all(p.startswith("127.0.0.1:") for p in gateway["ports"]), "publish the API on localhost only"
    assert app["command"][0] == "paper"
    assert app["build"]["dockerfile"] == "docker/Dockerfile"


def _defaults(args: list[str]) -> list[str]:
    """The command as compose runs it when no variable is set: ${NAME:-default} -> default."""
    return [re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", a) for a in args]


def test_simulator_compose_serves_unattended_and_needs_no_secret() -> None:
    """docker/compose.sim.yaml: the gateway simulator runs with the non-interactive default (no
    terminal, no stdin), listens where the paper run connects, and nothing secret is needed."""
    text = (DOCKER / "compose.sim.yaml").read_text()
    assert ":?" not in text  # no required variable: it runs without an IB login
    services = yaml.safe_load(text)["services"]
    gateway, app = services["gateway"], services["algotrade"]
    command = _defaults(gateway["command"])
    assert command[0] == "gateway"
    speed = command[command.index("--speed") + 1] if "--speed" in command else "auto"
    assert speed == "auto"  # the default: manual on a terminal, else hold (SIGUSR1 replays a session)
    assert not gateway.get("tty") and not gateway.get("stdin_open")  # so stdin is not a terminal: it holds
    assert command[command.index("--host") + 1] == "0.0.0.0"  # reachable from the other container
    port = command[command.index("--port") + 1]
    assert app["environment"] == {"ALGOTRADE_IB_HOST": "gateway", "ALGOTRADE_IB_PORT": port}
    assert app["command"][0] == "paper" and "--simulate" not in app["command"]
    assert all(p.startswith("127.0.0.1:") for p in gateway["ports"]), "publish the API on localhost only"
    for service in (gateway, app):
        assert service["build"]["dockerfile"] == "docker/Dockerfile"


def test_the_simulator_service_command_serves_until_sigterm(tmp_path: Path) -> None:
    """The compose gateway's own command, run as the container runs it (stdin not a terminal, no
    variables set), on a free port of this machine: it keeps serving, then SIGTERM stops it, exit 0."""
    root = DOCKER.parent
    command = _defaults(yaml.safe_load((DOCKER / "compose.sim.yaml").read_text())["services"]["gateway"]["command"])
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = "0"
    proc = subprocess.Popen([sys.executable, "-m", "algotrade", *command], cwd=root, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline(), proc.stdout.readline()]
        assert re.search(r"on 127\.0\.0\.1:(\d+)", banner[0]), banner
        assert "holding at 2011-06-01 (stdin is not a terminal)" in banner[1], banner
        port = int(re.search(r"on 127\.0\.0\.1:(\d+)", banner[0]).group(1))  # type: ignore[union-attr]
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # listening
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=2) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_compose_stop_leaves_the_paper_run_time_to_write_its_verdict() -> None:
    for name in ("compose.yaml", "compose.sim.yaml"):
        app = yaml.safe_load((DOCKER / name).read_text())["services"]["algotrade"]
        assert app["init"] is True
        assert int(str(app["stop_grace_period"]).rstrip("s")) >= 30, name
