"""Chapter 7 (portfolio optimisation): every recipe runs, its weights and share counts are sound,
and the rebalancing strategy trades identically natively in Backtrader and through algotrade's
``pfopt_rebalance`` on Backtrader and Zipline."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, load_experiment
from algotrade.core.data import Market, load_market
from algotrade.core.host import StrategyHost
from algotrade.strategies.pfopt_rebalance import PfoptRebalance, PfoptRebalanceConfig
from recipes.ch07_portfolio_opt import r01_mu_sigma_estimates as r01
from recipes.ch07_portfolio_opt import r02_efficient_frontier_to_orders as r02
from recipes.ch07_portfolio_opt import r03_hrp_allocation as r03
from recipes.ch07_portfolio_opt import r04_rebalancing_strategy_parity as r04
from tests.conftest import ROOT

TOL = 1e-4  # clean_weights rounds to 5 decimals, so a sum can be off by a few 1e-5


@cache
def closes() -> pd.DataFrame:
    return r01.load_closes(r02.SYMBOLS, seed=11, correlation=0.3)


@cache
def experiment() -> tuple[Experiment, Market]:
    exp = load_experiment(ROOT / r04.EXPERIMENT, ("output.report=false",))
    return exp, load_market(exp.data)


@cache
def wrapper_run(engine: str) -> StrategyHost:
    exp, market = experiment()
    host, _ = execute(exp, market, engine)
    return host


def assert_sound(weights: dict[str, float], symbols: list[str], bounds: tuple[float, float] = (0.0, 1.0)) -> None:
    assert list(weights) == symbols
    assert sum(weights.values()) == pytest.approx(1.0, abs=TOL)
    low, high = bounds
    assert all(low - 1e-9 <= w <= high + 1e-9 for w in weights.values()), weights


# --------------------------------------------------------------------------------------------
# the recipes run


def test_r01_mu_sigma_estimates(tmp_path: Path) -> None:
    result = r01.main(out=tmp_path)
    assert result["plot"].exists()
    assert 0 < result["shrinkage"] < 1
    for r in result["by_window"].values():
        # shrinkage is closer to the truth and better conditioned than the sample estimate
        assert r["error_ledoit_wolf"] < r["error_sample"]
        assert r["condition_ledoit_wolf"] < r["condition_sample"]
    # every symbol has the same true expected return: the estimated ones do not persist
    assert abs(result["mu_persistence"]) < 0.3


def test_r02_efficient_frontier_to_orders(tmp_path: Path) -> None:
    result = r02.main(out=tmp_path)
    assert result["plot"].exists()
    for p in result["portfolios"].values():
        assert_sound(p["weights"], list(r02.SYMBOLS), p["bounds"])
    assert result["portfolios"]["max-Sharpe"]["holdings"] < result["portfolios"]["max-Sharpe <=25% L2"]["holdings"]
    assert result["deterministic"]
    value = result["value"]
    assert result["cost_trunc"] <= value and result["cost_greedy"] <= value
    assert result["cost_greedy"] >= result["cost_trunc"]  # greedy spends what trunc leaves
    assert result["leftover_greedy"] == pytest.approx(value - result["cost_greedy"])
    kinds = [q < 0 for _, q in result["orders"]]
    assert kinds == sorted(kinds, reverse=True), "sells come before buys"


def test_r03_hrp_allocation(tmp_path: Path) -> None:
    result = r03.main(out=tmp_path)
    assert result["plot"].exists()
    assert result["clusters_recovered"]
    for weights in result["first_weights"].values():
        assert_sound(weights, result["symbols"])
    stats = result["methods"]
    assert stats["HRP"]["volatility"] < 0.75 * stats["1/N"]["volatility"]
    assert result["rebalances"] > 50


@pytest.mark.slow
def test_r04_rebalancing_strategy_parity(tmp_path: Path) -> None:
    result = r04.main(out=tmp_path)
    assert result["plot"].exists()
    assert result["identical"], result["verdicts"]
    assert "algotrade backtrader" in result["verdicts"]
    assert result["blocked"] == 0
    assert result["rebalances"] > 50


# --------------------------------------------------------------------------------------------
# weights and shares


@pytest.mark.parametrize("covariance", ["sample", "ledoit_wolf"])
@pytest.mark.parametrize(
    ("method", "bounds", "gamma"),
    [("max_sharpe", (0.0, 1.0), 0.0), ("max_sharpe", (0.0, 0.2), 0.1), ("min_volatility", (0.05, 0.3), 0.0),
     ("min_volatility", (0.0, 0.15), 0.5), ("hrp", (0.0, 1.0), 0.0)],
)
def test_target_weights_sum_to_one_within_bounds(method: r03.Method, bounds: tuple[float, float], gamma: float,
                                                  covariance: r01.Covariance) -> None:
    prices = closes()
    for end in (130, 600, 1100, 1700):  # bull and bear regimes
        window = prices.iloc[end - 126 : end]
        weights = r03.target_weights(window, method, bounds, covariance, gamma)
        assert_sound(weights, list(prices.columns), bounds)
        assert weights == r03.target_weights(window.copy(), method, bounds, covariance, gamma)


def test_max_sharpe_falls_back_to_min_volatility_when_nothing_beats_the_risk_free_rate() -> None:
    window = closes().iloc[:126]
    mu, cov = r01.estimate_mu(window), r01.estimate_cov(window)
    bounds = (0.0, 0.25)
    falling = mu - mu.max() - 0.01  # every expected return below zero
    assert r02.frontier_method(falling, "max_sharpe", bounds) == "min_volatility"
    assert r02.frontier_weights(falling, cov, "max_sharpe", bounds) == r02.frontier_weights(falling, cov, "min_volatility", bounds)
    # one rising symbol is not enough when it may hold only 25%
    one_up = falling.copy()
    one_up.iloc[0] = 0.05
    assert r02.best_bounded_return(one_up, bounds) < 0
    assert r02.frontier_method(one_up, "max_sharpe", bounds) == "min_volatility"
    assert r02.frontier_method(one_up, "max_sharpe", (0.0, 1.0)) == "max_sharpe"


def test_infeasible_bounds_are_refused() -> None:
    window = closes().iloc[:126]
    with pytest.raises(ValueError, match="cannot sum to 1"):
        r03.target_weights(window, "max_sharpe", (0.0, 0.1))
    with pytest.raises(ValueError, match="cannot sum to 1"):
        r03.target_weights(window, "min_volatility", (0.2, 0.5))


def test_share_counts_never_exceed_the_cash() -> None:
    rng = np.random.default_rng(3)
    symbols = [f"S{k}" for k in range(8)]
    for _ in range(200):
        raw = rng.random(8) * (rng.random(8) > 0.3)
        if raw.sum() == 0:
            continue
        weights = dict(zip(symbols, np.round(raw / raw.sum(), 5).tolist(), strict=True))
        prices = dict(zip(symbols, np.round(rng.uniform(1, 900, 8), 2).tolist(), strict=True))
        value = float(rng.uniform(1_000, 200_000))
        trunc = r02.shares_by_trunc(weights, prices, value)
        assert all(n >= 0 for n in trunc.values())
        assert r02.cost(trunc, prices) <= value * sum(weights.values()) + 1e-6
        assert r02.cost(r02.shares_by_trunc(weights, prices, value, gross=0.95), prices) <= 0.95 * value + 1e-6
        greedy, left = r02.shares_by_greedy(weights, prices, value)
        assert all(n >= 0 for n in greedy.values())
        assert r02.cost(greedy, prices) <= value + 1e-6 and left >= -1e-6


def test_rebalance_orders_reduce_first_in_target_order() -> None:
    current = {"A": 10, "B": 5, "C": 0, "D": 7}
    target = {"A": 12, "B": 0, "C": 3, "E": 1}
    assert r02.rebalance_orders(current, target) == [("B", -5), ("D", -7), ("A", 2), ("C", 3), ("E", 1)]
    assert r02.rebalance_orders(target, target) == []


# --------------------------------------------------------------------------------------------
# the production strategy


def test_config_is_validated() -> None:
    cfg = PfoptRebalanceConfig.model_validate({"weight_bounds": [0.0, 0.35], "method": "min_volatility"})
    assert cfg.weight_bounds == (0.0, 0.35)
    for bad in ({"weight_bounds": [0.4, 0.3]}, {"weight_bounds": [-0.1, 0.5]}, {"method": "hrp", "gamma": 0.1},
                {"method": "hrp", "weight_bounds": [0.0, 0.5]}, {"method": "black_litterman"},
                {"lookback": 5}, {"rule": "month_end"}, {"lookbak": 100}):
        with pytest.raises(ValidationError):
            PfoptRebalanceConfig.model_validate(bad)
    assert PfoptRebalance().config == PfoptRebalanceConfig.model_validate({})


def test_native_defaults_match_the_wrapper() -> None:
    params: Any = r04.NativePfoptRebalance.params  # Backtrader turns the tuple into a class
    native = dict(params._gettuple())
    for name, field in PfoptRebalanceConfig.model_fields.items():
        assert native[name] == field.default, name


@pytest.mark.slow
def test_native_backtrader_trades_equal_the_wrapper_on_backtrader() -> None:
    exp, market = experiment()
    native = r04.run_native(exp, market)
    host = wrapper_run("backtrader")
    assert not any(o.status in ("blocked", "rejected") for o in host.orders)
    ours = [(f.date, f.symbol, f.quantity, f.price, f.commission) for f in host.fills]
    assert len(ours) > 100
    assert native.fills == ours
    assert [(d, s, q, p) for d, s, q, p, _ in native.fills] == r04.native_trades(exp, market)
    assert [v for _, v in native.values] == pytest.approx([v for _, _, v in host.equity], rel=1e-12)


@pytest.mark.slow
def test_wrapper_trades_identically_on_backtrader_and_zipline() -> None:
    bt_host, zl_host = wrapper_run("backtrader"), wrapper_run("zipline")
    fills = [[(f.date, f.symbol, f.quantity, f.price, f.commission) for f in h.fills] for h in (bt_host, zl_host)]
    assert len(fills[0]) > 100
    assert fills[0] == fills[1]
    assert [(o.symbol, o.quantity, o.status) for o in bt_host.orders] == [
        (o.symbol, o.quantity, o.status) for o in zl_host.orders]
    assert zl_host.equity[-1][2] == pytest.approx(bt_host.equity[-1][2], rel=1e-6)


@pytest.mark.slow
def test_native_equals_wrapper_weekly_hrp_next_open_per_share() -> None:
    exp, _ = experiment()
    exp = load_experiment(ROOT / r04.EXPERIMENT, (
        "output.report=false", "data.start=2014-01-02", "data.end=2015-12-31", "strategy.params.method=hrp",
        "strategy.params.weight_bounds=[0.0, 1.0]", "strategy.params.gamma=0", "strategy.params.lookback=60",
        "strategy.params.covariance=sample", "strategy.params.rule=week_start", "broker.fill=next_open",
        "broker.commission={per_share: 0.005, minimum: 1.0}",
    ))
    market = load_market(exp.data)
    native = r04.native_trades(exp, market)
    host, _ = execute(exp, market, "backtrader")
    assert len(native) > 100
    assert native == [(f.date, f.symbol, f.quantity, f.price) for f in host.fills]
    assert all(isinstance(d, dt.date) for d, *_ in native)
