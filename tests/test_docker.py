"""docker/: the Dockerfile passes hadolint; the compose file is paper-only and secret-free."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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
