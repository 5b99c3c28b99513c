"""Sizing a short: every method sizes a short entry as the mirror of the long of the same weight
(Kelly on the short's own returns), a risk_per_trade short's stop rests above the entry, and a
long/short run under each method trades identically on Backtrader and Zipline."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from algotrade.backtest.run import execute
from algotrade.core.config import experiment_from_dict
from algotrade.core.data import load_market
from algotrade.core.sizing import Entry, entry_size, method_for, stop_level
from tests.test_sizing_methods import METHODS, _experiment

RISING = [100.0 * 1.002 ** k for k in range(60)]
FALLING = [100.0 * 0.998 ** k for k in range(60)]


def _entry(closes: list[float]) -> Entry:
    wobble = [c * (1.01 if k % 2 else 0.995) for k, c in enumerate(closes)]  # returns with a variance
    return Entry([c * 1.02 for c in wobble], [c * 0.98 for c in wobble], wobble, len(wobble) - 1, Decimal(100_000))


@pytest.mark.parametrize("name", sorted(set(METHODS) - {"kelly"}))
def test_a_short_is_sized_as_the_mirror_of_the_long_of_the_same_weight(name: str) -> None:
    method = method_for(_experiment("sample", "sma_cross", METHODS[name]).sizing, "SPX")
    entry = _entry(RISING)
    for weight in (1.0, 0.5, 0.3):
        long, short = entry_size(method, entry, weight), entry_size(method, entry, -weight)
        assert long != 0 and short == -long and type(short) is type(long)


def test_a_shorts_kelly_stake_comes_from_the_negated_returns() -> None:
    method = method_for(_experiment("sample", "sma_cross", METHODS["kelly"]).sizing, "SPX")
    up, down = _entry(RISING), _entry(FALLING)
    assert entry_size(method, up, 1.0) > 0 and entry_size(method, up, -1.0) == 0  # no edge shorting a rise
    assert entry_size(method, down, 1.0) == 0 and entry_size(method, down, -1.0) < 0
    r = np.diff(down.close[-41:]) / np.array(down.close[-41:-1])
    stake = min(max(0.5 * -float(np.mean(r)) / float(np.var(r, ddof=1)), 0.0), 0.5)
    assert -entry_size(method, down, -1.0) == pytest.approx(Decimal(repr(stake)) * 100_000, rel=1e-12)


def test_a_risk_per_trade_shorts_stop_rests_above_the_entry() -> None:
    method = method_for(_experiment("sample", "sma_cross", METHODS["risk_per_trade"]).sizing, "SPX")
    entry = _entry(RISING)
    close = entry.close[entry.i]
    below, above = stop_level(method, entry), stop_level(method, entry, side=-1)
    assert below is not None and above is not None
    assert below < close < above and above - close == pytest.approx(close - below, abs=0.011)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_long_short_run_under_each_method_trades_identically_on_both_engines(name: str) -> None:
    exp = experiment_from_dict({
        "name": "ls_sizing", "data": {"source": "sample", "symbols": ["SPX"], "start": "2007-01-03",
                                      "end": "2009-12-31"},
        "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30, "long_only": False}},
        "engines": ["backtrader", "zipline"], "broker": {"cash": 100_000, "short_margin": 0.5},
        "sizing": METHODS[name], "output": {"report": False},
    })
    market = load_market(exp.data)
    hosts = {e: execute(exp, market, e)[0] for e in ("backtrader", "zipline")}
    fills = {e: [(f.date, f.symbol, f.quantity, f.price) for f in h.fills] for e, h in hosts.items()}
    assert fills["backtrader"] == fills["zipline"]
    assert any(q < 0 for _, _, q, _ in fills["backtrader"]), f"{name}: no short fills, the case proves nothing"
    if name == "risk_per_trade":  # the implied ATR stop protects shorts too: some short is covered by it
        host = hosts["backtrader"]
        assert any(f.quantity > 0 and host.by_id[f.order_id].type == "exit" for f in host.fills)
