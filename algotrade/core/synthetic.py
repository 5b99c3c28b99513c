"""A deterministic multi-asset bar generator: correlated returns with alternating regimes.

The same seed, symbols and sessions give the same bars on every machine (numpy's PCG64 stream).
Prices are rounded to cents and OHLC is made consistent after rounding, so the bars pass
validation as they are, for every setting the config accepts: a close that would fall below one
cent is reflected at that floor (the path moves on from it with the same returns, as a price that
cannot go below a tick does), and no open or low is written below it either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from algotrade.core.config import SyntheticConfig
from algotrade.core.errors import ConfigError

#: the smallest price the generator writes (prices are in cents)
TICK = 0.01


def _closes(start_price: float, log_ret: np.ndarray, floor: float) -> np.ndarray:
    """Closes from log returns, each path lifted by its running shortfall below ``floor`` (a
    reflecting barrier in log space); paths that stay above it are the plain compounded ones."""
    cum = np.cumsum(log_ret, axis=0)
    log_path = np.log(start_price) + cum
    shortfall = np.maximum.accumulate(np.maximum(np.log(floor) - log_path, 0.0), axis=0)
    return np.where(shortfall > 0, np.exp(log_path + shortfall), start_price * np.exp(cum))


def generate(symbols: tuple[str, ...], sessions: pd.DatetimeIndex, cfg: SyntheticConfig) -> dict[str, pd.DataFrame]:
    n, k = len(sessions), len(symbols)
    if n == 0:
        raise ConfigError(
            "data.start/end: the range holds no session of data.calendar, so the synthetic source "
            "has no bars to generate; widen data.start .. data.end"
        )
    try:
        cfg.check_symbol_count(k)
    except ValueError as exc:
        raise ConfigError(f"data.synthetic: {exc}") from None
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
    closes = _closes(cfg.start_price, log_ret, TICK)
    gaps = np.exp(0.25 * daily_vol * rng.standard_normal((n, k)))
    wicks = np.abs(0.5 * daily_vol * rng.standard_normal((2, n, k)))
    volume = np.round(rng.lognormal(np.log(1_000_000), 0.4, (n, k)))
    frames: dict[str, pd.DataFrame] = {}
    for j, symbol in enumerate(symbols):
        close = np.maximum(np.round(closes[:, j], 2), TICK)
        prev = np.concatenate([[closes[0, j]], closes[:-1, j]])
        open_ = np.maximum(np.round(prev * gaps[:, j], 2), TICK)
        high = np.round(np.maximum(open_, close) * (1 + wicks[0, :, j]), 2)
        low = np.maximum(np.round(np.minimum(open_, close) * (1 - wicks[1, :, j]), 2), TICK)
        high = np.maximum.reduce([high, open_, close])
        low = np.minimum.reduce([low, open_, close])
        frames[symbol] = pd.DataFrame(
            {"open": open_, "high": high, "low": low, "close": close, "volume": volume[:, j]},
            index=pd.DatetimeIndex(sessions, name="date"),
        )
    return frames
