"""What algotrade's Backtrader adapter costs over the same strategy written natively for Backtrader.

Runs an SMA(10/30) crossover on the S&P 500 sample (1999-2018, validated frames) both ways:
natively (``NativeSmaCross`` from tests/native_backtrader.py: bt.talib indicators, stdstats=False)
and through algotrade (``algotrade.run.execute`` on the backtrader engine). Data is loaded once,
outside the timed region; each timed run is the whole engine run (strategy and indicator set-up,
Cerebro, feeds, the bar loop). Runs are interleaved in pairs, alternating which side goes first,
and the medians are compared. Prints one JSON line::

    {"name": "backtrader", "native_s": ..., "algotrade_s": ..., "ratio": ..., "peak_mb": ...}

Usage: python bench/adapter_overhead.py [--runs N]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from algotrade.config import Experiment, experiment_from_dict  # noqa: E402
from algotrade.data import Market, load_market  # noqa: E402
from algotrade.results import tables  # noqa: E402
from algotrade.run import execute  # noqa: E402
from tests.native_backtrader import NativeSmaCross, make_cerebro  # noqa: E402

FAST, SLOW = 10, 30


def experiment() -> Experiment:
    return experiment_from_dict({
        "name": "adapter-overhead",
        "data": {"source": "sample", "symbols": ["SPX"], "start": "1999-01-04", "end": "2018-12-31",
                 "calendar": "XNYS"},
        "strategy": {"name": "sma_cross", "params": {"fast": FAST, "slow": SLOW}},
        "engine": "backtrader",
        "broker": {"cash": 100_000, "fill": "next_close", "commission": "none", "slippage": "none"},
        "sizing": {"target_percent": 0.95},
        "output": {"report": False},
    })


def run_native(market: Market, cash: float) -> list[tuple[str, str, int, float, float]]:
    cerebro = make_cerebro(market.frames, cash=cash)
    cerebro.addstrategy(NativeSmaCross, fast=FAST, slow=SLOW, fill="next_close", target_percent=0.95)
    (strat,) = cerebro.run(runonce=True, preload=True)
    return strat.fills  # type: ignore[no-any-return]


def run_algotrade(exp: Experiment, market: Market) -> list[tuple[str, str, int, float, float]]:
    host, _ = execute(exp, market, "backtrader")
    return [(str(f.date), f.symbol, f.quantity, f.price, f.commission) for f in host.fills]


def timed(fn, *args):  # type: ignore[no-untyped-def]
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time an SMA(10/30) crossover on Backtrader, native vs through algotrade's adapter "
        "(S&P 500 sample 1999-2018); print one JSON line with the medians and their ratio."
    )
    parser.add_argument("--runs", type=int, default=7, metavar="N",
                        help="interleaved native/algotrade pairs to time (default 7); medians are reported")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    exp = experiment()
    market = load_market(exp.data)  # outside every timed region

    # warm-up, and a check that both sides make the same trades (otherwise the timing means nothing)
    native_fills = run_native(market, exp.broker.cash)
    host, _ = execute(exp, market, "backtrader")
    ours = [(str(r.date), r.symbol, int(r.quantity), float(r.price), float(r.commission))
            for r in tables(host).trades.itertuples(index=False)]
    if ours != native_fills:
        print(f"trade lists differ: native {len(native_fills)} trades, algotrade {len(ours)}", file=sys.stderr)
        return 1

    native_s: list[float] = []
    algotrade_s: list[float] = []
    for k in range(args.runs):
        pair = [("native", run_native, (market, exp.broker.cash)), ("algotrade", run_algotrade, (exp, market))]
        if k % 2:
            pair.reverse()
        for name, fn, fn_args in pair:
            seconds, _ = timed(fn, *fn_args)
            (native_s if name == "native" else algotrade_s).append(seconds)

    native, ours_s = statistics.median(native_s), statistics.median(algotrade_s)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({
        "name": "backtrader",
        "native_s": round(native, 4),
        "algotrade_s": round(ours_s, 4),
        "ratio": round(ours_s / native, 3),
        "peak_mb": round(peak_mb, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
