"""Walk-forward regimes: refit the HMM every N sessions on past data only, label each day as it comes.

r01 fitted one model on twenty years and read the regimes back over the same years: fine for a
picture, useless for trading, because the model had seen the future of every day it labelled.
Here the model is refitted every ``refit_every`` sessions on the ``train_bars`` observations
*before* the refit day (or on all of them with ``expanding``), and each day's label comes from
the model fitted before it:

1. On a refit day ``k`` the model is fitted on the rows ``[k - train_bars, k)``: none of them is
   day ``k`` or later. The forward filter then runs over those rows and day ``k`` itself, which
   gives the filtered regime probabilities of day ``k``.
2. On the following days the filter takes one step per day with that model: yesterday's
   probabilities times the transition matrix, times today's likelihoods, normalised.
3. A day's label is its most probable regime (ties go to the calmer one); -1 before the first
   fit (``vol_window + train_bars`` sessions of warm-up).

The refit days depend only on the day's index, never on how much data follows, and the labels of
days up to ``T`` are computed from the closes up to ``T``: changing any later close cannot change
them (the tests check this). The same :class:`WalkForwardHMM` is what the production strategy
``regime_momentum`` steps through bar by bar, so the engines label every day exactly as this page
does.

A regime is relative to the window the model was fitted on: a rolling two-year window that holds
2008 calls 1.2 % a day calm, one that holds only 2006 calls 0.9 % turbulent. ``expanding``
fits on every observation so far instead, which keeps the yardstick steadier and makes each fit
slower.

What to look at: on planted regimes (volatility 0.6 % and 2.4 % a day, switching on a known
schedule) the share of days labelled right; on SPX 2005-2012 the models' refit dates, the share of
turbulent days, and ``regimes_spx.png`` (the close with turbulent days shaded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from recipes.ch13_regimes import out_dir
from recipes.ch13_regimes.r01_gaussian_hmm import (
    COVARIANCE_TYPES,
    RegimeModel,
    check_positive,
    feature_row,
    fit_regime_model,
    planted_regimes,
    sample_closes,
)


@dataclass(frozen=True)
class Fit:
    """One refit: the day it labels first, its training rows ``[train_start, bar)``, what it found."""

    bar: int
    train_start: int
    return_vol: tuple[float, ...]
    iterations: int
    converged: bool


@dataclass
class WalkForwardHMM:
    """Regime labels computed one close at a time, from models refitted on past observations only."""

    vol_window: int = 20
    train_bars: int = 504
    refit_every: int = 63
    expanding: bool = False
    n_states: int = 2
    seed: int = 0
    n_iter: int = 25
    covariance_type: str = "diag"
    rows: list[tuple[float, float]] = field(default_factory=list, repr=False)
    labels: list[int] = field(default_factory=list, repr=False)
    probs: list[tuple[float, ...]] = field(default_factory=list, repr=False)
    fits: list[Fit] = field(default_factory=list, repr=False)
    model: RegimeModel | None = field(default=None, repr=False)
    _alpha: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_positive("vol_window", self.vol_window, 2)
        check_positive("train_bars", self.train_bars, 10 * max(self.n_states, 2))
        check_positive("refit_every", self.refit_every)
        check_positive("n_states", self.n_states, 2)
        check_positive("n_iter", self.n_iter)
        check_positive("seed", self.seed, 0)
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type = {self.covariance_type!r} is not one of "
                             f"{', '.join(COVARIANCE_TYPES)}; use covariance_type='diag'")

    @property
    def first_fit_bar(self) -> int:
        """The first labelled day: ``vol_window`` days without volatility, then ``train_bars`` to fit on."""
        return self.vol_window + self.train_bars

    def is_refit_bar(self, k: int) -> bool:
        return k >= self.first_fit_bar and (k - self.first_fit_bar) % self.refit_every == 0

    def step(self, closes: ArrayLike) -> int:
        """Take the next day: ``closes`` ends with its close (at least its last ``vol_window + 1``).

        Returns its regime label (0 calm ... ``n_states - 1`` turbulent), or -1 before the first fit.
        """
        k = len(self.rows)
        self.rows.append(feature_row(closes, self.vol_window))
        if self.is_refit_bar(k):
            X = np.asarray(self.rows, dtype=np.float64)
            start = self.vol_window if self.expanding else k - self.train_bars
            model = fit_regime_model(X[start:k], self.n_states, self.seed, self.n_iter, self.covariance_type)
            probs, self._alpha = model.filter(X[start: k + 1])
            self.model = model
            self.fits.append(Fit(k, start, tuple(float(v) for v in model.return_vol),
                                 int(model.hmm.monitor_.iter), bool(model.hmm.monitor_.converged)))
            p = probs[-1]
        elif self.model is not None:
            probs, self._alpha = self.model.filter(np.asarray(self.rows[-1]), self._alpha)
            p = probs[-1]
        else:
            self.labels.append(-1)
            self.probs.append((float("nan"),) * self.n_states)
            return -1
        label = int(np.argmax(p))
        self.labels.append(label)
        self.probs.append(tuple(float(v) for v in p))
        return label


def walk_forward_regimes(closes: ArrayLike, **params: Any) -> WalkForwardHMM:
    """Step a :class:`WalkForwardHMM` (``params`` are its fields) through every close, in order."""
    c = np.asarray(closes, dtype=np.float64)
    wf = WalkForwardHMM(**params)
    for t in range(len(c)):
        wf.step(c[max(0, t - wf.vol_window): t + 1])
    return wf


def agreement(labels: ArrayLike, truth: ArrayLike) -> float:
    """The share of labelled days (label >= 0) whose label is the true regime."""
    lab, tru = np.asarray(labels), np.asarray(truth)
    seen = lab >= 0
    return float(np.mean(lab[seen] == tru[seen])) if seen.any() else float("nan")


#: the planted schedule the page and the tests use: calm and turbulent spells of known lengths
PLANTED_SCHEDULE = (300, 80, 160, 120, 200, 60, 150, 100, 180, 90)


def plot_regimes(dates: Any, closes: np.ndarray, labels: np.ndarray, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    ax.plot(dates, closes, color="black", linewidth=0.8, label="close")
    turbulent = labels > 0
    ax.fill_between(dates, 0, 1, where=turbulent, transform=ax.get_xaxis_transform(), color="tab:red",
                    alpha=0.25, linewidth=0, label="turbulent (walk-forward label)")
    ax.fill_between(dates, 0, 1, where=labels < 0, transform=ax.get_xaxis_transform(), color="grey",
                    alpha=0.15, linewidth=0, label="warm-up (no model yet)")
    ax.set_title("SPX with walk-forward HMM regimes (filtered, refitted on past data only)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main(out: Path | None = None) -> dict[str, Any]:
    params = {"vol_window": 20, "train_bars": 504, "refit_every": 126, "seed": 7, "n_iter": 25}
    closes, truth = planted_regimes(PLANTED_SCHEDULE, seed=3)
    planted = walk_forward_regimes(closes, **params)
    score = agreement(planted.labels, truth)
    print(f"planted regimes ({len(closes)} days, {len(planted.fits)} fits): "
          f"{score:.1%} of labelled days right")
    closes, dates = sample_closes(start="2005-01-03", end="2012-12-31")
    wf = walk_forward_regimes(closes, **params)
    labels = np.asarray(wf.labels)
    for fit in wf.fits:
        vols = ", ".join(f"{v:.2f}%" for v in fit.return_vol)
        print(f"  refit {dates[fit.bar].date()}: trained on {dates[fit.train_start].date()} .. "
              f"{dates[fit.bar - 1].date()}, daily vol by regime {vols}")
    turbulent = float(np.mean(labels[labels >= 0] > 0))
    print(f"SPX 2005-2012: labelled from {dates[wf.first_fit_bar].date()}, turbulent on {turbulent:.0%} of those days")
    png = plot_regimes(dates, closes, labels, out_dir(out) / "regimes_spx.png")
    return {"planted_agreement": score, "fits": len(wf.fits), "turbulent_share": turbulent, "plot": str(png)}


if __name__ == "__main__":
    main()
