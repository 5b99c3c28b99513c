"""A gradient-boosted direction model, trained and scored fold by fold.

The model answers one question per bar: *will the close be higher ``h`` sessions from now?* It
is an ``xgboost.XGBClassifier`` on the features of r01, trained on each purged walk-forward fold
of r02 and scored only on that fold's test window, which it has never seen.

1. **A small, deterministic model.** Shallow trees (depth 3), a low learning rate, row and
   column subsampling and a minimum leaf weight: on a few thousand noisy rows a big model just
   memorises. ``random_state`` fixes the subsampling and ``n_jobs=1`` fixes the order of the
   floating-point sums, so the same data gives bit-identical predictions on every run.
2. **A degenerate window.** A training window whose labels are all up (or all down) has nothing to
   learn; the model then predicts that window's base rate instead of failing.
3. **Two scores per test window.** *AUC*: the probability that a random up-window gets a higher
   predicted probability than a random down-window (0.5 is a coin). *IC*: the Spearman rank
   correlation between the predicted probability and the realised forward return — it rewards
   getting the big moves right, not just the sign. The hit rate is shown next to the base rate,
   because "always up" already scores the base rate on an index that rises.
4. **Across folds.** The mean of each score, the share of folds above the coin, and the IC's
   t-statistic across folds (mean / standard error): a handful of folds with a mean IC of 0.02
   is indistinguishable from zero.

What to look at: the per-fold table, the summary line (the honest number is usually close to
0.5 AUC and 0 IC on an index — a much better number on daily index data means a leak), the
features the last model leaned on, and ``fold_scores.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from xgboost import XGBClassifier

from recipes.ch06_ml_signals import out_dir
from recipes.ch06_ml_signals.r01_feature_engineering import (
    DEFAULT_FEATURES,
    direction_labels,
    feature_lookback,
    forward_returns,
    make_features,
    sample_frame,
    spearman,
)
from recipes.ch06_ml_signals.r02_purged_walk_forward_cv import Fold, check_purged, walk_forward_splits

# --------------------------------------------------------------------------------------------
# ingredients

#: a small model: shallow trees, slow learning, subsampling, a minimum leaf weight
MODEL_PARAMS: dict[str, Any] = {
    "n_estimators": 100,
    "max_depth": 3,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5.0,
}


def make_classifier(seed: int = 0, n_jobs: int = 1, **params: Any) -> XGBClassifier:
    """An XGBClassifier with this chapter's defaults; ``params`` override them."""
    return XGBClassifier(
        **{**MODEL_PARAMS, **params},
        random_state=seed,
        n_jobs=n_jobs,  # one thread: reproducible sums, and no oversubscription in tests
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="logloss",
        verbosity=0,
    )


@dataclass
class DirectionModel:
    """A fitted classifier, or the base rate when the training labels had a single class."""

    classifier: XGBClassifier | None
    base_rate: float

    def predict_up(self, X: np.ndarray) -> np.ndarray:
        """The predicted probability that the label is 1 (the price is higher ``h`` bars later)."""
        if self.classifier is None:
            return np.full(len(X), self.base_rate)
        return np.asarray(self.classifier.predict_proba(X)[:, 1], dtype=np.float64)


def fit_direction_model(X: np.ndarray, y: np.ndarray, seed: int = 0, **params: Any) -> DirectionModel:
    """Fit on rows whose labels are all known; refuses a NaN label (it would be a future one)."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0:
        raise ValueError("no training rows")
    if not np.isfinite(y).all():
        raise ValueError(f"{int((~np.isfinite(y)).sum())} training label(s) are NaN: not known yet at training time")
    if len(np.unique(y)) < 2:
        return DirectionModel(None, float(y.mean()))
    classifier = make_classifier(seed, **params)
    classifier.fit(X, y.astype(np.float32))  # 0.0/1.0; float32 is what XGBoost stores (and the fastest to hand over)
    return DirectionModel(classifier, float(y.mean()))


def fold_scores(proba: np.ndarray, labels: np.ndarray, fwd: np.ndarray) -> dict[str, float]:
    """AUC, IC, hit rate and base rate over the rows whose label is known."""
    from sklearn.metrics import roc_auc_score

    ok = np.isfinite(labels) & np.isfinite(proba) & np.isfinite(fwd)
    p, y, r = proba[ok], labels[ok], fwd[ok]
    both = len(np.unique(y)) == 2
    return {
        "n": int(ok.sum()),
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "ic": spearman(p, r),
        "hit_rate": float(np.mean((p > 0.5) == (y > 0.5))) if len(y) else float("nan"),
        "up_rate": float(y.mean()) if len(y) else float("nan"),
        "mean_proba": float(p.mean()) if len(p) else float("nan"),
    }


def fit_predict_fold(
    X: np.ndarray, y: np.ndarray, fold: Fold, seed: int = 0, **params: Any
) -> tuple[DirectionModel, np.ndarray]:
    """Train on the fold's training rows, predict its test rows."""
    model = fit_direction_model(X[fold.train.start : fold.train.stop], y[fold.train.start : fold.train.stop],
                                seed, **params)
    return model, model.predict_up(X[fold.test.start : fold.test.stop])


def evaluate_folds(
    X: np.ndarray,
    y: np.ndarray,
    fwd: np.ndarray,
    folds: Sequence[Fold],
    dates: pd.DatetimeIndex,
    horizon: int,
    seed: int = 0,
    **params: Any,
) -> tuple[pd.DataFrame, DirectionModel | None]:
    """Per-fold out-of-sample scores (one row per fold) and the last fold's model."""
    check_purged(folds, horizon)
    rows, model = [], None
    for fold in folds:
        model, proba = fit_predict_fold(X, y, fold, seed, **params)
        test = slice(fold.test.start, fold.test.stop)
        rows.append({
            "fold": fold.index, "test_from": dates[fold.test[0]].date(), "test_to": dates[fold.test[-1]].date(),
            **fold_scores(proba, y[test], fwd[test]),
        })
    return pd.DataFrame(rows).set_index("fold"), model


def summarise(scores: pd.DataFrame) -> dict[str, float]:
    """Mean scores across folds, the share of folds beating a coin, the IC t-statistic."""
    ic = scores["ic"].dropna()
    return {
        "folds": len(scores),
        "mean_auc": float(scores["auc"].mean()),
        "auc_above_half": float((scores["auc"] > 0.5).mean()),
        "mean_ic": float(ic.mean()),
        "ic_t_stat": float(ic.mean() / ic.std() * np.sqrt(len(ic))) if len(ic) > 1 and ic.std() > 0 else float("nan"),
        "mean_hit_rate": float(scores["hit_rate"].mean()),
        "mean_up_rate": float(scores["up_rate"].mean()),
    }


def importance(model: DirectionModel, names: Sequence[str], top: int = 5) -> list[tuple[str, float]]:
    """The features with the largest total gain in the model's trees."""
    if model.classifier is None:
        return []
    gain = {k: float(v) for k, v in model.classifier.get_booster().get_score(importance_type="total_gain").items()
            if isinstance(v, float | int)}
    total = sum(gain.values()) or 1.0
    # XGBoost names the columns of a plain array f0, f1, ...
    named = [(names[int(k[1:])] if k.startswith("f") and k[1:].isdigit() else k, v / total) for k, v in gain.items()]
    return sorted(named, key=lambda kv: -kv[1])[:top]


def plot(scores: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = [str(d) for d in scores["test_from"]]
    top.bar(x, scores["auc"] - 0.5, bottom=0.5, color=["tab:green" if a > 0.5 else "tab:red" for a in scores["auc"]])
    top.axhline(0.5, color="black", lw=0.8)
    top.set_ylabel("AUC")
    top.set_title("out-of-sample score of each walk-forward fold")
    bottom.bar(x, scores["ic"], color=["tab:green" if v > 0 else "tab:red" for v in scores["ic"]])
    bottom.axhline(0, color="black", lw=0.8)
    bottom.set_ylabel("IC")
    bottom.tick_params(axis="x", labelrotation=90, labelsize=7)
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
    y, fwd = direction_labels(close, horizon), forward_returns(close, horizon)
    folds = walk_forward_splits(len(frame), train_size=train_size, test_size=test_size, horizon=horizon,
                                start=feature_lookback())

    scores, last = evaluate_folds(X, y, fwd, folds, frame.index, horizon, seed)
    summary = summarise(scores)
    print(f"SPX, horizon {horizon}: {len(folds)} folds (train {train_size}, purge {horizon}, test {test_size}), "
          f"XGBClassifier {MODEL_PARAMS}, seed {seed}")
    print(scores[["test_from", "test_to", "n", "auc", "ic", "hit_rate", "up_rate"]].round(3).to_string())
    print(f"mean AUC {summary['mean_auc']:.3f} ({summary['auc_above_half']:.0%} of folds above 0.5); "
          f"mean IC {summary['mean_ic']:+.3f} (t {summary['ic_t_stat']:+.2f} across folds); "
          f"hit rate {summary['mean_hit_rate']:.1%} vs base rate {summary['mean_up_rate']:.1%}")

    # the same fold fitted twice gives the same predictions, bit for bit
    _, again_a = fit_predict_fold(X, y, folds[0], seed)
    _, again_b = fit_predict_fold(X, y, folds[0], seed)
    reproducible = bool(np.array_equal(again_a, again_b))
    print(f"refitting fold 0 with seed {seed}: identical predictions: {reproducible}")
    top = importance(last, DEFAULT_FEATURES) if last is not None else []
    print("last fold's model leans on: " + ", ".join(f"{n} {g:.0%}" for n, g in top))
    path = plot(scores, folder / "fold_scores.png")
    print(f"plot: {path}")
    return {"scores": scores, **summary, "reproducible": reproducible, "importance": top, "plot": path}


if __name__ == "__main__":
    main()
