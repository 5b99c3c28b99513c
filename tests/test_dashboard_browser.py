"""The dashboard in headless chromium: it updates without reloading, refuses a kill without the token,
and with it kills a real paper run at the gateway simulator.

The first test drives the page over a hand-written run state (tests/test_dashboard.py); the second
runs `algotrade gateway` in manual mode and a real `algotrade paper ... --ops-port 0` against it,
replays sessions through the gateway, and reads the simulator's side with an IB client of its own.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import dashboard_browser as db
from tests import gateway_fixtures as gf
from tests.test_dashboard import Ctx, StubState, _serving

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "paper_quickstart.yaml"
START = "2011-06-01"
#: a trailing stop rests at IB while the run holds SPX: an open order and a position at the kill
OVERRIDES = ("strategy.params.fast=5", "strategy.params.slow=20", "stops.trailing=0.05")
TOKEN = "t0ken-for-the-test"


def test_the_page_follows_the_state_and_refuses_a_kill_without_a_token(tmp_path: Path) -> None:
    state = StubState()
    with db.browser() as browser, _serving(Ctx(environ={}), state) as (url, _):
        page = browser.new_page(viewport=db.LAPTOP)
        page.goto(url + "/")
        page.wait_for_function("document.getElementById('stream-status').textContent === 'live'", timeout=db.WAIT_MS)
        assert page.locator("#equity-count").inner_text() == "0 sessions"
        for i in range(3):
            state.update(sessions=i + 1, session=f"2011-06-0{i + 2}",
                         equity=[*state.snapshot()["equity"],
                                 {"date": f"2011-06-0{i + 2}", "paper": 100000.0 + 150 * i, "shadow": 100000.0 + 100 * i}],
                         positions=[{"symbol": "SPX", "quantity": 70 + i, "value": 94000.0}])
            page.wait_for_function(f"document.querySelectorAll('#equity-chart circle.pt-paper').length === {i + 1}",
                                   timeout=db.WAIT_MS)
        assert page.locator("#equity-chart circle.pt-shadow").count() == 3
        assert page.locator("#positions tr").inner_text().split() == ["SPX", "72", "$94,000"]
        assert page.locator("#halted-banner").is_hidden()
        page.click("#kill-button")
        assert page.locator("#kill-confirm").is_visible()
        page.click("#kill-cancel")  # the confirmation step: nothing is sent without it
        assert page.locator("#kill-confirm").is_hidden() and page.locator("#kill-result").inner_text() == ""
        page.click("#kill-button")
        page.click("#kill-confirm")
        page.wait_for_function("document.getElementById('kill-result').dataset.status === '403'", timeout=db.WAIT_MS)
        assert "403 refused" in page.locator("#kill-result").inner_text()
        assert "disabled" in page.locator("#kill-result").inner_text()
        state.update(halted="kill switch at 2011-06-05")
        page.wait_for_selector("#halted-banner.on", timeout=db.WAIT_MS)
        assert "kill switch at 2011-06-05" in page.locator("#halted-banner").inner_text()
        phone = browser.new_page(viewport=db.PHONE)
        phone.goto(url + "/")
        phone.wait_for_function("document.querySelectorAll('#equity-chart circle.pt-paper').length === 3",
                                timeout=db.WAIT_MS)
        assert db.overflow(phone) == [] and db.overflow(page) == []


def _ops_server_exists() -> bool:
    from click.testing import CliRunner

    from algotrade.cli import cli

    return "--ops-port" in CliRunner().invoke(cli, ["paper", "--help"]).output


class Run:
    """`algotrade paper` in its own process; its stderr read in a thread (tests/gateway_fixtures.Lines)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.err = gf.Lines(proc, proc.stderr, "the paper run")
        self.url = self.err.line(r"^ops: serving (http://[\d.]+:\d+) ").group(1)
        self.seen = 0

    def done(self, day: str) -> None:
        self.seen = len(self.err.lines)
        self.err.line(rf"^paper: {day} done", timeout=120)

    def state(self) -> dict[str, Any]:
        return httpx.get(self.url + "/api/state", timeout=10).json()  # type: ignore[no-any-return]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[gf.GatewayProcess, Run]]:
    if not _ops_server_exists():
        pytest.skip("`algotrade paper` has no --ops-port here: the ops server (OPS's algotrade/live/ops) is not merged")
    with gf.gateway_process(tmp_path, EXPERIMENT, START) as gw:
        args = [a for o in OVERRIDES for a in ("--set", o)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "algotrade", "paper", str(EXPERIMENT), "--out", str(tmp_path / "out"), *args,
             "--sessions", "200", "--ops-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
            env={**os.environ, "ALGOTRADE_IB_PORT": str(gw.port), "ALGOTRADE_DASHBOARD_TOKEN": TOKEN})
        try:
            yield gw, Run(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)


def _at_ib(port: int) -> tuple[dict[str, int], list[tuple[str, int, str]]]:
    """The simulator's positions and open orders, as a second IB client (its own client id) sees them.

    In a thread with an event loop of its own: playwright's sync API keeps one running in this one."""
    from algotrade.core.registry import resolve_broker

    seen: list[tuple[dict[str, int], list[tuple[str, int, str]]]] = []

    def probe() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        broker = resolve_broker("ib")("127.0.0.1", port, client_id=91, account="", timeout=20, symbols=("SPX",))
        broker.connect()
        try:
            trades = broker.ib.reqAllOpenOrders()
            orders = sorted((t.order.orderType, int(t.order.totalQuantity), t.order.orderRef) for t in trades
                            if t.orderStatus.status not in ("Cancelled", "Filled", "Inactive"))
            seen.append((broker.positions(), orders))
        finally:
            broker.disconnect()
            asyncio.get_event_loop().close()

    thread = threading.Thread(target=probe, name="ib-probe", daemon=True)
    thread.start()
    thread.join(60)
    assert seen, "the second IB client got no answer from the simulator within 60 s"
    return seen[0]


def test_a_paper_run_on_the_dashboard_and_its_kill_switch(run: tuple[gf.GatewayProcess, Run], tmp_path: Path) -> None:
    gw, paper = run
    paper.err.line(r"^paper: .*warm up", timeout=120)
    with db.browser() as browser:
        page = browser.new_page(viewport=db.LAPTOP)
        page.goto(paper.url + "/")
        page.wait_for_function("document.getElementById('stream-status').textContent === 'live'", timeout=db.WAIT_MS)
        traded = 0
        deadline = time.monotonic() + 600
        while True:  # replay until the run holds SPX with its trailing stop resting at IB
            paper.done(gw.advance())
            traded += 1
            page.wait_for_function(f"document.querySelectorAll('#equity-chart circle.pt-paper').length >= {traded}",
                                   timeout=db.WAIT_MS)
            s = paper.state()
            if s["positions"] and s["open_orders"]:
                break
            assert traded < 150 and time.monotonic() < deadline, "no position with a resting stop in 150 sessions"
        for _ in range(2):  # a couple more sessions with the position on
            paper.done(gw.advance())
            traded += 1
        page.wait_for_function(f"document.querySelectorAll('#equity-chart circle.pt-paper').length >= {traded}",
                               timeout=db.WAIT_MS)
        page.wait_for_selector("#positions td:text('SPX')", timeout=db.WAIT_MS)
        assert page.locator("#open-orders tr").count() >= 1 and "SPX" in page.locator("#open-orders").inner_text()
        db.save(page, "dashboard-trading", tmp_path)

        before = _at_ib(gw.port)
        assert before[0].get("SPX", 0) > 0 and before[1], before
        page.click("#kill-button")
        page.click("#kill-confirm")  # no token in this tab
        page.wait_for_function("document.getElementById('kill-result').dataset.status === '403'", timeout=db.WAIT_MS)
        assert "403 refused" in page.locator("#kill-result").inner_text()
        db.save(page, "dashboard-refused", tmp_path)
        assert _at_ib(gw.port) == before and paper.proc.poll() is None

        page.fill("#token-input", TOKEN)
        page.click("#token-save")
        assert page.locator("#token-input").input_value() == ""  # kept in sessionStorage, not in the page
        page.click("#kill-button")
        page.click("#kill-confirm")
        page.wait_for_function("document.getElementById('kill-result').dataset.status === '200'", timeout=120_000)
        assert "halted by the kill switch" in page.locator("#kill-result").inner_text()
        gw.advance()  # the sale fills at the next open (the gateway replies once it replayed); the run sees the halt
        assert paper.proc.wait(timeout=120) == 6
        # IB (and the simulator, which models it) lets a client see and cancel only its own orders:
        # `algotrade kill` (ib.client_id + 100) flattens; the run, finding the kill, cancels its own stop
        positions, orders = _at_ib(gw.port)
        assert positions == {}, positions
        assert orders == [], orders
        page.wait_for_selector("#halted-banner.on", timeout=db.WAIT_MS)
        assert re.search("kill switch", page.locator("#halted-banner").inner_text())
        db.save(page, "dashboard-killed", tmp_path)
