"""Chapter 8 — performance and risk: the numbers a tearsheet shows, by hand and with empyrical.

* ``r01_return_risk_metrics`` — CAGR, volatility, Sharpe, Sortino, Calmar and omega, two ways
* ``r02_drawdowns_and_rolling_risk`` — a drawdown table (peak, trough, recovery), rolling Sharpe and beta
* ``r03_var_cvar`` — historical, parametric and Monte Carlo value-at-risk and expected shortfall
* ``r04_engine_results_tearsheet`` — Backtrader and Zipline results as returns, positions and
  transactions, checked for parity, in a small text and PNG tearsheet
"""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch08_performance_risk")
