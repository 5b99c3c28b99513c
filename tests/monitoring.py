"""A real Prometheus and a real Alertmanager for tests, delivering to a webhook the test runs.

    with monitoring(tmp_path, ["127.0.0.1:9108"]) as mon:
        alert = mon.webhook.wait_alert("AlgotradeDisconnected", "firing", timeout=30)

Prometheus (``/usr/bin/prometheus``) runs with a temporary config and storage on a free port,
scrapes and evaluates every second, and loads the shipped ``docker/prometheus/alerts.yml``; its
targets come from a file (:meth:`Monitoring.scrape` adds one while it runs). Alertmanager
(``prometheus-alertmanager``, clustering off) runs with the config ``docker/alertmanager/render.py``
writes from ``ALERT_WEBHOOK_URL`` (short group_wait and group_interval), pointing at
:class:`Webhook`, an HTTP server thread that records every POSTed notification. Every wait has
a deadline and fails naming what it waited for, with the servers' last log lines; on exit both
servers are stopped (SIGTERM, then SIGKILL) and the webhook shut down.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "docker" / "prometheus" / "alerts.yml"
RENDER = ROOT / "docker" / "alertmanager" / "render.py"
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
MISSING = ", ".join(name for name, path in (("prometheus", PROMETHEUS), ("prometheus-alertmanager", ALERTMANAGER))
                    if path is None)
SKIP_REASON = f"{MISSING} not installed (Debian: apt-get install prometheus prometheus-alertmanager)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Webhook:
    """Alertmanager's webhook receiver: records every notification (its JSON body) POSTed to it."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with hook._changed:
                    hook.notifications.append(json.loads(body))
                    hook._changed.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self._thread = threading.Thread(target=self.server.serve_forever, name="webhook", daemon=True)
        self._thread.start()

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert delivered so far, in delivery order (each with its ``status``)."""
        with self._changed:
            return [a for n in self.notifications for a in n["alerts"]]

    def wait_alert(self, name: str, status: str, timeout: float, since: int = 0,
                   describe: Callable[[], str] = lambda: "") -> dict[str, Any]:
        """The first alert ``name`` delivered with ``status`` (firing, resolved) after the first
        ``since`` alerts; fails after ``timeout`` seconds, listing what was delivered."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [a for n in self.notifications for a in n["alerts"]][since:]
                match = next((a for a in found if a["labels"].get("alertname") == name and a["status"] == status),
                             None)
                if match is not None:
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(a["labels"].get("alertname"), a["status"]) for a in found]
                    raise AssertionError(f"no {status} {name} at the webhook within {timeout} s; delivered: {seen}"
                                         f"{describe()}")
                self._changed.wait(remaining)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


class Server:
    """A server process with its log in a file."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.name, self.log = name, log
        self._out = log.open("w")
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- {self.name} (rc {self.proc.poll()}), last lines of {self.log}:\n" + "\n".join(text)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._out.close()


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def wait_ready(server: Server, url: str, timeout: float) -> None:
    """Poll the server's readiness URL (nothing to wait on but its answer) until 200."""
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise AssertionError(f"{server.name} exited before it was ready{server.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{server.name} was not ready at {url} within {timeout} s{server.tail()}")
        threading.Event().wait(0.1)


class Monitoring:
    """The running stack: Prometheus, Alertmanager and the webhook they deliver to."""

    def __init__(self, folder: Path, webhook: Webhook, prometheus: Server, alertmanager: Server,
                 prometheus_url: str, alertmanager_url: str) -> None:
        self.folder, self.webhook = folder, webhook
        self.prometheus, self.alertmanager = prometheus, alertmanager
        self.prometheus_url, self.alertmanager_url = prometheus_url, alertmanager_url
        self.targets: list[str] = []

    def scrape(self, *targets: str) -> None:
        """Add scrape targets (HOST:PORT) to the job ``algotrade``; Prometheus picks the file up."""
        self.targets.extend(targets)
        tmp = self.folder / "targets.json.tmp"
        tmp.write_text(json.dumps([{"targets": self.targets}]))
        os.replace(tmp, self.folder / "targets.json")

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        return get_json(url)["data"]["result"]  # type: ignore[no-any-return]

    def describe(self) -> str:
        """The state of things, for a failure message: targets, Prometheus's alerts, the logs."""
        try:
            targets = [(t["scrapeUrl"], t["health"], t["lastError"])
                       for t in get_json(f"{self.prometheus_url}/api/v1/targets")["data"]["activeTargets"]]
            alerts = [(a["labels"]["alertname"], a["state"])
                      for a in get_json(f"{self.prometheus_url}/api/v1/alerts")["data"]["alerts"]]
        except (OSError, ValueError, KeyError) as exc:
            targets, alerts = [("?", str(exc), "")], []
        return (f"\nprometheus targets: {targets}\nprometheus alerts: {alerts}"
                f"{self.prometheus.tail()}{self.alertmanager.tail()}")

    def wait_up(self, target: str, timeout: float = 20.0) -> None:
        """Until Prometheus has scraped ``target`` successfully."""
        deadline = time.monotonic() + timeout
        while not any(r["metric"].get("instance") == target and r["value"][1] == "1"
                      for r in self.query('up{job="algotrade"}')):
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus did not scrape {target} within {timeout} s{self.describe()}")
            threading.Event().wait(0.2)

    def wait_value(self, expr: str, ok: Callable[[float], bool], timeout: float = 20.0, what: str = "") -> float:
        """Until ``expr`` (one series) has a value ``ok`` accepts; that value."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if len(result) == 1 and ok(float(result[0]["value"][1])):
                return float(result[0]["value"][1])
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr} did not become {what or ok} within {timeout} s (last: {result})"
                                     f"{self.describe()}")
            threading.Event().wait(0.2)

    def wait_alert(self, name: str, status: str, timeout: float, since: int = 0) -> dict[str, Any]:
        return self.webhook.wait_alert(name, status, timeout, since, self.describe)


def prometheus_config(folder: Path, alertmanager: str) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [{"job_name": "algotrade",
                            "file_sd_configs": [{"files": [str(folder / "targets.json")], "refresh_interval": "1s"}]}],
    }


@contextlib.contextmanager
def monitoring(folder: Path, targets: tuple[str, ...] | list[str] = (), ready_timeout: float = 30.0) -> Iterator[Monitoring]:
    """Start the stack in ``folder`` (configs, storage, logs); stop and clean it up on exit."""
    if MISSING:
        raise RuntimeError(SKIP_REASON)
    assert PROMETHEUS is not None and ALERTMANAGER is not None
    folder.mkdir(parents=True, exist_ok=True)
    stack = contextlib.ExitStack()
    with stack:
        webhook = Webhook()
        stack.callback(webhook.close)
        am_config = folder / "alertmanager.yml"
        rendered = subprocess.run(
            [sys.executable, str(RENDER), "--out", str(am_config), "--group-wait", "1s", "--group-interval", "1s",
             "--repeat-interval", "1h"],
            capture_output=True, text=True, timeout=60,
            env={"PATH": os.environ.get("PATH", ""), "ALERT_WEBHOOK_URL": webhook.url},
        )
        assert rendered.returncode == 0, rendered.stderr
        am_port, prom_port = free_port(), free_port()
        alertmanager = Server("alertmanager", [
            ALERTMANAGER, f"--config.file={am_config}", f"--storage.path={folder / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=", "--log.level=info",
        ], folder / "alertmanager.log")
        stack.callback(alertmanager.stop)
        (folder / "targets.json").write_text(json.dumps([{"targets": list(targets)}]))
        (folder / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config(folder, f"127.0.0.1:{am_port}")))
        prometheus = Server("prometheus", [
            PROMETHEUS, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=1s",
            "--storage.tsdb.retention.time=1d",
        ], folder / "prometheus.log")
        stack.callback(prometheus.stop)
        am_url, prom_url = f"http://127.0.0.1:{am_port}", f"http://127.0.0.1:{prom_port}"
        wait_ready(alertmanager, f"{am_url}/-/ready", ready_timeout)
        wait_ready(prometheus, f"{prom_url}/-/ready", ready_timeout)
        mon = Monitoring(folder, webhook, prometheus, alertmanager, prom_url, am_url)
        mon.targets = list(targets)
        yield mon
    for data in ("prometheus-data", "alertmanager-data"):
        shutil.rmtree(folder / data, ignore_errors=True)
