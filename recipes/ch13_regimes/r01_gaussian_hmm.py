"""A Gaussian hidden Markov model of daily returns and volatility, its states ordered calm first.

Markets alternate between quiet stretches and turbulent ones. A hidden Markov model (HMM) says
that each day belongs to one of ``n_states`` unseen regimes, that the regime follows a Markov
chain (today's regime depends only on yesterday's), and that each regime draws the day's
observations from its own Gaussian. Fitted by expectation-maximisation (``hmmlearn``'s
``GaussianHMM``, a fixed ``random_state`` so the same data gives the same model), it learns the
regimes' means, variances and the chance of switching between them.

1. **Observations.** Two per day, in percent so that their variances sit well above
   ``hmmlearn``'s variance floor (``min_covar = 1e-3``): the day's log return and the
   ``vol_window``-day rolling standard deviation of log returns (ddof=1) ending that day. The
   first ``vol_window`` days have no volatility yet and are NaN. Each row is computed from its own
   last ``vol_window + 1`` closes only (:func:`feature_row`), so a row never depends on later
   data, and the strategy computing one row per bar gets the very same floats.
2. **Label switching.** EM numbers its states arbitrarily: state 0 of one fit may be state 1 of
   the next. We therefore order the states by the standard deviation of their return
   (:func:`volatility_order`): regime 0 is always the calmest and ``n_states - 1`` the most
   turbulent, whatever the fit called them.
3. **Filtered, not smoothed.** ``predict`` and ``predict_proba`` run the forward-backward
   algorithm: the probability of a regime on a day there uses the days *after* it. A trader on
   that day knows only the days up to it, so :meth:`RegimeModel.filter` runs the forward
   recursion alone, ``alpha_t ∝ (alpha_{t-1} A) * b(x_t)``, normalised each day: the filtered
   probability of each regime given the observations so far. Its last row equals
   ``predict_proba`` of the same rows (the smoothed and filtered probabilities of the last day
   coincide); every earlier row generally does not.
4. **Speed and determinism.** EM starts from a k-means clustering (ten starts drawn from
   ``random_state``); the fit runs on one thread, which for a few hundred rows is about ten times
   faster than OpenMP's and does not depend on the machine.

This page also holds :func:`planted_regimes`, a deterministic generator of closes whose
volatility switches between known levels on a known schedule: the chapter's tests check that the
model finds the regimes it planted.

What to look at: the two regimes the model finds in SPX 1999-2018 (their daily volatility and how
long each lasts on average), and how much of 2008 the filter calls turbulent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from hmmlearn.hmm import GaussianHMM
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

FEATURES = ("return_pct", "vol_pct")
COVARIANCE_TYPES = ("diag", "full")


def check_positive(name: str, value: int, minimum: int = 1) -> None:
    """Refuse a parameter below ``minimum`` with a message naming it, its value and the fix."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} = {value!r} is not a whole number >= {minimum}; use {name}={minimum} or more")


def feature_row(closes: ArrayLike, vol_window: int) -> tuple[float, float]:
    """The observation of the last close: (log return %, rolling std of log returns % ending there).

    Uses only the last ``vol_window + 1`` closes; NaN where they are too few.
    """
    check_positive("vol_window", vol_window, 2)
    c = np.asarray(closes, dtype=np.float64)[-(vol_window + 1):]
    if len(c) < 2:
        return math.nan, math.nan
    r = np.diff(np.log(c)) * 100.0
    vol = float(np.std(r, ddof=1)) if len(r) == vol_window else math.nan
    return float(r[-1]), vol


def regime_features(closes: ArrayLike, vol_window: int = 20) -> np.ndarray:
    """One :func:`feature_row` per close: an ``(n, 2)`` array, NaN in the first ``vol_window`` rows."""
    c = np.asarray(closes, dtype=np.float64)
    out = np.full((len(c), 2), np.nan)
    for t in range(len(c)):
        out[t] = feature_row(c[max(0, t - vol_window): t + 1], vol_window)
    return out


@dataclass(frozen=True)
class RegimeModel:
    """A fitted ``GaussianHMM`` and ``order``: regime ``k`` is the HMM's state ``order[k]`` (calm first)."""

    hmm: GaussianHMM
    order: np.ndarray

    @property
    def n_states(self) -> int:
        return int(self.hmm.n_components)

    @property
    def return_vol(self) -> np.ndarray:
        """Daily return standard deviation (%) of each regime, calm first (increasing)."""
        return np.sqrt(np.asarray(self.hmm.covars_)[self.order, 0, 0])

    @property
    def transmat(self) -> np.ndarray:
        """Regime-to-regime switching probabilities, rows and columns in regime order."""
        return np.asarray(self.hmm.transmat_)[np.ix_(self.order, self.order)]

    @cached_property
    def _gaussians(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each HMM state's mean, inverse covariance and ``log((2 pi)^d det(cov))``."""
        means, covars = np.asarray(self.hmm.means_), np.asarray(self.hmm.covars_)
        _, logdet = np.linalg.slogdet(covars)
        return means, np.linalg.inv(covars), logdet + means.shape[1] * math.log(2 * math.pi)

    def log_emission(self, X: np.ndarray) -> np.ndarray:
        """``log b_s(x_t)``: the Gaussian log density of each row under each HMM state (its own numbering)."""
        means, inv, lognorm = self._gaussians
        d = np.asarray(X, dtype=np.float64)[:, None, :] - means[None, :, :]  # rows x states x features
        return -0.5 * (np.einsum("tsi,sij,tsj->ts", d, inv, d) + lognorm)

    def filter(self, X: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Forward-filtered regime probabilities of each row (regime order), and the last alpha.

        ``alpha`` (the HMM's numbering, summing to 1) carries the recursion on from a previous
        call; without it the recursion starts from the model's start probabilities. Each step is
        ``alpha_t = normalise((alpha_{t-1} A) * b(x_t))``, with ``b`` scaled by its row maximum
        (a constant per row, which the normalisation removes) so that nothing underflows.
        """
        X = np.asarray(X, dtype=np.float64).reshape(-1, 2)
        if not len(X):
            raise ValueError("filter() needs at least one row")
        logb = self.log_emission(X)
        b = np.exp(logb - logb.max(axis=1, keepdims=True))
        A = np.asarray(self.hmm.transmat_)
        probs = np.empty((len(X), self.n_states))
        start = np.asarray(self.hmm.startprob_)
        prev = alpha
        for t in range(len(X)):
            a = (start if prev is None else prev @ A) * b[t]
            prev = a / a.sum()
            probs[t] = prev[self.order]
        assert prev is not None
        return probs, prev


class _QuietWobble(logging.Filter):
    """Drops hmmlearn's "Model is not converging" note when the log-likelihood fell by less than
    ``tol``: rounding noise at the end of EM, where hmmlearn itself counts the fit as converged.
    A larger fall is still reported."""

    def __init__(self, tol: float) -> None:
        super().__init__()
        self.tol = tol

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if not text.startswith("Model is not converging"):
            return True
        try:
            return abs(float(text.rsplit("Delta is", 1)[1])) >= self.tol
        except (IndexError, ValueError):
            return True


def volatility_order(hmm: GaussianHMM) -> np.ndarray:
    """HMM state numbers sorted by their return variance (ties: by mean volatility, then number)."""
    covars, means = np.asarray(hmm.covars_), np.asarray(hmm.means_)
    return np.lexsort((np.arange(len(means)), means[:, 1], covars[:, 0, 0])).astype(np.int64)


def fit_regime_model(
    X: np.ndarray, n_states: int = 2, seed: int = 0, n_iter: int = 50, covariance_type: str = "diag",
    tol: float = 1e-4,
) -> RegimeModel:
    """Fit a ``GaussianHMM`` by EM on the rows of ``X`` (no NaN), and order its states calm first."""
    check_positive("n_states", n_states, 2)
    check_positive("n_iter", n_iter)
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type = {covariance_type!r} is not one of {', '.join(COVARIANCE_TYPES)}; "
                         "use covariance_type='diag'")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or not np.isfinite(X).all():
        raise ValueError(f"X must be rows of ({', '.join(FEATURES)}) without NaN; got shape {X.shape} "
                         "(drop the warm-up rows of regime_features first)")
    if len(X) < 10 * n_states:
        raise ValueError(f"{len(X)} rows are too few to fit {n_states} regimes; give at least {10 * n_states}")
    hmm = GaussianHMM(n_components=n_states, covariance_type=covariance_type, n_iter=n_iter, tol=tol,
                      random_state=seed)
    # one thread: the k-means start (scikit-learn, OpenMP) on a few hundred rows is ten times
    # faster without thread start-up, and does not vary with the machine's number of cores
    quiet = _QuietWobble(tol)
    log = logging.getLogger("hmmlearn.base")
    log.addFilter(quiet)
    try:
        with threadpool_limits(1):
            hmm.fit(X)
    finally:
        log.removeFilter(quiet)
    return RegimeModel(hmm, volatility_order(hmm))


def planted_regimes(
    schedule: Sequence[int], vols: Sequence[float] = (0.6, 2.4), seed: int = 0, drift: float = 0.03,
    start_price: float = 100.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Closes whose daily log-return volatility (%) is ``vols[k]`` in regime ``k``, and each day's true regime.

    ``schedule`` lists the lengths of consecutive spells, alternating regime 0, 1, 0, 1, ... (for
    two ``vols``; cycling through them for more). The first close has no return; it belongs to the
    first spell. Deterministic under ``seed``.
    """
    if not schedule or any(int(n) < 1 for n in schedule):
        raise ValueError(f"schedule = {list(schedule)!r} must list spell lengths >= 1; e.g. schedule=[250, 120, 250]")
    truth = np.concatenate([np.full(int(n), i % len(vols), dtype=np.int64) for i, n in enumerate(schedule)])
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(len(truth)) * np.asarray(vols, dtype=np.float64)[truth] + drift
    r[0] = 0.0
    return start_price * np.exp(np.cumsum(r) / 100.0), truth


def sample_closes(symbol: str = "SPX", start: str = "1999-01-04", end: str = "2018-12-31") -> tuple[np.ndarray, Any]:
    """Closes and session dates of a sample index."""
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    frame = load_market(DataConfig.model_validate({"symbols": [symbol], "start": start, "end": end})).frames[symbol]
    return frame["close"].to_numpy(), frame.index


def main(out: Path | None = None) -> dict[str, Any]:
    closes, dates = sample_closes()
    X = regime_features(closes, 20)
    ok = np.isfinite(X).all(axis=1)
    model = fit_regime_model(X[ok], n_states=2, seed=7)
    probs, _ = model.filter(X[ok])
    labels = probs.argmax(axis=1)
    vol = model.return_vol
    stay = np.diag(model.transmat)
    for k in range(model.n_states):
        print(f"regime {k} ({'calm' if k == 0 else 'turbulent'}): daily vol {vol[k]:.2f}%, "
              f"{np.mean(labels == k):.0%} of days, average spell {1 / (1 - stay[k]):.0f} days")
    year = np.asarray(dates[ok].year)
    share_2008 = float(np.mean(labels[year == 2008] == model.n_states - 1))
    share_2017 = float(np.mean(labels[year == 2017] == model.n_states - 1))
    print(f"filtered: turbulent on {share_2008:.0%} of 2008's sessions and {share_2017:.0%} of 2017's")
    return {"return_vol": vol.tolist(), "stay": stay.tolist(), "turbulent_2008": share_2008,
            "turbulent_2017": share_2017}


if __name__ == "__main__":
    main()
