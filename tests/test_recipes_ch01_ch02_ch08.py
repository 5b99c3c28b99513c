"""Cookbook chapters 1 (data), 2 (indicators) and 8 (performance and risk): every recipe runs and
its figures make sense.

``test_indicator_parity`` is the project's indicator parity test: TA-Lib vs Backtrader's built-in
indicators (and ``bt.talib``) vs pandas vs Zipline's factors on the same bars, each within the
tolerance the recipe states, for the reason it states.
"""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import math
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recipes.ch01_data import (
    r01_synthetic_ohlcv,
    r02_load_and_store,
    r03_validate_ohlcv,
    r04_returns_and_resample,
    r05_fetch_online_optional,
)
from recipes.ch02_indicators import (
    r01_talib_overlap,
    r02_talib_momentum,
    r03_talib_volatility_volume_patterns,
    r04_indicator_parity,
)
from recipes.ch08_performance_risk import (
    r01_return_risk_metrics,
    r02_drawdowns_and_rolling_risk,
    r03_var_cvar,
    r04_engine_results_tearsheet,
)

# --------------------------------------------------------------------------------------------
# chapter 1: data


def test_synthetic_generator_is_the_library_one_and_passes_validation(tmp_path: Path) -> None:
    r = r01_synthetic_ohlcv.main(out=tmp_path)
    assert r["identical_to_library"] and r["deterministic"] and r["seed_matters"]
    assert r["problems"] == 0
    assert all(abs(v - 0.2) < 0.02 for v in r["annual_vol"].values())
    assert abs(r["mean_correlation"] - 0.3) < 0.05
    # each regime's drift is within three standard errors of the one it was generated with
    for got, se, want in zip(r["regime_log_drift"], r["regime_drift_std_error"], r["expected_log_drift"], strict=True):
        assert abs(got - want) < 3 * se
    assert r["plot"].exists()


def test_store_round_trip_is_identical_and_upserts_are_idempotent(tmp_path: Path) -> None:
    first = r02_load_and_store.main(out=tmp_path)
    n = first["sessions"]
    assert all(first["csv_identical"].values())
    for store in ("sqlite", "parquet"):
        for result in first[store].values():
            assert result["rows_after_overlapping_chunks"] == n
            assert result["rows_after_reload"] == n
            assert result["rows_after_correction"] == n
            assert result["correction_applied"]
            assert result["identical"]
    assert first["sqlite_rows"] == 2 * n
    assert first["long_parquet_identical"]
    again = r02_load_and_store.main(out=tmp_path)  # the same stores, loaded again
    assert again["sqlite_rows"] == 2 * n
    assert all(r["identical"] for r in again["parquet"].values())


def test_sqlite_store_keeps_one_row_per_session(tmp_path: Path) -> None:
    idx = pd.DatetimeIndex(pd.bdate_range("2020-01-01", periods=5), name="date")
    frame = pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0}, index=idx)
    store = r02_load_and_store.SqliteBars(tmp_path / "bars.sqlite")
    store.upsert("X", frame)
    store.upsert("X", frame.iloc[2:].assign(close=1.75))
    back = store.read("X")
    assert store.count("X") == 5
    assert back["close"].tolist() == [1.5, 1.5, 1.75, 1.75, 1.75]
    assert store.read("X", "2020-01-02", "2020-01-03").index.tolist() == list(idx[1:3])


def test_validation_catches_every_planted_defect(tmp_path: Path) -> None:
    r = r03_validate_ohlcv.main(out=tmp_path)
    assert set(r["planted"]) == {
        "unsorted", "duplicate_date", "nan_price", "nonpositive_price", "high_below_open_close",
        "low_above_open_close", "negative_volume", "nan_volume", "outside_calendar", "missing_session",
        "price_decimals", "volume_overflow",
    }
    missed_by_recipe = [c for c, ok in r["caught_by_recipe"].items() if not ok]
    missed_by_library = [c for c, ok in r["caught_by_algotrade"].items() if not ok]
    assert missed_by_recipe == [] and missed_by_library == []
    assert r["problems_recipe"] == r["problems_algotrade"]
    assert r["load_market_refused"]  # the broken file is a data error
    assert r["repairs"] == {"missing_session": 1, "price_decimals": 1, "volume_overflow": 1}
    filled = r["filled_bar"]
    assert filled["volume"] == 0.0
    assert filled["open"] == filled["high"] == filled["low"] == filled["close"] == r["previous_close"]
    assert r["repair_none_refused"]
    assert r["problems_after_cleanup"] == 0


def test_returns_and_resample(tmp_path: Path) -> None:
    r = r04_returns_and_resample.main(out=tmp_path)
    assert r["log_vs_log1p_max_diff"] < 1e-15
    assert r["cumulative_max_diff"] < 1e-12
    assert r["yearly_log_vs_compounded_max_diff"] < 1e-12
    assert r["weekly_return_max_diff"] < 1e-12
    assert r["inconsistent_weekly_bars"] == 0
    assert r["sum_simple_2008"] < r["compounded_2008"] < -0.35  # summing simple returns overstates the fall
    assert r["minutes_per_session"]["2018-11-23"] == 210  # the half day after Thanksgiving
    assert {m for d, m in r["minutes_per_session"].items() if d != "2018-11-23"} == {390}
    assert all(r["daily_from_minutes_checks"].values())
    assert 1000 < r["weekly_bars"] < 1100 and r["monthly_bars"] == 240


def test_fetch_online_recipe_skips_cleanly_when_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGOTRADE_OFFLINE", "1")
    r = r05_fetch_online_optional.main(out=tmp_path)
    assert r["status"] == "skipped" and r["reason"]


def _stub_yfinance(bars: pd.DataFrame) -> types.ModuleType:
    """A hand-written stand-in for yfinance: Ticker(symbol).history(...) returns Yahoo-shaped bars."""

    class Ticker:
        def __init__(self, symbol: str) -> None:
            self.symbol = symbol

        def history(self, start: str, end: str, interval: str, auto_adjust: bool) -> pd.DataFrame:
            part = bars.loc[start:end].iloc[:-1] if pd.Timestamp(end) in bars.index else bars.loc[start:end]
            part = part.rename(columns=str.title)
            part.index = part.index.tz_localize("America/New_York").rename("Date")
            return part.assign(Dividends=0.0, **{"Stock Splits": 0.0})

    module = types.ModuleType("yfinance")
    module.__spec__ = importlib.machinery.ModuleSpec("yfinance", None)
    module.Ticker = Ticker  # type: ignore[attr-defined]
    return module


def test_fetch_online_recipe_stores_through_the_offline_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    bars = load_market(DataConfig(symbols=("SPX",))).frames["SPX"]
    monkeypatch.setitem(sys.modules, "yfinance", _stub_yfinance(bars))
    monkeypatch.delenv("ALGOTRADE_OFFLINE", raising=False)
    monkeypatch.setattr(r05_fetch_online_optional, "network_available", lambda *a, **k: True)
    kwargs = {"symbols": ("SPY",), "start": dt.date(2018, 1, 2), "end": dt.date(2018, 12, 31)}
    first = r05_fetch_online_optional.main(out=tmp_path, **kwargs)
    second = r05_fetch_online_optional.main(out=tmp_path, **kwargs)
    assert first["status"] == second["status"] == "ok"
    assert first["results"][0]["problems"] == []
    assert first["results"][0]["stored"] == 251  # NYSE sessions in 2018
    assert second["results"][0]["rows_in_store"] == 251  # the upsert is idempotent


# --------------------------------------------------------------------------------------------
# chapter 2: indicators


def test_talib_overlap(tmp_path: Path) -> None:
    r = r01_talib_overlap.main(out=tmp_path)
    assert r["lookbacks"] == {"sma20": 19, "ema20": 19, "sma50": 49, "sma200": 199, "bb_upper": 19}
    assert r["declared_lookbacks"] == {"sma20": 19, "ema20": 19}
    assert all(v < 1e-12 for v in r["checks"].values()), r["checks"]
    assert r["ddof_ratio"] == pytest.approx(math.sqrt(20 / 19), rel=1e-6)
    assert r["last"]["bb_lower"] < r["last"]["bb_middle"] < r["last"]["bb_upper"]
    assert r["plot"].exists()


def test_talib_momentum(tmp_path: Path) -> None:
    r = r02_talib_momentum.main(out=tmp_path)
    assert r["first_valid"]["rsi14"] == 14 and r["first_valid"]["macd"] == 33
    assert all(v < 1e-12 for v in r["checks"].values()), r["checks"]
    gap = r["macd_gap"]
    assert gap["first_bar"] > 0.1  # TA-Lib's MACD is not EMA(12) - EMA(26) at first ...
    assert abs(gap["bars_until_below_1e-8"] - gap["theory_bar"]) <= 2  # ... until the seed error has decayed
    lo, hi = r["rsi_range"]
    assert 0 <= lo < 30 and 70 < hi <= 100
    assert r["ppo_sma_vs_ema_max"] > 0.5  # the matype trap is real


def test_talib_volatility_volume_patterns(tmp_path: Path) -> None:
    r = r03_talib_volatility_volume_patterns.main(out=tmp_path)
    assert all(v < 1e-12 for v in r["checks"].values()), r["checks"]
    assert r["patterns_scanned"] == 61
    assert set(r["pattern_values"]) <= {-200, -100, -80, 0, 80, 100, 200}
    table = r["pattern_table"]
    assert (table["hits"] == table["bullish"] + table["bearish"]).all() and table["hits"].sum() > 1000
    assert r["session_vwap_starts_at_typical_price"]
    assert 0 < r["gap_share"] < 1 and 0.5 < r["natr_median"] < 5


def test_indicator_parity(tmp_path: Path) -> None:
    """TA-Lib vs Backtrader (bt.ind and bt.talib, both run modes) vs pandas vs Zipline factors."""
    r = r04_indicator_parity.main(out=tmp_path)
    table = r["table"].set_index(["indicator", "implementation"])
    failing = table[~table["ok"]]
    assert failing.empty, failing[["max_rel_after", "stated_rel", "from_bar", "reason"]]
    # SMA: every implementation within 1e-12 relative on every bar (summation order only)
    sma = table.loc["SMA(30)"]
    assert (sma["max_rel"] <= 1e-12).all()
    # Backtrader's own EMA and RSI: the same seed, so 1e-12 on every bar, from the same first bar
    for ind, first in (("EMA(20)", 19), ("RSI(14)", 14)):
        for impl in ("bt.ind", "bt.ind/next", "bt.talib", "bt.talib/next"):
            assert table.loc[(ind, impl), "max_rel"] <= 1e-12
            assert table.loc[(ind, impl), "first_valid"] == first
    # pandas EMA/RSI: another seed; agree to 1e-8 after the stated unstable period, as the decay predicts
    for ind, stated, name in (("EMA(20)", 200, "EMA"), ("RSI(14)", 280, "RSI")):
        row = table.loc[(ind, "pandas")]
        assert row["max_rel"] > 1e-4  # the seeds really differ
        assert row["unstable_bars"] <= stated
        assert row["max_rel_after"] <= 1e-8
        assert abs(row["unstable_bars"] - r["predicted_unstable"][name]) <= 10
    # Zipline: a finite-window EMA within 1e-4; Cutler's RSI is a different indicator
    assert table.loc[("EMA(20)", "zipline"), "max_rel"] <= 1e-4
    assert r["zipline_rsi_points"]["median"] > 1.0
    assert r["all_ok"]


# --------------------------------------------------------------------------------------------
# chapter 8: performance and risk


def test_return_risk_metrics_by_hand_match_empyrical(tmp_path: Path) -> None:
    r = r01_return_risk_metrics.main(out=tmp_path)
    assert r["max_abs_diff"] < 1e-12
    for drag in r["volatility_drag"].values():
        assert drag["arithmetic"] > drag["cagr"]
        assert abs((drag["arithmetic"] - drag["cagr"]) - drag["half_variance"]) < 0.005
    spx = r["metrics"]["SPX rf=0"]["hand"]
    assert -0.6 < spx["max_drawdown"] < -0.5 and spx["omega"] > 1
    assert r["metrics"]["SPX rf=0.02"]["hand"]["sharpe"] < spx["sharpe"]


def test_drawdown_table_and_rolling_risk(tmp_path: Path) -> None:
    r = r02_drawdowns_and_rolling_risk.main(out=tmp_path)
    dd = r["drawdowns"]
    assert r["max_drawdown"] == pytest.approx(r["empyrical_max_drawdown"], abs=1e-12)
    assert dd["depth"].iloc[0] == pytest.approx(r["max_drawdown"])
    assert dd["depth"].is_monotonic_increasing
    first = dd.iloc[0]
    assert (str(first["peak"].date()), str(first["trough"].date())) == ("2000-03-10", "2002-10-09")
    done = dd.dropna(subset=["recovery"])
    assert ((done["peak"] < done["trough"]) & (done["trough"] < done["recovery"])).all()
    assert (done["fall_sessions"] + done["recovery_sessions"] == done["total_sessions"]).all()
    assert r["rolling_sharpe_max_diff"] < 1e-10 and r["rolling_beta_max_diff"] < 1e-10
    lo, hi = r["rolling_beta_range"]
    assert lo < r["full_beta"] < hi


def test_var_cvar(tmp_path: Path) -> None:
    r = r03_var_cvar.main(out=tmp_path)
    table = r["table"]
    assert r["var_le_cvar"] and r["var99_ge_var95"]
    assert (table["VaR"] > 0).all()
    assert r["empyrical_max_diff"] < 1e-12
    one_day = table[table["horizon_days"] == 1].set_index(["confidence", "method"])
    for c in (0.95, 0.99):  # simulation agrees with the formula it samples from
        assert one_day.loc[(c, "Monte Carlo normal"), "VaR"] == pytest.approx(one_day.loc[(c, "parametric normal"), "VaR"], rel=0.05)
    # fat tails: at 99% the normal model understates the historical loss, and fails its backtest more often
    assert one_day.loc[(0.99, "historical"), "CVaR"] > one_day.loc[(0.99, "parametric normal"), "CVaR"]
    bt = r["backtest"]
    assert bt["normal"]["rate"] > bt["historical"]["rate"] > 0
    assert 0 <= bt["normal"]["p_value"] <= 1


@pytest.mark.slow
def test_engine_results_tearsheet(tmp_path: Path) -> None:
    r = r04_engine_results_tearsheet.main(out=tmp_path)
    assert r["engines"] == ["backtrader", "zipline"]
    assert r["parity"]["agree"], r["parity"]
    assert r["parity"]["transactions_same"] and r["parity"]["positions_same"]
    assert all(v < 1e-6 for v in r["self_consistency"].values())
    assert r["transactions"]["backtrader"] == r["transactions"]["zipline"] > 0
    for engine, metrics in r["metrics"].items():  # recipe 01's metrics against metrics.json
        ours, theirs = metrics, r["metrics_json"][engine]
        assert ours["sharpe"] == pytest.approx(theirs["sharpe"], abs=1e-12)
        assert ours["cagr"] == pytest.approx(theirs["annual_return"], abs=1e-12)
        assert ours["max_drawdown"] == pytest.approx(theirs["max_drawdown"], abs=1e-12)
    assert r["tearsheet"].exists() and r["plot"].exists()
    # the same from two existing result folders, without running anything
    runs = tmp_path / "runs" / "quickstart"
    again = r04_engine_results_tearsheet.main(out=tmp_path / "again", folders=(runs / "backtrader", runs / "zipline"))
    assert again["parity"] == r["parity"]
    np.testing.assert_allclose(again["metrics"]["zipline"]["sharpe"], r["metrics"]["zipline"]["sharpe"])
