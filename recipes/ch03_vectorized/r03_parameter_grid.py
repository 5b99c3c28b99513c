"""A parameter grid: every fast/slow pair of the crossover, and a Sharpe-ratio heatmap.

Why 10 and 30? Nothing in recipe 1 says so. Because the vectorized backtest of recipe 2 takes a
millisecond or two, we can simply try every pair on a grid and look at the whole surface instead
of a single number:

1. **Averages once.** Each period's SMA is computed once and shared by every pair that uses it;
   each pair's crossover signals come from recipe 1.
2. **One backtest per pair** with the same costs, sizing and next-close fills as recipe 2, so the
   numbers are those of a tradable account, not of a frictionless return series.
3. **One score per pair**: the annualised Sharpe ratio of daily equity returns (no risk-free
   rate), ``mean / std * sqrt(252)``. Pairs with ``fast >= slow`` are not crossovers and stay
   blank.
4. **Read the surface, not the maximum.** A broad plateau of similar Sharpe ratios says the rule
   is robust to its parameters; a lone bright cell surrounded by dark ones is noise that a grid
   search is guaranteed to find. The best cell here is chosen *in sample* — with all twenty
   years in view — so its Sharpe overstates what one could have expected; recipe 4 measures how
   much by choosing on the past and scoring on the future.

What to look at: the best pair and its Sharpe next to the quickstart's (10, 30), the share of
pairs that beat buy-and-hold's Sharpe, and ``parameter_grid.png``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recipes.ch03_vectorized import out_dir
from recipes.ch03_vectorized.r01_ma_crossover_signals import (
    FAST,
    SLOW,
    IntArray,
    crossover_signals,
    load_spx,
    sma,
)
from recipes.ch03_vectorized.r02_vectorized_backtest_with_costs import Costs, backtest

FASTS = (2, 5, 10, 15, 20, 30, 40, 50)
SLOWS = (20, 30, 50, 75, 100, 150, 200, 250)
COSTS = Costs(per_share=0.005, minimum=1.0, slippage_bps=2)  # IB-style commission, 2 bp slippage
TRADING_DAYS = 252


# --------------------------------------------------------------------------------------------
# ingredients


def sharpe(equity: pd.Series | np.ndarray) -> float:
    """Annualised Sharpe ratio of daily returns (risk-free rate 0); NaN if the equity never moves."""
    values = np.asarray(equity, dtype=np.float64)
    returns = values[1:] / values[:-1] - 1.0
    sd = returns.std(ddof=1)
    return float(returns.mean() / sd * math.sqrt(TRADING_DAYS)) if sd > 0 else math.nan


def pair_signals(close: np.ndarray, fasts: Sequence[int] = FASTS, slows: Sequence[int] = SLOWS
                 ) -> dict[tuple[int, int], IntArray]:
    """Crossover signals of every pair with ``fast < slow``; each period's SMA is computed once.

    TA-Lib's SMA is causal, so signals computed over a long history and then cut to a window are
    exactly what a trader inside that window would have seen (recipe 4 relies on it).
    """
    averages = {p: sma(close, p) for p in sorted({*fasts, *slows})}
    return {(f, s): crossover_signals(averages[f], averages[s]) for f in fasts for s in slows if f < s}


def grid_sharpe(frame: pd.DataFrame, signals: dict[tuple[int, int], IntArray],
                costs: Costs = COSTS, **settings: Any) -> pd.DataFrame:
    """Sharpe ratio of each pair's backtest: rows fast, columns slow, NaN where there is no pair.

    ``signals`` are aligned with ``frame``'s rows; ``settings`` go to recipe 2's ``backtest``.
    """
    fasts = sorted({f for f, _ in signals})
    slows = sorted({s for _, s in signals})
    table = pd.DataFrame(np.nan, index=pd.Index(fasts, name="fast"), columns=pd.Index(slows, name="slow"))
    for (f, s), signal in signals.items():
        table.loc[f, s] = sharpe(backtest(frame, signal, costs=costs, **settings).equity["equity"])
    return table


def best_pair(table: pd.DataFrame) -> tuple[int, int, float]:
    """The (fast, slow) pair with the highest score, and that score."""
    stacked = table.stack().dropna()
    (f, s) = stacked.idxmax()
    return int(f), int(s), float(stacked.max())


# --------------------------------------------------------------------------------------------
# the page


def plot(table: pd.DataFrame, marks: dict[str, tuple[int, int]], title: str, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(table.to_numpy(), cmap="RdYlGn", origin="lower", aspect="auto")
    ax.set_xticks(range(len(table.columns)), [str(c) for c in table.columns])
    ax.set_yticks(range(len(table.index)), [str(i) for i in table.index])
    ax.set_xlabel("slow SMA")
    ax.set_ylabel("fast SMA")
    for i, f in enumerate(table.index):
        for j, s in enumerate(table.columns):
            value = table.loc[f, s]
            if not np.isnan(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7)
    for label, (f, s) in marks.items():
        ax.add_patch(_box(table.columns.get_loc(s), table.index.get_loc(f), label))
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="Sharpe ratio")
    fig.savefig(path, dpi=110)
    return path


def _box(x: Any, y: Any, label: str) -> Any:
    from matplotlib.patches import Rectangle

    color = "black" if label.startswith("best") else "blue"
    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, lw=2, ec=color, label=label)


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    frame = load_spx("1999-01-04", "2018-12-31")
    table = grid_sharpe(frame, pair_signals(frame["close"].to_numpy(np.float64)))
    fast, slow, best = best_pair(table)
    quickstart = float(table.loc[FAST, SLOW])
    buy_hold = sharpe(frame["close"])
    pairs = int(table.notna().to_numpy().sum())
    beat = int((table > buy_hold).to_numpy().sum())

    print(f"SPX {frame.index[0].date()} .. {frame.index[-1].date()}: {pairs} (fast, slow) pairs, "
          f"$0.005/share (min $1) + 2 bp, 95% of equity per entry, next-close fills")
    print(table.round(2).to_string(na_rep="."))
    print(f"best in sample: SMA({fast}/{slow}) Sharpe {best:.2f}; the quickstart's SMA({FAST}/{SLOW}): "
          f"{quickstart:.2f}; buy and hold: {buy_hold:.2f}; {beat} of {pairs} pairs beat buy and hold")
    path = plot(table, {f"best ({fast}, {slow})": (fast, slow), f"quickstart ({FAST}, {SLOW})": (FAST, SLOW)},
                "Sharpe ratio of the SMA crossover on SPX 1999-2018 (after costs)", folder / "parameter_grid.png")
    print(f"plot: {path}")
    return {"pairs": pairs, "best": (fast, slow), "best_sharpe": best, "quickstart_sharpe": quickstart,
            "buy_hold_sharpe": buy_hold, "beat_buy_hold": beat, "table": table, "plot": path}


if __name__ == "__main__":
    main()
