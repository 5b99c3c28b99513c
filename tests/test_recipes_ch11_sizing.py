"""Chapter 11 sizing recipes (r01-r06): each formula against an independent computation
(pandas rolling statistics, TA-Lib's ATR, plain arithmetic), and each page's main()."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from recipes.ch11_risk_sizing import r01_fixed_shares as r01
from recipes.ch11_risk_sizing import r02_fixed_cash as r02
from recipes.ch11_risk_sizing import r03_target_percent as r03
from recipes.ch11_risk_sizing import r04_volatility_target as r04
from recipes.ch11_risk_sizing import r05_fractional_kelly as r05
from recipes.ch11_risk_sizing import r06_risk_per_trade as r06


def _walk(n: int, seed: int, drift: float = 0.0003) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(drift, 0.012, n)))
    spread = np.abs(rng.normal(0, 0.01, n)) * close
    open_ = close * (1 + rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close})


def test_fixed_shares_and_cash_and_percent_are_exact_decimal() -> None:
    assert r01.fixed_shares(350, 0.69) == 242  # 241.5: ties to the even share
    assert r01.fixed_shares(100, 0.29) == 29  # float 100 * 0.29 is 28.999999999999996
    assert r02.fixed_cash_value(10_000, 0.3) == Decimal("3000.0")
    assert r03.target_percent_value(0.95, 100_000.10, 0.5) == Decimal("47500.0475")


@pytest.mark.parametrize("window", [2, 5, 20, 63])
@pytest.mark.parametrize("seed", [1, 2])
def test_realized_vol_and_vol_target_equal_pandas_rolling_std(window: int, seed: int) -> None:
    close = _walk(300, seed)["close"]
    expected = close.pct_change().rolling(window).std(ddof=1) * math.sqrt(252)
    for i in (window, 150, 299):
        got = r04.realized_vol(close.to_numpy()[: i + 1], window)
        assert got == pytest.approx(float(expected.iloc[i]), rel=1e-12)
        frac = r04.vol_target_fraction(close.to_numpy()[: i + 1], window, 0.15, 0.8)
        assert frac == pytest.approx(min(0.15 / float(expected.iloc[i]), 0.8), rel=1e-12)
    assert math.isnan(r04.realized_vol(close.to_numpy()[:window], window))  # window returns need window + 1 closes
    assert r04.vol_target_fraction(close.to_numpy()[:window], window, 0.15) == 0.0
    assert r04.vol_target_fraction(np.full(30, 50.0), 20, 0.15) == 0.0  # flat prices: unknown risk, no entry


@pytest.mark.parametrize("window", [2, 10, 60])
def test_kelly_fraction_equals_pandas_mean_over_var_clipped(window: int) -> None:
    close = _walk(400, 7, drift=0.001)["close"]
    r = close.pct_change()
    raw = r.rolling(window).mean() / r.rolling(window).var(ddof=1)
    hits = {"clipped_low": False, "inside": False, "capped": False}
    for i in range(window, 400, 7):
        expected = float(np.clip(0.5 * raw.iloc[i], 0.0, 2.0))
        got = r05.kelly_fraction(close.to_numpy()[: i + 1], window, 0.5, 2.0)
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
        hits["clipped_low" if expected == 0 else "capped" if expected == 2.0 else "inside"] = True
    assert all(hits.values()), hits  # the case covers the clip at 0, the cap and the inside
    assert r05.kelly_fraction(close.to_numpy()[:window], window) == 0.0


@pytest.mark.parametrize("window", [1, 5, 14, 30])
def test_wilder_atr_equals_talib(window: int) -> None:
    bars = _walk(200, 3)
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    expected = talib.ATR(h, lo, c, timeperiod=window)
    for i in range(len(c)):
        got = r06.wilder_atr(h[: i + 1], lo[: i + 1], c[: i + 1], window)
        if math.isnan(expected[i]):
            assert math.isnan(got), i
        else:
            assert got == pytest.approx(expected[i], rel=1e-10), i


def test_risk_per_trade_shares_and_stop() -> None:
    # 100k x 1% / (2 x 1.5) = 333.33 -> 333 shares; at $50 that is $16,650, under the equity cap
    assert r06.risk_per_trade_shares(100_000.0, 50.0, 1.5, 0.01, 2.0) == 333
    # a tight ATR wants 10,000 shares ($1m); the cap holds it to equity x 1.0 / price = 2,000
    assert r06.risk_per_trade_shares(100_000.0, 50.0, 0.05, 0.01, 2.0) == 2000
    assert r06.risk_per_trade_shares(100_000.0, 50.0, 0.05, 0.01, 2.0, max_leverage=1.5) == 3000
    assert r06.risk_per_trade_shares(100_000.0, 50.0, math.nan, 0.01, 2.0) == 0
    assert r06.atr_stop_level(50.0, 1.5, 2.0) == 47.0


@pytest.mark.parametrize("page", [r01, r02, r03, r04, r05, r06])
def test_each_page_runs_and_returns_its_figures(page: object, tmp_path: Path) -> None:
    result = page.main(tmp_path)  # type: ignore[attr-defined]
    assert result and all(v == v for v in result.values() if isinstance(v, float))


def test_risk_per_trade_shares_are_exact_where_floats_fall_short() -> None:
    # 100 * 0.29 / 1 is 28.999999999999996 in floats: exactly 29 shares risk exactly $29
    assert r06.risk_per_trade_shares(100.0, 0.5, 1.0, 0.29, 1.0) == 29
    # the leverage cap too: $1,010.00 at $10.10 is 100 shares, not float division's 99
    assert r06.risk_per_trade_shares(1010.0, 10.10, 0.01, 1.0, 1.0) == 100
