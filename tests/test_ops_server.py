"""The ops server of a paper run against a gateway process (the real CLI, IB client and socket):
/healthz, /readyz (503 while IB's link is lost and while halted), /metrics with the contract's
names, and a port already in use refused with one line."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests import gateway_fixtures as gf
from tests.test_paper_gateway import (
    EXPERIMENT,
    START,
    _no_run_left_behind,  # noqa: F401  (autouse: no paper run left running)
    start_run,
)

SERVING = r"ops: serving http://127\.0\.0\.1:(\d+) \(metrics /metrics, health /healthz /readyz, dashboard /\)"


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Wait (bounded) for ``check()`` to be truthy: the server is another process, polled."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        tick.wait(0.02)
    raise AssertionError(f"not within {timeout} s: {what}")


def readyz(port: int) -> tuple[int, dict[str, Any]]:
    status, body = get(port, "/readyz")
    return status, json.loads(body)


def metrics(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    status, body = get(port, "/metrics")
    assert status == 200
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


class Run:
    """A paper run's stderr, read in a thread, with its ops port."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines = gf.Lines(proc, proc.stderr, "the paper run")
        self.port = int(self.lines.line(SERVING).group(1))

    def done(self, day: str) -> None:
        self.lines.line(rf"^paper: {day} done")


def test_readyz_turns_503_while_ibs_link_is_lost_and_200_when_it_is_back(tmp_path: Path) -> None:
    with gf.controlled_gateway(tmp_path, EXPERIMENT, start=START) as gw:
        proc = start_run(tmp_path, gw.port, "--sessions", "4", "--ops-port", "0")
        run = Run(proc)
        assert get(run.port, "/healthz") == (200, b'{"status":"alive"}')
        run.lines.line(r"^paper: .*warm up")
        run.done(gw.ctl("advance").split()[3])
        _, body = until(lambda: (r := readyz(run.port))[0] == 200 and r, "ready after the first session")
        assert body == {"ready": True, "connected": True, "fresh": True, "halted": None, "reasons": []}
        m = metrics(run.port)
        assert m["algotrade_ib_connected"] == [({"experiment": "paper_quickstart", "mode": "paper"}, 1.0)]
        gw.ctl("1100")  # IB's link goes: the run sees it between sessions, without a bar
        _, body = until(lambda: (r := readyz(run.port))[0] == 503 and r, "503 once the link is lost")
        assert body["connected"] is False and body["reasons"] == ["disconnected from IB"]
        assert until(lambda: metrics(run.port)["algotrade_ib_disconnected_seconds"][0][1] > 0, "seconds counted")
        gw.ctl("1102")
        until(lambda: readyz(run.port)[0] == 200, "200 once the link is back")
        run.done(gw.ctl("advance").split()[3])
        m = metrics(run.port)
        assert m["algotrade_ib_connected"][0][1] == 1.0 and m["algotrade_ib_disconnected_seconds"][0][1] == 0.0
        assert m["algotrade_ib_disconnects_total"][0][1] == 1.0  # counted by the runner at the session
        assert m["algotrade_risk_events_total"] == [({"experiment": "paper_quickstart", "mode": "paper",
                                                      "kind": "connectivity"}, 1.0)]
        for _ in range(2):
            run.done(gw.ctl("advance").split()[3])
        proc.communicate(timeout=120)
    assert proc.returncode == 3  # 4 sessions: NO-GO (too few)


def test_readyz_is_503_while_the_run_is_halted(tmp_path: Path) -> None:
    with gf.controlled_gateway(tmp_path, EXPERIMENT, start=START) as gw:
        proc = start_run(tmp_path, gw.port, "--sessions", "3", "--ops-port", "0")
        run = Run(proc)
        run.lines.line(r"^paper: .*warm up")
        run.done(gw.ctl("advance").split()[3])
        until(lambda: readyz(run.port)[0] == 200, "ready")
        kill = subprocess.run([sys.executable, "-m", "algotrade", "kill", str(EXPERIMENT), "--out",
                               str(tmp_path / "out")], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env={**os.environ, "ALGOTRADE_IB_PORT": str(gw.port)})
        assert kill.returncode == 0, kill.stderr
        gw.ctl("advance")  # the run halts at its next session
        _, body = until(lambda: (r := readyz(run.port))[0] == 503 and r, "503 once halted")
        assert body["halted"].startswith("kill switch at ") and body["connected"] is True
        assert any(r.startswith("halted: kill switch") for r in body["reasons"])
        m = metrics(run.port)
        assert m["algotrade_halted"][0][1] == 1.0  # (the kill switch's risk event is the kill process's)
        proc.communicate(timeout=120)
    assert proc.returncode == 6  # halted by the kill switch


def test_an_ops_port_in_use_is_refused_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "algotrade", "paper", str(EXPERIMENT), "--simulate", "--out",
                               str(tmp_path / "out"), "--ops-port", str(port)], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and re.fullmatch(rf"config error: ops\.port: {port} is already in use on 127\.0\.0\.1 "
                                             r".*; pass another --ops-port, or --ops-port 0 for any free port",
                                             errors[0]), done.stderr
    assert not (tmp_path / "out" / "paper_quickstart" / "paper" / "burnin.json").exists()


def test_the_ops_port_and_host_can_come_from_the_environment(tmp_path: Path) -> None:
    """ALGOTRADE_OPS_PORT is --ops-port's default and ALGOTRADE_OPS_HOST stands for ops.host (the
    monitoring overlay sets both, keeping the base file's command): a port in use there is refused."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.2", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {**os.environ, "ALGOTRADE_OPS_PORT": str(port), "ALGOTRADE_OPS_HOST": "127.0.0.2"}
        done = subprocess.run([sys.executable, "-m", "algotrade", "paper", str(EXPERIMENT), "--simulate", "--out",
                               str(tmp_path / "out")], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env=env)
    assert done.returncode == 2, done.stderr
    assert f"config error: ops.port: {port} is already in use on 127.0.0.2 " in done.stderr, done.stderr
