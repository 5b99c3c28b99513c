"""What the risk layer adds per bar, beside each engine's own per-bar time.

One experiment: weekly momentum (``momentum_rebalance``, top 10 of 50 by 63-session return,
rebalanced at each week's start) on a 50-symbol synthetic universe (seed 7, XNYS, the first
``--sessions`` of 2010-01-04 .. 2013-12-31, default SESSIONS),
run twice on each engine through ``algotrade.backtest.run.execute``:

- ``plain``: no risk checks (the risk section's defaults) and no stops;
- ``risk``: every key of the risk section set (RISK: position, leverage, net exposure, order
  notional, position count, drawdown and daily-loss halts, a historical VaR limit, on_breach) and
  every stop (STOPS). RISK must name every field of ``RiskConfig`` (the run stops with the names
  it lacks otherwise), so a check added to the config is in the bench the day it is added.

For each engine the two sides are interleaved in pairs, alternating which goes first, after one
untimed warm-up run each (the Zipline bundle is ingested there); the medians are compared. Only
the engine run is timed (the data is loaded once, outside). One JSON line per engine::

    {"name": "risk_overhead", "engine": "backtrader", "symbols": 50, "bars": ..., "runs": ...,
     "plain_s": ..., "risk_s": ..., "engine_us_per_bar": ..., "risk_us_per_bar": ...,
     "risk_pct": ..., "risk_events": ..., "exits": ..., "checks": [...]}

``engine_us_per_bar`` is the plain run's time per bar (one bar = one session of all 50 symbols);
``risk_us_per_bar`` is the difference of the medians per bar, ``risk_pct`` that difference over
the plain run.

Usage: python bench/risk_overhead.py [--runs N] [--engines backtrader,zipline] [--sessions N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from algotrade.backtest.run import execute  # noqa: E402
from algotrade.core.config import Experiment, RiskConfig, experiment_from_dict  # noqa: E402
from algotrade.core.data import Market, load_market  # noqa: E402
from bench.adapter_overhead import interleaved  # noqa: E402

SYMBOLS = tuple(f"S{i:02d}" for i in range(50))
SESSIONS = 504
#: every risk key set (the bench checks that none is missing)
RISK: dict[str, Any] = {
    "long_only": True,
    "max_position_pct": 0.12,
    "max_gross_leverage": 1.0,
    "max_order_notional": 150_000,
    "max_drawdown_pct": 0.5,
    "daily_loss_limit_pct": 0.2,
    "max_positions": 9,
    "max_net_exposure": 0.9,
    "var": {"limit": 0.03, "confidence": 0.99, "method": "historical", "window": 60},
    "on_breach": "resize",
}
STOPS: dict[str, Any] = {"stop_loss": 0.08, "take_profit": 0.25, "trailing": 0.12}
#: keys that choose or describe the checks rather than being one
NOT_CHECKS = ("profile",)


def missing_checks() -> list[str]:
    return sorted(set(RiskConfig.model_fields) - set(RISK) - set(NOT_CHECKS))


def experiment(engine: str, with_risk: bool) -> Experiment:
    doc: dict[str, Any] = {
        "name": "risk-overhead",
        "data": {"source": "synthetic", "symbols": list(SYMBOLS), "start": "2010-01-04",
                 "end": "2013-12-31", "calendar": "XNYS", "synthetic": {"seed": 7, "correlation": 0.3}},
        "strategy": {"name": "momentum_rebalance",
                     "params": {"lookback": 63, "top_n": 10, "absolute": False, "rule": "week_start"}},
        "engine": engine,
        "broker": {"cash": 1_000_000, "fill": "next_close"},
        "sizing": {"target_percent": 0.95},
        "output": {"report": False},
    }
    if with_risk:
        doc["risk"] = RISK
        doc["stops"] = STOPS
    return experiment_from_dict(doc)


def bench(engine: str, runs: int, sessions: int) -> dict[str, Any]:
    plain, risky = experiment(engine, False), experiment(engine, True)
    full: Market = load_market(plain.data)
    if not 2 <= sessions <= len(full.dates):
        raise SystemExit(f"bench/risk_overhead.py: --sessions {sessions}: use 2 .. {len(full.dates)}")
    market = full.between(full.dates[0].date(), full.dates[sessions - 1].date())
    host, _ = execute(risky, market, engine)  # warm-up (and the Zipline bundle) outside the timing
    execute(plain, market, engine)
    plain_s, risk_s = interleaved(runs, (execute, plain, market, engine), (execute, risky, market, engine))
    bars = len(market.dates)
    exits = sum(1 for o in host.orders if getattr(o, "type", None) == "exit")
    return {
        "name": "risk_overhead", "engine": engine, "symbols": len(SYMBOLS), "bars": bars, "runs": runs,
        "plain_s": round(plain_s, 4), "risk_s": round(risk_s, 4),
        "engine_us_per_bar": round(plain_s / bars * 1e6, 1),
        "risk_us_per_bar": round((risk_s - plain_s) / bars * 1e6, 1),
        "risk_pct": round((risk_s - plain_s) / plain_s * 100, 1),
        "risk_events": len(host.risk_events), "exits": exits,
        "checks": sorted(k for k in RISK if k != "on_breach") + sorted(k for k in STOPS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed pairs per engine (default 5)")
    parser.add_argument("--engines", default="backtrader,zipline")
    parser.add_argument("--sessions", type=int, default=SESSIONS, help=f"bars of the run (default {SESSIONS})")
    args = parser.parse_args()
    lacking = missing_checks()
    if lacking:
        raise SystemExit(f"bench/risk_overhead.py: RISK lacks {', '.join(lacking)}; give each a value that is checked")
    with tempfile.TemporaryDirectory() as root:
        os.environ.setdefault("ZIPLINE_ROOT", root)  # a bench's bundles never touch the user's
        for engine in (e.strip() for e in args.engines.split(",") if e.strip()):
            print(json.dumps(bench(engine, args.runs, args.sessions)), flush=True)


if __name__ == "__main__":
    main()
