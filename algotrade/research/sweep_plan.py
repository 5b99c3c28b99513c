"""The plan of a sweep: its points, and the runs (a point on an engine, maybe in a window).

Each run's experiment is the base file with the point's values set, ``engine`` set, the
``sweep:``/``walkforward:`` sections removed and, for a walk-forward run, a ``window:``. It is
validated like any experiment file and named by its own config id.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from algotrade.core.config import Experiment, RandomRange, WindowConfig, experiment_from_dict
from algotrade.core.errors import ConfigError
from algotrade.research.walkforward import Window, lookback_of, warmup_sessions, windows

# --------------------------------------------------------------------------------------------
# the plan: points, runs, windows


@dataclass(frozen=True)
class Point:
    index: int
    values: dict[str, Any]  # dotted path -> value

    def label(self) -> str:
        return " ".join(f"{p.rsplit('.', 1)[-1]}={_text(v)}" for p, v in self.values.items())


@dataclass(frozen=True)
class Run:
    """One run of the plan: a point on one engine, on the whole data (grid) or in a window."""

    phase: str
    window: int | None
    point: int
    engine: str
    experiment: Experiment
    market_key: str

    @property
    def config_id(self) -> str:
        return self.experiment.config_id

    @property
    def key(self) -> str:
        return f"{self.config_id}/{self.engine}"

    @property
    def folder(self) -> str:
        """The run's results folder, relative to the sweep folder."""
        return f"runs/{self.config_id}/{self.engine}"


def _text(value: Any) -> str:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def table_cell(value: Any) -> Any:
    """A swept value as a table cell: scalars as they are, lists and mappings as JSON."""
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list | tuple | dict) else value


def _set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = list(value) if isinstance(value, tuple) else value


def point_values(exp: Experiment) -> list[Point]:
    """The points of the sweep, in order: every combination (grid) or ``samples`` draws (random),
    keeping those that satisfy every constraint."""
    from algotrade.core.constraints import parse_constraint

    sweep = exp.sweep
    assert sweep is not None
    constraints = [parse_constraint(c) for c in sweep.constraints]
    paths = list(sweep.space)
    base_params = dict(exp.strategy.params)

    def allowed(values: dict[str, Any]) -> bool:
        names: dict[str, Any] = dict(base_params)
        for path, value in values.items():
            if path.startswith("strategy.params."):
                names[path.removeprefix("strategy.params.")] = value
            names[path.rsplit(".", 1)[-1]] = value
            names[path] = value
        for c in constraints:
            try:
                if not c.holds(names):
                    return False
            except Exception as exc:
                raise ConfigError(
                    f"sweep.constraints: {c.text!r} cannot be evaluated for {values} ({type(exc).__name__}: {exc}); "
                    "compare values of the same kind"
                ) from None
        return True

    out: list[Point] = []
    if sweep.method == "grid":
        lists = [list(v) for v in sweep.space.values() if not isinstance(v, RandomRange)]
        for combo in itertools.product(*lists):
            values = dict(zip(paths, combo, strict=True))
            if allowed(values):
                out.append(Point(len(out), values))
    else:
        import numpy as np

        rng = np.random.default_rng(sweep.seed)
        seen: set[str] = set()
        target = sweep.samples or 1
        for _ in range(200 * target):
            if len(out) >= target:
                break
            values = {path: _draw(rng, spec) for path, spec in sweep.space.items()}
            ident = json.dumps(values, sort_keys=True, default=str)
            if ident in seen or not allowed(values):
                continue
            seen.add(ident)
            out.append(Point(len(out), values))
    if not out:
        raise ConfigError(
            f"sweep: no point satisfies the constraints ({'; '.join(sweep.constraints)}); loosen them or widen sweep.space"
        )
    return out


def _draw(rng: Any, spec: Any) -> Any:
    """One value of a swept field for a random search."""
    if not isinstance(spec, RandomRange):
        return spec[int(rng.integers(len(spec)))]
    if spec.log:
        x = math.exp(float(rng.uniform(math.log(spec.low), math.log(spec.high))))
        return round(x) if spec.integer else round(x, 6)
    if spec.integer:
        return int(rng.integers(int(spec.low), int(spec.high) + 1))
    return round(float(rng.uniform(float(spec.low), float(spec.high))), 6)


def point_experiment(
    base: Experiment, point: Point, engine: str, window: WindowConfig | None, reports: bool
) -> Experiment:
    """The experiment of one run: the base with the point's values, on ``engine``, maybe in a window."""
    raw = base.model_dump(mode="json", exclude={"sweep", "walkforward", "window"})
    for path, value in point.values.items():
        if path != "engine":
            _set_path(raw, path, value)
    raw["engine"], raw["engines"] = engine, None
    if window is not None:
        raw["window"] = window.model_dump(mode="json")
    raw["output"] = {**raw.get("output", {}), "report": reports}
    try:
        exp = experiment_from_dict(raw)
    except ConfigError as exc:
        hint = "; leave such points out with sweep.constraints" if "strategy.params" in str(exc) else ""
        raise ConfigError(f"sweep point {point.label()}: {exc}{hint}") from None
    return exp.model_copy(update={"name": exp.config_id})


def _engines_of(base: Experiment, point: Point) -> tuple[str, ...]:
    if "engine" in point.values:
        return (str(point.values["engine"]),)
    return base.engine_names


def _market_key(exp: Experiment) -> str:
    return json.dumps(exp.data.model_dump(mode="json"), sort_keys=True)


@dataclass
class Plan:
    base: Experiment
    points: list[Point]
    grid: list[Run]
    windows: list[Window] = field(default_factory=list)
    train: list[Run] = field(default_factory=list)
    warmup: int = 0
    engines: tuple[str, ...] = ()

    def test_run(self, window: Window, point: Point, engine: str) -> Run:
        exp = point_experiment(
            self.base, point, engine,
            WindowConfig(start=window.run_start, end=window.test_dates[1], evaluate_from=window.test_dates[0]),
            self.reports,
        )
        return Run("test", window.index, point.index, engine, exp, _market_key(exp))

    @property
    def reports(self) -> bool:
        return bool(self.base.sweep and self.base.sweep.reports)

    def train_runs(self, window: int, engine: str) -> list[Run]:
        return [r for r in self.train if r.window == window and r.engine == engine]


def plan_grid(exp: Experiment) -> Plan:
    assert exp.sweep is not None
    points = point_values(exp)
    grid = []
    for point in points:
        for engine in _engines_of(exp, point):
            run_exp = point_experiment(exp, point, engine, None, exp.sweep.reports)
            grid.append(Run("grid", None, point.index, engine, run_exp, _market_key(run_exp)))
    engines = tuple(dict.fromkeys(r.engine for r in grid))
    return Plan(exp, points, grid, engines=engines)


def plan_walkforward(plan: Plan, markets: dict[str, Any]) -> None:
    """Lay out the windows on the sessions of the first run's data and add every train run."""
    exp = plan.base
    wf = exp.walkforward
    if wf is None:
        return
    from algotrade.core.registry import resolve_strategy

    if wf.warmup is not None:
        plan.warmup = wf.warmup
    else:
        plan.warmup = warmup_sessions(
            [lookback_of(r.experiment.strategy.name, r.experiment.strategy.params, resolve_strategy) for r in plan.grid]
        )
    dates = [d.date() for d in markets[plan.grid[0].market_key].dates]
    plan.windows = windows(dates, wf, plan.warmup)
    assert exp.sweep is not None
    for window in plan.windows:
        start, end = window.train_dates
        for point in plan.points:
            for engine in _engines_of(exp, point):
                run_exp = point_experiment(exp, point, engine, WindowConfig(start=start, end=end, evaluate_from=None), exp.sweep.reports)
                plan.train.append(Run("train", window.index, point.index, engine, run_exp, _market_key(run_exp)))
