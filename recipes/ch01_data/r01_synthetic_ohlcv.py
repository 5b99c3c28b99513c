"""Synthetic OHLCV bars: a deterministic generator, built step by step.

Real data has gaps, splits and licences; a test fixture should have none of those. This recipe
builds the project's synthetic generator (``algotrade.core.synthetic.generate``, behind
``data.source: synthetic``) one ingredient at a time and checks that the result is *identical*,
bit for bit, to the library's:

1. **Correlated shocks.** Standard normal draws for ``k`` symbols are multiplied by the Cholesky
   factor of a correlation matrix with one off-diagonal value ``rho``, so every pair of symbols
   has daily returns correlated by about ``rho``.
2. **Regimes.** The session range is cut into equal slices that alternate between a bull drift
   (+15 % a year) and a bear drift (-10 % a year): momentum and trend strategies have something
   to find, and something to lose.
3. **Geometric Brownian motion.** Log returns are ``drift - sigma**2 / 2 + sigma * shock``; the
   ``- sigma**2 / 2`` term makes the *expected* price grow at the drift, not faster. Closes are
   the start price times the exponential of the cumulated log returns.
4. **Bars around the close.** The open is the previous close times a small gap; high and low are
   the larger/smaller of open and close stretched by a half-normal wick; volume is lognormal
   around one million shares.
5. **Valid after rounding.** Prices are rounded to cents, and only *then* is high made the maximum
   (and low the minimum) of open, high, low and close. Rounding first and fixing after is what
   makes every bar pass ``high >= max(open, close)`` and ``low <= min(open, close)``.

Everything is drawn from one ``numpy.random.default_rng(seed)`` (PCG64) stream in a fixed order,
so the same seed, symbols and sessions give the same bars on every machine.

What to look at: the realised volatility and correlation against the targets, the drift measured
in each regime, zero validation problems, and ``synthetic_ohlcv.png`` (closes with the regimes
shaded, and one symbol's volume).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.config import SyntheticConfig
from algotrade.core.data import get_calendar
from algotrade.core.synthetic import generate
from algotrade.core.validation import check_calendar, check_rows, check_storage
from recipes.ch01_data import out_dir

TRADING_DAYS = 252
BULL_DRIFT, BEAR_DRIFT = 0.15, -0.10  # annual drifts of the alternating regimes


# --------------------------------------------------------------------------------------------
# ingredients


def xnys_sessions(start: str, end: str) -> pd.DatetimeIndex:
    """NYSE sessions between two dates, tz-naive, named ``date`` (the project's session index)."""
    cal = get_calendar("XNYS", dt.date.fromisoformat(start))
    sessions = cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    if sessions.tz is not None:
        sessions = sessions.tz_localize(None)
    return pd.DatetimeIndex(sessions, name="date")


def cholesky_of_equicorrelation(k: int, rho: float) -> np.ndarray:
    """Lower-triangular L with L @ L.T equal to a k x k matrix of ones on the diagonal, rho elsewhere.

    The tiny ridge keeps the factorisation defined when rho is close to 1 or k is 1.
    """
    corr = np.full((k, k), rho)
    np.fill_diagonal(corr, 1.0)
    return np.linalg.cholesky(corr + 1e-12 * np.eye(k))


def regime_of_each_session(n: int, regimes: int) -> np.ndarray:
    """0, 1, 2, ... for equal consecutive slices of n sessions (the last slice absorbs the rest)."""
    return np.minimum((np.arange(n) * regimes) // max(n, 1), regimes - 1)


def daily_drift(regime: np.ndarray) -> np.ndarray:
    """Even regimes are bull markets, odd ones bear markets; annual drift spread over 252 days."""
    return np.where(regime % 2 == 0, BULL_DRIFT, BEAR_DRIFT) / TRADING_DAYS


def gbm_log_returns(shocks: np.ndarray, drift: np.ndarray, daily_vol: float) -> np.ndarray:
    """Log returns of geometric Brownian motion; the first row is 0 so the first close is the start price."""
    log_ret = drift[:, None] - 0.5 * daily_vol**2 + daily_vol * shocks
    log_ret[0] = 0.0
    return log_ret


def bars_from_closes(
    exact_close: np.ndarray, gaps: np.ndarray, upper_wick: np.ndarray, lower_wick: np.ndarray
) -> dict[str, np.ndarray]:
    """Open, high, low, close of one symbol, rounded to cents and consistent after rounding."""
    close = np.round(exact_close, 2)
    previous = np.concatenate([[exact_close[0]], exact_close[:-1]])
    open_ = np.round(previous * gaps, 2)
    high = np.round(np.maximum(open_, close) * (1 + upper_wick), 2)
    low = np.round(np.minimum(open_, close) * (1 - lower_wick), 2)
    # rounding can pull a wick inside the body by a cent: repair it after rounding, not before
    high = np.maximum.reduce([high, open_, close])
    low = np.minimum.reduce([low, open_, close])
    return {"open": open_, "high": high, "low": low, "close": close}


def synthetic_bars(symbols: tuple[str, ...], sessions: pd.DatetimeIndex, cfg: SyntheticConfig) -> dict[str, pd.DataFrame]:
    """The generator, assembled from the ingredients above (draws in the library's order)."""
    n, k = len(sessions), len(symbols)
    rng = np.random.default_rng(cfg.seed)
    chol = cholesky_of_equicorrelation(k, cfg.correlation)
    daily_vol = cfg.annual_vol / np.sqrt(TRADING_DAYS)
    drift = daily_drift(regime_of_each_session(n, cfg.regimes))
    # the order of the draws is part of the definition: shocks, gaps, wicks, volume
    shocks = rng.standard_normal((n, k)) @ chol.T
    closes = cfg.start_price * np.exp(np.cumsum(gbm_log_returns(shocks, drift, daily_vol), axis=0))
    gaps = np.exp(0.25 * daily_vol * rng.standard_normal((n, k)))
    wicks = np.abs(0.5 * daily_vol * rng.standard_normal((2, n, k)))
    volume = np.round(rng.lognormal(np.log(1_000_000), 0.4, (n, k)))
    frames = {}
    for j, symbol in enumerate(symbols):
        ohlc = bars_from_closes(closes[:, j], gaps[:, j], wicks[0, :, j], wicks[1, :, j])
        frames[symbol] = pd.DataFrame({**ohlc, "volume": volume[:, j]}, index=pd.DatetimeIndex(sessions, name="date"))
    return frames


def validation_problems(frames: dict[str, pd.DataFrame], sessions: pd.DatetimeIndex) -> list[Any]:
    """Every check the data layer runs before an engine sees the bars."""
    problems: list[Any] = []
    for symbol, frame in frames.items():
        problems += check_rows(symbol, frame) + check_calendar(symbol, frame, sessions) + check_storage(symbol, frame)
    return problems


def realised_statistics(frames: dict[str, pd.DataFrame], regimes: int) -> dict[str, Any]:
    """Annualised volatility per symbol, mean pairwise correlation, annualised drift per regime."""
    log_ret = pd.DataFrame({s: np.log(f["close"]).diff() for s, f in frames.items()}).iloc[1:]
    corr = log_ret.corr().to_numpy()
    off_diagonal = corr[~np.eye(len(corr), dtype=bool)]
    regime = regime_of_each_session(len(log_ret) + 1, regimes)[1:]
    basket = log_ret.mean(axis=1).groupby(regime)  # equal-weight basket of the symbols
    per_regime = basket.mean() * TRADING_DAYS
    # the standard error of an annualised mean: a few years of data pin a drift down only roughly
    std_error = basket.std() * TRADING_DAYS / np.sqrt(basket.count())
    return {
        "annual_vol": {s: float(log_ret[s].std() * np.sqrt(TRADING_DAYS)) for s in log_ret},
        "mean_correlation": float(off_diagonal.mean()) if off_diagonal.size else 1.0,
        # the log drift is the price drift minus sigma**2 / 2
        "regime_log_drift": [float(x) for x in per_regime],
        "regime_drift_std_error": [float(x) for x in std_error],
    }


def plot(frames: dict[str, pd.DataFrame], regimes: int, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    first = next(iter(frames.values()))
    regime = regime_of_each_session(len(first), regimes)
    for r in range(regimes):
        days = first.index[regime == r]
        top.axvspan(days[0], days[-1], color="tab:green" if r % 2 == 0 else "tab:red", alpha=0.08)
    for symbol, frame in frames.items():
        top.plot(frame.index, frame["close"], lw=0.8, label=symbol)
    top.set_ylabel("close")
    top.set_title("synthetic closes (green: bull regime, red: bear regime)")
    top.legend(ncol=len(frames), fontsize=8)
    symbol = next(iter(frames))
    bottom.fill_between(first.index, first["volume"] / 1e6, step="mid", color="grey", lw=0)
    bottom.set_ylabel(f"{symbol} volume (M)")
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    symbols = ("AAA", "BBB", "CCC", "DDD")
    cfg = SyntheticConfig(seed=7, correlation=0.3, regimes=3, start_price=100.0, annual_vol=0.2)
    sessions = xnys_sessions("2010-01-04", "2019-12-31")

    ours = synthetic_bars(symbols, sessions, cfg)
    library = generate(symbols, sessions, cfg)
    identical = all(ours[s].equals(library[s]) for s in symbols)
    again = synthetic_bars(symbols, sessions, cfg)
    deterministic = all(ours[s].equals(again[s]) for s in symbols)
    other_seed = synthetic_bars(symbols, sessions, cfg.model_copy(update={"seed": 8}))
    seed_matters = not ours["AAA"].equals(other_seed["AAA"])

    problems = validation_problems(ours, sessions)
    stats = realised_statistics(ours, cfg.regimes)
    expected_log_drift = [
        (BULL_DRIFT if r % 2 == 0 else BEAR_DRIFT) - 0.5 * cfg.annual_vol**2 for r in range(cfg.regimes)
    ]

    print(f"{len(symbols)} symbols x {len(sessions)} XNYS sessions ({sessions[0].date()} .. {sessions[-1].date()}), seed {cfg.seed}")
    print(ours["AAA"].head(3).to_string())
    print(f"identical to algotrade.core.synthetic.generate: {identical}; same seed twice identical: {deterministic}; "
          f"seed 8 differs: {seed_matters}")
    print(f"validation problems: {len(problems)}")
    vols = ", ".join(f"{s} {v:.1%}" for s, v in stats["annual_vol"].items())
    print(f"annual volatility (target {cfg.annual_vol:.0%}): {vols}")
    print(f"mean pairwise correlation (target {cfg.correlation}): {stats['mean_correlation']:.3f}")
    rows = zip(stats["regime_log_drift"], stats["regime_drift_std_error"], expected_log_drift, strict=True)
    for r, (got, se, want) in enumerate(rows):
        print(f"regime {r} ({'bull' if r % 2 == 0 else 'bear'}): annual log drift {got:+.1%} +- {se:.1%} "
              f"(expected {want:+.1%}, {abs(got - want) / se:.1f} standard errors away)")
    path = plot(ours, cfg.regimes, folder / "synthetic_ohlcv.png")
    print(f"plot: {path}")
    return {
        "sessions": len(sessions),
        "symbols": list(symbols),
        "identical_to_library": identical,
        "deterministic": deterministic,
        "seed_matters": seed_matters,
        "problems": len(problems),
        **stats,
        "expected_log_drift": expected_log_drift,
        "plot": path,
    }


if __name__ == "__main__":
    main()
