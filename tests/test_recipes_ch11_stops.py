"""Chapter 11 stop recipes (r10-r12): the pages run and show what they say, and the core's exits
are these functions (imported, never copied)."""

from __future__ import annotations

import numpy as np

import algotrade.core.exits as exits
from recipes.ch11_risk_sizing import r10_stop_loss, r11_take_profit, r12_trailing_stop


def test_the_core_fills_and_levels_exits_with_the_recipes_functions() -> None:
    assert exits.touch_price is r10_stop_loss.touch_price
    assert exits.stop_loss_level is r10_stop_loss.stop_loss_level
    assert exits.atr_stop_level is r10_stop_loss.atr_stop_level
    assert exits.take_profit_level is r11_take_profit.take_profit_level
    assert exits.trailing_level is r12_trailing_stop.trailing_level
    assert exits.ratchet is r12_trailing_stop.ratchet


def test_r10_a_stop_caps_the_worst_trade_and_counts_gaps() -> None:
    got = r10_stop_loss.main()
    plain, stopped = got["no_stop"], got["stop_loss"]
    assert plain["trades"] == stopped["trades"] > 5
    assert plain["stopped"] == 0 and stopped["stopped"] > 0
    # a stop fills at its level (rounded to the cent), or worse only on a gap through it
    floor = -r10_stop_loss.STOP_FRACTION - 1e-5
    assert stopped["worst_return"] >= floor or stopped["gapped"] > 0
    assert plain["worst_return"] < floor  # there was something to cap


def test_r11_take_profit_and_bracket() -> None:
    got = r11_take_profit.main()
    tp, br = got["take_profit"], got["bracket"]
    assert tp["took_profit"] > 0 and tp["stopped"] == 0
    assert br["stopped"] > 0 and br["took_profit"] > 0


def test_r12_trailing_stop_path_ratchets_up_only() -> None:
    close = np.array([100.0, 104.0, 101.0, 110.0, 90.0, 111.0])
    stops = r12_trailing_stop.trailing_stops(close, 0.1)
    assert stops.tolist() == [90.0, 93.6, 93.6, 99.0, 99.0]
    assert r12_trailing_stop.ratchet(99.0, 95.0) == 99.0
    assert r12_trailing_stop.ratchet(99.0, 95.0, side=-1) == 95.0
    got = r12_trailing_stop.main()["trailing"]
    assert got["stopped"] > 0 and got["trades"] > 5
