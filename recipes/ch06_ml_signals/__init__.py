"""Chapter 6 — machine-learning signals: features, purged walk-forward validation, a gradient-boosted
direction model, and what its out-of-sample predictions are worth as a trading signal.

The chapter builds one pipeline, a page at a time, and the production strategy
``algotrade.strategies.xgb_walkforward`` (``experiments/xgb_walkforward.yaml``) imports its
ingredients rather than copying them:

* ``r01_feature_engineering`` — lagged returns and TA-Lib features computed causally, forward-return
  labels, and a check that catches a feature that peeks at the future
* ``r02_purged_walk_forward_cv`` — a walk-forward splitter (rolling or expanding) with a purge gap of
  at least the label horizon, and a check that no training label reaches into a test window
* ``r03_xgboost_direction_model`` — an ``XGBClassifier`` of the label's sign, trained fold by fold,
  scored by AUC and information coefficient (IC) on each test window
* ``r04_walk_forward_predictions_to_signals`` — out-of-sample predictions stitched across folds, turned
  into long/flat positions (one index) and ranked long/short weights (a basket)
* ``r05_signal_quality_ic_turnover`` — Spearman IC, quantile returns, rank autocorrelation and turnover,
  calibrated against a signal with no edge and one with a (deliberate) leak
"""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch06_ml_signals")
