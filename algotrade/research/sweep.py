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
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
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
from algotrade.research.sweep_plan import Plan, Point, Run, plan_grid, plan_walkforward, table_cell
from algotrade.research.sweep_result import SweepResult
from algotrade.research.walkforward import choose, eligible

#: metric columns of the result table, in order
METRIC_COLUMNS = (
    "sharpe", "sortino", "calmar", "total_return", "annual_return", "annual_volatility", "max_drawdown",
    "trade_count", "round_trips", "win_rate", "exposure", "total_commission", "final_equity",
    "start", "end", "sessions", "warmup_sessions",
)
PHASES = ("grid", "train", "test")
TIMING_COLUMNS = ("seconds",)


# --------------------------------------------------------------------------------------------
# the record of finished runs


class Store:
    """``points.jsonl``: one JSON line per finished run, appended and flushed as it finishes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def load(self) -> dict[str, dict[str, Any]]:
        """The last record of each key; a line cut short by a kill is dropped (and cut off)."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a partial last line: the sweep was killed while writing it
            with self.path.open("r+b") as fh:
                fh.truncate(end)
            data = data[:end]
        out: dict[str, dict[str, Any]] = {}
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "key" in record:
                out[record["key"]] = record
        return out

    def append(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _outcome_of(record: dict[str, Any]) -> Outcome:
    return Outcome(
        record["key"], record["status"], record.get("error", ""), record.get("metrics") or {},
        float(record.get("seconds") or 0.0), record.get("equity_first"), list(record.get("equity") or []),
    )


# --------------------------------------------------------------------------------------------
# progress


class SweepProgress:
    """``name [#####.....] 12/40 runs  1 failed  8 resumed  5.1 runs/s  eta 6s`` on stderr."""

    def __init__(self, label: str, total: int, resumed: int, enabled: bool) -> None:
        self.label, self.total, self.resumed, self.enabled = label, total, resumed, enabled
        self.done = self.failed = 0
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.closed = False

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        self.draw()

    def draw(self, final: bool = False) -> None:
        if not self.enabled or self.closed:
            return
        now = time.perf_counter()
        if not final and now - self.last < 0.2 and self.done + self.resumed < self.total:
            return
        self.last = now
        finished = self.done + self.resumed
        frac = finished / self.total if self.total else 1.0
        elapsed = now - self.t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = self.total - finished
        eta = "   0s" if not left else (f"{left / rate:4.0f}s" if rate > 0 else "   ?")
        bar = "#" * int(frac * 30)
        extra = (f"  {self.failed} failed" if self.failed else "") + (f"  {self.resumed} resumed" if self.resumed else "")
        sys.stderr.write(
            f"\r{self.label} [{bar:<30}] {finished}/{self.total} runs{extra}  {rate:4.1f} runs/s  eta {eta}"
        )
        if final or finished >= self.total:
            sys.stderr.write("\n")
            self.closed = True
        sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# running


class CtrlC:
    """Ctrl-C while the runs go: the first press only sets :attr:`pressed`, which the sweep reads
    between results (so that no finished run is lost half-recorded) to stop sending runs and let
    those in progress finish; a second press raises KeyboardInterrupt to abandon them. Outside
    the main thread (where signals cannot be handled) it does nothing."""

    def __init__(self) -> None:
        self.pressed = 0
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.pressed += 1
        if self.pressed > 1:
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


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


def _record(run: Run, outcome: Outcome, point: Point, data_hash: str) -> dict[str, Any]:
    return {
        "key": run.key, "config_id": run.config_id, "engine": run.engine, "phase": run.phase,
        "window": run.window, "point": run.point, "values": point.values, "status": outcome.status,
        "error": outcome.error, "metrics": outcome.metrics, "seconds": outcome.seconds, "folder": run.folder,
        "data_hash": data_hash, "equity_first": outcome.equity_first, "equity": outcome.equity,
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


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
            outcomes[key] = _outcome_of(record)
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
        store.append(_record(run, outcome, plan.points[run.point], hashes[run.market_key]))

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


# --------------------------------------------------------------------------------------------
# the table


def table_rows(plan: Plan, outcomes: dict[str, Outcome], tests: dict[tuple[str, int], Run | None]) -> list[dict[str, Any]]:
    """One row per run of the plan, in plan order (grid, then each window's train and test runs)."""
    exp = plan.base
    assert exp.sweep is not None
    sweep = exp.sweep
    paths = list(sweep.space)
    rows: list[dict[str, Any]] = []

    def row(run: Run | None, phase: str, window: int | None, point: int | None, engine: str) -> dict[str, Any]:
        outcome = outcomes.get(run.key) if run else None
        status = outcome.status if outcome else ("pending" if run or (engine, window) not in tests else "failed")
        values = plan.points[point].values if point is not None else {}
        stats = outcome.metrics if outcome and outcome.status == "ok" else {}
        r: dict[str, Any] = {
            "phase": phase, "window": window, "point": point,
            "config_id": run.config_id if run else None, "engine": engine,
        }
        for path in paths:
            name = path.rsplit(".", 1)[-1]
            if name not in r:  # a swept engine is already the engine column
                r[name] = table_cell(values.get(path)) if point is not None else None
        r["status"] = status
        r["eligible"] = eligible(stats, sweep.metric, sweep.min_trades) if stats else False
        r["rank"] = None
        for col in METRIC_COLUMNS:
            r[col] = stats.get(col)
        r["seconds"] = outcome.seconds if outcome else None
        r["folder"] = run.folder if run else None
        if outcome:
            r["error"] = outcome.error
        elif run is None and phase == "test" and (engine, window) in tests:
            r["error"] = f"no train run of window {window} was eligible (ok, a {sweep.metric}, at least {sweep.min_trades} trades)"
        else:
            r["error"] = ""
        return r

    grid_rows = [row(run, "grid", None, run.point, run.engine) for run in plan.grid]
    for engine in plan.engines:
        ranked = sorted(
            (r for r in grid_rows if r["engine"] == engine and r["eligible"]),
            key=lambda r: ((-r[sweep.metric]) if sweep.goal == "max" else r[sweep.metric], r["point"]),
        )
        for i, r in enumerate(ranked, 1):
            r["rank"] = i
    rows += grid_rows
    for window in plan.windows:
        rows += [row(run, "train", window.index, run.point, run.engine) for run in plan.train if run.window == window.index]
    for window in plan.windows:
        for engine in plan.engines:
            test = tests.get((engine, window.index))
            rows.append(row(test, "test", window.index, test.point if test else None, engine))
    return rows


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def table_frame(rows: Sequence[dict[str, Any]]) -> Any:
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    for col in ("window", "point", "rank", "trade_count", "round_trips", "sessions", "warmup_sessions"):
        if col in frame:
            frame[col] = pd.array(frame[col].tolist(), dtype="Int64")
    for col in METRIC_COLUMNS:
        if col in frame and col not in ("start", "end") and frame[col].dtype == object:
            frame[col] = pd.to_numeric(frame[col])
    return frame


def write_table(rows: Sequence[dict[str, Any]], folder: Path) -> None:
    """sweep.csv and sweep.parquet, one row per run (each written whole, then moved into place)."""
    frame = table_frame(rows)
    tmp = folder / "sweep.csv.tmp"
    frame.to_csv(tmp, index=False)
    os.replace(tmp, folder / "sweep.csv")
    tmp = folder / "sweep.parquet.tmp"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, folder / "sweep.parquet")


# --------------------------------------------------------------------------------------------
# the summary printed at the end


def summary_text(result: SweepResult) -> str:
    s = result.summary
    exp = result.experiment
    assert exp.sweep is not None
    metric = exp.sweep.metric
    lines = [
        f"{exp.name}: {len(result.plan.grid)} grid runs"
        + (f" + {len(result.plan.train) + len(result.plan.windows) * len(result.plan.engines)} walk-forward runs"
           f" ({len(result.plan.windows)} windows)" if result.plan.windows else "")
        + f" on {', '.join(result.plan.engines)} ({s['executor']}{' at ' + s['address'] if s.get('address') else ''},"
        f" {s['workers']} workers)",
        f"  ran {s['ran']}, resumed {s['resumed']}, failed {s['failed']} in {s['seconds']:.1f} s"
        + (f" ({s['runs_per_s']:.1f} runs/s while running)" if s.get("runs_per_s") else ""),
    ]
    best = s.get("best")
    if best:
        lines.append(
            f"  best by {metric}: {best['label']}  {metric} {_fmt(best['value'])}  total return {_pct(best['total_return'])}"
            f"  max drawdown {_pct(best['max_drawdown'])}  trades {best['trade_count']}  (config id {best['config_id']})"
        )
        lines.append(f"  re-run it alone, with its report ({best['rerun_report']}):")
        lines.append(f"    {best['rerun']}")
    elif not result.interrupted:
        lines.append(f"  no grid run is eligible to be the best (ok, a {metric}, at least {exp.sweep.min_trades} trades)")
    spa = s.get("spa")
    if spa:
        import textwrap

        lines += textwrap.wrap(f"data snooping: {spa['sentence']}", 110, initial_indent="  ", subsequent_indent="    ")
    wf = s.get("walkforward")
    if wf:
        for engine, w in wf.items():
            lines.append(
                f"  walk-forward on {engine}: {w['windows']} windows, out-of-sample {metric} {_fmt(w['oos_metric'])}"
                f" (in-sample mean {_fmt(w['is_metric_mean'])}); stitched return {_pct(w['oos_total_return'])}"
            )
    lines.append(f"  table   {result.table_path} (and sweep.parquet; one row per run)")
    if not result.interrupted:
        lines.append(f"  report  {result.report_path}")
    return "\n".join(lines)


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:+.2%}"
