"""The live dashboard of a paper/live run: one page, its state as JSON and as server-sent events, the kill switch.

``routes(state, ctx)`` returns the Starlette routes the ops server mounts next to ``/metrics`` and
the health checks:

- ``GET /`` the page (``dashboard_page.html`` in this package: no CDN, its own JS draws the chart);
- ``GET /api/state`` the run's snapshot (the RunState schema in docs/monitoring.md);
- ``GET /api/events`` server-sent events: the snapshot at once, then again on every change, with a
  heartbeat comment while nothing changes; the stream ends when the client goes away;
- ``POST /api/kill`` the kill switch. It needs ``Authorization: Bearer <token>`` where the token is
  ``ALGOTRADE_DASHBOARD_TOKEN`` in the run's environment; without a token on the server, or with a
  wrong one, it answers 403 and does nothing. With it, it runs the real ``algotrade kill`` for the
  run's experiment (its own IB client id, against the run's gateway) and returns that command's
  exit code and output. The token is never logged nor echoed.
"""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from importlib import resources

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from algotrade.live.ops.state import OpsContext, RunState

__all__ = ["TOKEN_ENV", "kill_command", "routes"]

#: the environment variable that holds the kill switch's token (on the server's side)
TOKEN_ENV = "ALGOTRADE_DASHBOARD_TOKEN"
#: how often an event stream looks for a change (and notices a gone client): the changes in between
#: are sent together, as one event (a replay changes the state hundreds of times a second)
WAIT_S = 0.25
#: a comment line on the event stream after this long without a change (keeps proxies from closing it)
HEARTBEAT_S = 15.0
#: the kill command's deadline
KILL_TIMEOUT_S = 120.0


def kill_command(ctx: OpsContext) -> list[str]:
    """``python -m algotrade kill`` for the run ``ctx`` describes (its overrides, results folder, live or paper)."""
    cmd = [sys.executable, "-m", "algotrade", "kill", ctx.experiment_path]
    for override in ctx.overrides:
        cmd += ["--set", override]
    if ctx.out:
        cmd += ["--out", ctx.out]
    if ctx.mode == "live":
        cmd.append("--live")
    return cmd


def _kill_environ(ctx: OpsContext) -> dict[str, str]:
    env = {k: v for k, v in ctx.environ.items() if k != TOKEN_ENV}  # the child has no use for the token
    env.update(ALGOTRADE_IB_HOST=ctx.ib_host, ALGOTRADE_IB_PORT=str(ctx.ib_port))
    return env


def _authorized(request: Request, expected: str) -> str | None:
    """None when the request carries the server's token; else why it is refused."""
    if not expected:
        return f"the kill switch is disabled: the run was started without {TOKEN_ENV} in its environment"
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "no token: send the dashboard token as 'Authorization: Bearer <token>'"
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return "wrong token"
    return None


def _page() -> str:
    return resources.files(__package__ or "algotrade.live.ops").joinpath("dashboard_page.html").read_text("utf-8")


def _event(version: int, body: bytes) -> bytes:
    return b"event: state\nid: %d\ndata: %s\n\n" % (version, body)


def routes(state: RunState, ctx: OpsContext) -> list[BaseRoute]:
    """The dashboard's routes over ``state`` (read) and ``ctx`` (the run's command line and environment)."""
    page = _page()
    killing = threading.Lock()

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def api_state(request: Request) -> Response:
        return Response(state.snapshot_json()[1], media_type="application/json", headers={"cache-control": "no-store"})

    async def stream(request: Request) -> AsyncIterator[bytes]:
        version, body = state.snapshot_json()
        yield _event(version, body)
        quiet = 0.0
        while not await request.is_disconnected():
            await anyio.sleep(WAIT_S)  # looked at on the server's loop: no thread is woken by a change
            if state.wait_changed(version, 0.0) > version:
                version, body = state.snapshot_json()
                quiet = 0.0
                yield _event(version, body)
            else:
                quiet += WAIT_S
                if quiet >= HEARTBEAT_S:
                    quiet = 0.0
                    yield b": heartbeat\n\n"

    async def events(request: Request) -> Response:
        return StreamingResponse(stream(request), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    def run_kill() -> tuple[int, str]:
        try:
            done = subprocess.run(kill_command(ctx), env=_kill_environ(ctx), capture_output=True, text=True,
                                  timeout=KILL_TIMEOUT_S, check=False, cwd=os.getcwd())
        except subprocess.TimeoutExpired:
            return -1, f"algotrade kill did not finish within {KILL_TIMEOUT_S:.0f} s"
        return done.returncode, (done.stdout + done.stderr).strip()

    async def kill(request: Request) -> Response:
        refused = _authorized(request, ctx.environ.get(TOKEN_ENV, ""))
        if refused:
            return JSONResponse({"ok": False, "reason": refused}, status_code=403)
        if not killing.acquire(blocking=False):
            return JSONResponse({"ok": False, "reason": "a kill is already running"}, status_code=409)
        try:
            code, output = await anyio.to_thread.run_sync(run_kill)
        finally:
            killing.release()
        body = {"ok": code == 0, "exit_code": code, "output": output[-4000:]}
        return JSONResponse(body, status_code=200 if code == 0 else 502)

    return [
        Route("/", index, methods=["GET"]),
        Route("/api/state", api_state, methods=["GET"]),
        Route("/api/events", events, methods=["GET"]),
        Route("/api/kill", kill, methods=["POST"]),
    ]
