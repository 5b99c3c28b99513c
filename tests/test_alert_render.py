"""docker/alertmanager/render.py: Alertmanager's config from ALERT_* variables. Every rendered
config passes `amtool check-config`, and `amtool config routes test` sends each severity to the
receivers the contract names (critical: all; warning: slack and webhook; info: webhook)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

RENDER = Path(__file__).resolve().parents[1] / "docker" / "alertmanager" / "render.py"
AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (Debian: apt-get install prometheus-alertmanager)")

SECRETS = {
    "webhook": {"ALERT_WEBHOOK_URL": "https://hooks.example.net/alerts?token=wh-s3cret"},
    "slack": {"ALERT_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/sl-s3cret",
              "ALERT_SLACK_CHANNEL": "#burn-in"},
    "email": {"ALERT_EMAIL_TO": "oncall@example.net", "ALERT_SMTP_SMARTHOST": "smtp.example.net:587",
              "ALERT_SMTP_FROM": "alertmanager@example.net", "ALERT_SMTP_USERNAME": "am-user",
              "ALERT_SMTP_PASSWORD": "pw-s3cret"},
}
ROUTED = {"critical": ["webhook", "slack", "email"], "warning": ["webhook", "slack"], "info": ["webhook"]}


def render(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RENDER), "--out", str(tmp_path / "alertmanager.yml"), *args],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={"PATH": os.environ.get("PATH", ""), **env})


def amtool(*args: str) -> str:
    assert AMTOOL is not None
    proc = subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def assert_no_secret(text: str) -> None:
    for spec in SECRETS.values():
        for name, value in spec.items():
            if name != "ALERT_SLACK_CHANNEL":
                assert value not in text, f"{name}'s value was printed"


@needs_amtool
@pytest.mark.parametrize("configured", [("webhook",), ("slack",), ("email",), ("webhook", "email"),
                                        ("slack", "email"), ("webhook", "slack", "email")])
def test_rendered_config_passes_amtool_and_routes_each_severity(tmp_path: Path, configured: tuple[str, ...]) -> None:
    env = {k: v for name in configured for k, v in SECRETS[name].items()}
    proc = render(tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert_no_secret(proc.stdout + proc.stderr)
    assert proc.stdout.startswith(f"render.py: wrote {tmp_path / 'alertmanager.yml'}: receivers ")
    config = tmp_path / "alertmanager.yml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # it holds the secrets
    assert "SUCCESS" in amtool("check-config", str(config))
    for severity, receivers in ROUTED.items():
        got = amtool("config", "routes", "test", f"--config.file={config}", f"severity={severity}",
                     "alertname=AlgotradeDisconnected", "experiment=paper_quickstart").strip()
        expected = [r for r in receivers if r in configured] or ["blackhole"]
        assert got.split(",") == expected, (severity, got)
    # an alert without a severity reaches no one rather than a random receiver
    assert amtool("config", "routes", "test", f"--config.file={config}", "alertname=X").strip() == "blackhole"


@needs_amtool
def test_short_intervals_for_tests_are_rendered(tmp_path: Path) -> None:
    proc = render(tmp_path, SECRETS["webhook"], "--group-wait", "1s", "--group-interval", "1s",
                  "--repeat-interval", "1h")
    assert proc.returncode == 0, proc.stderr
    assert "SUCCESS" in amtool("check-config", str(tmp_path / "alertmanager.yml"))
    text = (tmp_path / "alertmanager.yml").read_text()
    assert '"group_wait": "1s"' in text and '"group_interval": "1s"' in text


def test_no_receiver_configured_is_one_line_naming_the_variables(tmp_path: Path) -> None:
    proc = render(tmp_path, {})
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    for name in ("ALERT_WEBHOOK_URL", "ALERT_SLACK_WEBHOOK_URL", "ALERT_SLACK_CHANNEL", "ALERT_EMAIL_TO",
                 "ALERT_SMTP_SMARTHOST", "ALERT_SMTP_FROM", "ALERT_SMTP_USERNAME", "ALERT_SMTP_PASSWORD"):
        assert name in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "alertmanager.yml").exists()


@pytest.mark.parametrize(("env", "named"), [
    ({"ALERT_EMAIL_TO": "oncall@example.net", "ALERT_SMTP_PASSWORD": "pw-s3cret"}, "ALERT_SMTP_SMARTHOST, ALERT_SMTP_FROM"),
    ({**SECRETS["email"], "ALERT_SMTP_USERNAME": ""}, "ALERT_SMTP_USERNAME and ALERT_SMTP_PASSWORD go together"),
    ({**SECRETS["email"], "ALERT_SMTP_SMARTHOST": "smtp.example.net"}, "ALERT_SMTP_SMARTHOST is not HOST:PORT"),
    ({"ALERT_SLACK_CHANNEL": "#burn-in"}, "ALERT_SLACK_WEBHOOK_URL is not"),
    ({"ALERT_WEBHOOK_URL": "hooks.example.net/alerts?token=wh-s3cret"}, "ALERT_WEBHOOK_URL is not an http(s) URL"),
    ({**SECRETS["webhook"], "ALERT_SLACK_WEBHOOK_URL": "sl-s3cret"}, "ALERT_SLACK_WEBHOOK_URL is not an http(s) URL"),
])
def test_a_receiver_configured_by_halves_is_refused_without_echoing_secrets(
        tmp_path: Path, env: dict[str, str], named: str) -> None:
    proc = render(tmp_path, env)
    assert proc.returncode == 2
    assert named in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert_no_secret(proc.stdout + proc.stderr)
    assert "wh-s3cret" not in proc.stderr and "sl-s3cret" not in proc.stderr
    assert not (tmp_path / "alertmanager.yml").exists()


def test_a_bad_interval_is_refused(tmp_path: Path) -> None:
    proc = render(tmp_path, SECRETS["webhook"], "--group-wait", "soon")
    assert proc.returncode == 2 and "--group-wait 'soon' is not a duration" in proc.stderr
