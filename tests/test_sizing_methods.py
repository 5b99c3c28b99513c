"""Sizing methods in a run: every method, per symbol and per strategy, gives the same trades on
Backtrader and Zipline (three strategies, two data sets); the entry sizes are the formulas'
(checked against an independent computation on the bars the strategy saw); bad values fail with
one line naming the field."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, StopsConfig, experiment_from_dict
from algotrade.core.data import Market, load_market
from algotrade.core.errors import ConfigError
from algotrade.core.sizing import Entry, entry_size, method_for, resolve, run_stops, stop_level
from tests.test_parity import _assert_same
from tests.test_stops_parity import trades_csv

DATA: dict[str, dict[str, Any]] = {
    "sample": {"source": "sample", "symbols": ["SPX", "IXIC"], "start": "2010-01-04", "end": "2011-12-30"},
    "synthetic": {"source": "synthetic", "symbols": ["AAA", "BBB", "CCC"], "start": "2012-01-03",
                  "end": "2013-12-31", "synthetic": {"seed": 5, "correlation": 0.3}},
}
STRATEGIES: dict[str, dict[str, Any]] = {
    "sma_cross": {"fast": 10, "slow": 30},
    "rsi_reversion": {"period": 14, "oversold": 35, "overbought": 65},
    "bollinger_breakout": {"period": 20, "nbdev": 1.5},
}
METHODS: dict[str, dict[str, Any]] = {
    "fixed_shares": {"fixed_shares": 40},
    "fixed_cash": {"fixed_cash": 20_000},
    "target_percent": {"target_percent": 0.6},
    "vol_target": {"vol_target": {"annual": 0.1, "window": 20, "max_leverage": 0.8}},
    "kelly": {"kelly": {"fraction": 0.5, "window": 40, "cap": 0.5}},
    "risk_per_trade": {"risk_per_trade": {"risk": 0.01, "atr_window": 14, "atr_mult": 2.0}},
}


def _experiment(data: str, strategy: str, sizing: dict[str, Any], strategy_sizing: dict[str, Any] | None = None,
                broker: dict[str, Any] | None = None) -> Experiment:
    ref: dict[str, Any] = {"name": strategy, "params": STRATEGIES[strategy]}
    if strategy_sizing is not None:
        ref["sizing"] = strategy_sizing
    return experiment_from_dict({
        "name": "sizing", "data": DATA[data], "strategy": ref, "engines": ["backtrader", "zipline"],
        "broker": {"cash": 100_000, **(broker or {})}, "sizing": sizing, "output": {"report": False},
    })


@cache
def _market(data: str) -> Market:
    return load_market(_experiment(data, "sma_cross", {"target_percent": 0.5}).data)


@pytest.mark.slow
@pytest.mark.parametrize("data", sorted(DATA))
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_method_trades_identically_on_both_engines(method: str, strategy: str, data: str) -> None:
    exp = _method_case(method, strategy, data)
    host, _ = execute(exp, _market(data), "backtrader")
    golden = GOLDEN / f"{method}-{strategy}-{data}.csv"
    assert golden.exists(), "no golden: run .venv/bin/python -m tests.test_sizing_methods"
    assert trades_csv(host) == golden.read_text()
    _assert_same(exp, _market(data))


GOLDEN = Path(__file__).resolve().parent / "golden" / "sizing"
METHOD_CASES = [(m, st, d) for m in sorted(METHODS) for st in sorted(STRATEGIES) for d in sorted(DATA)]


def _method_case(method: str, strategy: str, data: str) -> Experiment:
    return _experiment(data, strategy, METHODS[method], broker={"commission": {"per_share": 0.005}})


def regen() -> None:
    """Rewrite tests/golden/sizing/ from Backtrader's trades (then review the git diff)."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for case in METHOD_CASES:
        host, _ = execute(_method_case(*case), _market(case[2]), "backtrader")
        (GOLDEN / f"{'-'.join(case)}.csv").write_text(trades_csv(host))
        print(f"wrote tests/golden/sizing/{'-'.join(case)}.csv: {len(host.fills)} trades")


def test_per_symbol_and_per_strategy_trade_identically_on_both_engines() -> None:
    per_symbol = {"default": {"target_percent": 0.3}, "per_symbol": {
        "AAA": {"vol_target": {"annual": 0.1}}, "BBB": {"risk_per_trade": {"risk": 0.005}}}}
    _assert_same(_experiment("synthetic", "sma_cross", per_symbol), _market("synthetic"))
    _assert_same(_experiment("sample", "sma_cross", {"target_percent": 0.9}, {"kelly": {"cap": 0.4}}),
                 _market("sample"))


def _entries(exp: Experiment, market: Market) -> list[tuple[int, str, int, float]]:
    """(decision bar, symbol, shares, account value at that bar) of every filled order that opened
    a position from flat, on Backtrader (the parity tests hold Zipline to the same)."""
    host, _ = execute(exp, market, "backtrader")
    dates = list(market.dates.date)
    value = {d: v for d, _, v in host.equity}
    held: dict[str, int] = {}
    opens: list[tuple[int, str, int, float]] = []
    for order in host.orders:
        if order.status != "filled":
            continue
        if order.quantity > 0 and held.get(order.symbol, 0) == 0:
            opens.append((dates.index(order.created), order.symbol, order.quantity, value[order.created]))
        held[order.symbol] = held.get(order.symbol, 0) + order.quantity
    assert len(opens) >= 3, "too few entries: the case proves little"
    return opens


def _close(market: Market, symbol: str) -> pd.Series:
    return market.frames[symbol]["close"]


def test_vol_target_entries_hold_annual_over_realized_vol_of_equity() -> None:
    market = _market("sample")
    for bar, symbol, shares, equity in _entries(_experiment("sample", "sma_cross", METHODS["vol_target"]), market):
        close = _close(market, symbol)
        vol = float(close.pct_change().rolling(20).std(ddof=1).iloc[bar]) * math.sqrt(252)
        assert shares == math.floor(min(0.1 / vol, 0.8) * 0.5 * equity / float(close.iloc[bar]) + 1e-9)


def test_kelly_entries_hold_fraction_mean_over_var_clipped() -> None:
    market = _market("synthetic")
    exp = _experiment("synthetic", "sma_cross", METHODS["kelly"])
    for bar, symbol, shares, equity in _entries(exp, market):
        r = _close(market, symbol).pct_change()
        f = float(np.clip(0.5 * r.rolling(40).mean().iloc[bar] / r.rolling(40).var(ddof=1).iloc[bar], 0, 0.5))
        assert f > 0  # a Kelly entry only happens on a positive trailing edge
        assert shares == math.floor(f * equity / 3 / float(_close(market, symbol).iloc[bar]) + 1e-9)


def test_risk_per_trade_entries_risk_the_fraction_at_the_talib_atr_stop() -> None:
    import talib

    market = _market("sample")
    exp = _experiment("sample", "bollinger_breakout", METHODS["risk_per_trade"])
    for bar, symbol, shares, equity in _entries(exp, market):
        f = market.frames[symbol]
        atr = talib.ATR(f["high"].to_numpy(), f["low"].to_numpy(), f["close"].to_numpy(), timeperiod=14)[bar]
        price = float(f["close"].iloc[bar])
        assert shares == min(math.floor(equity * 0.01 * 0.5 / (2.0 * atr)), math.floor(equity / price))
        seen = {k: f[k].tolist() for k in ("high", "low", "close")}
        entry = Entry(seen["high"], seen["low"], seen["close"], bar, Decimal(repr(equity)))
        assert stop_level(method_for(exp.sizing, symbol), entry) == pytest.approx(price - 2.0 * atr, abs=0.005)  # to the cent


def test_fixed_cash_per_strategy_wins_over_the_experiments_sizing() -> None:
    market = _market("sample")
    exp = _experiment("sample", "sma_cross", {"target_percent": 0.9}, {"fixed_cash": 20_000})
    assert resolve(exp) == exp.strategy.sizing
    for bar, symbol, shares, _ in _entries(exp, market):
        assert shares == math.floor(10_000 / float(_close(market, symbol).iloc[bar]))


def test_per_symbol_sizing_uses_each_symbols_method_and_the_default() -> None:
    market = _market("synthetic")
    sizing = {"default": {"target_percent": 0.3}, "per_symbol": {"BBB": {"fixed_shares": 150}}}
    seen = set()
    for bar, symbol, shares, equity in _entries(_experiment("synthetic", "sma_cross", sizing), market):
        seen.add(symbol)
        if symbol == "BBB":
            assert shares == 50  # 150 x weight 1/3
        else:
            assert shares == math.floor(0.3 * equity / 3 / float(_close(market, symbol).iloc[bar]) + 1e-9)
    assert "BBB" in seen and len(seen) > 1


def test_stop_level_is_none_for_methods_without_a_stop() -> None:
    entry = Entry([11.0] * 30, [9.0] * 30, [10.0] * 30, 29, Decimal(100_000))
    for name, raw in METHODS.items():
        exp = _experiment("sample", "sma_cross", raw)
        level = stop_level(method_for(exp.sizing, "SPX"), entry)
        assert (level is None) == (name != "risk_per_trade")
    assert entry_size(method_for(_experiment("sample", "sma_cross", METHODS["risk_per_trade"]).sizing, "SPX"),
                      entry, 1.0) == 250  # 100k x 1% / (2 x ATR 2.0)


@pytest.mark.parametrize(("sizing", "message"), [
    ({"vol_target": {"annual": 0.15, "window": 1}}, "sizing.vol_target.window: 1 is too short; use at least 2 bars"),
    ({"kelly": {"window": 0}}, "sizing.kelly.window: 0 is too short; use at least 2 bars"),
    ({"kelly": {"fraction": 1.5}}, "sizing.kelly.fraction: Input should be less than or equal to 1"),
    ({"vol_target": {"annual": 0}}, "sizing.vol_target.annual: Input should be greater than 0"),
    ({"risk_per_trade": {"risk": 0.01, "atr_mul": 2}}, "unknown key 'sizing.risk_per_trade.atr_mul'; did you mean 'atr_mult'?"),
    ({"risk_per_trade": {"atr_window": 14}}, "sizing.risk_per_trade.risk: this key is required"),
    ({"fixed_cash": -5}, "sizing.fixed_cash: Input should be greater than 0"),
    ({"volatility": 0.1}, "sizing: {'volatility': 0.1} is not allowed"),
    ({"default": {"target_percent": 0.3}, "per_symbol": {"SPX": {"kelly": {"cap": 0}}}},
     "sizing.per_symbol.SPX.kelly.cap: Input should be greater than 0"),
])
def test_bad_sizing_values_fail_with_one_line_naming_the_field(sizing: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _experiment("sample", "sma_cross", sizing)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError) as again:
        _experiment("sample", "sma_cross", {"target_percent": 0.5}, sizing)
    assert message.replace("sizing", "strategy.sizing", 1) in str(again.value)


def test_per_symbol_naming_a_symbol_outside_the_data_is_an_error() -> None:
    exp = _experiment("sample", "sma_cross", {"default": {"target_percent": 0.3}, "per_symbol": {"SPY": {"fixed_shares": 1}}})
    with pytest.raises(ConfigError, match=r"sizing.per_symbol: SPY not in data.symbols \(SPX, IXIC\)"):
        resolve(exp)


@pytest.mark.parametrize("method", ["vol_target", pytest.param("risk_per_trade", marks=pytest.mark.slow),
                                    pytest.param("per_strategy_kelly", marks=pytest.mark.slow)])
def test_paper_run_against_the_gateway_simulator_gives_the_backtests_sized_trades(method: str, tmp_path: Path) -> None:
    """The live runner sizes with the experiment's method (the strategy's when it has one): a
    paper run against the simulator fills exactly the backtest's orders."""
    from algotrade.core.config import load_experiment
    from tests.rehearsal import fills, rehearse
    from tests.test_paper import PAPER, SHORT

    sizing = {"vol_target": "sizing={vol_target: {annual: 0.1, window: 20, max_leverage: 0.9}}",
              "risk_per_trade": "sizing={risk_per_trade: {risk: 0.02, atr_window: 14, atr_mult: 1.5}}",
              "per_strategy_kelly": "strategy.sizing={kelly: {fraction: 0.5, window: 30, cap: 0.8}}"}[method]
    exp = load_experiment(PAPER, (*SHORT, sizing))
    market = load_market(exp.data)
    paper, shadow = rehearse(exp, market, tmp_path / "journal.sqlite", client_id=23)
    ours, expected = fills(paper), fills(shadow)
    assert len(expected) >= 4 and ours == expected
    baseline, _ = execute(load_experiment(PAPER, SHORT), market, "backtrader")
    assert [f.quantity for f in baseline.fills] != [f.quantity for f in shadow.fills]  # the sizing took effect


def test_risk_per_trade_rests_the_stop_it_sizes_against_on_both_engines() -> None:
    """A risk_per_trade entry is sized for a stop atr_mult ATRs away: that stop is placed, as the
    stops section's atr_stop exit, and trades identically on both engines."""
    exp = _experiment("sample", "sma_cross", METHODS["risk_per_trade"])
    stops = run_stops(exp)
    assert stops is not None and (stops.atr_stop, stops.atr_window) == (2.0, 14)
    host, _ = execute(exp, _market("sample"), "backtrader")
    exits = [o for o in host.orders if o.type == "exit"]
    assert exits and {o.tag for o in exits} == {"atr_stop"}
    assert any(o.status == "filled" for o in exits), "no stop was hit: the case proves nothing"
    _assert_same(exp, _market("sample"))


def test_explicit_stops_keys_win_over_the_implied_risk_per_trade_stop() -> None:
    def stops_of(stops: dict[str, Any] | None, sizing: dict[str, Any] = METHODS["risk_per_trade"]) -> Any:
        exp = _experiment("sample", "sma_cross", sizing)
        return run_stops(exp.model_copy(update={"stops": None if stops is None else StopsConfig(**stops)}))

    assert stops_of({"stop_loss": 0.03}) == StopsConfig(stop_loss=0.03)
    assert stops_of({"atr_stop": 3.0, "atr_window": 10}) == StopsConfig(atr_stop=3.0, atr_window=10)
    assert stops_of({"trailing": 0.05}) == StopsConfig(trailing=0.05, atr_stop=2.0, atr_window=14)
    assert stops_of(None, {"target_percent": 0.5}) is None
    per_symbol = {"default": METHODS["risk_per_trade"],
                  "per_symbol": {"IXIC": {"risk_per_trade": {"risk": 0.01, "atr_mult": 3.0}}}}
    with pytest.raises(ConfigError, match=r"stops\.atr_stop"):
        stops_of(None, per_symbol)


if __name__ == "__main__":
    regen()
