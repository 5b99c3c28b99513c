"""The alert path end to end, every piece real and in its own process: `algotrade gateway` (the IB
Gateway simulator, driven through its control port), `algotrade paper ... --ops-port 0` trading
through it, Prometheus scraping the run's /metrics and evaluating the shipped rules, Alertmanager
(config from render.py) delivering to a webhook in the test. The gateway's daily restart keeps the
run disconnected past its threshold (ops.disconnect_alert_after_s=2): AlgotradeDisconnected
reaches the webhook while the gateway is still down, and resolves once the run has reconnected."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests import gateway_fixtures as gf
from tests import monitoring as m
from tests.test_paper_gateway import (
    EXPERIMENT,
    _no_run_left_behind,  # noqa: F401  (autouse: no paper run left running)
    start_run,
)

pytestmark = pytest.mark.skipif(bool(m.MISSING), reason=m.SKIP_REASON)
START = "2011-06-01"
WINDOW = 15  # seconds the gateway refuses connections: well past the 2 s threshold plus a scrape,
#              an evaluation and Alertmanager's group_wait (1 s each)


def advance(gw: gf.ControlledGateway, run: gf.Lines) -> str:
    """Replay one session and wait for the run to have traded it."""
    answer = gw.ctl("advance")
    match = re.search(r"^replayed 1 session (\d{4}-\d\d-\d\d) ", answer)
    assert match, answer
    run.line(rf"^paper: {match.group(1)} done", timeout=60)
    return match.group(1)


def value(mon: m.Monitoring, expr: str) -> float:
    result = mon.query(expr)
    assert len(result) == 1, f"{expr}: {result}{mon.describe()}"
    return float(result[0]["value"][1])


def test_a_dropped_gateway_fires_algotrade_disconnected_at_the_webhook_and_resolves(tmp_path: Path) -> None:
    with gf.controlled_gateway(tmp_path, EXPERIMENT, start=START) as gw:
        proc = start_run(tmp_path, gw.port, "--ops-port", "0", "--set", "ops.disconnect_alert_after_s=2",
                         "--set", "ib.reconnect_max_s=1")  # retry every second: it is back soon after the gateway
        run = gf.Lines(proc, proc.stderr, "the paper run")
        ops = run.line(r"^ops: serving http://127\.0\.0\.1:(\d+) \(metrics /metrics", timeout=60)
        target = f"127.0.0.1:{ops.group(1)}"
        run.line(rf"^paper: .*trading from the session after {START}", timeout=60)
        with m.monitoring(tmp_path / "monitoring", [target]) as mon:
            mon.wait_up(target)
            for _ in range(3):
                advance(gw, run)
            labels = '{experiment="paper_quickstart", mode="paper"}'
            assert value(mon, f"algotrade_ib_connected{labels}") == 1
            assert value(mon, f"algotrade_disconnected_alert_after_seconds{labels}") == 2
            assert not [a for a in mon.webhook.alerts() if a["labels"]["alertname"] == "AlgotradeDisconnected"]

            gw.ctl(f"restart {WINDOW}")  # answered once the port refuses connections
            fired = mon.wait_alert("AlgotradeDisconnected", "firing", timeout=WINDOW)
            assert gw.status()["port"] == "down", "the alert must come while the gateway is still down"
            assert fired["labels"] == {"alertname": "AlgotradeDisconnected", "severity": "critical",
                                       "experiment": "paper_quickstart", "mode": "paper", "job": "algotrade",
                                       "instance": target}
            assert fired["annotations"]["summary"].startswith("paper_quickstart (paper): disconnected from IB for ")

            resolved = mon.wait_alert("AlgotradeDisconnected", "resolved", timeout=WINDOW + 30)
            assert resolved["labels"] == fired["labels"] and resolved["startsAt"] == fired["startsAt"]
            assert value(mon, f"algotrade_ib_connected{labels}") == 1
            advance(gw, run)  # it trades on; the runner counts the outage at that session
            for counter in ("reconnects", "disconnects"):
                mon.wait_value(f"algotrade_ib_{counter}_total{labels}", lambda v: v >= 1, timeout=10, what=">= 1")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert "Traceback" not in "".join(run.lines), "".join(run.lines)
