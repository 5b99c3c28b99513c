"""A deterministic multi-asset bar generator: correlated returns with alternating regimes.

The same seed, symbols and sessions give the same bars on every machine (numpy's PCG64 stream).
Prices are rounded to cents and OHLC is made consistent after rounding, so the bars pass
validation as they are, for every setting the config accepts: a close that would fall below one
cent is reflected at that floor (the path moves on from it with the same returns, as a price that
cannot go below a tick does), and no open or low is written below it either.

Planted pairs (``data.synthetic.pairs``) replace the close of each pair's ``y`` by
``alpha + beta * x + s`` with ``s`` an AR(1) spread of the asked half-life, and symbols listed as
``independent`` get shocks of their own and no regime drift: random walks tied to nothing. Both draw from a second stream
of the same seed, so the other symbols' bars are exactly what they are without them.

Controls are clear negatives by construction. Under the null a test of cointegration rejects at
its size: one pair of independent walks in ten has an Engle-Granger p-value below 0.1 by chance.
A control that looks cointegrated teaches nothing, so on a range of ``CONTROL_MIN_SESSIONS`` or
more the independent walks are redrawn (from the same second stream, so still a function of the
seed) until no two of them are cointegrated: Engle-Granger p > 0.1 in both directions and a
Johansen trace rank of 0 at 95% (the chapter 12 recipes' own tests, on the written closes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from algotrade.core.config import PlantedPair, SyntheticConfig
from algotrade.core.errors import ConfigError

#: the smallest price the generator writes (prices are in cents)
TICK = 0.01
#: the shortest range on which independent controls are made clear negatives (see above)
CONTROL_MIN_SESSIONS = 250
#: the most draws of the controls (each passes with probability ~0.75 per pair of them)
CONTROL_DRAWS = 200


def clear_negatives(closes: np.ndarray) -> bool:
    """True when no two columns of ``closes`` look cointegrated: Engle-Granger p > 0.1 both ways
    and a Johansen trace rank of 0 at 95% (recipes/ch12_pairs_trading r01 and r02)."""
    from recipes.ch12_pairs_trading.r01_engle_granger import engle_granger
    from recipes.ch12_pairs_trading.r02_johansen import johansen_rank

    k = closes.shape[1]
    for a in range(k):
        for b in range(a + 1, k):
            ya, yb = closes[:, a], closes[:, b]
            if engle_granger(ya, yb).pvalue <= 0.1 or engle_granger(yb, ya).pvalue <= 0.1:
                return False
            if johansen_rank(np.column_stack([ya, yb])) != 0:
                return False
    return True


def _closes(start_price: float, log_ret: np.ndarray, floor: float) -> np.ndarray:
    """Closes from log returns, each path lifted by its running shortfall below ``floor`` (a
    reflecting barrier in log space); paths that stay above it are the plain compounded ones."""
    cum = np.cumsum(log_ret, axis=0)
    log_path = np.log(start_price) + cum
    shortfall = np.maximum.accumulate(np.maximum(np.log(floor) - log_path, 0.0), axis=0)
    return np.where(shortfall > 0, np.exp(log_path + shortfall), start_price * np.exp(cum))


def ar1_spread(n: int, half_life: float, shock_vol: float, rng: np.random.Generator) -> np.ndarray:
    """An AR(1) path ``s[t] = phi * s[t-1] + shock_vol * e[t]`` from ``s[0] = 0``, with
    ``phi = 0.5 ** (1 / half_life)``: the discretely sampled Ornstein-Uhlenbeck spread."""
    phi = 0.5 ** (1.0 / half_life)
    shocks = shock_vol * rng.standard_normal(n)
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def _plant(pair: PlantedPair, where: str, x_close: np.ndarray, spread: np.ndarray, sessions: pd.DatetimeIndex) -> np.ndarray:
    """The closes of a planted ``y``: ``alpha + beta * x + spread``, refused when one falls below a tick."""
    y = pair.alpha + pair.beta * x_close + spread
    low = int(np.argmin(y))
    if y[low] < TICK:
        lift = float(np.ceil(TICK - y[low]))
        raise ConfigError(
            f"data.synthetic.{where}: the planted close of {pair.y} falls to {y[low]:.2f} on "
            f"{sessions[low].date()} (prices must stay above 0); raise its alpha to {pair.alpha + lift:g} "
            "or more, or lower its spread_vol"
        )
    return y


def generate(symbols: tuple[str, ...], sessions: pd.DatetimeIndex, cfg: SyntheticConfig) -> dict[str, pd.DataFrame]:
    n, k = len(sessions), len(symbols)
    if n == 0:
        raise ConfigError(
            "data.start/end: the range holds no session of data.calendar, so the synthetic source "
            "has no bars to generate; widen data.start .. data.end"
        )
    try:
        cfg.check_symbol_count(k)
        cfg.check_symbols(symbols)
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
    planted = np.random.default_rng([cfg.seed, 1])  # the pairs' own stream: other symbols unchanged
    column = {symbol: j for j, symbol in enumerate(symbols)}
    controls = [column[symbol] for symbol in cfg.independent]
    for _ in range(CONTROL_DRAWS):
        for j in controls:
            # no regime drift either: a shared trend would tie independent walks together
            log_ret[:, j] = -0.5 * daily_vol**2 + daily_vol * planted.standard_normal(n)
        log_ret[0] = 0.0
        closes = _closes(cfg.start_price, log_ret, TICK)
        if len(controls) < 2 or n < CONTROL_MIN_SESSIONS:
            break
        if clear_negatives(np.maximum(np.round(closes[:, controls], 2), TICK)):
            break
    for i, pair in enumerate(cfg.pairs):
        spread = ar1_spread(n, pair.half_life, pair.spread_vol, planted)
        closes[:, column[pair.y]] = _plant(pair, f"pairs[{i}]", closes[:, column[pair.x]], spread, sessions)
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
