"""Kalman filter: a hedge ratio that updates one bar at a time.

Treat the hedge line as a hidden state ``theta = [beta, alpha]`` that drifts as a random walk
(``theta[t] = theta[t-1] + w``, ``w ~ N(0, Q)``, ``Q = delta / (1 - delta) * I``) and each bar as a
noisy observation of it (``y[t] = beta * x[t] + alpha + v``, ``v ~ N(0, R)``). The Kalman filter
keeps a Gaussian belief ``(theta, P)`` and per bar (1) predicts: ``P += Q``; (2) updates with the
bar: error ``e = y - [x, 1] theta``, its variance ``S = H P H' + R``, gain ``K = P H' / S``,
``theta += K e``, ``P -= K H P``. The estimate at t uses bars up to t only (it is causal by
construction), moves quickly when the relation changes, and needs no window. ``delta`` sets how
fast the state may drift (small: close to a growing-window OLS), ``R`` the bar's noise in squared
dollars; the prior is wide, so the first bars decide.

What to look at: the filtered beta settling near the planted 1.5, and the filter's one-bar
prediction error, which is the spread the z-score rules of r06 trade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from recipes.ch12_pairs_trading.r01_engle_granger import PLANTED, planted_closes


class KalmanHedge:
    """The 2-state filter of y on x; :meth:`update` takes one bar and returns ``(beta, alpha)``."""

    def __init__(self, delta: float = 1e-7, obs_var: float = 1.0, prior_var: float = 1e4) -> None:
        if not 0 < delta < 1:
            raise ValueError(f"delta {delta!r} must be between 0 and 1 (e.g. 1e-7)")
        if obs_var <= 0 or prior_var <= 0:
            raise ValueError(f"obs_var {obs_var!r} and prior_var {prior_var!r} must be positive")
        self.q = delta / (1 - delta)
        self.r = obs_var
        self.theta = np.zeros(2)
        self.p = prior_var * np.eye(2)

    def update(self, y: float, x: float) -> tuple[float, float]:
        """Predict, then correct with the bar ``(y, x)``; the new ``(beta, alpha)``."""
        self.p = self.p + self.q * np.eye(2)
        h = np.array([x, 1.0])
        error = y - h @ self.theta
        ph = self.p @ h
        gain = ph / (h @ ph + self.r)
        self.theta = self.theta + gain * error
        self.p = self.p - np.outer(gain, ph)
        return float(self.theta[0]), float(self.theta[1])


def kalman_hedge(y: ArrayLike, x: ArrayLike, delta: float = 1e-7, obs_var: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(beta, alpha)`` filtered at each bar from bars up to it."""
    kf = KalmanHedge(delta, obs_var)
    out = np.array([kf.update(float(a), float(b)) for a, b in zip(np.asarray(y, float), np.asarray(x, float), strict=True)])
    return out[:, 0], out[:, 1]


def main(out: Path | None = None) -> dict[str, Any]:
    closes = planted_closes()
    beta, alpha = kalman_hedge(closes["Y"], closes["X"])
    half = len(beta) // 2
    print(f"Kalman beta over the second half: median {np.median(beta[half:]):.4f}, "
          f"5-95% {np.percentile(beta[half:], 5):.3f}..{np.percentile(beta[half:], 95):.3f} (planted {PLANTED['beta']})")
    print(f"last estimate: beta {beta[-1]:.4f}, alpha {alpha[-1]:.2f} (planted {PLANTED['alpha']})")
    return {"median_beta": float(np.median(beta[half:])), "beta": beta, "alpha": alpha}


if __name__ == "__main__":
    main()
