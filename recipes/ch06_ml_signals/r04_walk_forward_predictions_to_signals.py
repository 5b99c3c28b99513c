"""From out-of-sample predictions to positions: stitch the folds, then decide what to hold.

r03 scored each fold on its own. A strategy needs one prediction per bar, and each must come
from a model that had not seen that bar. Stitching the test windows of consecutive walk-forward
folds gives exactly that: a series of out-of-sample (OOS) probabilities that starts at the first
test window. Everything before it is training data and is never traded.

1. **Stitching.** ``walk_forward_predict`` trains one model per fold and writes its predictions
   into that fold's test rows; rows outside every test window stay NaN. It works on a single
   series or on a panel of many symbols (rows carry the position of their date, and folds are
   cut on dates, so one model is trained on every symbol's rows of the training window).
2. **Long/flat.** Hold the index while the predicted probability of an up-move is above a
   threshold; an optional lower exit threshold adds hysteresis (fewer trades on noise). The rule
   is one small function, ``next_position``, applied bar by bar — the production strategy
   ``xgb_walkforward`` calls the same function.
3. **Long/short.** Long above an upper threshold, short below a lower one, flat in between.
4. **Ranked weights for a basket.** Each day, long the ``top_n`` symbols with the highest
   predicted probability and short the ``bottom_n``, equally weighted and dollar neutral.
5. **A vectorized check.** A decision made after bar ``t`` closes is filled at bar ``t + 1``'s
   close (the engines' ``next_close``), so it earns the return from ``t + 1`` to ``t + 2``:
   positions are shifted by two bars before they meet returns.

The basket uses the synthetic generator, whose symbols share one drift by construction: there
is no cross-sectional edge to find, and an honest pipeline finds none (a Sharpe near zero). A
clearly positive number there would point at a leak.

What to look at: where the OOS period starts, the three index variants against buy-and-hold
over the *same* OOS bars, their exposure and trades per year, the basket's numbers, and
``oos_signals.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig
from algotrade.core.data import load_market
from recipes.ch06_ml_signals import out_dir
from recipes.ch06_ml_signals.r01_feature_engineering import (
    DEFAULT_FEATURES,
    direction_labels,
    feature_lookback,
    forward_returns,
    make_features,
    sample_frame,
)
from recipes.ch06_ml_signals.r02_purged_walk_forward_cv import Fold, check_purged, walk_forward_splits
from recipes.ch06_ml_signals.r03_xgboost_direction_model import fit_direction_model

TRADING_DAYS = 252

# --------------------------------------------------------------------------------------------
# ingredients: stitching out-of-sample predictions


def walk_forward_predict(
    X: np.ndarray,
    y: np.ndarray,
    folds: Sequence[Fold],
    horizon: int,
    *,
    time_index: np.ndarray | None = None,
    seed: int = 0,
    **params: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-sample up-probabilities for every row in a test window (NaN elsewhere), and each row's fold (-1).

    ``time_index`` gives each row's position on the time axis the folds were cut on (default:
    the row number, one series). Rows must be ordered by time.
    """
    check_purged(folds, horizon)
    t = np.arange(len(X)) if time_index is None else np.asarray(time_index)
    proba = np.full(len(X), np.nan)
    fold_of = np.full(len(X), -1, dtype=np.int64)
    for fold in folds:
        train = (t >= fold.train.start) & (t < fold.train.stop)
        test = (t >= fold.test.start) & (t < fold.test.stop)
        model = fit_direction_model(X[train], y[train], seed, **params)
        proba[test] = model.predict_up(X[test])
        fold_of[test] = fold.index
    return proba, fold_of


def synthetic_basket(
    symbols: Sequence[str], seed: int = 3, start: str = "2012-01-03", end: str = "2019-12-31"
) -> dict[str, pd.DataFrame]:
    """Synthetic symbols on XNYS sessions: correlated, sharing one drift (no cross-sectional edge)."""
    cfg = DataConfig.model_validate({
        "source": "synthetic", "symbols": list(symbols), "start": start, "end": end,
        "synthetic": {"seed": seed, "correlation": 0.3},
    })
    return load_market(cfg).frames


def panel_dataset(
    frames: Mapping[str, pd.DataFrame], horizon: int, names: Sequence[str] = DEFAULT_FEATURES
) -> dict[str, Any]:
    """Features, labels and forward returns of many symbols stacked date by date (rows ordered by time)."""
    symbols = list(frames)
    dates = next(iter(frames.values())).index
    per_symbol = [make_features(frames[s], names).to_numpy() for s in symbols]
    X = np.stack(per_symbol, axis=1).reshape(len(dates) * len(symbols), len(names))  # date-major rows
    closes = [frames[s]["close"].to_numpy() for s in symbols]
    y = np.stack([direction_labels(c, horizon) for c in closes], axis=1).ravel()
    fwd = np.stack([forward_returns(c, horizon) for c in closes], axis=1).ravel()
    time_index = np.repeat(np.arange(len(dates)), len(symbols))
    return {"X": X, "y": y, "fwd": fwd, "time_index": time_index, "dates": dates, "symbols": symbols}


def unstack(values: np.ndarray, dates: pd.DatetimeIndex, symbols: Sequence[str]) -> pd.DataFrame:
    """Date-major row values back to a dates x symbols frame."""
    return pd.DataFrame(values.reshape(len(dates), len(symbols)), index=dates, columns=list(symbols))


# --------------------------------------------------------------------------------------------
# ingredients: predictions to positions and weights


def next_position(previous: int, proba: float, threshold: float = 0.5, exit_threshold: float | None = None) -> int:
    """Long/flat: 1 when long after this bar, 0 when flat.

    Enter when ``proba > threshold``; once long, stay while ``proba >= exit_threshold``
    (default: the threshold itself). No prediction (NaN) means flat.
    """
    if not math.isfinite(proba):
        return 0
    if previous > 0:
        return 1 if proba >= (threshold if exit_threshold is None else exit_threshold) else 0
    return 1 if proba > threshold else 0


def long_flat_positions(proba: np.ndarray, threshold: float = 0.5, exit_threshold: float | None = None) -> np.ndarray:
    """``next_position`` applied bar after bar."""
    out = np.zeros(len(proba), dtype=np.int64)
    previous = 0
    for i, p in enumerate(proba):
        previous = out[i] = next_position(previous, float(p), threshold, exit_threshold)
    return out


def long_short_positions(proba: np.ndarray, upper: float = 0.55, lower: float = 0.45) -> np.ndarray:
    """+1 above ``upper``, -1 below ``lower``, 0 in between or without a prediction."""
    p = np.nan_to_num(np.asarray(proba, dtype=np.float64), nan=0.5 * (upper + lower))
    return np.where(p > upper, 1, np.where(p < lower, -1, 0)).astype(np.int64)


def rank_weights(scores: pd.DataFrame, top_n: int, long_short: bool = True) -> pd.DataFrame:
    """Each row: +1/top_n on the top_n highest scores; with long_short also -1/top_n on the lowest.

    Long/short weights are scaled to a gross exposure of 1 (0.5 long, 0.5 short). A row with
    fewer than ``2 * top_n`` scores (``top_n`` when long-only) gets no positions.
    """
    ranks = scores.rank(axis=1, method="first")
    count = scores.notna().sum(axis=1)
    needed = 2 * top_n if long_short else top_n
    top = ranks.gt(count - top_n, axis=0) & scores.notna()
    weights = top.astype(float) / top_n
    if long_short:
        bottom = ranks.le(top_n) & scores.notna()
        weights = 0.5 * (weights - bottom.astype(float) / top_n)
    weights[count < needed] = 0.0
    return weights


def strategy_returns(positions: np.ndarray, close: np.ndarray, delay: int = 2) -> np.ndarray:
    """Daily returns of holding ``positions`` (decided at each close) filled ``delay - 1`` bars later.

    ``delay=2`` matches the engines' ``next_close`` fill: decided after bar t, bought at t+1's
    close, so the first return earned is t+1 -> t+2.
    """
    close = np.asarray(close, dtype=np.float64)
    r = np.zeros(len(close))
    r[1:] = close[1:] / close[:-1] - 1.0
    out = np.zeros(len(close))
    out[delay:] = np.asarray(positions, dtype=np.float64)[:-delay] * r[delay:]
    return out


def performance(returns: np.ndarray, positions: np.ndarray | None = None) -> dict[str, float]:
    """Total and annual return, volatility, Sharpe, max drawdown, exposure and trades per year."""
    returns = np.asarray(returns, dtype=np.float64)
    wealth = np.cumprod(1.0 + returns)
    years = max(len(returns) / TRADING_DAYS, 1e-9)
    vol = float(returns.std(ddof=1) * np.sqrt(TRADING_DAYS)) if len(returns) > 1 else 0.0
    out = {
        "total_return": float(wealth[-1] - 1.0) if len(wealth) else 0.0,
        "annual_return": float(wealth[-1] ** (1 / years) - 1.0) if len(wealth) else 0.0,
        "annual_volatility": vol,
        "sharpe": float(returns.mean() * TRADING_DAYS / vol) if vol > 0 else 0.0,
        "max_drawdown": float((wealth / np.maximum.accumulate(wealth) - 1.0).min()) if len(wealth) else 0.0,
    }
    if positions is not None:
        pos = np.asarray(positions, dtype=np.float64)
        out["exposure"] = float(np.abs(pos).mean())
        out["trades_per_year"] = float(np.count_nonzero(np.diff(pos)) / years)
    return out


def plot(dates: pd.DatetimeIndex, proba: np.ndarray, curves: Mapping[str, np.ndarray], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    for name, returns in curves.items():
        top.plot(dates, np.cumprod(1 + returns), lw=0.9, label=name)
    top.set_yscale("log")
    top.set_ylabel("growth of 1 (OOS only)")
    top.legend(fontsize=8)
    top.set_title("SPX: stitched out-of-sample predictions as positions")
    bottom.plot(dates, proba, lw=0.5, color="tab:purple")
    bottom.axhline(0.5, color="black", lw=0.8)
    bottom.set_ylabel("P(up in 5 days)")
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    horizon, train_size, test_size, seed = 5, 1008, 126, 7
    frame = sample_frame("SPX")
    close = frame["close"].to_numpy()
    X = make_features(frame).to_numpy()
    y = direction_labels(close, horizon)
    folds = walk_forward_splits(len(frame), train_size=train_size, test_size=test_size, horizon=horizon,
                                start=feature_lookback())
    proba, fold_of = walk_forward_predict(X, y, folds, horizon, seed=seed)
    first = folds[0].test.start
    assert np.isnan(proba[:first]).all() and np.isfinite(proba[first:]).all()
    print(f"SPX: {len(folds)} folds stitched; OOS predictions from {frame.index[first].date()} (bar {first}) "
          f"to {frame.index[-1].date()}, {len(frame) - first} bars; the {first} bars before are training only")

    variants = {
        "buy and hold": np.ones(len(close), dtype=np.int64),
        "long/flat p>0.50": long_flat_positions(proba, 0.5),
        "long/flat p>0.55, exit<0.50": long_flat_positions(proba, 0.55, 0.5),
        "long/short 0.55/0.45": long_short_positions(proba, 0.55, 0.45),
    }
    oos = slice(first, None)
    index_results: dict[str, dict[str, float]] = {}
    curves = {}
    for name, positions in variants.items():
        # before the first OOS bar nothing is held; buy-and-hold starts on the same bar for a fair race
        held = positions.copy()
        held[:first] = 0
        returns = strategy_returns(held, close)
        curves[name] = returns[oos]
        index_results[name] = performance(returns[oos], held[oos])
    table = pd.DataFrame(index_results).T
    print(table[["total_return", "annual_return", "annual_volatility", "sharpe", "max_drawdown", "exposure",
                 "trades_per_year"]].round(3).to_string())

    # a basket of synthetic symbols: one pooled model, ranked long/short weights
    symbols = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
    basket = synthetic_basket(symbols, seed=3)
    panel = panel_dataset(basket, horizon)
    pfolds = walk_forward_splits(len(panel["dates"]), train_size=504, test_size=252, horizon=horizon,
                                 start=feature_lookback())
    pproba, _ = walk_forward_predict(panel["X"], panel["y"], pfolds, horizon, time_index=panel["time_index"],
                                     seed=seed, n_estimators=60)
    scores = unstack(pproba, panel["dates"], panel["symbols"])
    weights = rank_weights(scores, top_n=2)
    asset_returns = pd.DataFrame({s: f["close"].pct_change().fillna(0.0) for s, f in basket.items()})
    basket_returns = (weights.shift(2).fillna(0.0) * asset_returns).sum(axis=1).to_numpy()
    bfirst = pfolds[0].test.start
    basket_perf = performance(basket_returns[bfirst:], weights.abs().sum(axis=1).to_numpy()[bfirst:])
    print(f"synthetic basket of {len(symbols)}: pooled model on {len(pfolds)} folds "
          f"({len(pfolds[0].train) * len(symbols)} training rows each), long top 2 / short bottom 2 from "
          f"{panel['dates'][bfirst].date()}: annual {basket_perf['annual_return']:+.1%}, "
          f"Sharpe {basket_perf['sharpe']:+.2f} (no edge exists in this data, so about zero is the right answer)")
    path = plot(frame.index[oos], proba[oos], curves, folder / "oos_signals.png")
    print(f"plot: {path}")
    return {
        "first_oos_date": frame.index[first].date(),
        "first_oos_bar": first,
        "folds": len(folds),
        "proba": pd.Series(proba, index=frame.index),
        "fold_of": fold_of,
        "index": index_results,
        "basket": basket_perf,
        "basket_weights": weights,
        "plot": path,
    }


if __name__ == "__main__":
    main()
