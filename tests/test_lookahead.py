"""Look-ahead guard: a decision at bar k is the same whether the data ends at k or continues."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrade.core.config import DataConfig, TargetPercentSizing
from algotrade.core.data import load_market
from algotrade.core.host import StrategyHost
from algotrade.core.indicators import compute_all
from algotrade.core.registry import STRATEGIES, resolve_strategy
from algotrade.core.strategy import Bars
from tests.stubs import RecordingPort

MARKET = load_market(DataConfig(source="sample", symbols=("SPX", "IXIC"), start=dt.date(2004, 1, 2),
                                end=dt.date(2008, 12, 31)))
BARS = MARKET.bars()
SMALL = {
    "sma_cross": {"fast": 5, "slow": 20},
    "momentum_rebalance": {"lookback": 20, "top_n": 1},
    "pairs": {"pairs": [["SPX", "IXIC"]], "hedge": "rolling_ols", "window": 30, "z_window": 10},
    "xgb_walkforward": {"train_bars": 252, "test_bars": 42, "n_estimators": 30},
}


def _cut(bars: Bars, k: int) -> Bars:
    return Bars(bars.dates[:k], {s: {f: a[:k].copy() for f, a in fields.items()} for s, fields in bars.arrays.items()})


def _decisions(name: str, bars: Bars) -> list[tuple[dt.date, str, int]]:
    cls = resolve_strategy(name)
    host = StrategyHost(cls(cls.config_class(**SMALL.get(name, {}))), bars, TargetPercentSizing(target_percent=0.95))
    port = RecordingPort()
    host.start(port)
    for i in range(len(bars)):
        host.on_bar(i)
        for order in port.sent:  # nothing fills: the stub acknowledges and cancels at once
            host.on_order_closed(order.id, "cancelled")
        port.sent.clear()
    return [(o.created, o.symbol, o.quantity) for o in host.orders]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@settings(max_examples=12, deadline=None)
@given(k=st.integers(min_value=30, max_value=len(BARS) - 1))
def test_indicators_are_causal(name: str, k: int) -> None:
    specs = resolve_strategy(name)(None).indicators()
    for arrays in BARS.arrays.values():
        full = compute_all(specs, arrays)
        cut = compute_all(specs, {f: a[:k] for f, a in arrays.items()})
        for key in specs:
            np.testing.assert_array_equal(cut[key], full[key][:k])


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@settings(max_examples=6, deadline=None)
@given(k=st.integers(min_value=60, max_value=len(BARS) - 1))
def test_decisions_do_not_depend_on_later_bars(name: str, k: int) -> None:
    full = _decisions(name, BARS)
    cut = _decisions(name, _cut(BARS, k))
    last = BARS.dates[k - 1]
    assert cut == [d for d in full if d[0] <= last]
    assert full, "the strategy made no decision at all: the test would prove nothing"
