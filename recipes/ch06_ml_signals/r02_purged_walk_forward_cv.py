"""Purged walk-forward cross-validation: train on the past, test on what follows, leave a gap.

Shuffled k-fold cross-validation is wrong for market data twice over: it trains on the future,
and, because a label at bar ``t`` is built from prices up to ``t + h``, a training row just
before a test window carries the test window's own prices in its label. Walk-forward validation
fixes the first problem; a *purge* fixes the second.

1. **The splitter.** Folds march forward in time. Each test window has ``test_size`` bars; the
   training window before it has ``train_size`` bars (``rolling``) or everything since the start
   (``expanding``). Between the last training bar and the first test bar, ``purge`` bars are
   dropped. The splitter refuses a purge shorter than the label horizon.
2. **Why purge >= horizon.** The label of training bar ``t`` is built from bars ``t .. t + h``.
   With ``purge >= h`` the last training label ends at bar ``test_start - 1`` at the latest:
   no label window reaches into the test window, and at the test window's first bar every
   training label is already known — which is what a live strategy retraining at that bar sees.
3. **A check.** ``split_problems`` lists every fold whose training labels reach a test window,
   whose gap is shorter than the purge, which trains on later bars, or whose test windows
   overlap. It is run on our folds and on scikit-learn's ``TimeSeriesSplit`` with and without
   its ``gap`` argument: without one, every fold leaks ``h`` labels.

The splitter works on positions ``0 .. n-1`` of a time axis, so a panel of many assets uses it
on the positions of its dates (r04 does).

What to look at: the fold table (train, gap, test dates), the leak report for each splitter,
and ``walk_forward_folds.png``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recipes.ch06_ml_signals import out_dir
from recipes.ch06_ml_signals.r01_feature_engineering import feature_lookback, sample_frame

# --------------------------------------------------------------------------------------------
# ingredients


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: positions to train on and positions to predict."""

    index: int
    train: range
    test: range


class LeakError(ValueError):
    """A split lets training labels overlap a test window (or otherwise sees the future)."""


def walk_forward_splits(
    n: int,
    *,
    train_size: int,
    test_size: int,
    horizon: int,
    purge: int | None = None,
    expanding: bool = False,
    start: int = 0,
) -> list[Fold]:
    """Walk-forward folds over positions ``start .. n-1``.

    The first test window starts at ``start + train_size + purge``; each later one starts
    ``test_size`` bars after the previous one (the last is cut at ``n``). The training window
    ends ``purge`` bars before its test window and holds ``train_size`` bars, or every bar from
    ``start`` when ``expanding``. ``purge`` defaults to ``horizon`` and may not be smaller.

    The folds do not depend on ``n`` except for how many there are and where the last test
    window is cut: a strategy that calls this with the bars it has so far sees the same folds
    as a study run over the whole history.
    """
    purge = horizon if purge is None else purge
    if train_size < 1 or test_size < 1 or horizon < 1 or start < 0:
        raise ValueError(
            f"train_size ({train_size}), test_size ({test_size}) and horizon ({horizon}) must be >= 1 "
            f"and start ({start}) >= 0"
        )
    if purge < horizon:
        raise ValueError(
            f"purge ({purge}) is shorter than the label horizon ({horizon}): the last {horizon - purge} "
            f"training label(s) would end inside the test window; use purge >= {horizon}"
        )
    folds: list[Fold] = []
    test_start = start + train_size + purge
    while test_start < n:
        train_stop = test_start - purge
        train = range(start if expanding else train_stop - train_size, train_stop)
        folds.append(Fold(len(folds), train, range(test_start, min(test_start + test_size, n))))
        test_start += test_size
    return folds


def split_problems(folds: Iterable[Fold], horizon: int, purge: int | None = None) -> list[str]:
    """Every way the folds let training labels see a test window; empty when the split is sound.

    Training bar ``t`` has a label built from bars ``t .. t + horizon``; it overlaps a test window
    when ``t + horizon >= test.start``. The gap between the last training bar and the first test
    bar must also be at least ``purge`` (default: ``horizon``).
    """
    purge = horizon if purge is None else purge
    problems: list[str] = []
    previous: Fold | None = None
    for fold in folds:
        name = f"fold {fold.index}"
        if len(fold.train) == 0 or len(fold.test) == 0:
            problems.append(f"{name}: empty train ({len(fold.train)}) or test ({len(fold.test)}) window")
            continue
        first_test, last_train = min(fold.test), max(fold.train)
        if last_train >= first_test:
            problems.append(f"{name}: trains on bar {last_train}, at or after its test window starts ({first_test})")
        label_end = last_train + horizon
        if label_end >= first_test:
            problems.append(
                f"{name}: the label of training bar {last_train} ends at bar {label_end}, inside the test "
                f"window starting at {first_test} ({label_end - first_test + 1} bar(s) of overlap)"
            )
        gap = first_test - last_train - 1
        if gap < purge:
            problems.append(f"{name}: gap of {gap} bar(s) between train and test, purge is {purge}")
        if previous is not None and min(fold.test) < max(previous.test) + 1:
            problems.append(f"{name}: test window overlaps fold {previous.index}'s")
        previous = fold
    return problems


def check_purged(folds: Iterable[Fold], horizon: int, purge: int | None = None) -> None:
    """Raise :class:`LeakError` listing every problem ``split_problems`` finds."""
    problems = split_problems(folds, horizon, purge)
    if problems:
        raise LeakError("; ".join(problems))


def folds_from_index_pairs(pairs: Iterable[tuple[Sequence[int], Sequence[int]]]) -> list[Fold]:
    """Folds from (train positions, test positions) pairs, as scikit-learn splitters yield them."""
    folds = []
    for i, (train, test) in enumerate(pairs):
        tr, te = np.asarray(train), np.asarray(test)
        if not (np.all(np.diff(tr) == 1) and np.all(np.diff(te) == 1)):
            raise ValueError(f"fold {i}: train and test positions must each be contiguous")
        folds.append(Fold(i, range(int(tr[0]), int(tr[-1]) + 1), range(int(te[0]), int(te[-1]) + 1)))
    return folds


def fold_table(folds: Sequence[Fold], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per fold with the first and last date of its train and test windows."""
    return pd.DataFrame([
        {
            "fold": f.index,
            "train_from": dates[f.train[0]].date(), "train_to": dates[f.train[-1]].date(), "train_bars": len(f.train),
            "gap": f.test[0] - f.train[-1] - 1,
            "test_from": dates[f.test[0]].date(), "test_to": dates[f.test[-1]].date(), "test_bars": len(f.test),
        }
        for f in folds
    ]).set_index("fold")


def plot(folds: Sequence[Fold], dates: pd.DatetimeIndex, title: str, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 0.18 * len(folds) + 1.5), layout="constrained")
    ax = fig.subplots()
    for f in folds:
        y = f.index
        ax.plot([dates[f.train[0]], dates[f.train[-1]]], [y, y], color="tab:blue", lw=4, solid_capstyle="butt")
        ax.plot([dates[f.train[-1]], dates[f.test[0]]], [y, y], color="tab:red", lw=4, solid_capstyle="butt")
        ax.plot([dates[f.test[0]], dates[f.test[-1]]], [y, y], color="tab:orange", lw=4, solid_capstyle="butt")
    ax.invert_yaxis()
    ax.set_ylabel("fold")
    ax.set_title(f"{title} (blue: train, red: purge, orange: test)")
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    from sklearn.model_selection import TimeSeriesSplit

    folder = out_dir(out)
    horizon, train_size, test_size = 5, 1008, 126  # one week ahead; four years of training; half-year tests
    dates = sample_frame("SPX").index
    start = feature_lookback()  # the first bar with every feature of r01

    rolling = walk_forward_splits(len(dates), train_size=train_size, test_size=test_size, horizon=horizon, start=start)
    expanding = walk_forward_splits(len(dates), train_size=train_size, test_size=test_size, horizon=horizon,
                                    start=start, expanding=True)
    table = fold_table(rolling, dates)
    print(f"SPX {len(dates)} bars; horizon {horizon}, purge {horizon}, train {train_size} (rolling), test {test_size}: "
          f"{len(rolling)} folds, first test bar {dates[rolling[0].test[0]].date()}")
    print(pd.concat([table.head(3), table.tail(2)]).to_string())
    first = rolling[0]
    print(f"fold 0: the last training label (bar {first.train[-1]}) ends at bar {first.train[-1] + horizon}, "
          f"{first.test[0] - first.train[-1] - horizon} bar(s) before the test window at bar {first.test[0]}")
    print(f"expanding windows: {len(expanding)} folds, training grows from {len(expanding[0].train)} to "
          f"{len(expanding[-1].train)} bars")
    ours = {"rolling": split_problems(rolling, horizon), "expanding": split_problems(expanding, horizon)}
    print(f"leak check, ours: rolling {len(ours['rolling'])} problems, expanding {len(ours['expanding'])} problems")
    try:
        walk_forward_splits(len(dates), train_size=train_size, test_size=test_size, horizon=horizon, purge=2)
        refused = ""
    except ValueError as exc:
        refused = str(exc)
    print(f"purge 2 with horizon {horizon} is refused: {refused}")

    # scikit-learn's splitter over the same positions: contiguous windows, an optional gap
    positions = np.arange(start, len(dates))
    sklearn_checks: dict[str, list[str]] = {}
    for gap in (0, horizon):
        splitter = TimeSeriesSplit(n_splits=len(rolling), test_size=test_size, max_train_size=train_size, gap=gap)
        folds = folds_from_index_pairs((positions[a], positions[b]) for a, b in splitter.split(positions))
        sklearn_checks[f"gap={gap}"] = split_problems(folds, horizon)
        problems = sklearn_checks[f"gap={gap}"]
        print(f"leak check, TimeSeriesSplit(gap={gap}): {len(problems)} problems"
              + (f", e.g. {problems[0]}" if problems else ""))
    path = plot(rolling, dates, f"SPX walk-forward folds, horizon {horizon}", folder / "walk_forward_folds.png")
    print(f"plot: {path}")
    return {
        "folds": len(rolling),
        "first_test_date": dates[rolling[0].test[0]].date(),
        "table": table,
        "expanding_folds": len(expanding),
        "problems": ours,
        "refused_short_purge": refused,
        "sklearn_problems": {k: len(v) for k, v in sklearn_checks.items()},
        "plot": path,
    }


if __name__ == "__main__":
    main()
