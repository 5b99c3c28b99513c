"""The data-snooping check: Hansen's SPA p-value is small for a planted edge, not for noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from algotrade.research.snooping import spa_test

DATES = pd.bdate_range("2015-01-01", periods=1000)


def _noise(runs: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(0.0, 0.01, (len(DATES), runs)), index=DATES,
                        columns=[f"p{i}" for i in range(runs)])


def test_a_strong_planted_edge_gets_a_small_p_value() -> None:
    returns = _noise(24, seed=1)
    returns["edge"] = np.random.default_rng(2).normal(0.002, 0.01, len(DATES))  # ~50% a year, sharpe ~3
    result = spa_test(returns, pd.Series(0.0, index=DATES), "cash", seed=7)
    assert result is not None and result.pvalue < 0.01
    assert result.best == "edge" and result.runs == 25
    assert "unlikely to come from trying many by luck" in result.sentence()


def test_the_best_of_pure_noise_does_not() -> None:
    result = spa_test(_noise(24, seed=3), pd.Series(0.0, index=DATES), "cash", seed=7)
    assert result is not None and result.pvalue > 0.2
    assert result.sentence().startswith("The best of 24 parameter sets has p = ")
    assert result.sentence().endswith("its edge is plausibly luck from trying many.")


def test_the_same_seed_gives_the_same_p_value_and_too_little_data_gives_none() -> None:
    a = spa_test(_noise(5, seed=4), pd.Series(0.0, index=DATES), "cash", seed=11)
    b = spa_test(_noise(5, seed=4), pd.Series(0.0, index=DATES), "cash", seed=11)
    assert a is not None and b is not None and a.pvalue == b.pvalue
    assert spa_test(_noise(5, seed=4).iloc[:20], pd.Series(0.0, index=DATES), "cash") is None
