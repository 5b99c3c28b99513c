"""The cookbook: one package per chapter, one module per recipe (see recipes/README.md).

INDEX lists the recipes in reading order; tests/test_recipes_index.py keeps it equal to the files.

Where a recipe writes, wherever it is run from: ``main(out=...)``, else
``$ALGOTRADE_RECIPES_OUT/<chapter>/``, else ``results/recipes/<chapter>/`` of the checkout (of the
temp folder when the cookbook runs from an installed package) — never the current folder. A
recipe prints the folder before it writes anything there.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

#: the folder that holds recipes/: the checkout when pyproject.toml sits beside it
PROJECT = Path(__file__).resolve().parents[1]
#: an environment variable naming another folder for every chapter's output
OUT_ENV = "ALGOTRADE_RECIPES_OUT"


def project_folder(*parts: str) -> Path:
    """A folder of the checkout, or of ``<temp>/algotrade/`` when the recipes are installed elsewhere."""
    base = PROJECT if (PROJECT / "pyproject.toml").is_file() else Path(tempfile.gettempdir()) / "algotrade"
    return base.joinpath(*parts)


def default_out(chapter: str) -> Path:
    """Where a chapter's recipes write unless ``main(out=...)`` says otherwise (an absolute path)."""
    chosen = os.environ.get(OUT_ENV)
    return (Path(chosen).absolute() if chosen else project_folder("results", "recipes")) / chapter


def chapter_out_dir(chapter: str) -> Callable[[Path | str | None], Path]:
    """The ``out_dir(out)`` of one chapter: its output folder, created and printed."""

    def out_dir(out: Path | str | None = None) -> Path:
        folder = Path(out) if out is not None else default_out(chapter)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"output folder: {folder.absolute()}")
        return folder

    out_dir.__doc__ = f"The output folder of a {chapter} recipe (see recipes.default_out), created and printed."
    return out_dir


INDEX: tuple[str, ...] = (
    "recipes.ch01_data.r01_synthetic_ohlcv",
    "recipes.ch01_data.r02_load_and_store",
    "recipes.ch01_data.r03_validate_ohlcv",
    "recipes.ch01_data.r04_returns_and_resample",
    "recipes.ch01_data.r05_fetch_online_optional",
    "recipes.ch02_indicators.r01_talib_overlap",
    "recipes.ch02_indicators.r02_talib_momentum",
    "recipes.ch02_indicators.r03_talib_volatility_volume_patterns",
    "recipes.ch02_indicators.r04_indicator_parity",
    "recipes.ch03_vectorized.r01_ma_crossover_signals",
    "recipes.ch03_vectorized.r02_vectorized_backtest_with_costs",
    "recipes.ch03_vectorized.r03_parameter_grid",
    "recipes.ch03_vectorized.r04_walk_forward_optimization",
    "recipes.ch03_vectorized.r05_oscillator_signals",
    "recipes.ch04_backtrader.r01_pandasdata_sma_strategy",
    "recipes.ch04_backtrader.r02_rsi_long_short_signals",
    "recipes.ch04_backtrader.r03_bollinger_with_costs_analyzers",
    "recipes.ch04_backtrader.r04_external_signal_feed",
    "recipes.ch05_zipline.r01_bundle_from_our_data",
    "recipes.ch05_zipline.r02_run_algorithm_sma",
    "recipes.ch05_zipline.r03_pipeline_momentum_factor",
    "recipes.ch05_zipline.r04_pipeline_mean_reversion_long_short",
    "recipes.ch05_zipline.r05_custom_signal_in_zipline",
    "recipes.ch06_ml_signals.r01_feature_engineering",
    "recipes.ch06_ml_signals.r02_purged_walk_forward_cv",
    "recipes.ch06_ml_signals.r03_xgboost_direction_model",
    "recipes.ch06_ml_signals.r04_walk_forward_predictions_to_signals",
    "recipes.ch06_ml_signals.r05_signal_quality_ic_turnover",
    "recipes.ch07_portfolio_opt.r01_mu_sigma_estimates",
    "recipes.ch07_portfolio_opt.r02_efficient_frontier_to_orders",
    "recipes.ch07_portfolio_opt.r03_hrp_allocation",
    "recipes.ch07_portfolio_opt.r04_rebalancing_strategy_parity",
    "recipes.ch08_performance_risk.r01_return_risk_metrics",
    "recipes.ch08_performance_risk.r02_drawdowns_and_rolling_risk",
    "recipes.ch08_performance_risk.r03_var_cvar",
    "recipes.ch08_performance_risk.r04_engine_results_tearsheet",
    "recipes.ch09_ib_api.r01_connect_and_account_summary",
    "recipes.ch09_ib_api.r02_contracts_and_qualification",
    "recipes.ch09_ib_api.r03_historical_bars_to_frame",
    "recipes.ch09_ib_api.r04_streaming_bars_to_sqlite",
    "recipes.ch09_ib_api.r05_place_modify_cancel_orders",
    "recipes.ch09_ib_api.r06_positions_portfolio_pnl",
    "recipes.ch10_live_deployment.r01_broker_adapter_contract",
    "recipes.ch10_live_deployment.r02_target_percent_sizing",
    "recipes.ch10_live_deployment.r03_risk_limits_kill_switch",
    "recipes.ch10_live_deployment.r04_execution_audit_eod",
    "recipes.ch10_live_deployment.r05_paper_burnin",
    "recipes.ch11_risk_sizing.r01_fixed_shares",
    "recipes.ch11_risk_sizing.r02_fixed_cash",
    "recipes.ch11_risk_sizing.r03_target_percent",
    "recipes.ch11_risk_sizing.r04_volatility_target",
    "recipes.ch11_risk_sizing.r05_fractional_kelly",
    "recipes.ch11_risk_sizing.r06_risk_per_trade",
    "recipes.ch11_risk_sizing.r07_var_historical",
    "recipes.ch11_risk_sizing.r08_var_parametric",
    "recipes.ch11_risk_sizing.r09_var_monte_carlo",
    "recipes.ch11_risk_sizing.r10_stop_loss",
    "recipes.ch11_risk_sizing.r11_take_profit",
    "recipes.ch11_risk_sizing.r12_trailing_stop",
    "recipes.ch12_pairs_trading.r01_engle_granger",
    "recipes.ch12_pairs_trading.r02_johansen",
    "recipes.ch12_pairs_trading.r03_half_life",
    "recipes.ch12_pairs_trading.r04_rolling_ols",
    "recipes.ch12_pairs_trading.r05_kalman_hedge",
    "recipes.ch12_pairs_trading.r06_zscore_rules",
    "recipes.ch12_pairs_trading.r07_pair_selection",
    "recipes.ch13_regimes.r01_gaussian_hmm",
    "recipes.ch13_regimes.r02_walk_forward_regimes",
    "recipes.ch13_regimes.r03_regime_filtered_momentum",
    "recipes.ch14_meta_strategies.r01_thompson_sampling",
    "recipes.ch14_meta_strategies.r02_bandit_allocation",
    "recipes.ch14_meta_strategies.r03_regime_allocation",
    "recipes.ch15_ml_research.r01_purged_kfold_cpcv",
)
