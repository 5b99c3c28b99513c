"""Chapter 5 (Zipline) recipes: each page runs and shows what it says, and recipe 2 trades like algotrade.

Every recipe runs a real ``run_algorithm`` on a real bundle (cached under ``$ZIPLINE_ROOT``, the
project's ``.cache/zipline`` unless set); recipe 1 ingests into a temporary root of its own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import pandas as pd
import pytest

from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, load_experiment
from algotrade.core.data import Market, load_market
from recipes.ch05_zipline.r03_pipeline_momentum_factor import momentum_weights
from tests.conftest import ROOT


def algotrade_trades(exp: Experiment, market: Market) -> list[tuple[dt.date, str, int, float]]:
    host, _ = execute(exp, market, "zipline")
    return [(f.date, f.symbol, f.quantity, f.price) for f in host.fills]


def consecutive_weeks(dates: list[dt.date]) -> bool:
    """Each date falls in the ISO week right after the previous date's."""
    weeks = [pd.Timestamp(d).to_period("W-SUN") for d in dates]
    return all((b - a).n == 1 for a, b in itertools.pairwise(weeks))


# --------------------------------------------------------------------------------------------
# r01: the bundle


@pytest.mark.slow
def test_r01_bundle_stores_thousandths_and_reads_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recipes.ch05_zipline import r01_bundle_from_our_data as r01

    monkeypatch.setenv("ZIPLINE_ROOT", str(tmp_path / "zipline"))  # this recipe ingests every time
    got = r01.main(out=tmp_path)
    assert (tmp_path / "zipline" / "data" / got["bundle"]).is_dir()
    assert got["symbols"] == ["SPX", "IXIC"]
    assert got["sessions"] == got["calendar_sessions"] == 754
    assert [a["symbol"] for a in got["assets"]] == ["SPX", "IXIC"]
    assert all(a["country"] == "US" and a["auto_close_date"] > a["end_date"] for a in got["assets"])
    assert got["stored_dtype"] == "uint32"
    assert got["raw_first_close"] == 2_012_660  # SPX closed at 2012.66 on 2016-01-04
    assert got["raw_equals_thousandths"]
    assert got["volume_clipped"] > 0 and got["volume_equal"]
    assert not got["bit_exact"] and 0 < got["max_abs_diff"] < 1e-9
    assert got["equal_rounded_3"]


# --------------------------------------------------------------------------------------------
# r02: run_algorithm, and parity with algotrade's sma_cross on zipline


@pytest.mark.slow
def test_r02_page(tmp_path: Path) -> None:
    from recipes.ch05_zipline import r02_run_algorithm_sma as r02

    got = r02.main(out=tmp_path)
    assert got["identical"]
    assert got["trades"] == got["algotrade_trades"] == 67
    assert got["final_rel_diff"] < 1e-12
    assert got["min_cash"] >= 0
    assert all(n > 0 for n in got["window_sma_differs"].values())  # why the whole history is read
    assert got["first_trade"] == (dt.date(2005, 5, 13), "SPX", 81, 1154.05)
    assert got["plot"].exists()


@pytest.mark.slow
def test_r02_declared_native_trades_equal_algotrade() -> None:
    from recipes.ch05_zipline import r02_run_algorithm_sma as r02

    assert (r02.WRAPPED_BY, r02.ENGINE) == ("sma_cross", "zipline")
    exp = load_experiment(ROOT / r02.EXPERIMENT)
    assert exp.strategy.name == r02.WRAPPED_BY
    market = load_market(exp.data)
    native = r02.native_trades(exp, market)
    ours = algotrade_trades(exp, market)
    assert len(ours) > 50
    assert native == ours


@pytest.mark.slow
def test_r02_native_trades_equal_algotrade_next_open_with_costs_on_four_symbols() -> None:
    """Open fills, per-share commission and slippage, several symbols (sells before buys)."""
    from recipes.ch05_zipline import r02_run_algorithm_sma as r02

    exp = load_experiment(ROOT / r02.EXPERIMENT, (
        "data.source=synthetic", "data.symbols=[AAA, BBB, CCC, DDD]", "data.start=2012-01-03",
        "data.end=2014-12-31", "broker.fill=next_open", "broker.commission={per_share: 0.005, minimum: 1.0}",
        "broker.slippage={bps: 5}", "sizing={target_percent: 0.9}", "output.report=false",
    ))
    market = load_market(exp.data)
    host, _ = execute(exp, market, "zipline")
    assert all(o.status == "filled" for o in host.orders), "a rejected order: the cash rules differ then"
    ours = [(f.date, f.symbol, f.quantity, f.price) for f in host.fills]
    native = r02.native_trades(exp, market)
    assert len(ours) > 50
    assert len({d for d, *_ in ours}) < len(ours), "no session with several trades"
    assert native == ours


# --------------------------------------------------------------------------------------------
# r03: momentum ranking (also algotrade's momentum_rebalance) and the weekly Pipeline portfolio


def test_momentum_weights_rank_filter_and_equal_slots() -> None:
    scores = {"AAA": 0.12, "BBB": -0.03, "CCC": math.nan, "DDD": 0.12, "EEE": -0.01}
    # ties broken by symbol; NaN never chosen but counted; slots of 1 / min(top_n, len(scores))
    assert momentum_weights(scores, 3, absolute=False) == {"AAA": 1 / 3, "DDD": 1 / 3, "EEE": 1 / 3}
    assert momentum_weights(scores, 3, absolute=True) == {"AAA": 1 / 3, "DDD": 1 / 3}
    assert list(momentum_weights(scores, 2)) == ["AAA", "DDD"]
    assert momentum_weights(scores, 10, absolute=False) == {s: 1 / 5 for s in ("AAA", "DDD", "EEE", "BBB")}
    assert momentum_weights(pd.Series(scores), 2) == momentum_weights(scores, 2)
    assert momentum_weights({"AAA": math.nan}, 2) == {}
    assert momentum_weights({}, 2) == {}


def test_momentum_rebalance_wraps_the_recipe_function() -> None:
    from algotrade.strategies import momentum_rebalance

    assert momentum_rebalance.momentum_weights is momentum_weights


@pytest.mark.slow
def test_r03_page_holds_top_n_of_the_screen_every_week(tmp_path: Path) -> None:
    from recipes.ch05_zipline import r03_pipeline_momentum_factor as r03

    got = r03.main(out=tmp_path)
    assert got["screened_per_rebalance"] == [r03.UNIVERSE]
    assert got["chosen_per_rebalance"] == [r03.TOP_N]
    assert got["held_per_rebalance"] == [r03.TOP_N]
    assert got["weekly"] and got["rebalances"] == got["weeks"] > 150
    assert consecutive_weeks(got["rebalance_dates"])
    assert got["trades"] > got["rebalances"]
    assert got["plot"].exists()


# --------------------------------------------------------------------------------------------
# r04: long/short with costs


@pytest.mark.slow
def test_r04_page_long_short_with_costs(tmp_path: Path) -> None:
    from recipes.ch05_zipline import r04_pipeline_mean_reversion_long_short as r04

    got = r04.main(out=tmp_path)
    assert got["longs_per_rebalance"] == got["shorts_per_rebalance"] == [r04.N]
    assert got["held_per_rebalance"] == [(r04.N, r04.N)]
    assert got["weekly"] and got["rebalances"] > 100
    assert got["gross_leverage_median"] == pytest.approx(1.0, abs=0.05)
    assert got["net_leverage_max_abs"] < 0.1
    assert got["commission"] > 0 and got["slippage"] > 0
    assert got["final_value"] < got["final_value_no_costs"]
    assert got["plot"].exists()


# --------------------------------------------------------------------------------------------
# r05: precomputed signals


@pytest.mark.slow
def test_r05_page_pipeline_loader_and_lookup_agree(tmp_path: Path) -> None:
    from recipes.ch05_zipline import r05_custom_signal_in_zipline as r05

    got = r05.main(out=tmp_path)
    assert got["lookahead_free"]
    assert got["pipeline_rows_match_frame"]
    assert got["same_trades"] and got["trades"] > 100
    assert got["final_value"] == got["final_value_lookup"]
    assert got["weekly"] and got["rebalances"] > 90
    assert got["chosen_per_rebalance"] == [r05.TOP]
