"""Chapter 6 (machine-learning signals): the recipes run, the purged splitter never leaks, and the
production strategy xgb_walkforward is look-ahead free, agrees with the recipes, trades the same on
both engines and reports out-of-sample results only."""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrade.backtest.run import execute
from algotrade.core.config import (
    DataConfig,
    Experiment,
    TargetPercentSizing,
    experiment_from_dict,
    load_experiment,
)
from algotrade.core.data import Market, load_market
from algotrade.core.host import StrategyHost
from algotrade.core.results import metrics, tables
from algotrade.core.strategy import Bars
from algotrade.strategies.xgb_walkforward import Prediction, XgbWalkForward, XgbWalkForwardConfig
from recipes.ch06_ml_signals.r01_feature_engineering import (
    FEATURES,
    direction_labels,
    feature_lookback,
    feature_matrix,
    lookahead_features,
    make_features,
    sample_frame,
)
from recipes.ch06_ml_signals.r02_purged_walk_forward_cv import (
    Fold,
    LeakError,
    check_purged,
    folds_from_index_pairs,
    split_problems,
    walk_forward_splits,
)
from recipes.ch06_ml_signals.r03_xgboost_direction_model import fit_direction_model
from recipes.ch06_ml_signals.r04_walk_forward_predictions_to_signals import (
    long_flat_positions,
    next_position,
    rank_weights,
    walk_forward_predict,
)
from tests.stubs import RecordingPort

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "xgb_walkforward.yaml"

# --------------------------------------------------------------------------------------------
# every recipe runs (the slower ones train a few dozen models)

RECIPES = [
    pytest.param("r01_feature_engineering", id="r01"),
    pytest.param("r02_purged_walk_forward_cv", id="r02"),
    pytest.param("r03_xgboost_direction_model", id="r03", marks=pytest.mark.slow),
    pytest.param("r04_walk_forward_predictions_to_signals", id="r04", marks=pytest.mark.slow),
    pytest.param("r05_signal_quality_ic_turnover", id="r05", marks=pytest.mark.slow),
]


def _check_r01(result: dict[str, Any]) -> None:
    assert result["lookahead_ours"] == {}
    assert set(result["lookahead_leaky"]) == {"centred_sma_gap_21", "zscore_full_sample_ret_21"}
    assert result["first_complete_row"] == result["warmup"] == 63
    assert 0.5 < result["base_rate"] < 0.65


def _check_r02(result: dict[str, Any]) -> None:
    assert result["problems"] == {"rolling": [], "expanding": []}
    assert result["sklearn_problems"]["gap=0"] > 0 and result["sklearn_problems"]["gap=5"] == 0
    assert "purge (2) is shorter" in result["refused_short_purge"]


def _check_r03(result: dict[str, Any]) -> None:
    assert result["reproducible"] and result["folds"] == 32
    assert 0.4 < result["mean_auc"] < 0.6 and abs(result["mean_ic"]) < 0.15  # no miracle on an index
    assert result["scores"]["n"].iloc[:-1].eq(126).all()


def _check_r04(result: dict[str, Any]) -> None:
    proba = result["proba"].to_numpy()
    first = result["first_oos_bar"]
    assert np.isnan(proba[:first]).all() and np.isfinite(proba[first:]).all()
    assert (result["fold_of"][first:] >= 0).all()
    assert result["index"]["long/flat p>0.50"]["exposure"] < 1.0
    gross = result["basket_weights"].abs().sum(axis=1)
    assert set(np.round(gross.unique(), 12)) <= {0.0, 1.0}


def _check_r05(result: dict[str, Any]) -> None:
    reports = result["reports"]
    assert reports["leak: future + noise"]["mean_ic"] > 0.2 and reports["leak: future + noise"]["t_stat"] > 5
    assert abs(reports["xgb OOS probability"]["t_stat"]) < 3  # no edge exists in the synthetic basket
    assert 0 < reports["momentum 21d"]["rank_autocorr"] <= 1


CHECKS = {"r01": _check_r01, "r02": _check_r02, "r03": _check_r03, "r04": _check_r04, "r05": _check_r05}


@pytest.mark.parametrize("module", RECIPES)
def test_recipe_runs(module: str, tmp_path: Path) -> None:
    recipe = importlib.import_module(f"recipes.ch06_ml_signals.{module}")
    result = recipe.main(out=tmp_path)
    assert isinstance(result, dict)
    assert Path(result["plot"]).exists() and Path(result["plot"]).parent == tmp_path
    CHECKS[module[:3]](result)


# --------------------------------------------------------------------------------------------
# features and labels


def test_declared_warmup_matches_the_leading_nans() -> None:
    frame = sample_frame("SPX", "2010-01-04", "2012-12-31")
    features = make_features(frame, tuple(FEATURES))
    for name, feature in FEATURES.items():
        values = features[name].to_numpy()
        assert np.isnan(values[: feature.lookback]).all(), name
        assert np.isfinite(values[feature.lookback :]).all(), name
    assert feature_lookback(tuple(FEATURES)) == 199


def test_every_feature_is_causal() -> None:
    frame = sample_frame("IXIC", "2005-01-03", "2008-12-31")
    build = lambda f: make_features(f, tuple(FEATURES))  # noqa: E731
    assert lookahead_features(build, frame, [1, 30, 64, 210, 500, len(frame) - 1]) == {}


def test_labels_are_unknown_for_the_last_horizon_bars() -> None:
    close = np.array([10.0, 11, 10, 12, 12, 13])
    np.testing.assert_array_equal(direction_labels(close, 2), [0.0, 1, 1, 1, np.nan, np.nan])


def test_the_model_refuses_labels_not_known_yet() -> None:
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="NaN"):
        fit_direction_model(X, np.array([0.0, 1.0, np.nan, 1.0]))
    constant = fit_direction_model(X, np.ones(4))  # one class: nothing to learn, predict the base rate
    np.testing.assert_array_equal(constant.predict_up(X), np.ones(4))


# --------------------------------------------------------------------------------------------
# the purged walk-forward splitter


def _brute_force_leaks(folds: list[Fold], horizon: int) -> list[tuple[int, int]]:
    """(fold, training bar) for every training label window [t, t + horizon] that touches the test window."""
    leaks = []
    for fold in folds:
        test = set(fold.test)
        leaks += [(fold.index, t) for t in fold.train if test & set(range(t, t + horizon + 1))]
    return leaks


def _assert_sound(n: int, train: int, test: int, horizon: int, purge: int, expanding: bool, start: int) -> None:
    folds = walk_forward_splits(n, train_size=train, test_size=test, horizon=horizon, purge=purge,
                                expanding=expanding, start=start)
    assert _brute_force_leaks(folds, horizon) == []
    assert split_problems(folds, horizon, purge) == []
    first_test = start + train + purge
    # the test windows tile [first_test, n) exactly once, in order
    assert [i for f in folds for i in f.test] == list(range(first_test, n))
    for fold in folds:
        assert fold.test.start - fold.train[-1] - 1 == purge  # the purge gap, exactly
        assert fold.train[0] == start if expanding else len(fold.train) == train
        assert fold.train[0] >= start and 0 < len(fold.test) <= test
    # a prefix of the data gives a prefix of the folds (only the last test window may be cut)
    for m in range(n):
        early = walk_forward_splits(m, train_size=train, test_size=test, horizon=horizon, purge=purge,
                                    expanding=expanding, start=start)
        assert [(f.train, f.test.start) for f in early] == [(f.train, f.test.start) for f in folds[: len(early)]]


def test_splitter_exhaustively_on_small_cases() -> None:
    for n, train, test, horizon, extra, expanding, start in itertools.product(
        range(0, 19), (1, 2, 4), (1, 3), (1, 2, 3), (0, 2), (False, True), (0, 2)
    ):
        _assert_sound(n, train, test, horizon, horizon + extra, expanding, start)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 400), train=st.integers(1, 120), test=st.integers(1, 60), horizon=st.integers(1, 21),
       extra=st.integers(0, 10), expanding=st.booleans(), start=st.integers(0, 70))
def test_splitter_never_leaks(n: int, train: int, test: int, horizon: int, extra: int, expanding: bool,
                              start: int) -> None:
    folds = walk_forward_splits(n, train_size=train, test_size=test, horizon=horizon, purge=horizon + extra,
                                expanding=expanding, start=start)
    assert _brute_force_leaks(folds, horizon) == []
    assert split_problems(folds, horizon, horizon + extra) == []
    assert all(f.test.start - f.train[-1] - 1 == horizon + extra for f in folds)


def test_splitter_refuses_a_purge_shorter_than_the_horizon() -> None:
    with pytest.raises(ValueError, match="purge"):
        walk_forward_splits(100, train_size=20, test_size=5, horizon=5, purge=4)
    assert walk_forward_splits(100, train_size=20, test_size=5, horizon=5)[0].test.start == 25  # purge defaults to 5


def test_the_check_catches_what_brute_force_finds() -> None:
    from sklearn.model_selection import TimeSeriesSplit

    positions = np.arange(200)
    for gap in range(0, 6):
        folds = folds_from_index_pairs(TimeSeriesSplit(n_splits=5, test_size=20, gap=gap).split(positions))
        leaky = bool(_brute_force_leaks(folds, 3))
        assert leaky == (gap < 3)
        assert bool(split_problems(folds, 3, purge=3)) == (gap < 3)
        if gap < 3:
            with pytest.raises(LeakError):
                check_purged(folds, 3)
    backwards = [Fold(0, range(50, 60), range(10, 20))]  # trains on the future
    assert any("at or after" in p for p in split_problems(backwards, 1))


# --------------------------------------------------------------------------------------------
# predictions to positions


def test_long_flat_rule_with_hysteresis() -> None:
    proba = np.array([np.nan, 0.6, 0.52, 0.48, 0.56, np.nan, 0.7])
    np.testing.assert_array_equal(long_flat_positions(proba, 0.55, 0.5), [0, 1, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(long_flat_positions(proba, 0.5), [0, 1, 1, 0, 1, 0, 1])
    assert next_position(0, 0.55, 0.55) == 0 and next_position(1, 0.55, 0.55) == 1


def test_rank_weights_are_dollar_neutral() -> None:
    import pandas as pd

    scores = pd.DataFrame([[0.1, 0.9, 0.5, 0.3], [np.nan, 0.2, 0.8, np.nan]], columns=list("ABCD"))
    w = rank_weights(scores, top_n=1)
    assert w.iloc[0].tolist() == [-0.5, 0.5, 0.0, 0.0]
    assert w.iloc[1].tolist() == [0.0, -0.5, 0.5, 0.0]
    assert rank_weights(scores, top_n=2).iloc[1].abs().sum() == 0.0  # too few scores for 2 + 2


# --------------------------------------------------------------------------------------------
# the production strategy

SMALL = {"train_bars": 252, "test_bars": 42, "n_estimators": 30, "seed": 3}


@cache
def _bars() -> Bars:
    return load_market(DataConfig.model_validate(
        {"source": "sample", "symbols": ["SPX"], "start": "2006-01-03", "end": "2009-12-31"})).bars()


def _cut(bars: Bars, k: int) -> Bars:
    return Bars(bars.dates[:k], {s: {f: a[:k].copy() for f, a in fa.items()} for s, fa in bars.arrays.items()})


def _run(bars: Bars, params: dict[str, Any]) -> tuple[XgbWalkForward, list[tuple[dt.date, str, int]]]:
    """Run the strategy through the host; nothing fills (every order is cancelled at once)."""
    strategy = XgbWalkForward(XgbWalkForwardConfig(**params))
    host = StrategyHost(strategy, bars, TargetPercentSizing(target_percent=0.95))
    port = RecordingPort()
    host.start(port)
    for i in range(len(bars)):
        host.on_bar(i)
        for order in port.sent:
            host.on_order_closed(order.id, "cancelled")
        port.sent.clear()
    host.stop()
    return strategy, [(o.created, o.symbol, o.quantity) for o in host.orders]


@cache
def _full() -> tuple[XgbWalkForward, list[tuple[dt.date, str, int]]]:
    return _run(_bars(), SMALL)


def _assert_same_up_to(k: int) -> None:
    full_strategy, full = _full()
    cut_strategy, cut = _run(_cut(_bars(), k), SMALL)
    last = _bars().dates[k - 1]
    assert cut == [d for d in full if d[0] <= last]
    preds: list[Prediction] = full_strategy.predictions["SPX"]
    assert cut_strategy.predictions.get("SPX", []) == [p for p in preds if p.date <= last]


def test_strategy_config_is_validated() -> None:
    with pytest.raises(ValueError, match="purge"):
        XgbWalkForwardConfig(horizon=5, purge=3)
    with pytest.raises(ValueError, match="did you mean 'rsi_14'"):
        XgbWalkForwardConfig(features=("rsi14",))
    with pytest.raises(ValueError, match="exit_threshold"):
        XgbWalkForwardConfig(threshold=0.5, exit_threshold=0.6)
    with pytest.raises(ValueError):
        XgbWalkForwardConfig(unknown=1)  # type: ignore[call-arg]
    assert XgbWalkForwardConfig().first_test_bar == 63 + 504 + 5


def test_strategy_decisions_at_fold_boundaries_do_not_depend_on_later_bars() -> None:
    first = XgbWalkForwardConfig(**SMALL).first_test_bar
    _, full = _full()
    assert full and min(d for d, _, _ in full) >= _bars().dates[first]  # nothing before the first test bar
    for k in (first, first + 1, first + 42, first + 43, first + 2 * 42 + 1):
        _assert_same_up_to(k)


@settings(max_examples=4, deadline=None)
@given(k=st.integers(min_value=300, max_value=1006))
def test_strategy_decisions_do_not_depend_on_later_bars(k: int) -> None:
    _assert_same_up_to(k)


def test_strategy_predictions_are_the_recipes_walk_forward_predictions() -> None:
    """Bar-by-bar production predictions equal r04's stitched out-of-sample predictions, bit for bit."""
    strategy, _ = _full()
    cfg = strategy.config
    arrays = _bars().arrays["SPX"]
    X = feature_matrix(arrays["close"], arrays["high"], arrays["low"], cfg.features)
    y = direction_labels(arrays["close"], cfg.horizon)
    folds = walk_forward_splits(len(_bars()), train_size=cfg.train_bars, test_size=cfg.test_bars,
                                horizon=cfg.horizon, start=cfg.warmup)
    proba, fold_of = walk_forward_predict(X, y, folds, cfg.horizon, seed=cfg.seed, n_estimators=cfg.n_estimators,
                                          max_depth=cfg.max_depth, learning_rate=cfg.learning_rate)
    preds = strategy.predictions["SPX"]
    bars = np.array([p.bar for p in preds])
    assert bars[0] == cfg.first_test_bar and np.array_equal(bars, np.arange(bars[0], len(_bars())))
    np.testing.assert_array_equal(np.array([p.proba for p in preds]), proba[bars])
    np.testing.assert_array_equal(np.array([p.fold for p in preds]), fold_of[bars])
    assert [m["fold"] for m in strategy.fold_metrics] == [f.index for f in folds]
    assert all(np.isfinite(m["auc"]) for m in strategy.fold_metrics[:-1])


def _experiment(data: dict[str, Any], params: dict[str, Any]) -> Experiment:
    return experiment_from_dict({
        "name": "xgb", "data": data, "strategy": {"name": "xgb_walkforward", "params": params},
        "engines": ["backtrader", "zipline"], "broker": {"cash": 100_000, "commission": {"percent": 0.0005}},
        "sizing": {"target_percent": 0.95}, "output": {"report": False},
    })


@pytest.mark.slow
def test_strategy_trades_identically_on_both_engines() -> None:
    exp = _experiment({"source": "sample", "symbols": ["SPX"], "start": "2007-01-03", "end": "2009-12-31"}, SMALL)
    market: Market = load_market(exp.data)
    bt, _ = execute(exp, market, "backtrader")
    zl, _ = execute(exp, market, "zipline")
    assert len(bt.fills) > 10, "too few trades: the comparison proves little"
    assert [(f.date, f.symbol, f.quantity, f.price, f.commission) for f in bt.fills] == \
        [(f.date, f.symbol, f.quantity, f.price, f.commission) for f in zl.fills]
    assert [(o.created, o.quantity, o.status) for o in bt.orders] == [(o.created, o.quantity, o.status) for o in zl.orders]
    assert bt.equity[-1][2] == pytest.approx(zl.equity[-1][2], rel=1e-9)


@pytest.mark.slow
def test_experiment_results_are_out_of_sample_only() -> None:
    """Every trade and every change of equity in the shipped experiment falls after the first test bar."""
    exp = load_experiment(EXPERIMENT)
    market = load_market(exp.data)
    host, _ = execute(exp, market, exp.engine_names[0])
    strategy = host.strategy
    assert isinstance(strategy, XgbWalkForward)
    first = strategy.config.first_test_bar
    first_date = market.dates[first].date()
    # each model was trained on bars whose labels end before its first prediction, with the purge in between
    for fold, _, last_train_date in strategy.folds["SPX"]:
        assert fold.train[-1] + strategy.config.horizon < fold.test.start
        assert fold.test.start - fold.train[-1] - 1 >= strategy.config.purge_bars
        assert last_train_date < market.dates[fold.test.start].date()
    assert strategy.predictions["SPX"][0].bar == first
    assert min(o.created for o in host.orders) >= first_date
    assert min(f.date for f in host.fills) > first_date
    cash = exp.broker.cash
    assert all(value == cash for date, _, value in host.equity if date <= first_date)
    # the run's metrics therefore come only from the out-of-sample bars: the same return measured from there
    tbl = tables(host)
    oos_equity = tbl.equity[tbl.equity["date"].astype(str) >= str(first_date)].reset_index(drop=True)
    whole = metrics(tbl, cash)
    oos = metrics(type(tbl)(tbl.trades, tbl.orders, oos_equity), cash)
    assert whole["total_return"] == pytest.approx(oos["total_return"], rel=1e-12)
    assert whole["max_drawdown"] == pytest.approx(oos["max_drawdown"], rel=1e-12)
    assert whole["trade_count"] == oos["trade_count"] > 100
    assert len(strategy.fold_metrics) == len(strategy.folds["SPX"]) > 40
