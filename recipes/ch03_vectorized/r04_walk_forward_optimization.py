"""Walk-forward optimization: choose parameters on the past, judge them on the future.

Recipe 3 picked the best (fast, slow) pair while looking at all twenty years at once, so its
Sharpe ratio is flattering by construction. Walk-forward analysis replays what a trader could
really have done:

1. **Folds.** Cut the history into consecutive calendar years. For each *test* year, the
   *training* window is the four years just before it: train 1999-2002, test 2003; train
   2000-2003, test 2004; ... up to test 2018. Training windows overlap; test years do not.
2. **Choose in sample.** On each training window, run recipe 3's grid and keep the pair with the
   best Sharpe ratio.
3. **Trade out of sample.** Trade the test year with that pair, with the money the previous test
   year ended with. The year starts in the position the pair's rule holds on its first session
   (a slow pair such as 50/250 may have crossed up years ago: waiting for its next cross would
   sit out a whole bull year), and ends flat: an exit is forced on the second-to-last session so
   that the sale fills, and pays its costs, on the last one.
4. **Stitch.** The test years, end to end, form one out-of-sample equity curve: the honest
   estimate of the *procedure* "re-optimise every year on the last four".

The averages and signals are computed once over the whole history; TA-Lib's SMA is causal, so
the signal on any day depends only on closes up to that day, and no fold sees its future.

What to look at: the in-sample Sharpe of each year's chosen pair against the Sharpe it then
earned out of sample (the gap is the optimism of choosing on the past), how often the choice
changes, the stitched curve against the fixed quickstart pair and buy-and-hold, and
``walk_forward.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recipes.ch03_vectorized import out_dir
from recipes.ch03_vectorized.r01_ma_crossover_signals import FAST, SLOW, IntArray, holdings, load_spx
from recipes.ch03_vectorized.r02_vectorized_backtest_with_costs import backtest
from recipes.ch03_vectorized.r03_parameter_grid import (
    COSTS,
    FASTS,
    SLOWS,
    best_pair,
    grid_sharpe,
    pair_signals,
    sharpe,
)

TRAIN_YEARS = 4
CASH = 100_000.0


# --------------------------------------------------------------------------------------------
# ingredients


@dataclass(frozen=True)
class Fold:
    test_year: int
    train: slice  # row positions of the training window
    test: slice  # row positions of the test year


def yearly_folds(index: pd.DatetimeIndex, train_years: int = TRAIN_YEARS) -> list[Fold]:
    """One fold per calendar year that has ``train_years`` full years of history before it."""
    years = index.year.to_numpy()
    first = int(years[0])
    folds = []
    for year in range(first + train_years, int(years[-1]) + 1):
        test = np.flatnonzero(years == year)
        train = np.flatnonzero((years >= year - train_years) & (years < year))
        folds.append(Fold(year, slice(int(train[0]), int(train[-1]) + 1), slice(int(test[0]), int(test[-1]) + 1)))
    return folds


def test_window_signal(signal: IntArray, window: slice) -> IntArray:
    """The rule's signal cut to a test window, which it enters in the rule's current position and
    leaves flat.

    If the rule is long on the window's first session (its last crossover was up, perhaps years
    ago), that session says buy; the second-to-last session says sell, so that the sale fills on
    the last one.
    """
    out = np.array(signal[window], copy=True)
    if holdings(signal)[window.start] == 1:
        out[0] = 1
    if len(out) >= 2:
        out[-2] = -1
    return out


def walk_forward(frame: pd.DataFrame, signals: dict[tuple[int, int], IntArray], folds: list[Fold],
                 cash: float = CASH, fixed: tuple[int, int] | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """Per-fold choices and results, and the stitched out-of-sample equity.

    With ``fixed`` the pair is not chosen but always ``fixed`` (the benchmark of not optimising).
    """
    rows, pieces = [], []
    for fold in folds:
        train = frame.iloc[fold.train]
        if fixed is None:
            table = grid_sharpe(train, {pair: sig[fold.train] for pair, sig in signals.items()})
            f, s, in_sample = best_pair(table)
        else:
            f, s = fixed
            in_sample = float(grid_sharpe(train, {fixed: signals[fixed][fold.train]}).loc[f, s])
        test = frame.iloc[fold.test]
        run = backtest(test, test_window_signal(signals[(f, s)], fold.test), cash=cash, costs=COSTS)
        equity = run.equity["equity"]
        rows.append({"test_year": fold.test_year, "fast": f, "slow": s, "in_sample_sharpe": in_sample,
                     "out_of_sample_sharpe": sharpe(equity), "return": equity.iloc[-1] / cash - 1,
                     "trades": len(run.trades)})
        pieces.append(equity)
        cash = float(equity.iloc[-1])  # flat at the end, so this is all cash
    return pd.DataFrame(rows).set_index("test_year"), pd.concat(pieces)


# --------------------------------------------------------------------------------------------
# the page


def plot(curves: dict[str, pd.Series], folds: list[Fold], index: pd.DatetimeIndex, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5), layout="constrained")
    ax = fig.subplots()
    for fold in folds[1:]:
        ax.axvline(index[fold.test.start], color="grey", lw=0.4, alpha=0.5)
    for label, equity in curves.items():
        ax.plot(equity.index, equity, lw=0.9, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("equity ($, log scale)")
    ax.set_title(f"SPX out of sample, test years end to end (each chosen on the {TRAIN_YEARS} years before)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    frame = load_spx("1999-01-04", "2018-12-31")
    signals = pair_signals(frame["close"].to_numpy(np.float64), FASTS, SLOWS)
    folds = yearly_folds(frame.index)

    chosen, stitched = walk_forward(frame, signals, folds)
    _, fixed = walk_forward(frame, signals, folds, fixed=(FAST, SLOW))
    closes = frame["close"].iloc[folds[0].test.start:]
    buy_hold = CASH * closes / closes.iloc[0]

    print(f"SPX: {len(folds)} folds, train {TRAIN_YEARS} years -> test the next one, "
          f"{len(signals)} (fast, slow) pairs per training window")
    table = chosen.copy()
    table["return"] = table["return"].map("{:+.1%}".format)
    print(table.round(2).to_string())
    figures = {
        "folds": len(folds),
        "distinct_choices": len(set(zip(chosen["fast"], chosen["slow"], strict=True))),
        "mean_in_sample_sharpe": float(chosen["in_sample_sharpe"].mean()),
        "out_of_sample_sharpe": sharpe(stitched),
        "fixed_sharpe": sharpe(fixed),
        "buy_hold_sharpe": sharpe(buy_hold),
        "final_equity": float(stitched.iloc[-1]),
        "fixed_final_equity": float(fixed.iloc[-1]),
        "buy_hold_final_equity": float(buy_hold.iloc[-1]),
    }
    print(f"chosen pairs: {figures['distinct_choices']} different ones in {len(folds)} years")
    print(f"Sharpe: in sample (mean of the chosen) {figures['mean_in_sample_sharpe']:.2f} -> out of sample "
          f"{figures['out_of_sample_sharpe']:.2f}; fixed SMA({FAST}/{SLOW}) {figures['fixed_sharpe']:.2f}; "
          f"buy and hold {figures['buy_hold_sharpe']:.2f}")
    print(f"$100,000 from {closes.index[0].date()}: walk-forward {figures['final_equity']:,.0f}, fixed "
          f"{figures['fixed_final_equity']:,.0f}, buy and hold {figures['buy_hold_final_equity']:,.0f}")
    curves = {"walk-forward (re-chosen yearly)": stitched, f"fixed SMA({FAST}/{SLOW})": fixed,
              "buy and hold": buy_hold}
    figures["plot"] = plot(curves, folds, frame.index, folder / "walk_forward.png")
    print(f"plot: {figures['plot']}")
    figures["per_fold"] = chosen
    return figures


if __name__ == "__main__":
    main()
