"""Chapter 13 regime recipes: the features against pandas, the forward filter against hmmlearn's
own posteriors, label switching, recovery of planted regimes, no look-ahead, determinism and
bad parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hmmlearn.hmm import GaussianHMM

from recipes.ch13_regimes import r01_gaussian_hmm as r01
from recipes.ch13_regimes import r02_walk_forward_regimes as r02
from recipes.ch13_regimes import r03_regime_filtered_momentum as r03

PARAMS = {"vol_window": 20, "train_bars": 504, "refit_every": 126, "seed": 7, "n_iter": 25}


def _planted(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    return r01.planted_regimes(r02.PLANTED_SCHEDULE, seed=seed)


def test_features_are_percent_log_returns_and_their_rolling_std() -> None:
    closes, _ = _planted()
    X = r01.regime_features(closes, 20)
    log_r = np.log(pd.Series(closes)).diff() * 100
    assert np.isnan(X[:20, 1]).all() and np.isnan(X[0, 0])
    np.testing.assert_allclose(X[1:, 0], log_r[1:], rtol=1e-12)
    np.testing.assert_allclose(X[20:, 1], log_r.rolling(20).std(ddof=1)[20:], rtol=1e-9)


def test_the_filter_is_the_forward_recursion_not_the_smoother() -> None:
    """Each row's filtered probabilities equal hmmlearn's posterior of the last row of the
    prefix ending there (where filtering and smoothing coincide), and differ from the smoothed
    posterior of the whole series on some days."""
    closes, _ = _planted()
    X = r01.regime_features(closes, 20)[20:]
    model = r01.fit_regime_model(X[:600], seed=1)
    probs, _ = model.filter(X)
    for k in (1, 2, 37, 300, 599, 600, 1000, len(X)):
        np.testing.assert_allclose(probs[k - 1], model.hmm.predict_proba(X[:k])[-1][model.order], atol=1e-9)
    smoothed = model.hmm.predict_proba(X)[:, model.order]
    assert np.abs(smoothed - probs).max() > 0.5
    # carrying alpha on from one call to the next is the same recursion
    head, alpha = model.filter(X[:250])
    tail, _ = model.filter(X[250:], alpha)
    np.testing.assert_array_equal(np.vstack([head, tail]), probs)


def _hmm(vols: tuple[float, float]) -> GaussianHMM:
    hmm = GaussianHMM(n_components=2, covariance_type="diag")
    hmm.n_features = 2
    hmm.startprob_ = np.array([0.5, 0.5])
    hmm.transmat_ = np.array([[0.98, 0.02], [0.05, 0.95]])
    hmm.means_ = np.array([[0.0, vols[0]], [0.0, vols[1]]])
    hmm.covars_ = np.array([[vols[0] ** 2, 0.05], [vols[1] ** 2, 0.05]])
    return hmm


def test_regime_zero_is_the_calm_one_whichever_state_the_fit_called_it() -> None:
    closes, _ = _planted()
    X = r01.regime_features(closes, 20)[20:]
    calm_first = r01.RegimeModel(_hmm((0.6, 2.4)), r01.volatility_order(_hmm((0.6, 2.4))))
    calm_second = r01.RegimeModel(_hmm((2.4, 0.6)), r01.volatility_order(_hmm((2.4, 0.6))))
    assert calm_first.order.tolist() == [0, 1] and calm_second.order.tolist() == [1, 0]
    np.testing.assert_allclose(calm_second.return_vol, [0.6, 2.4])
    # the same two Gaussians numbered the other way round give the same regimes (up to the
    # transition matrix, which is numbered with them)
    assert calm_second.transmat[0, 1] == pytest.approx(0.05) and calm_first.transmat[0, 1] == pytest.approx(0.02)
    p_first, _ = calm_first.filter(X)
    p_second, _ = calm_second.filter(X)
    assert (p_first.argmax(1) == p_second.argmax(1)).mean() > 0.99
    fitted = r01.fit_regime_model(X, seed=0)
    assert fitted.return_vol[0] < fitted.return_vol[1] and fitted.n_states == 2


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_walk_forward_labels_recover_planted_regimes(seed: int) -> None:
    """Two volatility levels (0.6 % and 2.4 % a day) switching on PLANTED_SCHEDULE: the
    walk-forward labels are right on at least 90 % of labelled days (measured 92.6-94.0 %)."""
    closes, truth = _planted(seed)
    wf = r02.walk_forward_regimes(closes, **PARAMS)
    labels = np.asarray(wf.labels)
    assert (labels[: wf.first_fit_bar] == -1).all() and (labels[wf.first_fit_bar:] >= 0).all()
    assert [f.bar for f in wf.fits] == list(range(wf.first_fit_bar, len(closes), PARAMS["refit_every"]))
    assert r02.agreement(labels, truth) >= 0.90
    assert all(f.return_vol[0] < f.return_vol[1] for f in wf.fits)


@pytest.mark.parametrize("cut", ["before_first_fit", "first_fit", "refit", "before_refit", "between"])
def test_changing_data_after_day_t_changes_no_label_up_to_t(cut: str) -> None:
    closes, _ = _planted(1)
    wf = r02.walk_forward_regimes(closes, **PARAMS)
    first, every = wf.first_fit_bar, PARAMS["refit_every"]
    T = {"before_first_fit": first - 1, "first_fit": first, "refit": first + 2 * every,
         "before_refit": first + 3 * every - 1, "between": first + 3 * every + 40}[cut]
    rng = np.random.default_rng(T)
    changed = closes.copy()
    changed[T + 1:] *= np.exp(np.cumsum(rng.normal(0.0, 0.04, len(closes) - T - 1)))  # a wilder future
    other = r02.walk_forward_regimes(changed, **PARAMS)
    assert other.labels[: T + 1] == wf.labels[: T + 1]
    np.testing.assert_array_equal(np.asarray(other.probs[: T + 1]), np.asarray(wf.probs[: T + 1]))
    assert [f for f in other.fits if f.bar <= T] == [f for f in wf.fits if f.bar <= T]
    assert other.labels[T + 1:] != wf.labels[T + 1:], "the change made no difference: the case proves nothing"


def test_the_same_seed_gives_the_same_labels_and_fits() -> None:
    closes, _ = _planted(2)
    a, b = r02.walk_forward_regimes(closes, **PARAMS), r02.walk_forward_regimes(closes, **PARAMS)
    assert a.labels == b.labels and a.fits == b.fits
    np.testing.assert_array_equal(np.asarray(a.probs), np.asarray(b.probs))


@pytest.mark.parametrize(("field", "value"), [
    ("vol_window", 1), ("train_bars", 5), ("refit_every", 0), ("n_states", 1), ("n_iter", 0), ("seed", -1),
    ("covariance_type", "spherical"), ("refit_every", 2.5),
])
def test_bad_parameters_name_the_field_the_value_and_a_fix(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{field} = {value!r} .*; use {field}="):
        r02.WalkForwardHMM(**{field: value})  # type: ignore[arg-type]


def test_bad_inputs_to_the_fit_and_the_generator_are_refused() -> None:
    with pytest.raises(ValueError, match="without NaN"):
        r01.fit_regime_model(r01.regime_features(_planted()[0], 20))
    with pytest.raises(ValueError, match="too few"):
        r01.fit_regime_model(np.ones((12, 2)))
    with pytest.raises(ValueError, match=r"^schedule = \[100, 0\]"):
        r01.planted_regimes([100, 0])
    with pytest.raises(ValueError, match=r"^lookback = 0 "):
        r03.trailing_return([1.0, 2.0], 0)


def test_the_momentum_rule_trades_only_a_likely_calm_regime_with_a_rising_trend() -> None:
    rule = r03.regime_momentum_position
    assert rule(0, 0.9, 0.01) == 1 and rule(0, 0.4, 0.01) == 0 and rule(0, 0.5, 0.01) == 0
    assert rule(0, 0.9, -0.01) == 0 and rule(1, 0.9, -0.01) == 0  # the trend decides too
    assert rule(0, float("nan"), 0.5) == 0 and rule(1, 0.9, float("nan")) == 0
    # hysteresis: enter above 0.7, stay down to 0.3
    assert rule(0, 0.6, 0.01, 0.7, 0.3) == 0 and rule(1, 0.6, 0.01, 0.7, 0.3) == 1
    assert rule(1, 0.3, 0.01, 0.7, 0.3) == 1 and rule(1, 0.29, 0.01, 0.7, 0.3) == 0
    assert r03.tradable_probability([0.2, 0.5, 0.3]) == pytest.approx(0.2)
    assert r03.tradable_probability([0.2, 0.5, 0.3], max_regime=1) == pytest.approx(0.7)
    assert np.isnan(r03.tradable_probability([np.nan, np.nan]))
    assert r03.trailing_return([100.0, 90.0, 110.0], 2) == pytest.approx(0.1)
    assert np.isnan(r03.trailing_return([100.0, 90.0], 2))
    held = r03.positions([1.0, 2.0, 3.0, 4.0, 3.5, 5.0],
                         [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6], [0.9, 0.1], [0.9, 0.1]], 1, 0, 0.7, 0.3)
    assert held.tolist() == [0, 1, 1, 1, 0, 1]


def test_each_page_runs_and_shows_what_it_says(tmp_path: Path) -> None:
    one = r01.main(tmp_path)
    assert one["return_vol"][0] < one["return_vol"][1]
    assert one["turbulent_2008"] > 0.8 and one["turbulent_2017"] < 0.1  # measured 93 % and 0 %
    two = r02.main(tmp_path)
    assert two["planted_agreement"] >= 0.9 and two["fits"] == 12 and Path(two["plot"]).stat().st_size > 10_000
    three = r03.main(tmp_path)
    assert three["regime_momentum"]["exposure"] < three["momentum"]["exposure"] < 1.0
    assert three["regime_momentum"]["volatility"] < three["momentum"]["volatility"] < three["buy_and_hold"]["volatility"]
    assert three["regime_momentum_0.7/0.3"]["round_trips"] < three["regime_momentum"]["round_trips"]


def test_only_ems_rounding_wobble_is_kept_quiet() -> None:
    """hmmlearn notes any fall of the log-likelihood; a fall below the fit's tol is rounding noise
    (hmmlearn counts that fit as converged) and is dropped, a larger one still gets through."""
    import logging

    quiet = r01._QuietWobble(1e-4)

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("hmmlearn.base", logging.WARNING, __file__, 0, message, None, None)

    note = "Model is not converging.  Current: -359.4 is not greater than -359.3. Delta is {}"
    assert not quiet.filter(record(note.format(-2.96e-05)))
    assert quiet.filter(record(note.format(-0.02)))
    assert quiet.filter(record("something else"))
