"""The dashboard's routes: the page, the state as JSON and as server-sent events, the kill switch's refusals.

The routes run over a real RunState (counting its waits) in a real uvicorn server (the
event stream never ends, so it is read over a socket); the kill switch with the right token runs
the real ``algotrade kill``, here for a run that has no journal, so it fails the way the command does.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from algotrade.live.ops.dashboard import TOKEN_ENV, WAIT_S, _kill_environ, kill_command, routes
from algotrade.live.ops.state import OpsContext, RunState


class StubState(RunState):
    """The real RunState, counting how often a reader waits on it."""

    def __init__(self) -> None:
        super().__init__("r1", "c1", "t", "paper", stale_after_s=3600.0)
        self.waits = 0

    def wait_changed(self, version: int, timeout: float) -> int:
        self.waits += 1
        return super().wait_changed(version, timeout)


def Ctx(**fields: Any) -> OpsContext:
    defaults: dict[str, Any] = {"experiment_path": "experiments/none.yaml", "overrides": (), "out": None,
                                "mode": "paper", "ib_host": "127.0.0.1", "ib_port": 7497, "environ": {}}
    return OpsContext(**{**defaults, **fields})


@contextmanager
def _serving(ctx: OpsContext | None = None, state: StubState | None = None) -> Iterator[tuple[str, uvicorn.Server]]:
    """The routes in a real uvicorn server on a free loopback port."""
    app = Starlette(routes=routes(state or StubState(), ctx or Ctx()))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", server
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def _client(ctx: OpsContext | None = None, state: StubState | None = None) -> Iterator[httpx.Client]:
    with _serving(ctx, state) as (url, _), httpx.Client(base_url=url, timeout=30) as client:
        yield client


def test_the_page_is_self_contained_with_the_ids_the_browser_test_uses() -> None:
    with _client() as client:
        r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for element in ("equity-chart", "positions", "open-orders", "fills", "risk-events", "connected", "fresh",
                    "last-bar-age", "reconnects", "gates", "burnin-progress", "halted-banner", "kill-button",
                    "kill-confirm", "kill-result", "token-input"):
        assert f'id="{element}"' in r.text, element
    assert "http://" not in r.text.replace("http://www.w3.org/2000/svg", "") and "https://" not in r.text


def test_api_state_is_the_snapshot() -> None:
    state = StubState()
    state.update(sessions=3, positions=[{"symbol": "SPX", "quantity": 10, "value": 12000.0}])
    with _client(state=state) as client:
        r = client.get("/api/state")
    assert r.status_code == 200 and r.json() == state.snapshot()


def test_the_state_as_json_is_the_snapshot_as_the_curve_grows_or_is_replaced() -> None:
    state = StubState()

    def same() -> None:
        version, body = state.snapshot_json()
        assert version == state.version and json.loads(body) == json.loads(json.dumps(state.snapshot()))

    same()
    for k in range(4):  # appended to (each point encoded once), then a new curve
        state.equity.append({"date": f"2011-01-0{k + 3}", "paper": 100000.0 + k, "shadow": None})
        state.update(cash=float(k))
        same()
    state.update(equity=[{"date": "2012-01-03", "paper": 5.0, "shadow": 6.0}])
    same()
    assert json.loads(state.snapshot_json()[1])["equity"] == [{"date": "2012-01-03", "paper": 5.0, "shadow": 6.0}]


class CountingCondition(threading.Condition):
    def __init__(self) -> None:
        super().__init__()
        self.wakes = 0

    def notify_all(self) -> None:
        self.wakes += 1
        super().notify_all()


def test_readers_are_woken_once_a_step_is_over_not_between_a_bar_and_its_orders() -> None:
    state = StubState()
    state._cond = cond = CountingCondition()
    state.update(cash=1.0)
    assert cond.wakes == 1
    state.bar_arrived(time.time(), "2011-01-03")
    state.order_submitted("r1", "SPX", 10, "market")
    state.order_filled("r1", "SPX", 10, 100.0, "2011-01-03")
    state.risk_event("fill_slippage", "2 bps")
    assert cond.wakes == 1 and state.version == 5  # changed, nobody woken yet
    state.step_done()
    assert cond.wakes == 2
    state.bar_arrived(time.time(), "2011-01-04")
    state.link(False)  # a lost link is shown at once, inside a step too
    assert cond.wakes == 3
    state.order_closed("r2", "cancelled")
    assert cond.wakes == 4


@pytest.mark.parametrize("environ, headers, reason", [
    ({}, {"authorization": "Bearer anything"}, "disabled"),
    ({TOKEN_ENV: "s3cret"}, {}, "no token"),
    ({TOKEN_ENV: "s3cret"}, {"authorization": "Bearer wrong"}, "wrong token"),
    ({TOKEN_ENV: "s3cret"}, {"authorization": "Basic s3cret"}, "no token"),
])
def test_the_kill_switch_refuses_without_the_servers_token(environ: dict[str, str], headers: dict[str, str],
                                                           reason: str, tmp_path: Path) -> None:
    ctx = Ctx(experiment_path=str(tmp_path / "never-read.yaml"), environ=environ)
    with _client(ctx) as client:
        r = client.post("/api/kill", headers=headers)
    assert r.status_code == 403 and r.json()["ok"] is False and reason in r.json()["reason"]
    assert "s3cret" not in r.text


def test_the_kill_switch_with_the_token_runs_algotrade_kill(tmp_path: Path) -> None:
    exp = tmp_path / "t.yaml"
    exp.write_text("name: t\ndata: {source: sample, symbols: [SPX], start: 2005-01-03, end: 2006-12-29}\n"
                   "strategy: {name: sma_cross, params: {fast: 10, slow: 30}}\nengine: backtrader\n")
    ctx = Ctx(experiment_path=str(exp), out=str(tmp_path / "out"), environ={TOKEN_ENV: "s3cret"})
    with _client(ctx) as client:
        r = client.post("/api/kill", headers={"authorization": "Bearer s3cret"})
    body = r.json()
    assert r.status_code == 502 and body["ok"] is False and body["exit_code"] == 2  # a ConfigError: no journal yet
    assert "no journal at" in body["output"] and "s3cret" not in r.text


def test_the_kill_command_is_the_runs_own() -> None:
    ctx = Ctx(experiment_path="x.yaml", overrides=("risk.max_position=5", "ib.port=1"), out="res", mode="live",
              ib_host="10.1.2.3", ib_port=4001, environ={TOKEN_ENV: "s3cret", "HOME": "/h"})
    assert kill_command(ctx) == [sys.executable, "-m", "algotrade", "kill", "x.yaml", "--set", "risk.max_position=5",
                                 "--set", "ib.port=1", "--out", "res", "--live"]
    assert kill_command(Ctx())[-1] == "experiments/none.yaml"
    assert _kill_environ(ctx) == {"HOME": "/h", "ALGOTRADE_IB_HOST": "10.1.2.3", "ALGOTRADE_IB_PORT": "4001"}


@pytest.fixture
def served() -> Iterator[tuple[str, StubState, uvicorn.Server]]:
    state = StubState()
    with _serving(Ctx(), state) as (url, server):
        yield url, state, server


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    data: list[str] = []
    for line in lines:
        if line.startswith("data: "):
            data.append(line[6:])
        elif not line and data:
            yield json.loads("".join(data))
            data.clear()


def test_the_event_stream_pushes_every_change_and_ends_with_the_client(
        served: tuple[str, StubState, uvicorn.Server]) -> None:
    url, state, _ = served
    with httpx.stream("GET", url + "/api/events", timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.iter_lines())
        assert next(events)["version"] == 0
        state.update(sessions=1, equity=[{"date": "2011-01-03", "paper": 100100.0, "shadow": 100000.0}])
        pushed = next(events)
        assert pushed["version"] == 1 and pushed["equity"][0]["paper"] == 100100.0
        state.update(halted="operator kill switch")
        assert next(events)["halted"] == "operator kill switch"
    # the client went away: the server's stream stops waiting on the state within a wait or two
    deadline = time.monotonic() + 10
    while True:
        before = state.waits
        time.sleep(3 * WAIT_S)
        if state.waits == before:
            break
        assert time.monotonic() < deadline, "the event stream kept waiting after its client left"
    assert httpx.get(url + "/api/state", timeout=5).json()["halted"] == "operator kill switch"


def test_the_server_shuts_down_with_a_stream_open(served: tuple[str, StubState, uvicorn.Server]) -> None:
    url, _, server = served
    with httpx.stream("GET", url + "/api/events", timeout=10) as r:
        lines = r.iter_lines()
        assert next(_events(lines))["version"] == 0
        started = time.monotonic()
        server.should_exit = True
        try:  # the server ends the stream (cleanly, or by closing the connection) instead of waiting on it
            for _ in lines:
                assert time.monotonic() - started < 10
        except httpx.HTTPError:
            pass
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 10
    while server.started and any(s.is_serving() for s in server.servers):
        assert time.monotonic() < deadline, "the server did not stop"
        time.sleep(0.05)
