"""`algotrade run`: one experiment on one engine, from YAML to a results folder."""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from algotrade.core.config import Experiment, dump_experiment, load_experiment, symbols_text
from algotrade.core.data import Market, load_market, snapped
from algotrade.core.errors import ConfigError
from algotrade.core.host import StrategyHost
from algotrade.core.registry import resolve_engine, resolve_strategy
from algotrade.core.results import Tables, metrics, tables, write
from algotrade.core.risk import checks_from_config
from algotrade.core.sizing import resolve as resolve_sizing
from algotrade.core.sizing import run_stops


@dataclass(frozen=True)
class RunResult:
    experiment: Experiment
    engine: str
    folder: Path
    tables: Tables
    metrics: dict[str, Any]
    timings: dict[str, float]
    #: how data.start/end were cut to sessions ('' when they were sessions)
    snapped: str = ""
    #: the config id of different results this run replaced in its folder
    replaced: str | None = None
    #: for a --set variant: the folder of the file as written (which it leaves alone)
    base_folder: Path | None = None

    @property
    def report_path(self) -> Path:
        return self.folder / "report.html"


def results_name(exp: Experiment, path: str | Path, overrides: tuple[str, ...]) -> str:
    """The results folder name: ``<name>`` for the file as written, ``<name>@<config id>`` when
    --set overrides change what the run computes, so that variants never overwrite each other
    or the file's own results (overrides that change nothing computed, such as output.report,
    keep ``<name>``)."""
    if not overrides:
        return exp.name
    try:
        same = load_experiment(path).config_id == exp.config_id
    except ConfigError:  # the file alone is incomplete: only the overrides make it an experiment
        same = False
    return exp.name if same else f"{exp.name}@{exp.config_id}"


class Progress:
    """A one-line progress indicator on stderr, shown only once a run takes more than ~2 s."""

    def __init__(self, label: str, enabled: bool = True, after: float = 2.0) -> None:
        self.label, self.enabled, self.after = label, enabled, after
        self.t0 = time.perf_counter()
        self.next_draw = self.t0 + after
        self.drawn = False
        self.first_bar: float | None = None

    def __call__(self, i: int, n: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.first_bar is None:  # engines load and prepare first; the rate counts from bar 1
            self.first_bar = now
            self.next_draw = max(self.next_draw, now + 0.5)
        if now < self.next_draw and i + 1 < n:
            return
        if not self.drawn and i + 1 >= n:
            return
        self.next_draw = now + 0.5
        self.drawn = True
        frac = (i + 1) / n
        eta = (now - self.first_bar) * (1 - frac) / frac if frac else 0.0
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {frac:5.1%} bar {i + 1}/{n} eta {eta:4.1f}s")
        if i + 1 >= n:
            sys.stderr.write("\n")
        sys.stderr.flush()


def execute(
    exp: Experiment, market: Market, engine_name: str, progress: bool = False, live_from: int = 0
) -> tuple[StrategyHost, Any]:
    """Run the experiment's strategy on one engine; return the host holding every record and
    the engine adapter (its versions() and, for some engines, an ``info`` dict for run.json).
    ``live_from``: the strategy acts from this bar on; the bars before only warm it up."""
    if exp.window is not None:  # a walk-forward window (a no-op when run_loaded has cut it already)
        market = market.between(exp.window.start, exp.window.end)
        if exp.window.evaluate_from is not None:
            live_from = max(live_from, market.session_index(exp.window.evaluate_from))
    strategy_cls = resolve_strategy(exp.strategy.name)
    strategy = strategy_cls(strategy_cls.config_class.model_validate(exp.strategy.params))
    host = StrategyHost(
        strategy,
        market.bars(),
        resolve_sizing(exp),
        checks_from_config(exp.risk),
        progress=Progress(f"{exp.name} on {engine_name}", progress),
        name=exp.strategy.name,
        live_from=live_from,
        stops=run_stops(exp),
    )
    engine = resolve_engine(engine_name)()
    engine.run(host, market, exp.broker)
    return host, engine


def run_experiment(
    path: str | Path,
    overrides: tuple[str, ...] = (),
    out: str | Path | None = None,
    progress: bool = False,
    engine: str | None = None,
) -> RunResult:
    """Load, run on one engine (``engine``: instead of the file's), write the results folder:
    OUT/<name>/<engine>/, or OUT/<name>@<config id>/<engine>/ for a --set variant."""
    t0 = time.perf_counter()
    exp = load_experiment(path, overrides, engine=engine)
    market = load_market(exp.data, path, overrides)
    name = results_name(exp, path, overrides)
    result = run_loaded(exp, market, exp.engine_names[0], out, progress, str(path), t0, folder_name=name)
    if name != exp.name:
        result = replace(result, base_folder=Path(out or exp.output.dir) / exp.name / result.engine)
    return result


def run_loaded(
    exp: Experiment,
    market: Market,
    engine_name: str,
    out: str | Path | None = None,
    progress: bool = False,
    source: str = "",
    t0: float | None = None,
    folder_name: str | None = None,
) -> RunResult:
    """Run an already validated experiment on already loaded data (shared by compare and sweeps);
    write OUT/<folder_name, default: name>/<engine>/."""
    t0 = time.perf_counter() if t0 is None else t0
    cut = snapped(exp.data, market)
    if exp.window is not None:
        market = market.between(exp.window.start, exp.window.end)
    t_data = time.perf_counter()
    host, engine = execute(exp, market, engine_name, progress)
    t_engine = time.perf_counter()
    versions = engine.versions()
    engine_info = dict(getattr(engine, "info", {}))
    tbl = tables(host)
    bench = market.frames[exp.benchmark]["close"] if exp.benchmark else None
    stats = metrics(tbl, exp.broker.cash, bench)
    folder = Path(out or exp.output.dir) / (folder_name or exp.name) / engine_name
    replaced = _previous_config_id(folder)
    write(tbl, stats, folder)
    # the run exactly: `algotrade run config.yaml` repeats this folder's engine
    (folder / "config.yaml").write_text(dump_experiment(exp.model_copy(update={"engine": engine_name, "engines": None})))
    timings = {"load_s": round(t_data - t0, 4), "engine_s": round(t_engine - t_data, 4)}
    if "ingest_s" in engine_info:
        timings["ingest_s"] = engine_info["ingest_s"]
    if exp.output.report:
        from algotrade.report.run_report import write_report

        write_report(folder / "report.html", exp, market, tbl, stats, engine_name)
    else:
        (folder / "report.html").unlink(missing_ok=True)  # never leave an earlier run's report beside these results
    timings["total_s"] = round(time.perf_counter() - t0, 4)
    run_info = {
        "config_id": exp.config_id,
        "experiment": source,
        "engine": engine_name,
        "strategy": exp.strategy.name,
        "params": exp.strategy.params,
        "fill": exp.broker.fill,
        "data_hash": market.data_hash,
        "data": {
            "source": exp.data.source,
            "symbols": list(market.frames),
            "first": str(market.dates[0].date()),
            "last": str(market.dates[-1].date()),
            "sessions": len(market.dates),
            "calendar": market.calendar,
            "requested": {"start": exp.data.start, "end": exp.data.end},
            "repair_policy": exp.data.repair,
            "repairs": market.repairs,
        },
        "versions": {"python": platform.python_version(), **_versions(), **versions},
        "engine_info": engine_info,
        "timings": timings,
    }
    (folder / "run.json").write_text(json.dumps(run_info, indent=2, default=str) + "\n")
    return RunResult(exp, engine_name, folder, tbl, stats, timings, cut,
                     replaced if replaced != exp.config_id else None)


def _previous_config_id(folder: Path) -> str | None:
    """The config id of the results already in ``folder``, if any."""
    try:
        return str(json.loads((folder / "run.json").read_text())["config_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class CompareResult:
    folder: Path
    summary: dict[str, Any]
    runs: tuple[RunResult, ...]

    @property
    def agree(self) -> bool:
        return bool(self.summary["agree"])


def compare_experiment(
    path: str | Path,
    engines: tuple[str, ...] = (),
    overrides: tuple[str, ...] = (),
    out: str | Path | None = None,
    progress: bool = False,
) -> CompareResult:
    """Run one experiment on each engine on identical inputs and compare the results."""
    from algotrade.backtest.compare import RunFolder, compare_runs
    from algotrade.backtest.compare_report import write_comparison
    from algotrade.core.config import check_engine_list

    t0 = time.perf_counter()
    names = check_engine_list(engines) if engines else ()
    exp = load_experiment(path, overrides)
    names = names or check_engine_list(exp.engines or ("backtrader", "zipline"))
    market = load_market(exp.data, path, overrides)  # loaded and validated once: every engine gets the same frames
    folder_name = results_name(exp, path, overrides)
    results = tuple(run_loaded(exp, market, name, out, progress, str(path), t0, folder_name) for name in names)
    folders = [RunFolder.read(r.folder) for r in results]
    bars = {s: f.set_axis(f.index.strftime("%Y-%m-%d")) for s, f in market.frames.items()}
    comparison = compare_runs(folders[0], folders[1], bars)
    folder = results[0].folder.parent / "compare"
    summary = write_comparison(comparison, folders, folder, f"{exp.name}: {' vs '.join(names)}")
    summary["timings"] = {r.engine: r.timings for r in results} | {"total_s": round(time.perf_counter() - t0, 4)}
    return CompareResult(folder, summary, results)


def compare_text(result: CompareResult) -> str:
    s = result.summary
    run = result.runs[0]
    m = run.metrics
    lines = [
        f"{run.experiment.name}: {' vs '.join(s['engines'])}: " + ("AGREE" if s["agree"] else "DIFFER")
        + f" ({symbols_text(run.experiment.data.symbols)}, {m['start']} .. {m['end']}, {m['sessions']} sessions)"
    ]
    if run.snapped:
        lines.append(f"  {run.snapped}")
    for engine in s["engines"]:
        lines.append(f"  {engine:<11} trades {s['trades'][engine]:>5}   final equity {s['final_equity'][engine]:,.2f}")
    if any(r.metrics.get("total_borrow_fees") for r in result.runs):
        for r in result.runs:
            lines.append(f"  {r.engine:<11} commission {r.metrics['total_commission']:,.2f}   "
                         f"borrow fees {r.metrics.get('total_borrow_fees', 0.0):,.2f}")
    lines.append(f"  final equity relative difference {s['final_equity_rel_diff']:.2e} (tolerance {s['tolerance']['equity_rtol']:g})")
    if s["differences_by_category"]:
        cats = ", ".join(f"{k} x{v}" for k, v in sorted(s["differences_by_category"].items()))
        lines.append(f"  differences: {cats}; first at trade row {s['first_difference_row']}")
        lines.append(f"  explained in {result.folder / 'differences.csv'}")
    lines.append(f"  results  {result.folder.parent}/  ({', '.join(r.engine for r in result.runs)}, compare)")
    replaced = sorted({r.replaced for r in result.runs if r.replaced})
    if replaced:
        lines.append(f"           (replaced the results of config id {', '.join(replaced)} that were there)")
    lines.append(f"  report   {result.folder / 'compare.html'}")
    lines.append(f"  took {s['timings']['total_s']:.1f} s")
    return "\n".join(lines)


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
        f"({symbols_text(exp.data.symbols)}, {m['start']} .. {m['end']}, {m['sessions']} sessions)",
        *([f"  {result.snapped}"] if result.snapped else []),
        f"  final equity   {m['final_equity']:,.2f}  (from {m['initial_cash']:,.2f})",
        *([f"  metrics from {m['start']}: the {m['warmup_sessions']} sessions before are the strategy's "
           "warm-up/training period (out-of-sample results only)"] if m.get("warmup_sessions") else []),
        f"  total return   {pct(m['total_return'])}   annual {pct(m['annual_return'])}   volatility {pct(m['annual_volatility'])}",
        f"  sharpe {num(m['sharpe'])}   sortino {num(m['sortino'])}   calmar {num(m['calmar'])}",
        f"  max drawdown   {pct(m['max_drawdown'])}  lasting {m['max_drawdown_duration_sessions']} sessions",
        f"  trades {m['trade_count']}   round trips {m['round_trips']}   win rate "
        f"{'n/a' if m['win_rate'] is None else format(m['win_rate'], '.0%')}   exposure {m['exposure']:.0%}",
    ]
    if m.get("total_borrow_fees"):
        lines.append(f"  costs          commission {m['total_commission']:,.2f}   borrow fees {m['total_borrow_fees']:,.2f}")
    if m["orders_blocked"] or m["orders_rejected"]:
        lines.append(f"  orders blocked by risk checks {m['orders_blocked']}, rejected {m['orders_rejected']} (see orders.csv)")
    lines.append(f"  results  {result.folder}/")
    if result.base_folder is not None:
        lines.append(f"           (a --set variant, config id {exp.config_id}; the file as written goes to {result.base_folder}/)")
    if result.replaced:
        lines.append(f"           (replaced the results of config id {result.replaced} that were there)")
    lines.append(f"  report   {result.report_path}" if exp.output.report else "  report   (disabled)")
    lines.append(f"  took {result.timings['total_s']:.1f} s (engine {result.timings['engine_s']:.1f} s)")
    return "\n".join(lines)
