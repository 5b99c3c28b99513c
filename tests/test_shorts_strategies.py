"""Every strategy with ``long_only: false`` goes short on both engines alike, and ``risk.long_only``
still blocks every short; the Bollinger mirror rule shorts a close below the lower band."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import talib

from algotrade.backtest.run import execute
from algotrade.core.config import experiment_from_dict
from algotrade.core.data import load_market

PARAMS: dict[str, dict[str, Any]] = {
    "sma_cross": {"fast": 10, "slow": 30},
    "rsi_reversion": {"period": 14, "oversold": 35, "overbought": 65},
    "bollinger_breakout": {"period": 20, "nbdev": 1.5},
}


def _experiment(strategy: str, **risk: Any) -> Any:
    return experiment_from_dict({
        "name": "ls", "data": {"source": "sample", "symbols": ["SPX", "IXIC"], "start": "2007-01-03",
                               "end": "2010-12-31"},
        "strategy": {"name": strategy, "params": {**PARAMS[strategy], "long_only": False}},
        "engines": ["backtrader", "zipline"], "broker": {"cash": 100_000, "short_margin": 0.5,
                                                         "borrow_fee_bps": 30},
        "sizing": {"target_percent": 0.9}, "risk": risk, "output": {"report": False},
    })


@pytest.mark.parametrize("strategy", sorted(PARAMS))
def test_a_long_short_strategy_trades_identically_on_both_engines(strategy: str) -> None:
    exp = _experiment(strategy)
    market = load_market(exp.data)
    hosts = {e: execute(exp, market, e)[0] for e in ("backtrader", "zipline")}
    fills = {e: [(f.date, f.symbol, f.quantity, f.price, f.commission) for f in h.fills] for e, h in hosts.items()}
    assert fills["backtrader"] == fills["zipline"]
    assert [round(e, 2) for _, _, e in hosts["backtrader"].equity] == [round(e, 2) for _, _, e in hosts["zipline"].equity]
    held: dict[str, int] = {}
    shorts = 0
    for _, symbol, quantity, _, _ in fills["backtrader"]:
        held[symbol] = held.get(symbol, 0) + quantity
        shorts += held[symbol] < 0
    assert shorts > 3, f"{strategy}: too few short entries to prove anything"


@pytest.mark.parametrize("strategy", sorted(PARAMS))
def test_risk_long_only_blocks_the_shorts_of_every_long_short_strategy(strategy: str) -> None:
    exp = _experiment(strategy, long_only=True)
    market = load_market(exp.data)
    for engine in ("backtrader", "zipline"):
        host, _ = execute(exp, market, engine)
        held: dict[str, int] = {}
        for f in host.fills:
            held[f.symbol] = held.get(f.symbol, 0) + f.quantity
            assert held[f.symbol] >= 0, (engine, f)


def test_the_bollinger_mirror_rule_shorts_a_close_below_the_lower_band() -> None:
    exp = _experiment("bollinger_breakout")
    market = load_market(exp.data)
    host, _ = execute(exp, market, "backtrader")
    held: dict[str, int] = {}
    opened = 0
    for f in host.fills:
        before = held.get(f.symbol, 0)
        held[f.symbol] = before + f.quantity
        if held[f.symbol] < 0 <= before:  # this fill opened a short: decided on the bar before (next_close)
            frame = market.frames[f.symbol]
            close = frame["close"].to_numpy()
            _, _, lower = talib.BBANDS(close, timeperiod=20, nbdevup=1.5, nbdevdn=1.5)
            k = int(np.flatnonzero(frame.index.date == f.date)[0]) - 1
            assert close[k] < lower[k] and close[k - 1] >= lower[k - 1], f
            opened += 1
    assert opened > 3
