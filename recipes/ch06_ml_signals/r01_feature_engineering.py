"""Features and labels for a direction model, computed causally.

A model that predicts next week's direction from today's bar needs two things per bar: a row of
*features* that uses only what was known at that bar's close, and a *label* that describes what
happened afterwards. Getting the first half wrong is the most common way a backtest of a machine
learning signal lies, so this page builds both and then tests the features for look-ahead.

1. **Lagged returns.** Log returns over 1, 5, 21 and 63 sessions, plus the 1-day return of the
   two previous sessions and the 5-day return of the week before: the momentum and reversal
   information most direction models start from.
2. **TA-Lib features.** RSI, the MACD histogram (scaled by price), Bollinger %b, normalised ATR,
   ADX, realised volatility and the distance from the 50-day average. TA-Lib's functions are
   causal — the value at bar ``t`` depends only on bars up to ``t`` — and every feature is scaled
   so that its level does not depend on the price level (trees split on levels).
3. **Labels.** The forward return over ``horizon`` sessions, ``close[t + h] / close[t] - 1``,
   and the direction label ``1`` when it is positive. The last ``h`` bars have no label yet.
4. **A look-ahead check.** Each feature is recomputed on the data cut at several bars; a causal
   feature gives the same values up to the cut. Two classic mistakes — a centred rolling mean and
   a z-score over the full sample — are run through the same check and caught.

What to look at: the warm-up (how many leading bars have no feature value), the share of
up-weeks (the base rate a classifier has to beat), each feature's in-sample rank correlation
with the forward return (tiny, as it should be on an index), the look-ahead check, and
``feature_ic.png``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import talib

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch06_ml_signals import out_dir

# --------------------------------------------------------------------------------------------
# ingredients: the data of this chapter


def sample_frame(symbol: str = "SPX", start: str = "1999-01-04", end: str = "2018-12-31") -> pd.DataFrame:
    """One sample index as a canonical OHLCV frame (validated and repaired like every run's data)."""
    cfg = DataConfig.model_validate({"source": "sample", "symbols": [symbol], "start": start, "end": end})
    return load_market(cfg).frames[symbol]


# --------------------------------------------------------------------------------------------
# ingredients: features


def log_return(close: np.ndarray, n: int) -> np.ndarray:
    """log(close[t] / close[t - n]); NaN for the first n bars."""
    out = np.full(len(close), np.nan)
    if len(close) > n:
        out[n:] = np.log(close[n:] / close[:-n])
    return out


def lagged(values: np.ndarray, lag: int) -> np.ndarray:
    """values[t - lag] at t: yesterday's number, known today."""
    out = np.full(len(values), np.nan)
    if len(values) > lag:
        out[lag:] = values[:-lag]
    return out


def _bollinger_pct_b(close: np.ndarray, period: int = 20) -> np.ndarray:
    upper, _, lower = talib.BBANDS(close, timeperiod=period, nbdevup=2.0, nbdevdn=2.0, matype=talib.MA_Type.SMA)
    width = upper - lower
    # a flat stretch of prices has zero width: call it the middle of the band
    out = np.full(len(close), 0.5)
    np.divide(close - lower, width, out=out, where=width > 0)
    out[np.isnan(width)] = np.nan
    return out


def _sma_gap(close: np.ndarray, period: int) -> np.ndarray:
    return close / talib.SMA(close, timeperiod=period) - 1.0


FeatureFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (close, high, low) -> values


@dataclass(frozen=True)
class Feature:
    """One column of the feature matrix: ``compute(close, high, low)`` and its warm-up in bars."""

    compute: FeatureFn
    lookback: int  # the first ``lookback`` values are NaN
    description: str


def _return_over(n: int) -> FeatureFn:
    return lambda c, h, lo: log_return(c, n)


def _lagged_daily_return(k: int) -> FeatureFn:
    return lambda c, h, lo: lagged(log_return(c, 1), k)


FEATURES: dict[str, Feature] = {
    **{f"ret_{n}": Feature(_return_over(n), n, f"log return over {n} session{'s' if n > 1 else ''}")
       for n in (1, 5, 10, 21, 63)},
    **{f"ret_1_lag{k}": Feature(_lagged_daily_return(k), 1 + k, f"the 1-day log return {k} session(s) earlier")
       for k in (1, 2, 3)},
    "ret_5_lag5": Feature(lambda c, h, lo: lagged(log_return(c, 5), 5), 10, "last week's 5-day log return"),
    "rsi_14": Feature(lambda c, h, lo: talib.RSI(c, timeperiod=14) / 100.0, 14, "RSI(14) / 100"),
    "macd_hist": Feature(lambda c, h, lo: talib.MACD(c, 12, 26, 9)[2] / c, 33, "MACD(12, 26, 9) histogram / close"),
    "bb_pctb_20": Feature(lambda c, h, lo: _bollinger_pct_b(c, 20), 19, "Bollinger %b: 0 at the lower band, 1 at the upper"),
    "natr_14": Feature(lambda c, h, lo: talib.NATR(h, lo, c, timeperiod=14) / 100.0, 14, "ATR(14) / close"),
    "adx_14": Feature(lambda c, h, lo: talib.ADX(h, lo, c, timeperiod=14) / 100.0, 27, "ADX(14) / 100: trend strength"),
    "vol_21": Feature(lambda c, h, lo: talib.STDDEV(log_return(c, 1), timeperiod=21) * np.sqrt(252), 21,
                      "21-day realised volatility, annualised"),
    "sma_gap_50": Feature(lambda c, h, lo: _sma_gap(c, 50), 49, "close / SMA(50) - 1"),
    "sma_gap_200": Feature(lambda c, h, lo: _sma_gap(c, 200), 199, "close / SMA(200) - 1"),
}

#: the default feature set of this chapter (and of the production strategy): warm-up 63 bars
DEFAULT_FEATURES: tuple[str, ...] = (
    "ret_1", "ret_5", "ret_21", "ret_63", "ret_1_lag1", "ret_1_lag2", "ret_5_lag5",
    "rsi_14", "macd_hist", "bb_pctb_20", "natr_14", "vol_21", "sma_gap_50",
)


def unknown_features(names: Sequence[str]) -> list[str]:
    """Names that are not in FEATURES (empty when all are known)."""
    return [n for n in names if n not in FEATURES]


def feature_lookback(names: Sequence[str] = DEFAULT_FEATURES) -> int:
    """Bars before every feature in ``names`` has a value: the first usable row."""
    return max(FEATURES[n].lookback for n in names)


def feature_matrix(
    close: np.ndarray, high: np.ndarray, low: np.ndarray, names: Sequence[str] = DEFAULT_FEATURES
) -> np.ndarray:
    """An (n bars x len(names)) float64 matrix; row t uses bars 0..t only."""
    bad = unknown_features(names)
    if bad:
        raise ValueError(f"unknown feature(s) {bad}; known: {', '.join(FEATURES)}")
    c, h, lo = (np.ascontiguousarray(a, dtype=np.float64) for a in (close, high, low))
    return np.column_stack([FEATURES[n].compute(c, h, lo) for n in names]) if names else np.empty((len(c), 0))


def make_features(frame: pd.DataFrame, names: Sequence[str] = DEFAULT_FEATURES) -> pd.DataFrame:
    """The feature matrix of one canonical OHLCV frame, as a frame with the same index."""
    values = feature_matrix(frame["close"].to_numpy(), frame["high"].to_numpy(), frame["low"].to_numpy(), names)
    return pd.DataFrame(values, index=frame.index, columns=list(names))


# --------------------------------------------------------------------------------------------
# ingredients: labels


def forward_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    """close[t + horizon] / close[t] - 1: what happens *after* bar t. NaN for the last ``horizon`` bars."""
    close = np.asarray(close, dtype=np.float64)
    out = np.full(len(close), np.nan)
    if len(close) > horizon:
        out[:-horizon] = close[horizon:] / close[:-horizon] - 1.0
    return out


def direction_labels(close: np.ndarray, horizon: int) -> np.ndarray:
    """1.0 when the forward return is positive, 0.0 otherwise, NaN while it is not known yet."""
    fwd = forward_returns(close, horizon)
    return np.where(np.isnan(fwd), np.nan, (fwd > 0).astype(np.float64))


# --------------------------------------------------------------------------------------------
# ingredients: the look-ahead check


def lookahead_features(
    build: Callable[[pd.DataFrame], pd.DataFrame], frame: pd.DataFrame, cuts: Sequence[int]
) -> dict[str, list[int]]:
    """Columns of ``build(frame)`` whose values up to a cut change when the data after it is removed.

    A causal feature gives identical values (NaN where NaN) on ``frame[:cut]`` and on the full
    frame's first ``cut`` rows. Returns ``{column: [cuts where it differed]}``, empty when causal.
    """
    full = build(frame)
    found: dict[str, list[int]] = {}
    for cut in cuts:
        part = build(frame.iloc[:cut])
        for column in full.columns:
            a, b = part[column].to_numpy(), full[column].to_numpy()[:cut]
            if not np.array_equal(a, b, equal_nan=True):
                found.setdefault(str(column), []).append(cut)
    return found


def leaky_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Two features that look innocent and peek at the future (for the check to catch)."""
    close = frame["close"]
    ret_21 = np.log(close / close.shift(21))
    return pd.DataFrame({
        # a centred window averages 10 bars *after* t into the value at t
        "centred_sma_gap_21": close / close.rolling(21, center=True).mean() - 1,
        # a z-score over the whole sample uses the mean and spread of the future
        "zscore_full_sample_ret_21": (ret_21 - ret_21.mean()) / ret_21.std(),
    })


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation over the rows where both are finite (NaN with fewer than 3 such rows)."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra = pd.Series(a[ok]).rank().to_numpy()
    rb = pd.Series(b[ok]).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])


def plot(ic: pd.Series, horizon: int, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    colours = ["tab:green" if v > 0 else "tab:red" for v in ic]
    ax.barh(ic.index, ic.to_numpy(), color=colours)
    ax.axvline(0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"Spearman rank correlation with the {horizon}-day forward return (in-sample)")
    ax.set_title("SPX 1999-2018: each feature's information coefficient")
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    horizon = 5
    frame = sample_frame("SPX")
    features = make_features(frame)
    fwd = forward_returns(frame["close"].to_numpy(), horizon)
    labels = direction_labels(frame["close"].to_numpy(), horizon)

    warmup = feature_lookback()
    leading_nan = int(features.isna().any(axis=1).to_numpy().argmin())  # first row with every feature
    usable = features.iloc[warmup:-horizon]
    print(f"SPX {frame.index[0].date()} .. {frame.index[-1].date()}: {len(frame)} bars, "
          f"{features.shape[1]} features, horizon {horizon} sessions")
    print(f"warm-up: {warmup} bars declared, first complete row at bar {leading_nan}; "
          f"{len(usable)} rows have both features and a label")
    print(features.iloc[warmup : warmup + 3, :6].round(4).to_string())
    base_rate = float(np.nanmean(labels))
    print(f"base rate: {base_rate:.1%} of {horizon}-day windows end up (a classifier must beat this, not 50%)")

    ic = pd.Series({name: spearman(features[name].to_numpy(), fwd) for name in features.columns})
    ic = ic.sort_values(key=np.abs, ascending=False)
    print("in-sample IC with the forward return (descriptive only; r03 measures out of sample):")
    for name, value in ic.items():
        print(f"  {name:<12} {value:+.3f}   {FEATURES[str(name)].description}")

    cuts = [300, 1000, 2500, len(frame) - 7]
    ours = lookahead_features(make_features, frame, cuts)
    leaks = lookahead_features(leaky_features, frame, cuts)
    print(f"look-ahead check at cuts {cuts}: our features {'pass' if not ours else f'FAIL {ours}'}")
    for name, where in leaks.items():
        print(f"  caught: {name} changes when the future is removed (cuts {where})")
    path = plot(ic, horizon, folder / "feature_ic.png")
    print(f"plot: {path}")
    return {
        "bars": len(frame),
        "features": list(features.columns),
        "warmup": warmup,
        "first_complete_row": leading_nan,
        "base_rate": base_rate,
        "ic": {str(k): float(v) for k, v in ic.items()},
        "lookahead_ours": ours,
        "lookahead_leaky": leaks,
        "plot": path,
    }


if __name__ == "__main__":
    main()
