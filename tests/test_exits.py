"""Protective exits: the one fill rule, the levels, the stops: section (algotrade/core/exits.py)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from algotrade.core.config import StopsConfig, experiment_from_dict
from algotrade.core.errors import ConfigError
from algotrade.core.exits import exit_fill, exit_levels, exit_tag, true_range_atr
from algotrade.core.indicators import ATR
from algotrade.core.strategy import Bar, Order
from recipes.ch11_risk_sizing.r10_stop_loss import first_exit, touch_price
from recipes.ch11_risk_sizing.r12_trailing_stop import trailing_stops

DAY = dt.date(2024, 1, 2)


def exit_order(quantity: int, stop: float | None, limit: float | None) -> Order:
    return Order(1, "AAA", quantity, "exit", DAY, limit=limit, stop=stop, tag="bracket")


def bar(o: float, h: float, lo: float, c: float) -> Bar:
    return Bar(DAY, o, h, lo, c, 1000.0)


# --- the fill rule, long (a sell exit: stop 95, take-profit 110) --------------------------------
@pytest.mark.parametrize(("ohlc", "expected"), [
    ((94.0, 96.0, 93.0, 95.5), (94.0, "stop")),      # opens below the stop: gap through, at the open
    ((95.0, 99.0, 94.0, 98.0), (95.0, "stop")),      # opens exactly at the stop
    ((112.0, 113.0, 108.0, 111.0), (112.0, "limit")),  # gaps over the take-profit: the open
    ((100.0, 101.0, 94.5, 96.0), (95.0, "stop")),    # low reaches the stop: the stop
    ((100.0, 111.0, 99.0, 105.0), (110.0, "limit")),  # high reaches the take-profit: the limit
    ((100.0, 111.0, 94.0, 100.0), (95.0, "stop")),   # both touched in one bar: the stop wins
    ((100.0, 109.9, 95.1, 101.0), None),             # neither
])
def test_exit_fill_of_a_long_by_the_rule(ohlc: tuple[float, float, float, float],
                                         expected: tuple[float, str] | None) -> None:
    assert exit_fill(exit_order(-10, 95.0, 110.0), bar(*ohlc)) == expected


@pytest.mark.parametrize(("ohlc", "expected"), [
    ((106.0, 107.0, 104.0, 106.0), (106.0, "stop")),  # short: opens above the stop 105
    ((88.0, 91.0, 87.0, 89.0), (88.0, "limit")),      # gaps below the take-profit 90: the open
    ((100.0, 105.5, 99.0, 101.0), (105.0, "stop")),
    ((100.0, 101.0, 89.0, 95.0), (90.0, "limit")),
    ((100.0, 106.0, 89.0, 100.0), (105.0, "stop")),   # both: the stop
    ((100.0, 104.0, 91.0, 100.0), None),
])
def test_exit_fill_of_a_short_is_the_mirror(ohlc: tuple[float, float, float, float],
                                            expected: tuple[float, str] | None) -> None:
    assert exit_fill(exit_order(10, 105.0, 90.0), bar(*ohlc)) == expected


def test_exit_fill_with_one_level_ignores_the_other_side() -> None:
    stop_only = exit_order(-5, 95.0, None)
    assert exit_fill(stop_only, bar(100.0, 150.0, 96.0, 120.0)) is None
    assert exit_fill(stop_only, bar(100.0, 101.0, 90.0, 91.0)) == (95.0, "stop")
    tp_only = exit_order(-5, None, 110.0)
    assert exit_fill(tp_only, bar(100.0, 101.0, 1.0, 2.0)) is None
    assert exit_fill(tp_only, bar(100.0, 110.0, 99.0, 100.0)) == (110.0, "limit")


def test_exit_fill_slips_against_the_order() -> None:
    sell = exit_fill(exit_order(-10, 95.0, 110.0), bar(100.0, 101.0, 94.0, 96.0), slip=0.001)
    assert sell == (95.0 * (1 - 0.001), "stop")
    buy = exit_fill(exit_order(10, 105.0, None), bar(107.0, 108.0, 106.0, 107.0), slip=0.001)
    assert buy == (107.0 * (1 + 0.001), "stop")


def test_first_exit_over_arrays_agrees_with_the_bar_rule() -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.cumprod(1 + rng.normal(0, 0.02, 300))
    o = close * (1 + rng.normal(0, 0.01, 300))
    h = np.maximum(o, close) * (1 + abs(rng.normal(0, 0.01, 300)))
    lo = np.minimum(o, close) * (1 - abs(rng.normal(0, 0.01, 300)))
    stops = trailing_stops(np.concatenate([[close[0]], close]), 0.05)
    limits = np.full(300, close[0] * 1.2)
    got = first_exit(o, h, lo, stops, limits)
    loop = next(((k, *hit) for k in range(300)
                 if (hit := touch_price(o[k], h[k], lo[k], float(stops[k]), float(limits[k]))) is not None), None)
    assert got is not None
    assert got == loop


# --- levels ---------------------------------------------------------------------------------
def test_levels_of_each_rule_for_long_and_short() -> None:
    s = StopsConfig(stop_loss=0.05, take_profit=0.1)
    assert exit_levels(s, 1, 100.0, math.nan, 100.0) == (95.0, 110.0)
    assert exit_levels(s, -1, 100.0, math.nan, 100.0) == (105.0, 90.0)
    assert exit_levels(s, 1, 123.457, math.nan, 100.0) == (117.28, 135.8)  # to the cent: 117.284, 135.8027
    atr = StopsConfig(atr_stop=2.0)
    assert exit_levels(atr, 1, 100.0, 1.5, 100.0) == (97.0, None)
    assert exit_levels(atr, -1, 100.0, 1.5, 100.0) == (103.0, None)
    assert exit_levels(atr, 1, 100.0, math.nan, 100.0) == (None, None)  # ATR not ready yet
    trail = StopsConfig(trailing=0.1)
    assert exit_levels(trail, 1, 100.0, math.nan, 120.0) == (108.0, None)
    assert exit_levels(trail, -1, 100.0, math.nan, 80.0) == (88.0, None)


def test_the_tightest_stop_wins_and_a_stop_never_loosens() -> None:
    both = StopsConfig(stop_loss=0.05, trailing=0.1)
    assert exit_levels(both, 1, 100.0, math.nan, 100.0)[0] == 95.0  # the fixed stop is tighter
    assert exit_levels(both, 1, 100.0, math.nan, 120.0)[0] == 108.0  # the trail has passed it
    trail = StopsConfig(trailing=0.1)
    assert exit_levels(trail, 1, 100.0, math.nan, 110.0, resting=108.0)[0] == 108.0
    assert exit_levels(trail, -1, 100.0, math.nan, 90.0, resting=95.0)[0] == 95.0


def test_exit_tags() -> None:
    assert exit_tag(StopsConfig(stop_loss=0.05)) == "stop_loss"
    assert exit_tag(StopsConfig(atr_stop=2.0)) == "atr_stop"
    assert exit_tag(StopsConfig(trailing=0.05)) == "trailing"
    assert exit_tag(StopsConfig(take_profit=0.05)) == "take_profit"
    assert exit_tag(StopsConfig(stop_loss=0.05, take_profit=0.1)) == "bracket"
    assert exit_tag(StopsConfig(trailing=0.05, take_profit=0.1)) == "bracket"


def test_atr_on_a_bar_is_the_atr_indicator_there() -> None:
    rng = np.random.default_rng(1)
    c = 50 + np.cumsum(rng.normal(0, 1, 80))
    h, lo = c + abs(rng.normal(0, 1, 80)), c - abs(rng.normal(0, 1, 80))
    whole = ATR(14).compute({"high": h, "low": lo, "close": c})
    for k in (0, 13, 14, 40, 79):
        got = true_range_atr(h.tolist(), lo.tolist(), c.tolist(), 14, k)
        assert (math.isnan(got) and math.isnan(whole[k])) or got == whole[k]


# --- the stops: section -------------------------------------------------------------------------
def experiment(**extra: object) -> dict[str, object]:
    return {"name": "x", "strategy": {"name": "sma_cross"}, **extra}


def test_stops_section_is_optional_and_changes_the_config_id_only_when_set() -> None:
    plain = experiment_from_dict(experiment())
    assert plain.stops is None
    with_stops = experiment_from_dict(experiment(stops={"stop_loss": 0.05}))
    assert with_stops.stops == StopsConfig(stop_loss=0.05)
    assert with_stops.config_id != plain.config_id
    other = experiment_from_dict(experiment(stops={"stop_loss": 0.06}))
    assert other.config_id != with_stops.config_id
    # the id of a file without stops is what it was before stops existed
    assert "stops" not in plain.model_dump(mode="json", exclude={"stops"})
    assert plain.config_id == experiment_from_dict(experiment(stops=None)).config_id


@pytest.mark.parametrize(("stops", "field"), [
    ({"stop_loss": 0.05, "atr_stop": 2.0}, "atr_stop"),
    ({}, "stops"),
    ({"stop_loss": 1.5}, "stop_loss"),
    ({"trailing": -0.1}, "trailing"),
    ({"stop_los": 0.05}, "stop_los"),
    ({"atr_stop": 2.0, "atr_window": 0}, "atr_window"),
])
def test_bad_stops_are_one_clear_config_error(stops: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(experiment(stops=stops))
    text = str(err.value)
    assert "stops" in text and field in text
    assert "\n" not in text.strip() or len(text.strip().splitlines()) <= 3
