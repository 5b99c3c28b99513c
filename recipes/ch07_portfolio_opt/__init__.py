"""Chapter 7 — portfolio optimisation: from prices to target weights to whole-share orders.

The chapter uses PyPortfolioOpt for the estimates and the optimisers and ends with the same
optimiser rebalancing a portfolio inside a backtest, natively in Backtrader and through
algotrade's ``pfopt_rebalance`` strategy on every engine.

* ``r01_mu_sigma_estimates`` — expected returns and covariance: the sample estimate against Ledoit-Wolf shrinkage
* ``r02_efficient_frontier_to_orders`` — max-Sharpe and min-volatility with bounds and L2, cleaned, then shares and orders
* ``r03_hrp_allocation`` — hierarchical risk parity against 1/N and the frontier, out of sample
* ``r04_rebalancing_strategy_parity`` — the optimiser rebalancing in native Backtrader and in algotrade, trade for trade
"""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch07_portfolio_opt")
