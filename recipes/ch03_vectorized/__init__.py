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

from pathlib import Path

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise
OUT = Path("results") / "recipes" / "ch03_vectorized"


def out_dir(out: Path | str | None) -> Path:
    """The output folder of a recipe, created if needed."""
    folder = Path(out) if out is not None else OUT
    folder.mkdir(parents=True, exist_ok=True)
    return folder
