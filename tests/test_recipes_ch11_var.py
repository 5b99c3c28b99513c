"""Cookbook chapter 11, value at risk (r07-r09): each page runs and its figures hold, and the
core's VaR limit is these recipes' functions (imported, not copied)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import algotrade.core.var as core_var
from recipes.ch08_performance_risk import r03_var_cvar
from recipes.ch11_risk_sizing import r07_var_historical, r08_var_parametric, r09_var_monte_carlo


def test_the_core_uses_the_recipes_functions() -> None:
    assert core_var.historical_var_cvar is r07_var_historical.historical_var_cvar is r03_var_cvar.historical_var_cvar
    assert core_var.portfolio_returns is r07_var_historical.portfolio_returns
    assert core_var.parametric_var_cvar is r08_var_parametric.parametric_var_cvar
    assert core_var.monte_carlo_var_cvar is r09_var_monte_carlo.monte_carlo_var_cvar


def test_portfolio_returns_weights_each_day_and_counts_a_missing_return_as_flat() -> None:
    rets = np.array([[0.01, -0.02], [np.nan, 0.03]])
    assert np.allclose(r07_var_historical.portfolio_returns(np.array([0.5, -1.0]), rets), [0.025, -0.03])


def test_historical_page_matches_empyrical_and_counts_exceedances(tmp_path: Path) -> None:
    r = r07_var_historical.main(out=tmp_path)
    assert r["empyrical_max_diff"] < 1e-12
    assert 0 < r["last_var"] < r["last_cvar"] < 0.1
    series = r["series"]
    assert (series["CVaR"] >= series["VaR"]).all()
    assert series.loc["2009-01-01":"2009-06-30", "VaR"].mean() > 2 * series.loc["2006-01-01":"2006-12-31", "VaR"].mean()
    assert 0 < r["exceedances"] < 0.05 * r["days"]
    assert r["plot"].exists()


def test_parametric_page_is_the_normal_and_exceeded_more_often_than_historical(tmp_path: Path) -> None:
    r = r08_var_parametric.main(out=tmp_path)
    assert r["cvar_ge_var"]
    assert r["exceedances"]["VaR"] >= r["exceedances"]["hist_VaR"]  # fat tails: the normal is too optimistic
    assert r["plot"].exists()


def test_monte_carlo_page_converges_to_the_closed_form_and_repeats(tmp_path: Path) -> None:
    r = r09_var_monte_carlo.main(out=tmp_path)
    table = r["table"].set_index("draws")
    assert abs(table.loc[100_000, "VaR_error"]) < 0.01 and abs(table.loc[100_000, "CVaR_error"]) < 0.01
    assert abs(table.loc[1_000_000, "VaR_error"]) < 0.005
    assert r["repeatable"]
    assert r["plot"].exists()
