"""docker/prometheus/: the alert rules and the Prometheus config pass promtool, and the rules'
unit tests (alerts_test.yml: recorded series, each alert firing, not firing, resolving) pass."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[1] / "docker" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)")

# the contract's alerts (docs/alerts.md): name -> severity
ALERTS = {
    "AlgotradeDisconnected": "critical",
    "AlgotradeStaleData": "critical",
    "AlgotradeDrawdownBreach": "critical",
    "AlgotradeDailyLossBreach": "critical",
    "AlgotradeShadowDivergence": "warning",
    "AlgotradeOrderRejects": "warning",
    "AlgotradeBurninGateFailing": "warning",
    "AlgotradeHalted": "critical",
    "AlgotradeExporterDown": "critical",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=PROMETHEUS, timeout=120)


@needs_promtool
def test_alert_rules_pass_promtool_check() -> None:
    proc = promtool("check", "rules", "alerts.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in proc.stdout


@needs_promtool
def test_prometheus_config_passes_promtool_check() -> None:
    proc = promtool("check", "config", "prometheus.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_alert_rule_unit_tests_pass() -> None:
    proc = promtool("test", "rules", "alerts_test.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_every_contract_alert_has_its_severity_and_annotations() -> None:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    assert [g["name"] for g in groups] == ["algotrade"]
    rules = {r["alert"]: r for r in groups[0]["rules"]}
    assert set(rules) == set(ALERTS)
    for name, rule in rules.items():
        assert rule["labels"]["severity"] == ALERTS[name], name
        notes = rule["annotations"]
        assert {"summary", "description", "runbook"} <= set(notes), name
        assert "$labels.experiment" in notes["summary"] and "$labels.experiment" in notes["description"], name
        assert notes["runbook"].startswith(f"docs/alerts.md#{name.lower()}:"), name


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    """Each alert has a promtool case that expects it to fire and one that expects silence."""
    cases = [c for t in yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
             for c in t["alert_rule_test"]]
    for name in ALERTS:
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine), f"{name}: no case expects it to fire"
        assert any(not c["exp_alerts"] for c in mine), f"{name}: no case expects it quiet"


def test_prometheus_scrapes_the_run_and_notifies_alertmanager() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["algotrade"]["static_configs"][0]["targets"] == ["algotrade:9108"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
