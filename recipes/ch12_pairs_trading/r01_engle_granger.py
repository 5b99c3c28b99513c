"""Engle-Granger: are two prices tied together, and by how much of one per share of the other?

Two prices are cointegrated when each wanders like a random walk but a fixed combination of them,
the spread ``y - alpha - beta * x``, keeps coming back. Engle and Granger's two-step test fits
``beta`` and ``alpha`` by least squares on the price levels, then asks whether the residual has a
unit root (an augmented Dickey-Fuller test with the critical values of a residual, not of a raw
series: statsmodels ``coint``; its lags are chosen by AIC up to ``maxlag`` = 4 here, where
statsmodels' own default of ``12 * (n / 100) ** 0.25`` lags, 27 for ten years of days, makes one
test take seconds and a universe search minutes). A small p-value says the spread is stationary, and ``beta`` is the
hedge ratio: shares of x to short per share of y held.

This page also holds the chapter's data helper: closes from the project's synthetic source with
planted pairs (``data.synthetic.pairs``: a known beta and spread half-life) and independent
controls, so every page can check its estimate against the truth.

What to look at: the planted pair's p-value (tiny) and its fitted beta next to the planted 1.5,
and the control pair's p-value (nowhere near significant).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

#: the planted pair the chapter's pages use: y = 10 + 1.5 x + an AR(1) spread of half-life 5 days
PLANTED = {"y": "Y", "x": "X", "beta": 1.5, "alpha": 10.0, "half_life": 5.0, "spread_vol": 1.0}


def planted_closes(seed: int = 3, n: int = 2520, pairs: tuple[dict[str, Any], ...] = (PLANTED,),
                   independent: tuple[str, ...] = ("X", "A", "B")) -> pd.DataFrame:
    """Daily closes of the synthetic source with ``pairs`` planted and ``independent`` controls,
    one column per symbol, ``n`` business days (ten years by default) from 2015-01-02."""
    from algotrade.core.config import PlantedPair, SyntheticConfig
    from algotrade.core.synthetic import generate

    symbols = tuple(dict.fromkeys([s for p in pairs for s in (p["y"], p["x"])] + list(independent)))
    cfg = SyntheticConfig.model_validate({"seed": seed, "pairs": [PlantedPair(**p) for p in pairs], "independent": independent})
    frames = generate(symbols, pd.bdate_range("2015-01-02", periods=n), cfg)
    return pd.DataFrame({s: f["close"] for s, f in frames.items()})


@dataclass(frozen=True)
class EngleGranger:
    pvalue: float  #: of the null "no cointegration" (MacKinnon's p-value of the residual ADF test)
    stat: float  #: the residual's ADF t-statistic
    beta: float  #: hedge ratio: least-squares slope of y on x
    alpha: float  #: least-squares intercept


def ols_hedge(y: ArrayLike, x: ArrayLike) -> tuple[float, float]:
    """``(beta, alpha)`` of the least-squares line ``y = alpha + beta * x``."""
    beta, alpha = np.polyfit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), 1)
    return float(beta), float(alpha)


def engle_granger(y: ArrayLike, x: ArrayLike, maxlag: int = 4) -> EngleGranger:
    """The Engle-Granger test of ``y`` on ``x`` (statsmodels ``coint``, constant term, the ADF's
    lags chosen by AIC up to ``maxlag``) and its hedge line."""
    from statsmodels.tsa.stattools import coint

    stat, pvalue, _ = coint(np.asarray(y, dtype=float), np.asarray(x, dtype=float), trend="c", maxlag=maxlag)
    beta, alpha = ols_hedge(y, x)
    return EngleGranger(float(pvalue), float(stat), beta, alpha)


def main(out: Path | None = None) -> dict[str, Any]:
    closes = planted_closes()
    result: dict[str, Any] = {}
    for y, x in (("Y", "X"), ("A", "B")):
        eg = engle_granger(closes[y], closes[x])
        print(f"{y} on {x}: Engle-Granger p = {eg.pvalue:.2g}, beta = {eg.beta:.4f}, alpha = {eg.alpha:.2f}")
        result[f"{y}~{x}"] = eg
    print(f"planted: beta {PLANTED['beta']}, alpha {PLANTED['alpha']}")
    return result


if __name__ == "__main__":
    main()
