"""Chapter 12 pairs recipes against the truth the synthetic source plants: hedge ratio, half-life,
cointegration tests on planted pairs and independent controls over several seeds, the selection's
corrections, the z-score rules, and the causality of every hedge ratio and z-score."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recipes.ch12_pairs_trading import r01_engle_granger as r01
from recipes.ch12_pairs_trading import r02_johansen as r02
from recipes.ch12_pairs_trading import r03_half_life as r03
from recipes.ch12_pairs_trading import r04_rolling_ols as r04
from recipes.ch12_pairs_trading import r05_kalman_hedge as r05
from recipes.ch12_pairs_trading import r06_zscore_rules as r06
from recipes.ch12_pairs_trading import r07_pair_selection as r07

SEEDS = range(10)
BETA, HALF_LIFE = r01.PLANTED["beta"], r01.PLANTED["half_life"]


@pytest.fixture(scope="module")
def closes() -> dict[int, pd.DataFrame]:
    return {seed: r01.planted_closes(seed) for seed in SEEDS}


def test_engle_granger_recovers_the_planted_pair_on_every_seed(closes: dict[int, pd.DataFrame]) -> None:
    for seed, c in closes.items():
        eg = r01.engle_granger(c["Y"], c["X"])
        assert eg.pvalue < 0.01, seed
        assert abs(eg.beta / BETA - 1) < 0.05, (seed, eg.beta)
        spread = c["Y"] - eg.alpha - eg.beta * c["X"]
        assert abs(r03.half_life(spread) / HALF_LIFE - 1) < 0.2, (seed, r03.half_life(spread))


def test_independent_controls_are_not_found_cointegrated(closes: dict[int, pd.DataFrame]) -> None:
    """The generator makes controls clear negatives (algotrade/core/synthetic.py): on every seed,
    every pair of them has p > 0.1 both ways, and no spread of theirs mean-reverts like the pair's."""
    for seed, c in closes.items():
        for a, b in (("A", "B"), ("B", "A"), ("X", "A"), ("A", "X"), ("X", "B"), ("B", "X")):
            assert r01.engle_granger(c[a], c[b]).pvalue > 0.1, (seed, a, b)
    assert all(r03.half_life(c["A"] - np.polyval(np.polyfit(c["B"], c["A"], 1), c["B"])) > 5 * HALF_LIFE
               for c in closes.values())


def test_johansen_finds_rank_one_on_the_pair_and_zero_on_the_control(closes: dict[int, pd.DataFrame]) -> None:
    pair = [r02.johansen_rank(c[["Y", "X"]]) for c in closes.values()]
    control = [r02.johansen_rank(c[["A", "B"]]) for c in closes.values()]
    # a trace test at 95 % rejects a true null about 1 time in 20, and the finite-sample rate is higher
    assert pair.count(1) >= 0.8 * len(pair) and 0 not in pair, pair
    assert control == [0] * len(control), control  # the generator's controls are clear negatives
    for c in closes.values():
        assert abs(r02.johansen_hedge(c[["Y", "X"]]) / BETA - 1) < 0.05
    with pytest.raises(ValueError, match=r"level 0\.8"):
        r02.johansen_rank(closes[0][["Y", "X"]], level=0.8)


def test_rolling_and_kalman_hedge_ratios_track_the_planted_beta(closes: dict[int, pd.DataFrame]) -> None:
    for seed, c in closes.items():
        rolling, _ = r04.rolling_hedge(c["Y"], c["X"], 250)
        assert np.isnan(rolling[:249]).all() and not np.isnan(rolling[249:]).any()
        assert abs(np.median(rolling[249:]) / BETA - 1) < 0.05, seed
        kalman, alpha = r05.kalman_hedge(c["Y"], c["X"])
        half = len(kalman) // 2
        assert abs(np.median(kalman[half:]) / BETA - 1) < 0.05, seed
        assert abs(np.median(alpha[half:]) - r01.PLANTED["alpha"]) < 5, seed


def test_rolling_ols_equals_a_fresh_fit_of_each_window() -> None:
    rng = np.random.default_rng(4)
    x = 50 + np.cumsum(rng.normal(size=60))
    y = 3 + 2 * x + rng.normal(size=60)
    beta, alpha = r04.rolling_hedge(y, x, 20)
    for t in (19, 33, 59):
        slope, intercept = np.polyfit(x[t - 19:t + 1], y[t - 19:t + 1], 1)
        assert beta[t] == pytest.approx(slope, rel=1e-9) and alpha[t] == pytest.approx(intercept, rel=1e-9)
    with pytest.raises(ValueError, match="window 2"):
        r04.rolling_hedge(y, x, 2)


def test_kalman_with_a_frozen_state_is_least_squares() -> None:
    """delta -> 0 and a wide prior make the filter a recursive least-squares fit of all bars so far."""
    rng = np.random.default_rng(5)
    x = 80 + np.cumsum(rng.normal(size=300))
    y = 7 + 1.3 * x + rng.normal(size=300)
    beta, alpha = r05.kalman_hedge(y, x, delta=1e-12, obs_var=1.0)
    slope, intercept = np.polyfit(x, y, 1)
    assert beta[-1] == pytest.approx(slope, rel=1e-3) and alpha[-1] == pytest.approx(intercept, rel=1e-2)
    with pytest.raises(ValueError, match="delta"):
        r05.KalmanHedge(delta=1.0)


def test_half_life_of_a_known_ar1_and_of_a_walk() -> None:
    rng = np.random.default_rng(6)
    for hl in (2.0, 5.0, 12.0):
        phi, s = 0.5 ** (1 / hl), np.zeros(20_000)
        for t in range(1, len(s)):
            s[t] = phi * s[t - 1] + rng.normal()
        assert r03.half_life(s) == pytest.approx(hl, rel=0.1)
    assert r03.half_life(np.arange(50.0) ** 2) == math.inf  # explosive: phi >= 1


def test_zscore_is_the_trailing_sample_zscore() -> None:
    s = np.random.default_rng(7).normal(size=80).cumsum()
    z = r06.rolling_zscore(s, 15)
    roll = pd.Series(s).rolling(15)
    expected = ((pd.Series(s) - roll.mean()) / roll.std(ddof=1)).to_numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-9, equal_nan=True)
    assert math.isnan(r06.zscore_last(np.ones(20), 10))


def test_zscore_rules_open_close_and_stop() -> None:
    z = [math.nan, 0.0, 2.1, 1.0, 0.4, -2.5, -1.0, -0.4, 2.2, 4.5, 3.0, 2.5, 1.5, 2.3, 0.0]
    #     nan   flat  short hold  exit  long  hold  exit  short stop  (stopped: |z| >= entry) re-armed short exit
    assert r06.positions(z, entry=2.0, exit=0.5, stop=4.0).tolist() == [0, 0, -1, -1, 0, 1, 1, 0, -1, 0, 0, 0, 0, -1, 0]
    assert r06.positions([4.2, -4.5, 1.0], 2.0, 0.5, 4.0).tolist() == [0, 0, 0]  # beyond the stop: never opened
    for bands in ((2.0, 2.0, 4.0), (2.0, 0.5, 2.0), (2.0, -0.1, 4.0)):
        with pytest.raises(ValueError, match="exit_z < entry_z < stop_z"):
            r06.check_bands(*bands)


@pytest.mark.parametrize("cut", [300, 1111, 2000])
def test_changing_data_after_day_t_changes_no_estimate_up_to_t(cut: int) -> None:
    c = r01.planted_closes(seed=2, n=2200)
    changed = c.copy()
    changed.iloc[cut + 1:] = changed.iloc[cut + 1:].to_numpy() * np.random.default_rng(cut).uniform(0.5, 1.5, changed.iloc[cut + 1:].shape)

    def estimates(frame: pd.DataFrame) -> list[np.ndarray]:
        y, x = frame["Y"].to_numpy(), frame["X"].to_numpy()
        rolling, ralpha = r04.rolling_hedge(y, x, 120)
        kalman, kalpha = r05.kalman_hedge(y, x)
        z = r06.rolling_zscore(y - kalpha - kalman * x, 20)
        return [rolling, ralpha, kalman, kalpha, z, r06.positions(z, 2.0, 0.5, 4.0)]

    before, after = estimates(c), estimates(changed)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a[:cut + 1], b[:cut + 1])
    assert not np.array_equal(before[2][cut + 1:], after[2][cut + 1:])  # the change did reach the later estimates


@pytest.mark.parametrize("seed", [3, 8])
def test_selection_keeps_the_planted_pairs_and_drops_every_control_after_correction(seed: int) -> None:
    table = r07.select_pairs(r07.universe(seed))
    assert len(table) == 66
    planted = {("Y1", "X1"), ("Y2", "X2"), ("Y3", "X3")}
    for method in r07.METHODS:
        kept = set(zip(table.loc[table[method], "y"], table.loc[table[method], "x"], strict=True))
        assert kept == planted, (method, kept)
    bh, bonf = table["fdr_bh_p"].to_numpy(), table["bonferroni_p"].to_numpy()
    assert (bonf >= bh - 1e-15).all() and (bonf == np.minimum(table["pvalue"] * 66, 1)).all()


@pytest.mark.parametrize("module", [r01, r02, r03, r04, r05, r06, r07])
def test_every_page_runs(module: object, tmp_path: Path) -> None:
    result = module.main(tmp_path)  # type: ignore[attr-defined]
    assert result
