"""A deterministic multi-asset bar generator: correlated returns with alternating regimes.

The same seed, symbols and sessions give the same bars on every machine (numpy's PCG64 stream).
Prices are rounded to cents and OHLC is made consistent after rounding, so the bars pass
validation as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from algotrade.config import SyntheticConfig


def generate(symbols: tuple[str, ...], sessions: pd.DatetimeIndex, cfg: SyntheticConfig) -> dict[str, pd.DataFrame]:
    n, k = len(sessions), len(symbols)
    rng = np.random.default_rng(cfg.seed)
    corr = np.full((k, k), cfg.correlation)
    np.fill_diagonal(corr, 1.0)
    chol = np.linalg.cholesky(corr + 1e-12 * np.eye(k))
    daily_vol = cfg.annual_vol / np.sqrt(252)
    # alternating bull (+15%/yr) and bear (-10%/yr) regimes over equal slices of the range
    regime = np.minimum((np.arange(n) * cfg.regimes) // max(n, 1), cfg.regimes - 1)
    drift = np.where(regime % 2 == 0, 0.15, -0.10) / 252
    shocks = rng.standard_normal((n, k)) @ chol.T
    log_ret = drift[:, None] - 0.5 * daily_vol**2 + daily_vol * shocks
    log_ret[0] = 0.0
    closes = cfg.start_price * np.exp(np.cumsum(log_ret, axis=0))
    gaps = np.exp(0.25 * daily_vol * rng.standard_normal((n, k)))
    wicks = np.abs(0.5 * daily_vol * rng.standard_normal((2, n, k)))
    volume = np.round(rng.lognormal(np.log(1_000_000), 0.4, (n, k)))
    frames: dict[str, pd.DataFrame] = {}
    for j, symbol in enumerate(symbols):
        close = np.round(closes[:, j], 2)
        prev = np.concatenate([[closes[0, j]], closes[:-1, j]])
        open_ = np.round(prev * gaps[:, j], 2)
        high = np.round(np.maximum(open_, close) * (1 + wicks[0, :, j]), 2)
        low = np.round(np.minimum(open_, close) * (1 - wicks[1, :, j]), 2)
        high = np.maximum.reduce([high, open_, close])
        low = np.minimum.reduce([low, open_, close])
        frames[symbol] = pd.DataFrame(
            {"open": open_, "high": high, "low": low, "close": close, "volume": volume[:, j]},
            index=pd.DatetimeIndex(sessions, name="date"),
        )
    return frames
