"""Chapter 3 — vectorized signals and backtests: whole arrays at once, no event loop per bar.

The decision functions written here are the ones the production strategies call on every bar
(``algotrade/strategies/sma_cross.py``, ``rsi_reversion.py``, ``bollinger_breakout.py``): they
are built from plain comparison operators, so one function serves a Python float, a numpy array
and a pandas Series alike.

* ``r01_ma_crossover_signals`` — crossover entries and exits, a position series without look-ahead
* ``r02_vectorized_backtest_with_costs`` — trades and equity with next-bar fills, whole shares, costs
* ``r03_parameter_grid`` — every fast/slow pair at once, a Sharpe heatmap
* ``r04_walk_forward_optimization`` — best parameters in sample, judged out of sample, stitched
* ``r05_oscillator_signals`` — RSI reversion and Bollinger breakout signals, the same way
"""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch03_vectorized")
