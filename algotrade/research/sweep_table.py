"""The sweep's table: one row per run of the plan (sweep.csv and sweep.parquet)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from algotrade.research.executors import Outcome
from algotrade.research.sweep_plan import Plan, Run, table_cell
from algotrade.research.walkforward import eligible

#: metric columns of the result table, in order
METRIC_COLUMNS = (
    "sharpe", "sortino", "calmar", "total_return", "annual_return", "annual_volatility", "max_drawdown",
    "trade_count", "round_trips", "win_rate", "exposure", "total_commission", "final_equity",
    "start", "end", "sessions", "warmup_sessions",
)
PHASES = ("grid", "train", "test")
TIMING_COLUMNS = ("seconds",)


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


__all__ = ["METRIC_COLUMNS", "PHASES", "TIMING_COLUMNS", "table_frame", "table_rows", "write_table"]
