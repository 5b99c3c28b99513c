"""Chapters 3 (vectorized) and 4 (Backtrader): every recipe runs, and every parity hook holds.

* each recipe's ``main(out=tmp_path)`` runs and returns sensible figures;
* each declared ``native_trades`` equals algotrade's own trades of the wrapper, on its experiment,
  for next_close, next_open and another cost model — exactly (date, symbol, quantity, price);
* the vectorized backtest matches the event-driven engine: trades and commissions exactly, equity
  within its stated ``EQUITY_RTOL``, rejected entries included;
* the decision functions work on floats and arrays alike, and production calls them (no copies).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from algotrade.backtest.run import execute
from algotrade.core.config import DataConfig, Experiment, load_experiment
from algotrade.core.data import Market, load_market
from algotrade.core.host import StrategyHost
from algotrade.core.registry import STRATEGIES
from recipes.ch03_vectorized import r01_ma_crossover_signals as r01
from recipes.ch03_vectorized import r02_vectorized_backtest_with_costs as r02
from recipes.ch03_vectorized import r05_oscillator_signals as r05
from tests.conftest import ROOT

CH03 = "recipes.ch03_vectorized"
CH04 = "recipes.ch04_backtrader"


@functools.lru_cache(maxsize=8)
def market_for(data: DataConfig) -> Market:
    return load_market(data)


def algotrade_run(exp: Experiment) -> tuple[Market, StrategyHost]:
    market = market_for(exp.data)
    host, _ = execute(exp, market, "backtrader")
    return market, host


def fills(host: StrategyHost) -> list[tuple[dt.date, str, int, float]]:
    return [(f.date, f.symbol, f.quantity, f.price) for f in host.fills]


# --------------------------------------------------------------------------------------------
# every recipe runs and prints sensible figures


def test_ch03_r01_signals(tmp_path: Path) -> None:
    f = r01.main(out=tmp_path)
    assert f["bars"] == 2013 and f["entries"] == 34 and f["exits"] == 33  # the quickstart's 67 trades
    assert f["same_as_scalar_loop"]
    assert 0.3 < f["time_in_market"] < 0.9
    assert f["look_ahead_return"] > f["strategy_return"], "the look-ahead version should look too good"
    assert f["synthetic_rolling_flips"] > 0, "the page shows pandas' rolling mean flipping a tie"
    assert Path(f["plot"]).stat().st_size > 10_000


def test_ch03_r02_vectorized_backtest(tmp_path: Path) -> None:
    f = r02.main(out=tmp_path)
    cases = list(f["cases"].values())
    assert all(c["trades"] == 67 for c in cases)
    assert cases[0]["final_equity"] == pytest.approx(126_525.73, abs=0.005)  # the README's quickstart
    assert cases[0]["commission"] == 0 and cases[0]["slippage"] == 0
    assert cases[1]["commission"] == 67.0  # $1 minimum on each of 67 orders
    assert cases[0]["final_equity"] > cases[1]["final_equity"] > cases[2]["final_equity"]
    assert Path(f["plot"]).exists()


def test_ch03_r03_grid(tmp_path: Path) -> None:
    mod = importlib.import_module(f"{CH03}.r03_parameter_grid")
    f = mod.main(out=tmp_path)
    assert f["pairs"] == int(f["table"].notna().to_numpy().sum()) > 40
    assert f["best_sharpe"] == pytest.approx(float(np.nanmax(f["table"].to_numpy())))
    assert f["best_sharpe"] >= f["quickstart_sharpe"]
    assert -1 < f["buy_hold_sharpe"] < 2
    assert Path(f["plot"]).exists()


def test_ch03_r04_walk_forward(tmp_path: Path) -> None:
    mod = importlib.import_module(f"{CH03}.r04_walk_forward_optimization")
    f = mod.main(out=tmp_path)
    per_fold = f["per_fold"]
    assert f["folds"] == len(per_fold) == 16 and list(per_fold.index) == list(range(2003, 2019))
    assert (per_fold["fast"] < per_fold["slow"]).all()
    assert f["mean_in_sample_sharpe"] > f["out_of_sample_sharpe"], "out of sample should be less flattering"
    assert f["final_equity"] > 0 and math.isfinite(f["out_of_sample_sharpe"])
    assert Path(f["plot"]).exists()


def test_ch03_r04_folds_never_overlap_their_test_year() -> None:
    mod = importlib.import_module(f"{CH03}.r04_walk_forward_optimization")
    frame = r01.load_spx("1999-01-04", "2018-12-31")
    for fold in mod.yearly_folds(frame.index):
        assert fold.train.stop == fold.test.start  # training ends the day before the test year
        assert set(frame.index[fold.test].year) == {fold.test_year}


def test_ch03_r05_oscillators(tmp_path: Path) -> None:
    f = r05.main(out=tmp_path)
    assert f["scalar_equals_array"]
    assert (f["rsi"]["entries"], f["rsi"]["exits"]) == (14, 13)  # the rsi_reversion golden's 27 trades
    assert (f["bollinger"]["entries"], f["bollinger"]["exits"]) == (77, 77)  # bollinger_breakout's 154
    assert Path(f["plot"]).exists()


def test_ch04_r01_pandasdata(tmp_path: Path) -> None:
    mod = importlib.import_module(f"{CH04}.r01_pandasdata_sma_strategy")
    f = mod.main(out=tmp_path)
    assert f["fills"] == 67 and f["final_value"] == pytest.approx(126_525.73, abs=0.005)
    assert f["same_as_vectorized"]
    assert any("BUY" in line for line in f["journal"]) and any("round trip" in line for line in f["journal"])


def test_ch04_r02_rsi_signals(tmp_path: Path) -> None:
    mod = importlib.import_module(f"{CH04}.r02_rsi_long_short_signals")
    f = mod.main(out=tmp_path)
    assert f["line_equals_array"] and f["signal_long_same_trades"]
    assert f["long_only_fills"] == 27
    assert f["long_short_fills"] > f["long_only_fills"] and f["short_entries"] > 0
    assert f["long_short_value"] > 0


def test_ch04_r03_bollinger_analyzers(tmp_path: Path) -> None:
    mod = importlib.import_module(f"{CH04}.r03_bollinger_with_costs_analyzers")
    f = mod.main(out=tmp_path)
    assert f["analyzers_consistent"]
    runs = list(f["runs"].values())
    assert all(r["fills"] == 154 for r in runs)
    assert runs[0]["commission"] == 0 < runs[1]["commission"] < runs[2]["commission"]
    assert f["annual_returns"] == sorted(f["annual_returns"], reverse=True), "more costs, less return"
    assert all(0 < r["max_drawdown_pct"] < 100 for r in runs)
    assert Path(f["plot"]).exists()


def test_ch04_r04_external_signals(tmp_path: Path) -> None:
    mod = importlib.import_module(f"{CH04}.r04_external_signal_feed")
    f = mod.main(out=tmp_path)
    assert f["line_is_column"]
    for stats in (f["long_short"], f["long_only"]):
        assert stats["rebalances"] > 300 and stats["fills"] > stats["rebalances"]
        assert stats["final_value"] > 0 and 0 < stats["max_drawdown_pct"] < 100
    assert Path(f["plot"]).exists()


# --------------------------------------------------------------------------------------------
# parity hooks: native fills == algotrade's own, on the declared experiment and two variations

HOOKS = [f"{CH03}.r02_vectorized_backtest_with_costs", f"{CH04}.r01_pandasdata_sma_strategy",
         f"{CH04}.r02_rsi_long_short_signals", f"{CH04}.r03_bollinger_with_costs_analyzers"]
OTHER_FILL = {"next_close": "next_open", "next_open": "next_close"}
OTHER_COSTS = {  # a cost model that the experiment does not already use
    "experiments/quickstart.yaml": ("broker.commission={per_share: 0.015, minimum: 1.0}", "broker.slippage={bps: 5}"),
    "experiments/rsi_reversion.yaml": ("broker.commission={percent: 0.001}", "broker.slippage=none"),
    "experiments/bollinger_breakout.yaml": ("broker.commission={per_share: 0.005, minimum: 1.0}",
                                            "broker.slippage={bps: 3}"),
}
VARIANTS = ["as declared", "other fill", "other costs"]


def variant(module: ModuleType, name: str) -> Experiment:
    path = ROOT / module.EXPERIMENT
    exp = load_experiment(path)
    if name == "other fill":
        return load_experiment(path, (f"broker.fill={OTHER_FILL[exp.broker.fill]}",))
    if name == "other costs":
        return load_experiment(path, OTHER_COSTS[module.EXPERIMENT])
    return exp


def test_declared_hooks_name_real_things() -> None:
    for name in HOOKS:
        module = importlib.import_module(name)
        assert module.WRAPPED_BY in STRATEGIES
        assert (ROOT / module.EXPERIMENT).exists()
        assert module.ENGINE in ("backtrader", "vectorized")
        assert load_experiment(ROOT / module.EXPERIMENT).strategy.name == module.WRAPPED_BY


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("hook", HOOKS, ids=[h.rsplit(".", 1)[-1][:3] + "-" + h.split(".")[1][:4] for h in HOOKS])
def test_native_trades_equal_algotrade(hook: str, name: str) -> None:
    module = importlib.import_module(hook)
    exp = variant(module, name)
    market, host = algotrade_run(exp)
    ours = fills(host)
    native = module.native_trades(exp, market)
    assert len(ours) >= 20, f"only {len(ours)} trades: the case tests too little"
    for k, (a, b) in enumerate(zip(native, ours, strict=False)):
        assert a == b, f"trade {k}: native {a} vs algotrade {b}"
    assert len(native) == len(ours)


# --------------------------------------------------------------------------------------------
# the vectorized backtest against the event-driven engine, beyond the trade list


def vectorized(exp: Experiment, market: Market, signal: Any = None) -> r02.Backtest:
    (symbol, frame), = market.frames.items()
    if signal is None:
        p = exp.strategy.params
        close = frame["close"].to_numpy()
        signal = r01.crossover_signals(r01.sma(close, p.get("fast", 10)), r01.sma(close, p.get("slow", 30)))
    return r02.backtest(frame, signal, symbol=symbol, **r02.settings_from_experiment(exp))


def assert_same_books(exp: Experiment, signal_of: Any = None, min_trades: int = 20) -> r02.Backtest:
    market, host = algotrade_run(exp)
    run = vectorized(exp, market, signal_of(market) if signal_of else None)
    assert [(t.date, t.symbol, t.quantity, t.price, t.commission) for t in run.trades] == [
        (f.date, f.symbol, f.quantity, f.price, f.commission) for f in host.fills]
    assert len(run.trades) >= min_trades
    engine_equity = np.array([v for _, _, v in host.equity])
    engine_cash = np.array([c for _, c, _ in host.equity])
    np.testing.assert_array_equal(run.equity["cash"].to_numpy(), engine_cash)  # cash: exact
    np.testing.assert_allclose(run.equity["equity"].to_numpy(), engine_equity, rtol=r02.EQUITY_RTOL, atol=0)
    return run


@pytest.mark.parametrize("overrides", [
    (),
    ("broker.fill=next_open", "broker.commission={percent: 0.001}", "broker.slippage={bps: 5}"),
    ("data.start=null", "data.end=null", "strategy.params={fast: 5, slow: 20}", "sizing={fixed_shares: 40}"),
])
def test_vectorized_books_match_the_engine(overrides: tuple[str, ...]) -> None:
    assert_same_books(load_experiment(ROOT / "experiments" / "quickstart.yaml", overrides))


def test_vectorized_rejects_entries_the_engine_rejects() -> None:
    """With 100% of equity per entry, an up-gap at the fill leaves too little cash: no trade."""
    exp = load_experiment(ROOT / "experiments" / "quickstart.yaml",
                          ("data.symbols=[IXIC]", "data.start=null", "data.end=null", "sizing={target_percent: 1.0}"))
    run = assert_same_books(exp)
    assert len(run.rejected) > 5


def test_vectorized_rsi_and_bollinger_signals_trade_like_production() -> None:
    rsi_exp = load_experiment(ROOT / "experiments" / "rsi_reversion.yaml")
    assert_same_books(rsi_exp, lambda m: r05.rsi_signals(m.frames["IXIC"]["close"].to_numpy(), **rsi_exp.strategy.params))
    bb_exp = load_experiment(ROOT / "experiments" / "bollinger_breakout.yaml", ("broker.fill=next_open",))
    assert_same_books(bb_exp, lambda m: r05.bollinger_signals(m.frames["SPX"]["close"].to_numpy(), **bb_exp.strategy.params))


# --------------------------------------------------------------------------------------------
# the decision functions


def test_crossover_on_floats_ties_and_nan() -> None:
    nan = math.nan
    assert r01.crossover(2.0, 1.0, 1.0, 1.0) == 1  # from a tie to above: a cross up
    assert r01.crossover(1.0, 2.0, 1.0, 1.0) == -1  # from a tie to below: a cross down
    assert r01.crossover(2.0, 1.0, 2.0, 1.0) == 0  # still above
    assert r01.crossover(1.0, 1.0, 0.0, 1.0) == 0  # a tie is not a cross
    assert r01.crossover(2.0, 1.0, nan, 1.0) == 0 and r01.crossover(nan, 1.0, 0.0, 1.0) == 0
    assert type(r01.crossover(2.0, 1.0, 1.0, 1.0)) is int


def test_signal_functions_agree_on_floats_and_arrays() -> None:
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(0, 1, (6, 400)), 1)  # one decimal: plenty of exact ties
    x[:, :3] = np.nan
    a, b, c, d, e, f = x
    assert r01.crossover(a, b, c, d).tolist() == [r01.crossover(*v) for v in zip(a, b, c, d, strict=True)]
    levels = a * 50 + 50
    assert r05.rsi_reversion_signal(levels, 30, 70).tolist() == [r05.rsi_reversion_signal(v, 30, 70) for v in levels]
    upper, middle = np.maximum(b, c), np.minimum(b, c)
    upper_prev, middle_prev = np.maximum(e, f), np.minimum(e, f)
    array = r05.bollinger_breakout_signal(a, upper, middle, d, upper_prev, middle_prev)
    loop = [r05.bollinger_breakout_signal(*v) for v in zip(a, upper, middle, d, upper_prev, middle_prev, strict=True)]
    assert array.tolist() == loop
    assert set(np.unique(array)) <= {-1, 0, 1}


def test_holdings_and_position_shift() -> None:
    signal = np.array([0, 1, 1, 0, -1, -1, 0, 1, 0])
    assert r01.holdings(signal).tolist() == [0, 1, 1, 1, 0, 0, 0, 1, 1]
    assert r01.position(signal).tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 1]  # one bar later: no look-ahead
    entries, exits = r01.entries_exits(signal)
    assert entries.tolist() == [1, 7] and exits.tolist() == [4]


def test_production_strategies_call_the_recipe_functions() -> None:
    sma_cross = importlib.import_module("algotrade.strategies.sma_cross")
    rsi_reversion = importlib.import_module("algotrade.strategies.rsi_reversion")
    bollinger = importlib.import_module("algotrade.strategies.bollinger_breakout")
    assert sma_cross.crossover is r01.crossover
    assert rsi_reversion.rsi_reversion_signal is r05.rsi_reversion_signal
    assert bollinger.bollinger_breakout_signal is r05.bollinger_breakout_signal
