"""The monitoring harness (tests/monitoring.py) against a stand-in exporter: a prometheus_client
registry served by the test with the contract's metric names. The shipped rules fire through a
real Prometheus and a real Alertmanager to the webhook, carry their labels and annotations, and
resolve when the series recover."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests import monitoring as m

pytestmark = pytest.mark.skipif(bool(m.MISSING), reason=m.SKIP_REASON)
LABELS = {"experiment": "standin", "mode": "paper"}


class Exporter:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        names = ("experiment", "mode")
        self.disconnected = Gauge("algotrade_ib_disconnected_seconds", "since the link was lost", names,
                                  registry=self.registry)
        self.threshold = Gauge("algotrade_disconnected_alert_after_seconds", "the alert's threshold", names,
                               registry=self.registry)
        self.halted = Gauge("algotrade_halted", "halted", names, registry=self.registry)
        self.connected = Gauge("algotrade_ib_connected", "connected", names, registry=self.registry)
        for g, v in ((self.disconnected, 0), (self.threshold, 2), (self.halted, 0), (self.connected, 1)):
            g.labels(**LABELS).set(v)
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.target = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    e = Exporter()
    yield e
    e.close()


def test_alerts_fire_at_the_webhook_and_resolve(tmp_path: Path, exporter: Exporter) -> None:
    with m.monitoring(tmp_path / "monitoring", [exporter.target]) as mon:
        mon.wait_up(exporter.target)
        assert mon.query("algotrade_disconnected_alert_after_seconds")[0]["value"][1] == "2"
        # healthy: nothing fires for a few evaluations
        exporter.disconnected.labels(**LABELS).set(1)  # under the threshold
        with pytest.raises(AssertionError, match="no firing AlgotradeDisconnected"):
            mon.webhook.wait_alert("AlgotradeDisconnected", "firing", timeout=4)
        assert mon.webhook.alerts() == []

        exporter.connected.labels(**LABELS).set(0)
        exporter.disconnected.labels(**LABELS).set(5)  # past the run's own threshold (2 s)
        fired = mon.wait_alert("AlgotradeDisconnected", "firing", timeout=30)
        assert fired["labels"] == {"alertname": "AlgotradeDisconnected", "severity": "critical", "job": "algotrade",
                                   "instance": exporter.target, **LABELS}
        assert fired["annotations"]["summary"] == "standin (paper): disconnected from IB for 5s"
        assert fired["annotations"]["runbook"].startswith("docs/alerts.md#algotradedisconnected")

        exporter.halted.labels(**LABELS).set(1)
        halted = mon.wait_alert("AlgotradeHalted", "firing", timeout=30)
        assert halted["labels"]["severity"] == "critical" and halted["labels"]["experiment"] == "standin"

        exporter.connected.labels(**LABELS).set(1)
        exporter.disconnected.labels(**LABELS).set(0)  # reconnected
        resolved = mon.wait_alert("AlgotradeDisconnected", "resolved", timeout=30)
        assert resolved["labels"] == fired["labels"] and resolved["startsAt"] == fired["startsAt"]
        exporter.halted.labels(**LABELS).set(0)
        mon.wait_alert("AlgotradeHalted", "resolved", timeout=30)


def test_a_target_added_while_running_is_scraped(tmp_path: Path, exporter: Exporter) -> None:
    with m.monitoring(tmp_path / "monitoring") as mon:
        mon.scrape(exporter.target)
        mon.wait_up(exporter.target)
        got = mon.query('algotrade_ib_connected{experiment="standin"}')
        assert [r["metric"]["instance"] for r in got] == [exporter.target]


def test_a_wait_that_times_out_says_what_it_waited_for(tmp_path: Path) -> None:
    with m.monitoring(tmp_path / "monitoring") as mon, \
            pytest.raises(AssertionError, match=r"did not scrape 127\.0\.0\.1:1 within 2 s(.|\n)*prometheus targets"):
        mon.scrape("127.0.0.1:1")
        mon.wait_up("127.0.0.1:1", timeout=2)
    assert not (tmp_path / "monitoring" / "prometheus-data").exists()
    assert mon.prometheus.proc.poll() is not None and mon.alertmanager.proc.poll() is not None
