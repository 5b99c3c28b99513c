"""The run's HTTP server: a Starlette app served by uvicorn in a daemon thread, on a socket bound
in the caller's thread (so a port already in use is a ConfigError at once, and port 0 is known).

* ``GET /metrics``: the run's registry in the Prometheus text format;
* ``GET /healthz``: 200 ``{"status": "alive"}`` while the process runs;
* ``GET /readyz``: 200 when connected, fresh and not halted, else 503 (the body says why);
* the dashboard's routes (:func:`algotrade.live.ops.dashboard.routes`).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from algotrade.core.errors import ConfigError
from algotrade.live.ops.state import OpsContext, RunState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: how often the server looks whether to stop (what a stop can wait for)
TICK_S = 0.5


def build_app(state: RunState, ctx: OpsContext, render: Callable[[], bytes]) -> Starlette:
    """The app: /metrics, /healthz, /readyz and the dashboard's routes."""
    from algotrade.live.ops import dashboard

    async def metrics(_request: Request) -> Response:
        return Response(render(), media_type=CONTENT_TYPE)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        body = state.ready()
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    routes = [Route("/metrics", metrics), Route("/healthz", healthz), Route("/readyz", readyz),
              *dashboard.routes(state, ctx)]
    return Starlette(routes=routes)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0: any free port); a ConfigError naming the fix if it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"ops.port: {port} is already in use on {host} (another run's ops server?); pass "
                              "another --ops-port, or --ops-port 0 for any free port") from None
        raise ConfigError(f"ops.host: cannot listen on {host}:{port} ({exc.strerror}); set ops.host to a local "
                          "address such as 127.0.0.1") from None
    sock.listen(64)
    sock.set_inheritable(False)
    return sock


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, looking at its exit flag (and its Date header) every TICK_S seconds
        instead of ten times a second: each look takes the GIL from the trading thread."""

        async def main_loop(self) -> None:
            counter = 0
            while not await self.on_tick(counter):
                counter = (counter + 10) % 864000  # uvicorn refreshes its Date header every 10th tick
                await asyncio.sleep(TICK_S)

    return Server


class OpsServer:
    """uvicorn serving the app on a bound socket, in a daemon thread, until :meth:`stop`."""

    def __init__(self, app: Starlette, sock: socket.socket) -> None:
        import uvicorn

        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.host, self.port = str(host), int(port)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", log_config=None)
        self.server = _server_class()(config)
        self.thread = threading.Thread(target=self._run, name="algotrade-ops-server", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self, timeout: float = 10.0) -> OpsServer:
        """Start serving; returns once uvicorn listens (or ``timeout`` seconds passed)."""
        self.thread.start()
        ticks = threading.Event()  # never set: its wait is the poll's interval, under a deadline
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            ticks.wait(0.005)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.sock.close()
