"""`algotrade sweep`: a parameter sweep (grid or random) and walk-forward analysis, on any engine.

Every run of a sweep is exactly ``algotrade run`` of one experiment: the base file with the
point's values set and the ``sweep:``/``walkforward:`` sections removed (plus a ``window:`` for
walk-forward runs). It has its own config id and writes an ordinary results folder,
``OUT/<name>/runs/<config_id>/<engine>/``, whose ``config.yaml`` re-runs it alone.

The data is loaded and validated once (once per distinct ``data:`` section) and handed to the
workers once. Each finished run is appended to ``points.jsonl`` as it finishes; a sweep started
again skips every run already recorded as ok (keyed by config id and engine), so an interrupted
or killed sweep resumes where it stopped. A failed run is recorded with its error and the sweep
goes on (failed runs are tried again on the next start).

This module drives the runs; the record of finished runs is :mod:`~algotrade.research.sweep_store`,
the progress line and Ctrl-C :mod:`~algotrade.research.sweep_console`, the table
:mod:`~algotrade.research.sweep_table` and the printed summary :mod:`~algotrade.research.sweep_summary`
(their public names are importable from here too).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from algotrade.core.config import Experiment, load_experiment
from algotrade.core.engine import prewarm, worker_env
from algotrade.core.errors import ConfigError
from algotrade.core.registry import resolve_engine
from algotrade.core.shell import command
from algotrade.research.executors import (
    Outcome,
    PointTask,
    WorkerSettings,
    find_cluster,
    make_executor,
    warm_imports,
)
from algotrade.research.sweep_console import CtrlC, SweepProgress
from algotrade.research.sweep_plan import Plan, Run, plan_grid, plan_walkforward
from algotrade.research.sweep_result import SweepResult
from algotrade.research.sweep_store import Store, outcome_of, run_record
from algotrade.research.sweep_summary import summary_text
from algotrade.research.sweep_table import (
    METRIC_COLUMNS,
    PHASES,
    TIMING_COLUMNS,
    table_frame,
    table_rows,
    write_table,
)
from algotrade.research.walkforward import choose


def _prewarm_engines(plan: Plan, markets: dict[str, Any]) -> None:
    """Let each engine that prepares something per market slice (zipline: ingests a bundle) do
    it once, here, before any worker starts: the workers then find each one cached (and a lock
    keeps two processes from ingesting one)."""
    for engine in plan.engines:
        runs = [r for r in (*plan.grid, *plan.train) if r.engine == engine]
        adapter = resolve_engine(engine)
        if not runs or getattr(adapter, "prewarm", None) is None:
            continue
        slices: dict[str, Any] = {}
        for run in runs:
            m = markets[run.market_key]
            if run.experiment.window is not None:
                m = m.between(run.experiment.window.start, run.experiment.window.end)
            slices[m.data_hash] = m
        keys = {r.market_key for r in runs}
        for window in plan.windows:
            for key in keys:
                m = markets[key].between(window.run_start, window.test_dates[1])
                slices[m.data_hash] = m
        prewarm(adapter, list(slices.values()))


def validate_options(executor: str, workers: int | None, address: str | None) -> None:
    if executor not in ("local", "ray"):
        raise ConfigError(f"--executor {executor!r}: use local (a process pool, the default) or ray")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: give 1 or more worker processes")
    if address and executor != "ray":
        raise ConfigError("--address names a Ray cluster: add --executor ray (or leave out --address)")


def run_sweep(
    path: str | Path,
    overrides: tuple[str, ...] = (),
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    out: str | Path | None = None,
    progress: bool = False,
) -> SweepResult:
    """Plan, load the data once, run every point not already finished, write table and report."""
    from algotrade.core.data import load_market

    t0 = time.perf_counter()
    validate_options(executor, workers, address)
    exp = load_experiment(path, overrides)
    if exp.sweep is None:
        raise ConfigError(
            f"{path}: has no sweep: section; add one (see experiments/sweep_sma.yaml), or use `{command('run', path)}` "
            "for one run"
        )
    plan = plan_grid(exp)
    cluster = find_cluster(executor, address)  # before the data: an unreachable cluster fails within seconds
    markets: dict[str, Any] = {}
    for run in plan.grid:
        if run.market_key not in markets:
            markets[run.market_key] = load_market(run.experiment.data, path, overrides)  # once per distinct data section
    plan_walkforward(plan, markets)
    _prewarm_engines(plan, markets)
    env: dict[str, str] = {}
    for engine in plan.engines:
        env.update(worker_env(resolve_engine(engine)))
    settings = WorkerSettings(
        engines=plan.engines,
        strategies=tuple(dict.fromkeys(r.experiment.strategy.name for r in plan.grid)),
        env=tuple(sorted(env.items())),
    )
    warm_imports(settings)  # once here: forked workers start warm
    pool = make_executor(executor, workers, cluster, markets, settings)
    folder = Path(out or exp.output.dir) / exp.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return _drive(exp, plan, markets, pool, folder, str(path), progress, t0)
    finally:
        pool.close()


def _drive(
    exp: Experiment, plan: Plan, markets: dict[str, Any], pool: Any, folder: Path, source: str, progress: bool, t0: float
) -> SweepResult:
    assert exp.sweep is not None
    sweep = exp.sweep
    store = Store(folder / "points.jsonl")
    hashes = {k: m.data_hash for k, m in markets.items()}
    previous = store.load()
    market_of = {r.key: r.market_key for r in (*plan.grid, *plan.train)}
    outcomes: dict[str, Outcome] = {}
    for key, record in previous.items():  # finished before: ok, and on the same data
        market_key = market_of.get(key)
        if record.get("status") == "ok" and record.get("data_hash") in hashes.values() and (
            market_key is None or record.get("data_hash") == hashes[market_key]
        ):
            outcomes[key] = outcome_of(record)
    runs_dir = str((folder / "runs").resolve())
    tests: dict[tuple[str, int], Run | None] = {}
    queue: deque[Run] = deque()
    seen: set[str] = set()
    for run in (*plan.grid, *plan.train):
        if run.key not in seen and run.key not in outcomes:
            queue.append(run)
        seen.add(run.key)
    n_tests = len(plan.windows) * len(plan.engines)
    total = len(seen) + n_tests
    resumed = len(seen & outcomes.keys())
    bar = SweepProgress(exp.name, total, resumed, progress and sys.stderr.isatty())
    by_key: dict[str, Run] = {}
    # each walk-forward slot (engine, window) waits for its train runs; a test run is planned once they are in
    slots: dict[tuple[str, int], list[Run]] = {}
    for run in plan.train:
        assert run.window is not None
        slots.setdefault((run.engine, run.window), []).append(run)
    waiting = {slot: {r.key for r in train} - outcomes.keys() for slot, train in slots.items()}
    slots_of: dict[str, list[tuple[str, int]]] = {}
    for slot, keys in waiting.items():
        for key in keys:
            slots_of.setdefault(key, []).append(slot)

    def finished(key: str) -> None:
        for slot in slots_of.get(key, ()):
            waiting[slot].discard(key)

    def schedule_tests() -> None:
        for engine in plan.engines:
            for window in plan.windows:
                slot = (engine, window.index)
                if slot in tests or waiting.get(slot):
                    continue
                train = slots.get(slot, [])
                best = choose([(r.point, outcomes[r.key].metrics if outcomes[r.key].status == "ok" else None)
                               for r in train], sweep.metric, sweep.goal, sweep.min_trades)
                if best is None:
                    tests[slot] = None
                    bar.update(failed=True)
                    continue
                run = plan.test_run(window, plan.points[best], engine)
                tests[slot] = run
                if run.key in outcomes:
                    bar.resumed += 1
                    bar.draw()
                else:
                    queue.append(run)

    ran = failed = 0
    interrupted = False
    t_runs = time.perf_counter()

    def keep(run: Run, outcome: Outcome) -> None:
        outcomes[run.key] = outcome
        store.append(run_record(run, outcome, plan.points[run.point], hashes[run.market_key]))

    with CtrlC() as ctrl_c:
        try:
            while not ctrl_c.pressed:
                schedule_tests()
                while queue and pool.in_flight() < pool.capacity:
                    run = queue.popleft()
                    by_key[run.key] = run
                    pool.submit(PointTask(run.key, run.experiment, run.engine, run.market_key, runs_dir, source))
                if not pool.in_flight():
                    break
                for task, outcome in pool.wait(0.5):
                    run = by_key[task.key]
                    keep(run, outcome)
                    finished(run.key)
                    ran += 1
                    failed += outcome.status != "ok"
                    bar.update(outcome.status != "ok")
            schedule_tests()  # so that "nothing left" below counts the test runs the last results allow
            if ctrl_c.pressed and (queue or pool.in_flight()):  # a press as the last run came back stops nothing
                interrupted = True
                bar.draw(final=True)
                sys.stderr.write(
                    f"\n{exp.name}: stopping; waiting for {pool.in_flight()} run(s) in progress to finish "
                    "(Ctrl-C again to abandon them)\n"
                )
                pool.cancel_queued()
                while pool.in_flight():
                    for task, outcome in pool.wait(0.5):
                        if outcome.status == "ok":  # a failure now may be the interrupt itself: retried on resume
                            keep(by_key[task.key], outcome)
                            ran += 1
        except KeyboardInterrupt:  # the second Ctrl-C: abandon the runs in progress (they rerun on resume)
            interrupted = True
            pool.close(abort=True)
        finally:
            store.close()
    run_s = time.perf_counter() - t_runs
    bar.draw(final=True)
    rows = table_rows(plan, outcomes, tests)
    write_table(rows, folder)
    elapsed = time.perf_counter() - t0
    summary: dict[str, Any] = {
        "name": exp.name,
        "executor": pool.kind,
        "address": pool.address,  # the Ray cluster joined, or None
        "workers": pool.workers,
        "runs": total,
        "ran": ran,
        "resumed": bar.resumed,
        "failed": sum(1 for r in rows if r["status"] == "failed"),
        "ok": sum(1 for r in rows if r["status"] == "ok"),
        "pending": sum(1 for r in rows if r["status"] == "pending"),
        "seconds": round(elapsed, 3),
        "run_seconds": round(run_s, 3),  # from the first run sent to the last one back
        "runs_per_s": round(ran / run_s, 3) if ran and run_s > 0 else None,
        "data_hashes": sorted(set(hashes.values())),
        "interrupted": interrupted,
    }
    result = SweepResult(exp, folder, plan, rows, outcomes, summary, interrupted, tests)
    if not interrupted:
        from algotrade.research.sweep_analysis import analyse
        from algotrade.research.sweep_report import write_sweep_report

        analysis = analyse(result, markets)
        summary.update(analysis.summary())
        write_sweep_report(result, analysis)
    summary["seconds"] = round(time.perf_counter() - t0, 3)  # the whole sweep: data, runs, table, report
    _atomic_write(folder / "sweep.json", json.dumps(summary, indent=2, default=str) + "\n")
    return result


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


__all__ = [
    "METRIC_COLUMNS",
    "PHASES",
    "TIMING_COLUMNS",
    "CtrlC",
    "Store",
    "SweepProgress",
    "run_sweep",
    "summary_text",
    "table_frame",
    "table_rows",
    "validate_options",
    "write_table",
]
