"""Where sweep runs execute: a local process pool (the default) or a Ray cluster.

Both run the same function on each point, :func:`run_point`, which is ``algotrade run`` on
already loaded data (:func:`algotrade.backtest.run.run_loaded`). The data is handed to each worker once,
when the worker starts — through the pool's initializer locally (inherited by fork on Linux,
never re-read), through Ray's object store (``ray.put`` once, every actor holds it) on Ray —
never with each point. Ray is imported only by :class:`RayExecutor`.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from algotrade.core.config import Experiment
from algotrade.core.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from algotrade.research.ray_join import Joined

log = logging.getLogger("algotrade.sweep")


@dataclass(frozen=True)
class WorkerSettings:
    engines: tuple[str, ...]
    strategies: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()  # variables the engines need in a worker (zipline: ZIPLINE_ROOT)
    ignore_sigint: bool = True


@dataclass(frozen=True)
class PointTask:
    """One run: ``experiment`` (a point of the sweep, maybe in a window) on ``engine``."""

    key: str
    experiment: Experiment
    engine: str
    market_key: str
    runs_dir: str
    source: str


@dataclass
class Outcome:
    """What a worker sends back: status, metrics and the evaluated equity of one run."""

    key: str
    status: str  # ok | failed
    error: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    equity_first: str | None = None  # first evaluated session
    equity: list[float] = field(default_factory=list)  # equity before it, then on each evaluated session


_STATE: dict[str, Any] = {}


def init_worker(markets: dict[str, Any], settings: WorkerSettings) -> None:
    """Run once per worker: keep the data, import the engines and strategies up front."""
    if settings.ignore_sigint:  # Ctrl-C is the parent's: it stops submitting and lets runs finish
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(settings.env)
    _STATE["markets"] = markets
    warm_imports(settings)


def warm_imports(settings: WorkerSettings) -> None:
    """Import what every run needs (engines, strategies, the metrics library: ~1 s of scipy),
    so that no point pays for it; done in the parent too, before forked workers inherit it."""
    import empyrical  # noqa: F401

    from algotrade.core.registry import resolve_engine, resolve_strategy

    for name in settings.engines:
        resolve_engine(name)
    for name in settings.strategies:
        resolve_strategy(name)


def run_point(task: PointTask) -> Outcome:
    """``algotrade run`` of one point on the worker's data; every failure becomes a failed outcome."""
    from algotrade.backtest.run import run_loaded

    t0 = time.perf_counter()
    try:
        market = _STATE["markets"][task.market_key]
        result = run_loaded(task.experiment, market, task.engine, task.runs_dir, False, task.source)
    except Exception as exc:  # recorded with the point; the sweep goes on
        return Outcome(task.key, "failed", f"{type(exc).__name__}: {exc}", seconds=round(time.perf_counter() - t0, 4))
    equity = result.tables.equity
    k = result.tables.evaluation_start
    values = equity["equity"].to_list()
    base = float(values[k - 1]) if k else float(task.experiment.broker.cash)
    return Outcome(
        task.key,
        "ok",
        metrics=result.metrics,
        seconds=round(time.perf_counter() - t0, 4),
        equity_first=str(equity["date"].iloc[k]) if len(equity) > k else None,
        equity=[round(base, 6), *(round(float(v), 6) for v in values[k:])],
    )


class Executor(Protocol):
    kind: str
    workers: int
    address: str | None  # the Ray cluster joined

    @property
    def capacity(self) -> int: ...

    def submit(self, task: PointTask) -> None: ...

    def in_flight(self) -> int: ...

    def wait(self, timeout: float) -> list[tuple[PointTask, Outcome]]: ...

    def cancel_queued(self) -> list[PointTask]: ...

    def close(self, abort: bool = False) -> None: ...


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _failed(task: PointTask, message: str) -> Outcome:
    return Outcome(task.key, "failed", message)


class LocalExecutor:
    """A process pool on this machine; workers are started once and given the data once."""

    kind = "local"
    address: str | None = None

    def __init__(self, workers: int, markets: dict[str, Any], settings: WorkerSettings) -> None:
        self.workers = workers
        self._args = (markets, settings)
        # fork on Linux: workers inherit the loaded data and the imported engines at no cost
        self._context = mp.get_context("fork") if sys.platform.startswith("linux") else mp.get_context("spawn")
        self._pool = self._start()
        self._futures: dict[cf.Future[Outcome], PointTask] = {}

    def _start(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            self.workers, mp_context=self._context, initializer=init_worker, initargs=self._args
        )

    @property
    def capacity(self) -> int:
        return 2 * self.workers

    def submit(self, task: PointTask) -> None:
        self._futures[self._pool.submit(run_point, task)] = task

    def in_flight(self) -> int:
        return len(self._futures)

    def wait(self, timeout: float) -> list[tuple[PointTask, Outcome]]:
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out: list[tuple[PointTask, Outcome]] = []
        broken = False
        for future in done:
            task = self._futures.pop(future)
            if future.cancelled():
                continue
            try:
                out.append((task, future.result()))
            except cf.process.BrokenProcessPool as exc:
                broken = True
                out.append((task, _failed(task, f"a worker process died while running it ({exc})")))
        if broken:  # every other run in flight was lost with the pool: record them and start afresh
            for task in list(self._futures.values()):
                out.append((task, _failed(task, "a worker process died while it was queued or running")))
            self._futures.clear()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
        return out

    def cancel_queued(self) -> list[PointTask]:
        dropped = [task for f, task in self._futures.items() if f.cancel()]
        self._futures = {f: t for f, t in self._futures.items() if not f.cancelled()}
        return dropped

    def close(self, abort: bool = False) -> None:
        if abort:
            # runs in progress are abandoned (they rerun on resume); the pool has no public terminate
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.terminate()
        self._pool.shutdown(wait=not abort, cancel_futures=True)


class _RayWorker:
    """A Ray actor's body: the data arrives once, from the object store, when the actor starts."""

    def __init__(self, markets: dict[str, Any], settings: WorkerSettings) -> None:
        init_worker(markets, settings)

    def run(self, task: PointTask) -> Outcome:
        return run_point(task)

    def pid(self) -> int:
        return os.getpid()


class RayExecutor:
    """Ray actors, one per worker CPU; on this machine unless ``cluster`` names a cluster that
    :func:`algotrade.research.ray_join.probe` found answering.

    A Ray session that is already running in this process (``ray.init`` done by the caller, as
    the tests do) is used as it is and left running."""

    kind = "ray"

    def __init__(self, workers: int | None, cluster: Joined | None, markets: dict[str, Any], settings: WorkerSettings) -> None:
        from algotrade.research import ray_join

        self.address = cluster.address if cluster else None
        self._cluster = cluster
        self._auth = ray_join.use_auth(cluster.auth) if cluster else None  # the RAY_AUTH_MODE to restore on close
        self._actors: list[Any] = []
        import ray

        self._ray = ray
        self._started = False
        where = cluster.label if cluster else "--executor ray"
        if not ray.is_initialized():
            try:
                if cluster:
                    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.ERROR)
                else:
                    ray.init(address="local", num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                             log_to_driver=False, logging_level=logging.ERROR)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
                self.close()
                what = "join the Ray cluster" if cluster else "start Ray on this machine"
                raise ClusterError(f"{where}: could not {what}: {_first_line(exc)}") from None
            self._started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if cluster and workers and workers > cpus:
            self.close()
            raise ConfigError(f"--workers {workers}: the Ray cluster at {cluster.address} has {cpus} CPU(s); give at "
                              f"most {cpus}, or leave out --workers for one worker per CPU of the cluster")
        self.workers = workers or max(cpus, 1)
        ref = ray.put(markets)  # the data goes into the object store once
        actor = ray.remote(num_cpus=1)(_RayWorker)
        self._actors = [actor.remote(ref, settings) for _ in range(self.workers)]
        try:  # every worker up (data in hand, engines imported) before the first run, or a clear error now
            ray.get([a.pid.remote() for a in self._actors], timeout=300)
        except Exception as exc:
            self.close()
            raise ClusterError(
                f"{where}: the Ray workers could not start ({_first_line(exc)}); every node of a cluster needs this "
                "project's environment (algotrade and its locked packages) installed"
            ) from None
        self._load: dict[Any, int] = dict.fromkeys(self._actors, 0)
        self._refs: dict[Any, tuple[PointTask, Any]] = {}
        self._actor_cls = actor
        self._ref = ref
        self._settings = settings

    @property
    def capacity(self) -> int:
        return 2 * self.workers

    def submit(self, task: PointTask) -> None:
        actor: Any = min(self._actors, key=lambda a: self._load[a])
        self._load[actor] += 1
        self._refs[actor.run.remote(task)] = (task, actor)

    def in_flight(self) -> int:
        return len(self._refs)

    def wait(self, timeout: float) -> list[tuple[PointTask, Outcome]]:
        ray = self._ray
        if not self._refs:
            return []
        ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if ready:
            more, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
            ready = list(dict.fromkeys([*ready, *more]))
        out: list[tuple[PointTask, Outcome]] = []
        for ref in ready:
            task, actor = self._refs.pop(ref)
            self._load[actor] = max(self._load.get(actor, 1) - 1, 0)
            try:
                out.append((task, ray.get(ref)))
            except ray.exceptions.RayActorError as exc:
                out.append((task, _failed(task, f"the Ray worker died while running it ({type(exc).__name__})")))
                self._replace(actor)
            except ray.exceptions.RayError as exc:
                out.append((task, _failed(task, f"{type(exc).__name__}: {exc}")))
        return out

    def _replace(self, actor: Any) -> None:
        if actor in self._load:
            self._actors.remove(actor)
            del self._load[actor]
            fresh = self._actor_cls.remote(self._ref, self._settings)
            self._actors.append(fresh)
            self._load[fresh] = 0

    def cancel_queued(self) -> list[PointTask]:
        return []  # actor calls cannot be withdrawn; the few in flight finish and are recorded

    def close(self, abort: bool = False) -> None:
        ray = self._ray
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._started:
            ray.shutdown()
            self._started = False
        if self._cluster:
            from algotrade.research import ray_join

            ray_join.restore_auth(self._auth)
            self._cluster = None


def find_cluster(kind: str, address: str | None) -> Joined | None:
    """The Ray cluster a sweep joins (``--address``, else ``RAY_ADDRESS``), probed before any data
    is loaded so that an address nobody answers at fails within seconds; None: no cluster."""
    if kind != "ray":
        return None
    from algotrade.research import ray_join

    where = ray_join.target(address)
    return ray_join.probe(where) if where else None


def make_executor(
    kind: str, workers: int | None, cluster: Joined | None, markets: dict[str, Any], settings: WorkerSettings
) -> Executor:
    if kind == "ray":
        return RayExecutor(workers, cluster, markets, settings)
    return LocalExecutor(workers or os.cpu_count() or 1, markets, settings)
