"""The operating layer around one paper or live run: its state, metrics, JSON logs and (when a
port is set) its HTTP server, from :func:`ops_run`'s start to its end."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from algotrade.core.config import Experiment
from algotrade.live.ops.logs import RunLogs
from algotrade.live.ops.metrics import RunMetrics
from algotrade.live.ops.monitor import Monitor
from algotrade.live.ops.server import OpsServer, bind, build_app
from algotrade.live.ops.state import OpsContext, RunState

SERVING = "ops: serving {url} (metrics /metrics, health /healthz /readyz, dashboard /)"
#: the address the server listens on, instead of ops.host (a container's 0.0.0.0)
HOST_ENV = "ALGOTRADE_OPS_HOST"


class OpsRun:
    """What a run has while it runs: :attr:`state`, :attr:`metrics`, :attr:`logs` (its :meth:`echo`)
    and :attr:`server` (None without a port)."""

    def __init__(self, exp: Experiment, folder: Path, ctx: OpsContext, *, run_id: str, port: int | None,
                 json_logs: bool, echo: Callable[[str], None]) -> None:
        self.exp, self.ctx, self.mode = exp, ctx, ctx.mode
        self.run_id = run_id
        self.state = RunState(run_id, exp.config_id, exp.name, ctx.mode, stale_after_s=exp.ib.stale_after_minutes * 60)
        self.metrics = RunMetrics(self.state, exp, ctx.mode)
        self.port = exp.ops.port if port is None else port
        self.json_logs = json_logs or exp.ops.json_logs
        self.logs = RunLogs(folder, self.state.identity, environ=ctx.environ, json_stderr=self.json_logs, echo=echo,
                            debug=logging.getLogger("algotrade").isEnabledFor(logging.DEBUG))
        self.server: OpsServer | None = None
        self.monitor: Monitor | None = None

    def echo(self, line: str) -> None:
        self.logs.echo(line)

    def start(self) -> OpsRun:
        host = self.ctx.environ.get(HOST_ENV, "").strip() or self.exp.ops.host
        sock = bind(host, self.port) if self.port is not None else None
        self.logs.open()
        if sock is not None:
            self.server = OpsServer(build_app(self.state, self.ctx, self.metrics.render), sock).start()
            self.echo(SERVING.format(url=self.server.url))
        return self

    def attach(self, runner: Any) -> Monitor:
        """Watch ``runner`` (a LiveRunner): its journal's counts so far, then every hook. Attached
        before the run counts its own start in the journal (``process_starts``), so the restarts so
        far are the starts before it."""
        j, rid = runner.journal, runner.run_id
        counts = {name: j.counter(rid, name) for name in ("disconnects", "reconnects", "outages")}
        counts["restarts"] = j.counter(rid, "process_starts")  # attached before this process's start is counted
        counts["unreconciled"] = sum(1 for e in j.risk_events(rid)
                                     if e.kind.startswith("mismatch:") or e.kind == "unmatched_fill")
        self.monitor = Monitor(self.exp, self.state, self.metrics, runner, self.mode, counts)
        self.state.update(halted=runner.halted)
        runner.observer = self.monitor
        return self.monitor

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.monitor is not None and self.monitor.shadow is not None:
            self.monitor.shadow.close()
        self.logs.close()


@contextlib.contextmanager
def ops_run(exp: Experiment, folder: Path, ctx: OpsContext, *, run_id: str, port: int | None = None,
            json_logs: bool = False, echo: Callable[[str], None] = lambda line: None) -> Iterator[OpsRun]:
    """The run's operating layer, started (the server listening when a port is set) and closed at the end."""
    ops = OpsRun(exp, folder, ctx, run_id=run_id, port=port, json_logs=json_logs, echo=echo).start()
    try:
        yield ops
    finally:
        ops.close()


def context(path: str | Path, overrides: tuple[str, ...], out: str | Path | None, mode: str, host: str, port: int,
            environ: Mapping[str, str] | None = None) -> OpsContext:
    return OpsContext(str(path), tuple(overrides), None if out is None else str(out), mode, host, port,
                      dict(os.environ if environ is None else environ))
