"""`algotrade run`: one experiment on one engine, from YAML to a results folder."""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algotrade.config import Experiment, dump_experiment, load_experiment
from algotrade.data import Market, load_market
from algotrade.host import StrategyHost
from algotrade.registry import resolve_engine, resolve_strategy
from algotrade.results import Tables, metrics, tables, write
from algotrade.risk import checks_from_config


@dataclass(frozen=True)
class RunResult:
    experiment: Experiment
    engine: str
    folder: Path
    tables: Tables
    metrics: dict[str, Any]
    timings: dict[str, float]

    @property
    def report_path(self) -> Path:
        return self.folder / "report.html"


class Progress:
    """A one-line progress indicator on stderr, shown only once a run takes more than ~2 s."""

    def __init__(self, label: str, enabled: bool = True, after: float = 2.0) -> None:
        self.label, self.enabled, self.after = label, enabled, after
        self.t0 = time.perf_counter()
        self.next_draw = self.t0 + after
        self.drawn = False

    def __call__(self, i: int, n: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now < self.next_draw and i + 1 < n:
            return
        if not self.drawn and i + 1 >= n:
            return
        self.next_draw = now + 0.5
        self.drawn = True
        frac = (i + 1) / n
        eta = (now - self.t0) * (1 - frac) / frac if frac else 0.0
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {frac:5.1%} bar {i + 1}/{n} eta {eta:4.1f}s")
        if i + 1 >= n:
            sys.stderr.write("\n")
        sys.stderr.flush()


def execute(exp: Experiment, market: Market, engine_name: str, progress: bool = False) -> tuple[StrategyHost, dict[str, str]]:
    """Run the experiment's strategy on one engine; return the host holding every record."""
    strategy_cls = resolve_strategy(exp.strategy.name)
    strategy = strategy_cls(strategy_cls.config_class.model_validate(exp.strategy.params))
    host = StrategyHost(
        strategy,
        market.bars(),
        exp.sizing,
        checks_from_config(exp.risk),
        progress=Progress(f"{exp.name} on {engine_name}", progress),
        name=exp.strategy.name,
    )
    engine = resolve_engine(engine_name)()
    engine.run(host, market, exp.broker)
    return host, engine.versions()


def run_experiment(
    path: str | Path,
    overrides: tuple[str, ...] = (),
    out: str | Path | None = None,
    progress: bool = False,
    engine: str | None = None,
) -> RunResult:
    t0 = time.perf_counter()
    exp = load_experiment(path, overrides)
    engine_name = engine or exp.engine_names[0]
    t_config = time.perf_counter()
    market = load_market(exp.data)
    t_data = time.perf_counter()
    host, versions = execute(exp, market, engine_name, progress)
    t_engine = time.perf_counter()
    tbl = tables(host)
    stats = metrics(tbl, exp.broker.cash)
    folder = Path(out or exp.output.dir) / exp.name / engine_name
    write(tbl, stats, folder)
    (folder / "config.yaml").write_text(dump_experiment(exp))
    timings = {
        "config_s": round(t_config - t0, 4),
        "data_s": round(t_data - t_config, 4),
        "engine_s": round(t_engine - t_data, 4),
    }
    if exp.output.report:
        from algotrade.report import write_report

        write_report(folder / "report.html", exp, market, tbl, stats, engine_name)
    timings["total_s"] = round(time.perf_counter() - t0, 4)
    run_info = {
        "config_id": exp.config_id,
        "experiment": str(path),
        "engine": engine_name,
        "strategy": exp.strategy.name,
        "params": exp.strategy.params,
        "data_hash": market.data_hash,
        "data": {
            "source": exp.data.source,
            "symbols": list(market.frames),
            "first": str(market.dates[0].date()),
            "last": str(market.dates[-1].date()),
            "sessions": len(market.dates),
            "calendar": market.calendar,
            "repair_policy": exp.data.repair,
            "repairs": market.repairs,
        },
        "versions": {"python": platform.python_version(), **_versions(), **versions},
        "timings": timings,
    }
    (folder / "run.json").write_text(json.dumps(run_info, indent=2, default=str) + "\n")
    return RunResult(exp, engine_name, folder, tbl, stats, timings)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("algotrade", "numpy", "pandas", "ta-lib", "empyrical-reloaded"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def summary_text(result: RunResult) -> str:
    m = result.metrics
    exp = result.experiment

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.2%}"

    def num(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    lines = [
        f"{exp.name}: {exp.strategy.name} {exp.strategy.params} on {result.engine} "
        f"({', '.join(exp.data.symbols)}, {m['start']} .. {m['end']}, {m['sessions']} sessions)",
        f"  final equity   {m['final_equity']:,.2f}  (from {m['initial_cash']:,.2f})",
        f"  total return   {pct(m['total_return'])}   annual {pct(m['annual_return'])}   volatility {pct(m['annual_volatility'])}",
        f"  sharpe {num(m['sharpe'])}   sortino {num(m['sortino'])}   calmar {num(m['calmar'])}",
        f"  max drawdown   {pct(m['max_drawdown'])}  lasting {m['max_drawdown_duration_sessions']} sessions",
        f"  trades {m['trade_count']}   round trips {m['round_trips']}   win rate "
        f"{'n/a' if m['win_rate'] is None else format(m['win_rate'], '.0%')}   exposure {m['exposure']:.0%}",
    ]
    if m["orders_blocked"] or m["orders_rejected"]:
        lines.append(f"  orders blocked by risk checks {m['orders_blocked']}, rejected {m['orders_rejected']} (see orders.csv)")
    lines.append(f"  results  {result.folder}/")
    lines.append(f"  report   {result.report_path}" if exp.output.report else "  report   (disabled)")
    lines.append(f"  took {result.timings['total_s']:.1f} s (engine {result.timings['engine_s']:.1f} s)")
    return "\n".join(lines)
