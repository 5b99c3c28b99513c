"""Long/flat on a gradient-boosted direction model, retrained walk-forward on the bars seen so far.

The ingredients are the chapter 6 recipes, imported rather than copied: the features and labels
(``r01``), the purged walk-forward splitter and its check (``r02``), the XGBoost model (``r03``)
and the long/flat rule (``r04``).

Causality, by construction. Bar ``k`` is a retrain bar when it is the first test bar of a fold of
``walk_forward_splits`` over the ``k + 1`` bars seen so far (the folds do not depend on how
much data follows). The model is fitted there on the fold's training rows, whose labels end
at least ``purge - horizon + 1`` bars before ``k``: labels are computed from the closes up to
``k``, a label not known yet is NaN, and the model refuses NaN labels. It then predicts bar
``k`` and each following bar of the fold, one bar at a time, from that bar's features. No
trade happens before the first test bar: every result of a run is out of sample.

Per-fold out-of-sample scores (AUC, IC) are computed in ``on_stop`` (``fold_metrics``) and
summarised in the log.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from algotrade.core.errors import StrategyError
from algotrade.core.registry import suggest
from algotrade.core.strategy import Context, Strategy, StrategyConfig
from recipes.ch06_ml_signals.r01_feature_engineering import (
    DEFAULT_FEATURES,
    FEATURES,
    direction_labels,
    feature_lookback,
    feature_matrix,
    forward_returns,
)
from recipes.ch06_ml_signals.r02_purged_walk_forward_cv import Fold, check_purged, walk_forward_splits
from recipes.ch06_ml_signals.r03_xgboost_direction_model import (
    DirectionModel,
    fit_direction_model,
    fold_scores,
)
from recipes.ch06_ml_signals.r04_walk_forward_predictions_to_signals import next_position


class XgbWalkForwardConfig(StrategyConfig):
    horizon: int = Field(5, ge=1, le=63, description="Label: is the close higher this many bars later?")
    train_bars: int = Field(504, ge=50, description="Bars in each training window (all since the start if expanding).")
    test_bars: int = Field(63, ge=1, description="Bars each model trades before the next retrain.")
    purge: int | None = Field(
        None, ge=1, description="Bars dropped between training and test windows; default and minimum: horizon."
    )
    expanding: bool = Field(False, description="Train on every bar since the first usable one instead of a rolling window.")
    threshold: float = Field(0.5, gt=0, lt=1, description="Enter long when the predicted up-probability is above this.")
    exit_threshold: float | None = Field(
        None, gt=0, lt=1, description="Exit when the probability falls below this (default: threshold)."
    )
    seed: int = Field(0, ge=0, description="XGBoost random_state: the same seed gives the same trades.")
    features: tuple[str, ...] = Field(DEFAULT_FEATURES, min_length=1, description="Feature names of chapter 6 recipe r01.")
    n_estimators: int = Field(100, ge=1, le=2000, description="Trees per model.")
    max_depth: int = Field(3, ge=1, le=12, description="Depth of each tree.")
    learning_rate: float = Field(0.05, gt=0, le=1, description="Shrinkage of each tree.")

    @model_validator(mode="after")
    def _check(self) -> XgbWalkForwardConfig:
        if self.purge is not None and self.purge < self.horizon:
            raise ValueError(
                f"purge ({self.purge}) is shorter than horizon ({self.horizon}): training labels would reach into "
                f"the test window; use purge >= {self.horizon} or leave it out"
            )
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(
                f"unknown feature {unknown[0]!r}{suggest(unknown[0], tuple(FEATURES))} known: {', '.join(FEATURES)}"
            )
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"features lists a name twice: {list(self.features)}")
        if self.exit_threshold is not None and self.exit_threshold > self.threshold:
            raise ValueError(
                f"exit_threshold ({self.exit_threshold}) is above threshold ({self.threshold}); "
                "it must be at most the entry threshold"
            )
        return self

    @property
    def purge_bars(self) -> int:
        return self.horizon if self.purge is None else self.purge

    @property
    def warmup(self) -> int:
        """The first bar with every feature: where training windows may start."""
        return feature_lookback(self.features)

    @property
    def first_test_bar(self) -> int:
        """The first bar with a prediction (and the first that may trade)."""
        return self.warmup + self.train_bars + self.purge_bars


@dataclass(frozen=True)
class Prediction:
    bar: int
    date: dt.date
    fold: int
    proba: float


class XgbWalkForward(Strategy[XgbWalkForwardConfig]):
    """Long while an XGBoost model, retrained every ``test_bars`` bars, gives an up-move better odds."""

    config_class = XgbWalkForwardConfig

    def __init__(self, config: XgbWalkForwardConfig | None = None) -> None:
        super().__init__(config)
        self._reset()

    def _reset(self) -> None:
        self.models: dict[str, DirectionModel] = {}
        self.folds: dict[str, list[tuple[Fold, dt.date, dt.date]]] = {}  # fold, first and last training date
        self.predictions: dict[str, list[Prediction]] = {}
        self.fold_metrics: list[dict[str, Any]] = []
        self._dates: list[dt.date] = []  # the date of every bar seen so far, by bar index

    def _folds(self, n: int) -> list[Fold]:
        cfg = self.config
        return walk_forward_splits(
            n, train_size=cfg.train_bars, test_size=cfg.test_bars, horizon=cfg.horizon, purge=cfg.purge_bars,
            expanding=cfg.expanding, start=cfg.warmup,
        )

    def _features(self, ctx: Context, symbol: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        close = ctx.history(symbol, "close", n)
        X = feature_matrix(close, ctx.history(symbol, "high", n), ctx.history(symbol, "low", n), self.config.features)
        return X, close

    def on_start(self, ctx: Context) -> None:
        self._reset()

    def on_bar(self, ctx: Context) -> None:
        k = ctx.bar_index
        self._dates.append(ctx.date)
        folds = self._folds(k + 1)
        if not folds:
            return  # still training data: no model can exist yet
        fold = folds[-1]
        ctx.mark_evaluation_start()  # the first test bar: every result from here is out of sample
        weight = 1.0 / len(ctx.symbols)
        for symbol in ctx.symbols:
            X, close = self._features(ctx, symbol, k + 1)
            if fold.test.start == k:
                self._retrain(ctx, symbol, fold, X, close)
            model = self.models.get(symbol)
            if model is None:
                continue
            proba = float(model.predict_up(X[k : k + 1])[0])
            self.predictions.setdefault(symbol, []).append(Prediction(k, ctx.date, fold.index, proba))
            if ctx.has_open_orders(symbol):
                continue
            held = 1 if ctx.position(symbol) > 0 else 0
            target = next_position(held, proba, self.config.threshold, self.config.exit_threshold)
            if target and not held:
                ctx.enter(symbol, weight)
            elif held and not target:
                ctx.exit(symbol)

    def _retrain(self, ctx: Context, symbol: str, fold: Fold, X: np.ndarray, close: np.ndarray) -> None:
        cfg = self.config
        k = ctx.bar_index
        check_purged([fold], cfg.horizon, cfg.purge_bars)
        last_label_end = fold.train[-1] + cfg.horizon
        if last_label_end >= k:
            raise StrategyError(
                f"fold {fold.index}: a training label ends at bar {last_label_end}, not before bar {k}",
                strategy="xgb_walkforward", date=ctx.date, symbol=symbol,
            )
        # labels from the closes seen so far: any label not known yet is NaN, and the fit refuses NaN
        labels = direction_labels(close, cfg.horizon)
        rows = slice(fold.train.start, fold.train.stop)
        self.models[symbol] = fit_direction_model(
            X[rows], labels[rows], cfg.seed,
            n_estimators=cfg.n_estimators, max_depth=cfg.max_depth, learning_rate=cfg.learning_rate,
        )
        first_date, last_date = self._dates[fold.train.start], self._dates[fold.train[-1]]
        self.folds.setdefault(symbol, []).append((fold, first_date, last_date))
        ctx.log.debug(
            "%s fold %d: trained on %s .. %s (%d bars), trading from %s", symbol, fold.index, first_date, last_date,
            len(fold.train), ctx.date,
        )

    def on_stop(self, ctx: Context) -> None:
        """Score each fold's predictions against the labels known at the last bar, and log a summary."""
        n = ctx.bar_index + 1
        h = self.config.horizon
        self.fold_metrics = []
        for symbol, preds in self.predictions.items():
            close = ctx.history(symbol, "close", n)
            labels, fwd = direction_labels(close, h), forward_returns(close, h)
            for fold_index, group in itertools.groupby(preds, key=lambda p: p.fold):
                chunk = list(group)
                bars = np.array([p.bar for p in chunk])
                proba = np.array([p.proba for p in chunk])
                self.fold_metrics.append({
                    "symbol": symbol, "fold": fold_index, "test_from": chunk[0].date, "test_to": chunk[-1].date,
                    **fold_scores(proba, labels[bars], fwd[bars]),
                })
        self._log_summary(ctx)

    def _log_summary(self, ctx: Context) -> None:
        for symbol, preds in self.predictions.items():
            rows = [m for m in self.fold_metrics if m["symbol"] == symbol]
            auc = np.array([m["auc"] for m in rows], dtype=np.float64)
            ic = np.array([m["ic"] for m in rows], dtype=np.float64)
            auc, ic = auc[np.isfinite(auc)], ic[np.isfinite(ic)]
            spread = float(ic.std(ddof=1)) if len(ic) > 1 else 0.0
            t = float(ic.mean() / spread * np.sqrt(len(ic))) if spread > 0 else float("nan")
            above = float(np.mean([p.proba > self.config.threshold for p in preds]))
            ctx.log.info(
                "%s: %d folds, out of sample from %s (bar %d): mean AUC %.3f, mean IC %+.3f (t %+.2f across folds), "
                "up-probability above %.2f on %.0f%% of bars",
                symbol, len(rows), preds[0].date, preds[0].bar, float(auc.mean()) if len(auc) else float("nan"),
                float(ic.mean()) if len(ic) else float("nan"), t, self.config.threshold, 100 * above,
            )
