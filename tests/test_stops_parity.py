"""Protective exits on both backtest engines: hand-made bars for each case of the fill rule, and
identical trades for every stop type on three strategies and two data sets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, StopsConfig, experiment_from_dict
from algotrade.core.data import Market, load_market
from algotrade.core.host import StrategyHost
from tests.stubs import write_csv
from tests.test_parity import DATA, _assert_same, _experiment, _market

ENGINES = ("backtrader", "zipline")
BRACKET = {"stop_loss": 0.05, "take_profit": 0.10}
FLAT = (100.0, 100.5, 99.5, 100.0)


def run_bars(tmp_path: Path, bars: list[tuple[float, float, float, float]], steps: list[list[Any]],
             stops: dict[str, Any], broker: dict[str, Any] | None = None) -> dict[str, StrategyHost]:
    """Run a scripted strategy on hand-made daily bars on both engines; the hosts by engine, after
    checking both made the same fills and orders."""
    day = dt.date(2021, 1, 4)
    rows = []
    for o, h, lo, c in bars:
        rows.append((day.isoformat(), o, h, lo, c, 1_000_000.0))
        day += dt.timedelta(days=3 if day.weekday() == 4 else 1)
    path = write_csv(tmp_path / "x.csv", rows)
    exp = experiment_from_dict({
        "name": "stops", "data": {"source": "csv", "symbols": ["X"], "path": str(path), "calendar": "none"},
        "strategy": {"name": "tests.scripted:Scripted", "params": {"steps": steps}},
        "broker": {"cash": 100_000, "fill": "next_open", **(broker or {})}, "stops": stops,
        "output": {"report": False},
    })
    market = load_market(exp.data)
    hosts = {e: execute(exp, market, e)[0] for e in ENGINES}
    a, b = (h for h in hosts.values())
    assert [(f.date, f.quantity, f.price, f.commission) for f in a.fills] == \
        [(f.date, f.quantity, f.price, f.commission) for f in b.fills]
    assert [(o.id, o.type, o.quantity, o.stop, o.limit, o.status, o.reason, o.tag) for o in a.orders] == \
        [(o.id, o.type, o.quantity, o.stop, o.limit, o.status, o.reason, o.tag) for o in b.orders]
    return hosts


def exit_fills(host: StrategyHost) -> list[tuple[int, int, float]]:
    """(bar index, quantity, price) of the fills of protective exits."""
    index = {d: i for i, d in enumerate(host.bars.dates)}
    return [(index[f.date], f.quantity, f.price) for f in host.fills if host.by_id[f.order_id].type == "exit"]


# bar 1 orders 100 shares; they fill at bar 2's open or close (100); the exit (stop 95, take-profit 110)
# rests from bar 3
@pytest.mark.parametrize(("bar3", "expected"), [
    ((93.0, 96.0, 92.0, 95.0), (3, -100, 93.0)),      # opens below the stop: at the open
    ((112.0, 113.0, 109.0, 111.0), (3, -100, 112.0)),  # gaps over the take-profit: at the open
    ((100.0, 101.0, 94.0, 96.0), (3, -100, 95.0)),    # the low reaches the stop: at the stop
    ((100.0, 111.0, 99.0, 105.0), (3, -100, 110.0)),  # the high reaches the take-profit: at the limit
    ((100.0, 111.0, 94.0, 100.0), (3, -100, 95.0)),   # both touched: the stop wins
], ids=["gap-stop", "gap-profit", "touch-stop", "touch-profit", "both-touched"])
@pytest.mark.parametrize("fill", ["next_open", "next_close"])
def test_bracket_fill_rule_on_hand_made_bars_on_both_engines(
        tmp_path: Path, bar3: tuple[float, float, float, float], expected: tuple[int, int, float], fill: str) -> None:
    bars = [FLAT, FLAT, FLAT, bar3, FLAT, FLAT]
    hosts = run_bars(tmp_path, bars, [[1, "X", "shares", 100]], BRACKET, {"fill": fill})
    for host in hosts.values():
        assert exit_fills(host) == [expected]
        assert host.positions["X"] == 0
        ex = next(o for o in host.orders if o.type == "exit")
        assert (ex.stop, ex.limit, ex.tag, ex.created) == (95.0, 110.0, "bracket", host.bars.dates[2])


def test_an_exit_never_fills_on_the_entry_bar(tmp_path: Path) -> None:
    entry_bar = (100.0, 120.0, 80.0, 100.0)  # touches both levels on the bar the entry fills
    hosts = run_bars(tmp_path, [FLAT, FLAT, entry_bar, FLAT, (100.0, 100.5, 94.0, 95.0), FLAT],
                     [[1, "X", "shares", 100]], BRACKET)
    for host in hosts.values():
        assert exit_fills(host) == [(4, -100, 95.0)]


def test_a_short_position_has_the_mirror_exit(tmp_path: Path) -> None:
    bars = [FLAT, FLAT, FLAT, (100.0, 106.0, 89.0, 100.0), FLAT]  # both touched: the stop (105) wins
    hosts = run_bars(tmp_path, bars, [[1, "X", "shares", -100]], BRACKET)
    for host in hosts.values():
        assert exit_fills(host) == [(3, 100, 105.0)]
        ex = next(o for o in host.orders if o.type == "exit")
        assert (ex.quantity, ex.stop, ex.limit) == (100, 105.0, 90.0)


def test_exit_is_cancelled_when_the_strategy_exits_first(tmp_path: Path) -> None:
    # the strategy sells on bar 4; its market order fills at bar 5's open, a bar that would have
    # stopped the position: the exit was cancelled on bar 4 and never fills
    bars = [FLAT, FLAT, FLAT, FLAT, FLAT, (99.0, 99.5, 80.0, 85.0), FLAT]
    hosts = run_bars(tmp_path, bars, [[1, "X", "shares", 100], [4, "X", "exit", 0]], BRACKET)
    for host in hosts.values():
        assert exit_fills(host) == []
        assert [(f.quantity, f.price) for f in host.fills] == [(100, 100.0), (-100, 99.0)]
        ex = next(o for o in host.orders if o.type == "exit")
        assert ex.status == "cancelled" and ex.filled == 0
        assert not host.open


def test_exit_is_resized_when_the_strategy_reduces(tmp_path: Path) -> None:
    bars = [FLAT, FLAT, FLAT, FLAT, FLAT, (100.0, 100.5, 90.0, 92.0), FLAT]
    hosts = run_bars(tmp_path, bars, [[1, "X", "shares", 100], [3, "X", "shares", 40]], BRACKET)
    for host in hosts.values():
        exits = [o for o in host.orders if o.type == "exit"]
        assert [(o.quantity, o.status) for o in exits] == [(-100, "cancelled"), (-40, "filled")]
        assert exit_fills(host) == [(5, -40, 95.0)]
        assert host.positions["X"] == 0


def test_trailing_stop_ratchets_with_the_closes_and_never_loosens(tmp_path: Path) -> None:
    bars = [FLAT, FLAT, (100.0, 101.0, 99.0, 100.0), (101.0, 106.0, 100.0, 105.0),
            (105.0, 111.0, 104.0, 110.0), (109.0, 109.5, 100.0, 101.0), (101.0, 102.0, 98.0, 99.0), FLAT]
    hosts = run_bars(tmp_path, bars, [[1, "X", "shares", 100]], {"trailing": 0.1})
    for host in hosts.values():
        ex = next(o for o in host.orders if o.type == "exit")
        # set at bar 2's close (90), raised to 94.5 and 99 by the closes of bars 3 and 4; the fall
        # to 101 on bar 5 leaves it at 99, which bar 6's low reaches
        assert exit_fills(host) == [(6, -100, 99.0)]
        assert (ex.stop, ex.limit, ex.tag) == (99.0, None, "trailing")


def test_exit_fill_is_slipped_and_charged_like_any_fill(tmp_path: Path) -> None:
    bars = [FLAT, FLAT, FLAT, (100.0, 101.0, 94.0, 96.0), FLAT]
    hosts = run_bars(tmp_path, bars, [[1, "X", "shares", 100]], {"stop_loss": 0.05},
                     {"slippage": {"bps": 10}, "commission": {"per_share": 0.01, "minimum": 1.0}})
    for host in hosts.values():
        fill = host.fills[-1]
        entry = host.fills[0].price
        assert entry == 100.0 * 1.001
        stop = round(entry * 0.95, 2)
        assert (fill.quantity, fill.price, fill.commission) == (-100, stop * (1 - 0.001), 1.0)


def test_atr_stop_uses_the_atr_of_the_decision_bar(tmp_path: Path) -> None:
    # ATR(3) of bars of range 4 is 4; the entry decided on bar 4 fills at bar 5's open (100):
    # the stop is 100 - 1.5 x 4 = 94, which bar 6's low (95) misses and bar 7's does not
    bars = [(100.0, 102.0, 98.0, 100.0)] * 6 + [(100.0, 100.5, 95.0, 96.0), (95.0, 96.0, 93.0, 94.0)]
    hosts = run_bars(tmp_path, bars, [[4, "X", "shares", 100]], {"atr_stop": 1.5, "atr_window": 3})
    for host in hosts.values():
        ex = next(o for o in host.orders if o.type == "exit")
        assert (ex.stop, ex.tag) == (94.0, "atr_stop")
        assert exit_fills(host) == [(7, -100, 94.0)]


# --- every stop type on three strategies and two data sets: identical trades ------------------
STOPS = {
    "stop_loss": {"stop_loss": 0.02},
    "atr_stop": {"atr_stop": 2.0, "atr_window": 14},
    "take_profit": {"take_profit": 0.04},
    "trailing": {"trailing": 0.03},
    "bracket": {"stop_loss": 0.03, "take_profit": 0.06},
}
CASES = {
    "sma_cross": {"fast": 10, "slow": 30},
    "rsi_reversion": {"period": 14, "oversold": 30, "overbought": 70},
    "bollinger_breakout": {"period": 20, "nbdev": 2.0},
}
SHORT = {
    "sample": {**DATA["two"], "start": "2010-01-04", "end": "2011-12-30"},
    "synthetic": {**DATA["synthetic"], "symbols": ["AAA", "BBB", "CCC"], "end": "2012-12-31"},
}


GOLDEN = Path(__file__).resolve().parent / "golden" / "stops"


def stops_case(stop: str, strategy: str, data: str) -> tuple[Experiment, Market]:
    exp = _experiment(SHORT[data], strategy, CASES[strategy], {"fill": "next_open", "slippage": {"bps": 5}},
                      sizing={"target_percent": 0.3})
    exp = exp.model_copy(update={"stops": StopsConfig.model_validate(STOPS[stop])})
    if data == "sample":
        start, end = (pd.Timestamp(SHORT[data][k]).date() for k in ("start", "end"))
        return exp, _market("two").between(start, end)
    return exp, load_market(exp.data)


def trades_csv(host: StrategyHost) -> str:
    """The fills with their order's type and tag: the golden form of a case."""
    rows = ["date,symbol,quantity,price,commission,order_id,type,tag"]
    for f in host.fills:
        o = host.by_id[f.order_id]
        rows.append(f"{f.date},{f.symbol},{f.quantity},{f.price!r},{f.commission!r},{f.order_id},{o.type},{o.tag}")
    return "\n".join(rows) + "\n"


STOP_CASES = [(s, st, d) for s in sorted(STOPS) for st in sorted(CASES) for d in sorted(SHORT)]


@pytest.mark.slow
@pytest.mark.parametrize(("stop", "strategy", "data"), STOP_CASES, ids=["-".join(c) for c in STOP_CASES])
def test_every_stop_type_trades_identically_on_both_engines(stop: str, strategy: str, data: str) -> None:
    exp, market = stops_case(stop, strategy, data)
    host, _ = execute(exp, market, "backtrader")
    assert any(host.by_id[f.order_id].type == "exit" for f in host.fills), "no exit filled: the case proves nothing"
    golden = GOLDEN / f"{stop}-{strategy}-{data}.csv"
    assert golden.exists(), "no golden: run .venv/bin/python -m tests.test_stops_parity"
    assert trades_csv(host) == golden.read_text()
    _assert_same(exp, market)


def regen() -> None:
    """Rewrite tests/golden/stops/ from Backtrader's trades (then review the git diff)."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for case in STOP_CASES:
        exp, market = stops_case(*case)
        host, _ = execute(exp, market, "backtrader")
        (GOLDEN / f"{'-'.join(case)}.csv").write_text(trades_csv(host))
        print(f"wrote tests/golden/stops/{'-'.join(case)}.csv: {len(host.fills)} trades")

def test_a_grown_position_gets_one_exit_at_the_average_entry(tmp_path: Path) -> None:
    bars = [FLAT, FLAT, FLAT, FLAT, (110.0, 110.5, 109.5, 110.0), (110.0, 110.5, 99.0, 100.0), FLAT]
    hosts = run_bars(tmp_path, bars, [[1, "X", "shares", 50], [3, "X", "shares", 100]], {"stop_loss": 0.05})
    for host in hosts.values():
        exits = [o for o in host.orders if o.type == "exit"]
        # 50 at 100 and 50 at 110: entry 105, stop 99.75 for all 100 shares
        assert [(o.quantity, o.stop, o.status) for o in exits] == [(-50, 95.0, "cancelled"), (-100, 99.75, "filled")]
        assert exit_fills(host) == [(5, -100, 99.75)]


def test_a_flip_cancels_the_long_exit_and_protects_the_short(tmp_path: Path) -> None:
    bars = [FLAT, FLAT, FLAT, FLAT, FLAT, (100.0, 106.0, 99.0, 104.0), FLAT]
    hosts = run_bars(tmp_path, bars, [[1, "X", "shares", 100], [3, "X", "shares", -100]], {"stop_loss": 0.05})
    for host in hosts.values():
        exits = [o for o in host.orders if o.type == "exit"]
        assert [(o.quantity, o.stop, o.status) for o in exits] == [(-100, 95.0, "cancelled"), (100, 105.0, "filled")]
        assert exit_fills(host) == [(5, 100, 105.0)]
        assert host.positions["X"] == 0


if __name__ == "__main__":
    regen()
