"""Value at risk: each method against an independent computation on the same returns, and against
empyrical and quantstats; the portfolio the VaR limit measures; the limit's resize decision."""

from __future__ import annotations

import datetime as dt
import math

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
import quantstats.stats as qs
from scipy import stats

from algotrade.core.risk import RiskState, VarLimit, decide
from algotrade.core.var import MIN_RETURNS, VarModel, asset_returns, portfolio_var

CONFIDENCES = (0.95, 0.975, 0.99)


def _fat_tailed(n: int = 500, seed: int = 3) -> np.ndarray:
    return stats.t.rvs(df=3, scale=0.01, size=n, random_state=np.random.default_rng(seed))


def _type7_quantile(x: np.ndarray, p: float) -> float:
    """Hyndman-Fan type 7 by hand: the order statistics interpolated at (n - 1) p."""
    s = sorted(x.tolist())
    h = (len(s) - 1) * p
    lo = math.floor(h)
    return s[lo] + (h - lo) * (s[min(lo + 1, len(s) - 1)] - s[lo])


@pytest.mark.parametrize("confidence", CONFIDENCES)
@pytest.mark.parametrize("n", [20, 61, 250, 1000])
def test_historical_is_the_empirical_type7_quantile_and_the_mean_beyond_it(confidence: float, n: int) -> None:
    r = _fat_tailed(n)
    var, cvar = VarModel("historical", confidence).estimate(r)
    q = _type7_quantile(r, 1 - confidence)
    assert var == pytest.approx(-q, abs=1e-15)
    assert cvar == pytest.approx(-float(np.mean([x for x in r if x <= q])), abs=1e-15)
    assert cvar >= var


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_historical_matches_empyrical_and_quantstats(confidence: float) -> None:
    r = pd.Series(_fat_tailed(750), index=pd.bdate_range("2015-01-01", periods=750))
    var, cvar = VarModel("historical", confidence).estimate(r.to_numpy())
    assert var == pytest.approx(-ep.value_at_risk(r, cutoff=1 - confidence), abs=1e-12)
    assert cvar == pytest.approx(-ep.conditional_value_at_risk(r, cutoff=1 - confidence), abs=1e-12)
    qs_cvar = qs.conditional_value_at_risk(r, confidence=confidence, method="historical", prepare_returns=False)
    assert cvar == pytest.approx(-qs_cvar, abs=1e-12)


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_parametric_is_scipy_norm_and_matches_quantstats(confidence: float) -> None:
    r = pd.Series(_fat_tailed(400, seed=9) + 0.0005, index=pd.bdate_range("2015-01-01", periods=400))
    var, cvar = VarModel("parametric", confidence).estimate(r.to_numpy())
    mu, sigma = float(r.mean()), float(r.std(ddof=1))
    dist = stats.norm(loc=mu, scale=sigma)
    q = float(dist.ppf(1 - confidence))
    assert var == pytest.approx(-q, abs=1e-12)
    # expected shortfall by numerical integration of the fitted normal's tail (not the closed form)
    tail_mean = float(dist.expect(lambda x: x, ub=q, conditional=True))
    assert cvar == pytest.approx(-tail_mean, abs=1e-9)
    assert var == pytest.approx(-qs.value_at_risk(r, confidence=confidence, prepare_returns=False), abs=1e-12)
    assert cvar == pytest.approx(-qs.conditional_value_at_risk(r, confidence=confidence, prepare_returns=False),
                                 abs=1e-12)


@pytest.mark.parametrize("confidence", (0.95, 0.99))
@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_monte_carlo_is_within_one_percent_of_parametric_on_gaussian_returns(confidence: float, seed: int) -> None:
    r = np.random.default_rng(100 + seed).normal(0.0003, 0.012, 250)
    mc = VarModel("monte_carlo", confidence, draws=100_000, seed=seed).estimate(r)
    exact = VarModel("parametric", confidence).estimate(r)
    assert abs(mc[0] / exact[0] - 1) < 0.01
    assert abs(mc[1] / exact[1] - 1) < 0.01


def test_monte_carlo_is_repeatable_by_seed_and_changes_with_it() -> None:
    r = np.random.default_rng(5).normal(0, 0.01, 250)
    a = VarModel("monte_carlo", draws=20_000, seed=7).estimate(r)
    assert a == VarModel("monte_carlo", draws=20_000, seed=7).estimate(r.copy())
    assert a != VarModel("monte_carlo", draws=20_000, seed=8).estimate(r)


def _closes(n: int = 300, seed: int = 4) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    return {s: (100 * np.cumprod(1 + rng.normal(0, vol, n))).tolist() for s, vol in (("A", 0.01), ("B", 0.02), ("C", 0.015))}


@pytest.mark.parametrize("method", ["historical", "parametric", "monte_carlo"])
def test_portfolio_var_is_the_positions_on_the_trailing_returns_up_to_the_bar(method: str) -> None:
    closes = _closes()
    index, window, equity = 200, 60, 250_000.0
    positions = {"A": 800, "B": -300, "C": 0}
    prices = {s: c[index] for s, c in closes.items()}
    model = VarModel(method, 0.99, window, draws=20_000, seed=3)  # type: ignore[arg-type]
    got = portfolio_var(model, positions, prices, equity, closes, index)
    frame = pd.DataFrame(closes).iloc[: index + 1].pct_change().iloc[-window:]
    weights = pd.Series({s: q * prices[s] / equity for s, q in positions.items()})
    expected = model.estimate((frame * weights).sum(axis=1).to_numpy())
    assert got == pytest.approx(expected, abs=1e-15)
    # bars after the current one do not count
    later = {s: c[: index + 1] + [1e9] * 50 for s, c in closes.items()}
    assert portfolio_var(model, positions, prices, equity, later, index) == got


def test_portfolio_var_needs_history_and_is_zero_when_flat() -> None:
    closes = _closes(40)
    model = VarModel()
    assert portfolio_var(model, {"A": 10}, {"A": 100.0}, 1e5, closes, MIN_RETURNS - 1) is None
    assert portfolio_var(model, {"A": 10}, {"A": 100.0}, 1e5, closes, MIN_RETURNS) is not None
    assert portfolio_var(model, {}, {}, 1e5, closes, 30) == (0.0, 0.0)
    assert portfolio_var(model, {"A": 10}, {"A": 100.0}, 0.0, closes, 30) is None
    assert asset_returns(closes, ["A", "B"], 30, 10).shape == (10, 2)


def _var_state(closes: dict[str, list[float]], index: int, equity: float, **positions: int) -> RiskState:
    prices = {s: c[index] for s, c in closes.items()}
    return RiskState(equity, equity, equity, positions, prices, closes, index)


@pytest.mark.parametrize("method", ["historical", "parametric", "monte_carlo"])
def test_var_limit_resizes_to_the_largest_quantity_within_it(method: str) -> None:
    closes = _closes()
    index, equity = 250, 100_000.0
    limit = VarLimit(0.01, VarModel(method, 0.99, 120, draws=20_000, seed=1))  # type: ignore[arg-type]
    state = _var_state(closes, index, equity, A=200)
    price = closes["B"][index]
    requested = int(equity / price)  # all in on the most volatile symbol: far over 1%
    assert limit.check("B", requested, price, state)
    final, events = decide((limit,), dt.date(2020, 1, 1), "B", requested, price, state)
    assert 0 < final < requested
    assert limit.check("B", final, price, state) is None
    assert limit.check("B", final + 1, price, state) is not None
    (event,) = events
    assert (event.rule, event.action, event.requested, event.final, event.limit) == ("var", "resized", requested, final, 0.01)
    assert event.value == pytest.approx(limit.measure("B", requested, price, state)) and event.value > 0.01


def test_var_limit_passes_orders_that_lower_the_var_and_refuses_when_asked() -> None:
    closes = _closes()
    index, equity = 250, 100_000.0
    price = closes["B"][index]
    limit = VarLimit(0.005, VarModel("parametric", 0.99, 120))
    heavy = _var_state(closes, index, equity, B=int(equity / price))
    assert limit.check("B", -10, price, heavy) is None  # already over the limit, but reducing
    refuse = VarLimit(0.005, VarModel("parametric", 0.99, 120), resize=False)
    final, events = decide((refuse,), dt.date(2020, 1, 1), "B", 100, price, _var_state(closes, index, equity, B=int(equity / price)))
    assert final == 0 and events[0].action == "refused"
