"""docker/compose.monitoring.yaml without a Docker engine: its structure, every file it mounts, its
ports; the Grafana provisioning and dashboard, whose every query uses only the contract's metric
names (docs/metrics.md) and parses as PromQL (promtool checks them as recording rules)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"
GRAFANA = DOCKER / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "algotrade.json"

# the metrics the run exports (the ops contract; docs/metrics.md), histograms by their series
METRICS = {
    "algotrade_run_info", "algotrade_equity_dollars", "algotrade_cash_dollars", "algotrade_position_shares",
    "algotrade_position_value_dollars", "algotrade_exposure_gross_ratio", "algotrade_exposure_net_ratio",
    "algotrade_orders_total", "algotrade_ib_connected", "algotrade_ib_disconnected_seconds",
    "algotrade_ib_reconnects_total", "algotrade_ib_disconnects_total", "algotrade_last_bar_timestamp_seconds",
    "algotrade_next_bar_due_timestamp_seconds", "algotrade_stale_after_seconds", "algotrade_risk_events_total",
    "algotrade_halted", "algotrade_drawdown_ratio", "algotrade_drawdown_limit_ratio", "algotrade_daily_loss_ratio",
    "algotrade_daily_loss_limit_ratio", "algotrade_shadow_equity_dollars", "algotrade_divergence_ratio",
    "algotrade_divergence_limit_ratio", "algotrade_burnin_gate_passing", "algotrade_burnin_gate_value",
    "algotrade_burnin_gate_limit", "algotrade_burnin_progress_ratio", "algotrade_disconnected_alert_after_seconds",
    *(f"{h}_{s}" for h in ("algotrade_fill_slippage_bps", "algotrade_bar_to_order_seconds")
      for s in ("bucket", "sum", "count")),
}
# what the brief asks the dashboard to show, by a metric each
SHOWN = {
    "equity vs shadow": ("algotrade_equity_dollars", "algotrade_shadow_equity_dollars"),
    "positions": ("algotrade_position_shares", "algotrade_position_value_dollars"),
    "orders by status": ("algotrade_orders_total",),
    "slippage": ("algotrade_fill_slippage_bps_bucket",),
    "bar-to-order latency": ("algotrade_bar_to_order_seconds_bucket",),
    "connection": ("algotrade_ib_connected", "algotrade_ib_disconnected_seconds"),
    "last-bar age": ("algotrade_last_bar_timestamp_seconds",),
    "risk events": ("algotrade_risk_events_total",),
    "burn-in gates": ("algotrade_burnin_gate_passing", "algotrade_burnin_gate_value", "algotrade_burnin_gate_limit"),
    "burn-in progress": ("algotrade_burnin_progress_ratio",),
    "divergence": ("algotrade_divergence_ratio", "algotrade_divergence_limit_ratio"),
}
PROMQL_WORDS = {"sum", "by", "without", "increase", "rate", "histogram_quantile", "time", "le", "max", "min",
                "avg", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "count", "abs"}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((DOCKER / name).read_text())  # type: ignore[no-any-return]


def services() -> dict[str, Any]:
    return load("compose.monitoring.yaml")["services"]  # type: ignore[no-any-return]


def exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_the_stack_has_its_services_and_publishes_on_localhost_only() -> None:
    s = services()
    assert set(s) == {"algotrade", "prometheus", "alertmanager-config", "alertmanager", "grafana"}
    published = {name: [p.split(":", 1)[1] for p in svc.get("ports", [])] for name, svc in s.items()}
    assert published == {"algotrade": ["9108:9108"], "prometheus": ["9090:9090"], "alertmanager-config": [],
                         "alertmanager": ["9093:9093"], "grafana": ["3000:3000"]}
    for svc in s.values():
        assert all(str(p).startswith("127.0.0.1:") for p in svc.get("ports", [])), "publish on this host only"
    for name in ("prometheus", "alertmanager", "grafana"):
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", s[name]["image"]), f"{name}: pin the image's version"


def test_every_mounted_file_exists() -> None:
    s = services()
    volumes = set(load("compose.monitoring.yaml")["volumes"])
    for name, svc in s.items():
        for mount in svc.get("volumes", []):
            source, target = mount.split(":")[:2]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in volumes, f"{name}: named volume {source} is not declared"
            assert target.startswith("/")


def test_the_run_serves_its_ops_endpoint_where_prometheus_scrapes() -> None:
    app = services()["algotrade"]
    assert "command" not in app  # the base file's command is kept (the rehearsal's --sessions 250)
    assert app["environment"] == {"ALGOTRADE_OPS_PORT": "9108", "ALGOTRADE_OPS_HOST": "0.0.0.0"}
    prometheus = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "algotrade")
    assert job["static_configs"][0]["targets"] == ["algotrade:9108"]
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    mounts = dict(m.split(":")[:2] for m in services()["prometheus"]["volumes"])
    assert mounts["./prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert mounts["./prometheus/alerts.yml"] == "/etc/prometheus/" + prometheus["rule_files"][0]


@pytest.mark.parametrize("base", ["compose.yaml", "compose.sim.yaml"])
def test_the_overlay_fits_either_compose_file(base: str) -> None:
    """Compose merges services by name (and their environment maps by key): the base's algotrade
    service keeps its command and IB endpoint and gets the ops port and host."""
    app = load(base)["services"]["algotrade"]
    overlay = services()["algotrade"]
    merged = {**app, **overlay, "environment": {**app["environment"], **overlay["environment"]}}
    assert merged["build"]["dockerfile"] == "docker/Dockerfile"
    assert merged["environment"]["ALGOTRADE_IB_HOST"] in load(base)["services"]
    assert merged["command"] == app["command"] and merged["command"][0] == "paper"
    assert merged["environment"]["ALGOTRADE_OPS_PORT"] == "9108"


def test_alertmanager_starts_from_the_rendered_config() -> None:
    s = services()
    render, am = s["alertmanager-config"], s["alertmanager"]
    assert am["depends_on"] == {"alertmanager-config": {"condition": "service_completed_successfully"}}
    assert "./alertmanager/render.py:/render/render.py:ro" in render["volumes"]
    assert "python /render/render.py --out /config/alertmanager.yml" in render["command"][-1]
    assert "--config.file=/config/alertmanager.yml" in am["command"]
    assert "--cluster.listen-address=" in am["command"]  # a single instance: no gossip port
    sys.path.insert(0, str(DOCKER / "alertmanager"))
    try:
        import render as render_module
    finally:
        sys.path.pop(0)
    env = render["environment"]
    assert set(env) == set(render_module.VARIABLES)
    assert all(v == f"${{{k}:-}}" for k, v in env.items()), "from the host's environment, never a value here"


def test_grafana_provisions_the_prometheus_datasource_and_the_dashboard() -> None:
    grafana = services()["grafana"]
    mounts = dict(m.split(":")[:2] for m in grafana["volumes"])
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert [(d["type"], d["uid"], d["url"]) for d in ds] == [("prometheus", "prometheus", "http://prometheus:9090")]
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "algotrade.yml").read_text())["providers"]
    assert mounts["./grafana/dashboards"] == providers[0]["options"]["path"]
    dash = json.loads(DASHBOARD.read_text())
    uids = {p["datasource"]["uid"] for p in dash["panels"] if "datasource" in p}
    uids |= {t["datasource"]["uid"] for p in dash["panels"] for t in p.get("targets", [])}
    assert uids == {"prometheus"}


def test_dashboard_is_grafana_json() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for p in dash["panels"]:
        assert p["type"] in {"row", "timeseries", "stat", "table", "bargauge", "gauge"}, p["type"]
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in ("h", "w", "x", "y")) and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"panel {p['title']!r} overlaps another"
        cells |= mine
        if p["type"] != "row":
            refs = [t["refId"] for t in p["targets"]]
            assert refs and len(refs) == len(set(refs)) and all(t["expr"] for t in p["targets"]), p["title"]
    names = {v["name"] for v in dash["templating"]["list"]}
    assert names == {"experiment", "mode"}


def test_dashboard_queries_use_only_the_contract_metrics_and_show_the_burnin() -> None:
    used: set[str] = set()
    for expr in exprs():
        # drop selectors, strings, ranges and grouping label lists: what is left names metrics or functions
        bare = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]|\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)',
                      "", expr)
        words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)) - PROMQL_WORDS
        unknown = words - METRICS
        assert not unknown, f"{expr}: {sorted(unknown)} not in the contract"
        used |= words
    for what, names in SHOWN.items():
        assert set(names) <= used, f"the dashboard does not show {what}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian: apt-get install prometheus)")
def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
             for i, expr in enumerate(exprs())]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    proc = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout
