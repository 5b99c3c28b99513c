"""Planted pairs in the synthetic source: y = alpha + beta * x + an AR(1) spread of a known
half-life, independent controls, deterministic under the seed, valid bars, one-line refusals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from algotrade.core.config import PlantedPair, SyntheticConfig, experiment_from_dict
from algotrade.core.data import load_market
from algotrade.core.errors import ConfigError
from algotrade.core.synthetic import generate
from algotrade.core.validation import check_rows, check_storage

SESSIONS = pd.bdate_range("2015-01-02", periods=1000)
PAIR = {"y": "Y", "x": "X", "beta": 1.5, "alpha": 10.0, "half_life": 8.0, "spread_vol": 1.0}


def _cfg(seed: int = 3, **pair: Any) -> SyntheticConfig:
    return SyntheticConfig(seed=seed, pairs=(PlantedPair(**{**PAIR, **pair}),), independent=("A", "B"))


def _data(**synthetic: Any) -> dict[str, Any]:
    return {"name": "syn", "data": {"source": "synthetic", "symbols": ["Y", "X", "A", "B"], "synthetic": synthetic},
            "strategy": {"name": "sma_cross"}, "engine": "backtrader"}


def test_the_planted_close_is_alpha_plus_beta_x_plus_an_ar1_spread_of_the_half_life() -> None:
    frames = generate(("Y", "X", "A", "B"), SESSIONS, _cfg())
    spread = frames["Y"]["close"].to_numpy() - 10.0 - 1.5 * frames["X"]["close"].to_numpy()
    assert np.abs(spread).max() < 15  # bounded, where x itself wanders over tens of dollars
    # AR(1) fit of the (cent-rounded) spread: phi = 0.5 ** (1 / 8) = 0.917
    phi = np.polyfit(spread[:-1], spread[1:], 1)[0]
    assert abs(-np.log(2) / np.log(phi) - 8.0) < 8.0 * 0.2
    assert abs(np.std(np.diff(spread)) - 1.0 * np.sqrt(2 / (1 + 0.5 ** (1 / 8)))) < 0.1


def test_planting_leaves_every_other_symbol_as_it_was() -> None:
    plain = generate(("Y", "X", "C"), SESSIONS, SyntheticConfig(seed=3))
    planted = generate(("Y", "X", "C"), SESSIONS, SyntheticConfig(seed=3, pairs=(PlantedPair(**PAIR),)))
    for symbol in ("X", "C"):
        pd.testing.assert_frame_equal(plain[symbol], planted[symbol])
    assert not plain["Y"]["close"].equals(planted["Y"]["close"])


def test_independent_symbols_are_uncorrelated_with_the_rest() -> None:
    frames = generate(("Y", "X", "A", "B"), SESSIONS, SyntheticConfig(seed=3, correlation=0.8, independent=("A", "B")))
    r = pd.DataFrame({s: np.diff(np.log(f["close"].to_numpy())) for s, f in frames.items()})
    assert r.corr().loc["Y", "X"] > 0.7
    for a, b in (("A", "B"), ("A", "X"), ("B", "Y")):
        assert abs(r.corr().loc[a, b]) < 0.1


def test_an_independent_x_carries_its_planted_y_with_it() -> None:
    cfg = SyntheticConfig(seed=3, correlation=0.8, pairs=(PlantedPair(**PAIR),), independent=("X",))
    frames = generate(("Y", "X", "C"), SESSIONS, cfg)
    r = pd.DataFrame({s: np.diff(np.log(f["close"].to_numpy())) for s, f in frames.items()})
    assert abs(r.corr().loc["X", "C"]) < 0.1 and r.corr().loc["Y", "X"] > 0.5
    spread = frames["Y"]["close"].to_numpy() - 10.0 - 1.5 * frames["X"]["close"].to_numpy()
    assert np.abs(spread).max() < 15


@pytest.mark.parametrize("seed", [0, 4, 7, 21, 99, 2024])
def test_controls_are_clear_negatives_on_every_seed_and_length(seed: int) -> None:
    from recipes.ch12_pairs_trading.r01_engle_granger import engle_granger
    from recipes.ch12_pairs_trading.r02_johansen import johansen_rank

    for n in (250, 600):
        frames = generate(("X", "A", "B"), SESSIONS[:n], SyntheticConfig(seed=seed, independent=("X", "A", "B")))
        c = {s: f["close"].to_numpy() for s, f in frames.items()}
        for a, b in (("A", "B"), ("X", "A"), ("X", "B")):
            assert engle_granger(c[a], c[b]).pvalue > 0.1 and engle_granger(c[b], c[a]).pvalue > 0.1, (seed, n, a, b)
            assert johansen_rank(np.column_stack([c[a], c[b]])) == 0, (seed, n, a, b)


def test_redrawing_controls_leaves_runs_without_two_of_them_as_they_were() -> None:
    """One independent symbol (or a range under CONTROL_MIN_SESSIONS) is never redrawn: the same
    first draw as before the rule, whatever the tests would say of it."""
    from algotrade.core.synthetic import CONTROL_MIN_SESSIONS

    daily_vol = SyntheticConfig(seed=3).annual_vol / np.sqrt(252)
    for symbols, independent, n in ((("C", "A"), ("A",), 600), (("A", "B"), ("A", "B"), CONTROL_MIN_SESSIONS - 1)):
        rng = np.random.default_rng([3, 1])
        frames = generate(symbols, SESSIONS[:n], SyntheticConfig(seed=3, independent=independent))
        first = rng.standard_normal(n)
        log_ret = -0.5 * daily_vol**2 + daily_vol * first
        log_ret[0] = 0.0
        expected = np.round(SyntheticConfig(seed=3).start_price * np.exp(np.cumsum(log_ret)), 2)
        np.testing.assert_allclose(frames["A"]["close"].to_numpy(), expected, atol=0.006)


@pytest.mark.parametrize("seed", [0, 1, 2, 11, 12345])
def test_planted_bars_are_deterministic_and_valid(seed: int) -> None:
    cfg = _cfg(seed, beta=0.7, alpha=40.0, half_life=3.0, spread_vol=2.5)
    first, again = generate(("Y", "X", "A", "B"), SESSIONS, cfg), generate(("Y", "X", "A", "B"), SESSIONS, cfg)
    for symbol, frame in first.items():
        pd.testing.assert_frame_equal(frame, again[symbol])
        assert not check_rows(symbol, frame) and not check_storage(symbol, frame)
        assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
        assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
        assert (frame[["open", "high", "low", "close"]] > 0).all().all() and (frame["volume"] >= 1).all()
    other = generate(("Y", "X", "A", "B"), SESSIONS, _cfg(seed + 1, beta=0.7, alpha=40.0, half_life=3.0, spread_vol=2.5))
    assert not other["Y"]["close"].equals(first["Y"]["close"])


def test_a_planted_y_that_would_go_below_a_cent_is_refused_with_the_alpha_that_fixes_it() -> None:
    with pytest.raises(ConfigError) as info:
        generate(("Y", "X"), SESSIONS, SyntheticConfig(seed=3, pairs=(PlantedPair(**{**PAIR, "alpha": -200.0}),)))
    text = str(info.value)
    assert "\n" not in text and "data.synthetic.pairs[0]" in text and "raise its alpha to" in text
    alpha = float(text.split("raise its alpha to ")[1].split()[0])
    generate(("Y", "X"), SESSIONS, SyntheticConfig(seed=3, pairs=(PlantedPair(**{**PAIR, "alpha": alpha}),)))


@pytest.mark.parametrize(("synthetic", "words"), [
    ({"pairs": [{"y": "Y", "x": "Y"}]}, ["data.synthetic.pairs", "'Y'", "two different symbols"]),
    ({"pairs": [{"y": "Y", "x": "Q"}]}, ["data.synthetic", "pairs[0].x", "'Q'", "not in data.symbols"]),
    ({"pairs": [{"y": "Y", "x": "X"}, {"y": "A", "x": "X"}]}, ["pairs[1].x", "'X'", "already pairs[0].x"]),
    ({"pairs": [{"y": "Y", "x": "X"}], "independent": ["Y"]}, ["independent", "'Y'", "already pairs[0].y"]),
    ({"independent": ["A", "A"]}, ["independent", "'A'", "twice"]),
    ({"independent": ["Z"]}, ["independent[0]", "'Z'", "not in data.symbols"]),
    ({"pairs": [{"y": "Y", "x": "X", "half_life": 0}]}, ["data.synthetic.pairs.0.half_life", "0"]),
    ({"pairs": [{"y": "Y", "x": "X", "beta": -1}]}, ["data.synthetic.pairs.0.beta", "-1"]),
    ({"pairs": [{"y": "Y", "x": "X", "spread_vol": 0}]}, ["data.synthetic.pairs.0.spread_vol"]),
    ({"pairs": [{"y": "Y", "x": "X", "hedge": 1}]}, ["data.synthetic.pairs.0.hedge"]),
])
def test_bad_pair_settings_are_refused_in_one_line(synthetic: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        experiment_from_dict(_data(**synthetic))
    text = str(info.value)
    assert "\n" not in text
    for word in words:
        assert word in text, (word, text)


def test_planted_pairs_load_through_the_synthetic_source_and_change_the_config_id() -> None:
    exp = experiment_from_dict(_data(pairs=[PAIR], independent=["A", "B"]))
    market = load_market(exp.data)
    assert not market.problems and set(market.frames) == {"Y", "X", "A", "B"}
    assert exp.config_id != experiment_from_dict(_data()).config_id
