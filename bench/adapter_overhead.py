"""What algotrade's engine adapters cost over the same strategy written natively for each engine.

Prints one JSON line per selected measurement (``--only``; default: all three, in this order):

``backtrader``
    An SMA(10/30) crossover on the S&P 500 sample (SPX, 1999-01-04 .. 2018-12-31, validated
    frames) natively (``NativeSmaCross`` from tests/native_backtrader.py: bt.talib indicators,
    stdstats=False) and through algotrade (``algotrade.backtest.run.execute`` on the backtrader engine).
    Both sides must make the same trades, otherwise the bench fails::

        {"name": "backtrader", "native_s": ..., "algotrade_s": ..., "ratio": ..., "peak_mb": ...}

``zipline``
    The same data and strategy on zipline-reloaded. The native side is written the way the
    Zipline cookbooks write it: ``initialize`` sets ``context.asset = symbol('SPX')``, zero
    commission (``PerShare(cost=0, min_trade_cost=0)``) and zero slippage
    (``FixedSlippage(spread=0)``, no volume cap); ``handle_data`` reads
    ``data.history(asset, 'close', 31, '1d')``, computes the fast and slow means for today and
    yesterday and calls ``order_target_percent(asset, 0.95)`` / ``order_target_percent(asset, 0)``
    on the crosses. It runs with the default metrics set and ``benchmark_returns`` set to a zero
    series (no benchmark: alpha/beta in its perf frame mean nothing; zipline would otherwise need
    a benchmark asset or silently use zeros). Zipline cannot look back before the bundle's first
    day, so the native simulation starts on the 31st session (the first with 31 closes); the
    algotrade side runs every session, and its indicators are not ready before the same bar, so
    the first possible signal is on the same day for both. Orders fill at the next session's close
    with zero costs on both sides. Both sides read the SAME bundle: ``ensure_bundle(market,
    "XNYS")`` ingests it once, into a temporary ``ZIPLINE_ROOT``, before anything is timed. The
    trade counts are reported; they may differ slightly (warm-up, float ties in the means,
    Zipline's own share rounding and cash rules) and that is noted, not treated as a failure::

        {"name": "zipline", "native_s": ..., "algotrade_s": ..., "ratio": ..., "peak_mb": ...,
         "native_trades": ..., "algotrade_trades": ..., "same_trades": ..., "note": "..."}

    For both engine lines only the engine run is timed (data is loaded once, outside); runs are
    interleaved in pairs, alternating which side goes first, and the medians are compared.

``compare_quickstart``
    Wall time of the real CLI, ``bin/algotrade compare experiments/quickstart.yaml --engines
    backtrader,zipline --out <tmp>`` (SPX 2005-01-03 .. 2012-12-31, report included), run as a
    subprocess: once cold (a fresh, empty ``ZIPLINE_ROOT``, so the bundle is ingested) and three
    times warm (the same ``ZIPLINE_ROOT``); ``warm_s`` is the median of the warm runs::

        {"name": "compare_quickstart", "cold_s": ..., "warm_s": ..., "warm_runs": [...]}

When more than one line is selected each runs in its own child process (``--only``), so that
``peak_mb`` (the process's peak resident memory) belongs to that line alone and Zipline's import
does not weigh on the Backtrader timings.

Usage: python bench/adapter_overhead.py [--runs N] [--only backtrader|zipline|compare]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from algotrade.backtest.run import execute  # noqa: E402
from algotrade.core.config import Experiment, experiment_from_dict  # noqa: E402
from algotrade.core.data import Market, load_market  # noqa: E402
from algotrade.core.results import tables  # noqa: E402

FAST, SLOW = 10, 30
TARGET = 0.95
LINES = ("backtrader", "zipline", "compare")
WARM_RUNS = 3

Fills = list[tuple[str, str, int, float]]


def experiment(engine: str = "backtrader") -> Experiment:
    return experiment_from_dict({
        "name": "adapter-overhead",
        "data": {"source": "sample", "symbols": ["SPX"], "start": "1999-01-04", "end": "2018-12-31",
                 "calendar": "XNYS"},
        "strategy": {"name": "sma_cross", "params": {"fast": FAST, "slow": SLOW}},
        "engine": engine,
        "broker": {"cash": 100_000, "fill": "next_close", "commission": "none", "slippage": "none"},
        "sizing": {"target_percent": TARGET},
        "output": {"report": False},
    })


def timed(fn, *args):  # type: ignore[no-untyped-def]
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def interleaved(runs: int, native: tuple[Any, ...], ours: tuple[Any, ...]) -> tuple[float, float]:
    """Median seconds of ``runs`` native/algotrade pairs, alternating which side goes first."""
    native_s: list[float] = []
    algotrade_s: list[float] = []
    for k in range(runs):
        pair = [(native_s, native), (algotrade_s, ours)]
        if k % 2:
            pair.reverse()
        for sink, (fn, *fn_args) in pair:
            seconds, _ = timed(fn, *fn_args)
            sink.append(seconds)
    return statistics.median(native_s), statistics.median(algotrade_s)


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def algotrade_fills(exp: Experiment, market: Market, engine: str) -> Fills:
    host, _ = execute(exp, market, engine)
    return [(str(f.date), f.symbol, int(f.quantity), round(float(f.price), 3)) for f in host.fills]


# --- backtrader ---------------------------------------------------------------------------------
def bench_backtrader(runs: int) -> dict[str, Any]:
    from tests.native_backtrader import NativeSmaCross, make_cerebro

    def run_native(market: Market, cash: float, same_feed: bool = False) -> list[tuple[str, str, int, float, float]]:
        if same_feed:  # the native strategy on algotrade's array feed: isolates the layer's own cost
            from adapters.backtrader.engine import _feed

            cerebro = make_cerebro({}, cash=cash)
            for symbol, frame in market.frames.items():
                cerebro.adddata(_feed(symbol, frame))
        else:
            cerebro = make_cerebro(market.frames, cash=cash)
        cerebro.addstrategy(NativeSmaCross, fast=FAST, slow=SLOW, fill="next_close", target_percent=TARGET)
        (strat,) = cerebro.run(runonce=True, preload=True)
        return strat.fills  # type: ignore[no-any-return]

    exp = experiment("backtrader")
    market = load_market(exp.data)  # outside every timed region

    # warm-up, and a check that both sides make the same trades (otherwise the timing means nothing)
    native_fills = run_native(market, exp.broker.cash)
    host, _ = execute(exp, market, "backtrader")
    ours = [(str(r.date), r.symbol, int(r.quantity), float(r.price), float(r.commission))
            for r in tables(host).trades.itertuples(index=False)]
    if ours != native_fills:
        raise SystemExit(f"backtrader: trade lists differ: native {len(native_fills)} trades, algotrade {len(ours)}")

    if run_native(market, exp.broker.cash, True) != native_fills:
        raise SystemExit("backtrader: the native strategy trades differently on the array feed")
    native, ours_s = interleaved(runs, (run_native, market, exp.broker.cash),
                                 (algotrade_fills, exp, market, "backtrader"))
    same_feed, ours_s2 = interleaved(runs, (run_native, market, exp.broker.cash, True),
                                     (algotrade_fills, exp, market, "backtrader"))
    return {"name": "backtrader", "native_s": round(native, 4), "algotrade_s": round(ours_s, 4),
            "ratio": round(ours_s / native, 3), "peak_mb": peak_mb(), "trades": len(ours),
            "native_same_feed_s": round(same_feed, 4), "same_feed_ratio": round(ours_s2 / same_feed, 3),
            "note": "native uses bt.feeds.PandasData as users do; algotrade's adapter feeds plain lists "
                    "(same values). same_feed_ratio runs the native strategy on that feed too: the cost "
                    "of algotrade's own layer"}


# --- zipline ------------------------------------------------------------------------------------
def native_zipline(bundle: str, start: Any, end: Any, cash: float, benchmark: Any) -> Fills:
    """SMA(10/30) long-only crossover, cookbook style; returns the fills from zipline's perf frame."""
    from zipline import run_algorithm
    from zipline.api import order_target_percent, set_commission, set_slippage, symbol
    from zipline.finance import commission, slippage

    def initialize(context: Any) -> None:
        context.asset = symbol("SPX")
        set_commission(commission.PerShare(cost=0, min_trade_cost=0))
        set_slippage(slippage.FixedSlippage(spread=0))

    def handle_data(context: Any, data: Any) -> None:
        closes = data.history(context.asset, "close", SLOW + 1, "1d").to_numpy()
        fast, slow = closes[-FAST:].mean(), closes[-SLOW:].mean()
        fast_prev, slow_prev = closes[-FAST - 1:-1].mean(), closes[:SLOW].mean()
        invested = context.portfolio.positions[context.asset].amount > 0
        if not invested and fast > slow and fast_prev <= slow_prev:
            order_target_percent(context.asset, TARGET)
        elif invested and fast < slow and fast_prev >= slow_prev:
            order_target_percent(context.asset, 0)

    with warnings.catch_warnings():  # pandas deprecation notices raised inside zipline (as the adapter does)
        warnings.simplefilter("ignore", FutureWarning)
        perf = run_algorithm(
            start=start,
            end=end,
            initialize=initialize,
            handle_data=handle_data,
            capital_base=cash,
            data_frequency="daily",
            bundle=bundle,
            benchmark_returns=benchmark,  # zero series: no benchmark (default metrics set otherwise)
        )
    return [(str(t["dt"].date()), t["sid"].symbol, int(t["amount"]), round(float(t["price"]), 3))
            for day in perf["transactions"] for t in day]


def bench_zipline(runs: int) -> dict[str, Any]:
    import pandas as pd

    root = tempfile.mkdtemp(prefix="algotrade-bench-zipline-")
    os.environ["ZIPLINE_ROOT"] = root  # before zipline is imported: one bundle for both sides
    try:
        from adapters.zipline.bundle import ensure_bundle

        exp = experiment("zipline")
        market = load_market(exp.data)  # outside every timed region
        bundle, ingested, ingest_s = ensure_bundle(market, "XNYS")  # ingested once, before timing
        sessions = pd.DatetimeIndex(market.dates)
        benchmark = pd.Series(0.0, index=sessions.tz_localize("UTC"))
        native_args = (bundle, sessions[SLOW], sessions[-1], exp.broker.cash, benchmark)

        # warm-up (imports, calendars, bundle readers) and the trade lists of both sides
        native_fills = native_zipline(*native_args)
        ours = algotrade_fills(exp, market, "zipline")
        same = sum(a == b for a, b in zip(native_fills, ours, strict=False))
        if native_fills == ours:
            note = "both sides made identical trades (date, shares, price)"
        else:
            first = next((k for k, (a, b) in enumerate(zip(native_fills, ours, strict=False)) if a != b),
                         min(len(native_fills), len(ours)))
            note = (f"trade lists differ from trade {first} (native {len(native_fills)}, algotrade {len(ours)}, "
                    f"{same} identical in order): expected from warm-up/ties/zipline share rounding and cash "
                    "rules; timing still compares the same strategy on the same bundle")
        note += (f"; native starts on session {SLOW + 1} ({sessions[SLOW].date()}: zipline history cannot reach "
                 "before the bundle), algotrade runs all sessions with indicators warming up to the same bar; "
                 "native uses the default metrics set and a zero benchmark_returns series")

        native, ours_s = interleaved(runs, (native_zipline, *native_args), (algotrade_fills, exp, market, "zipline"))
        return {"name": "zipline", "native_s": round(native, 4), "algotrade_s": round(ours_s, 4),
                "ratio": round(ours_s / native, 3), "peak_mb": peak_mb(),
                "native_trades": len(native_fills), "algotrade_trades": len(ours), "same_trades": same,
                "sessions": len(sessions), "data": f"SPX sample {sessions[0].date()}..{sessions[-1].date()}",
                "ingest_s": round(ingest_s, 3) if ingested else None, "note": note}
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- compare (the real CLI) ---------------------------------------------------------------------
def bench_compare(warm_runs: int = WARM_RUNS) -> dict[str, Any]:
    cli = ROOT / "bin" / "algotrade"
    tmp = Path(tempfile.mkdtemp(prefix="algotrade-bench-compare-"))
    env = {**os.environ, "ZIPLINE_ROOT": str(tmp / "zipline")}  # fresh and empty: the first run ingests
    cmd = [str(cli), "compare", str(ROOT / "experiments" / "quickstart.yaml"),
           "--engines", "backtrader,zipline", "--out", str(tmp / "results")]

    def once() -> tuple[float, int]:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode not in (0, 1):  # 1 = the engines differ: still a complete run
            raise SystemExit(f"compare failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return seconds, proc.returncode

    try:
        cold, code = once()
        warm = [once()[0] for _ in range(warm_runs)]
        return {"name": "compare_quickstart", "cold_s": round(cold, 3), "warm_s": round(statistics.median(warm), 3),
                "warm_runs": [round(s, 3) for s in warm], "agree": code == 0}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time an SMA(10/30) crossover natively vs through algotrade's adapters (Backtrader, "
        "Zipline; S&P 500 sample 1999-2018) and the real `algotrade compare` CLI on the quickstart, "
        "cold and warm. Prints one JSON line per measurement."
    )
    parser.add_argument("--runs", type=int, default=7, metavar="N",
                        help="interleaved native/algotrade pairs to time per engine (default 7); medians are "
                        f"reported. The compare line always does 1 cold and {WARM_RUNS} warm runs")
    parser.add_argument("--only", choices=LINES, default=None,
                        help="print only this line (default: all, each in its own child process)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    if args.only is None:
        for line in LINES:
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--only", line,
                                   "--runs", str(args.runs)], stdout=subprocess.PIPE, text=True)
            sys.stdout.write(proc.stdout)
            sys.stdout.flush()
            if proc.returncode:
                return proc.returncode
        return 0

    if args.only == "backtrader":
        out = bench_backtrader(args.runs)
    elif args.only == "zipline":
        out = bench_zipline(args.runs)
    else:
        out = bench_compare()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
