"""Purged k-fold with an embargo, and combinatorial purged cross-validation (AFML ch. 7 and 12).

Walk-forward validation (chapter 6, r02) tests each model on one stretch of the future only: one
backtest path, and most of the history is never out of sample. López de Prado's *Advances in
Financial Machine Learning* keeps k-fold's use of every observation, and makes it safe for labels
that look ahead:

1. **Label windows.** The label of observation ``i`` (a forward return, a triple barrier) is
   known only at ``label_end[i] >= i``: it is built from bars ``i .. label_end[i]``. Two windows
   that overlap share prices.
2. **Purge (ch. 7.4.1).** The data are cut into ``k`` contiguous groups. For each test group, a
   training observation whose label window overlaps the test window is dropped: it would have
   seen the test window's prices.
3. **Embargo (ch. 7.4.2).** Training observations right *after* a test window are dropped too,
   for ``embargo`` bars: features built from rolling windows carry the test window's prices
   forward (serial correlation), even when their labels do not overlap it.
4. **Combinatorial purged CV (ch. 12.4).** Instead of one test group per split, take every
   choice of ``k_test`` of the ``n_groups`` groups: C(N, k) splits, each purged and embargoed
   against every one of its test groups. Each group is tested in C(N-1, k-1) splits, so the
   out-of-sample predictions can be assembled into C(N-1, k-1) = k/N * C(N, k) full backtest
   paths, each covering the whole history exactly once: a distribution of Sharpe ratios instead
   of one number.
5. **A check.** ``split_problems`` lists every split whose training labels overlap one of its
   test windows, whose embargo is not honoured, or whose test groups overlap its training set.

What to look at: the split table (test groups, how many observations were purged and embargoed
in each), the path table (which split predicts which group on each path), the leak report, and
``cpcv_splits.png``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recipes.ch15_ml_research import out_dir

# --------------------------------------------------------------------------------------------
# ingredients


@dataclass(frozen=True)
class Split:
    """One purged split: the training positions, the test groups and their positions."""

    index: int
    test_groups: tuple[int, ...]
    train: np.ndarray  # sorted positions
    test: np.ndarray  # sorted positions
    purged: int  # training candidates dropped because their labels overlap a test window
    embargoed: int  # training candidates dropped by the embargo after a test window


def groups(n: int, n_groups: int) -> list[range]:
    """``n_groups`` contiguous groups of positions ``0 .. n-1``, as equal as they can be."""
    if n_groups < 2 or n < n_groups:
        raise ValueError(f"n_groups={n_groups}: need 2 <= n_groups <= n (n={n})")
    edges = np.linspace(0, n, n_groups + 1).round().astype(int)
    return [range(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def horizon_ends(n: int, horizon: int) -> np.ndarray:
    """Label windows of a fixed horizon: observation ``i``'s label is known at ``i + horizon``
    (cut at the last bar)."""
    return np.minimum(np.arange(n) + horizon, n - 1)


def _purged_train(n: int, label_end: np.ndarray, tests: Sequence[range], embargo: int) -> tuple[np.ndarray, int, int]:
    starts = np.arange(n)
    keep = np.ones(n, dtype=bool)
    in_test = np.zeros(n, dtype=bool)
    for block in tests:
        in_test[block.start:block.stop] = True
    keep &= ~in_test
    overlaps = np.zeros(n, dtype=bool)
    after = np.zeros(n, dtype=bool)
    for block in tests:
        first, last = block.start, block.stop - 1
        overlaps |= (starts <= last) & (label_end >= first)  # [i, end_i] meets [first, last]
        after[block.stop:min(n, block.stop + embargo)] = True
    purged = keep & overlaps
    embargoed = keep & ~overlaps & after
    keep &= ~overlaps & ~after
    return np.flatnonzero(keep), int(purged.sum()), int(embargoed.sum())


def _contiguous(test_groups: Sequence[range]) -> list[range]:
    """Adjacent test groups as one window (the purge and embargo apply to its edges)."""
    merged: list[range] = []
    for g in sorted(test_groups, key=lambda r: r.start):
        if merged and merged[-1].stop == g.start:
            merged[-1] = range(merged[-1].start, g.stop)
        else:
            merged.append(g)
    return merged


def purged_kfold(label_end: Sequence[int] | np.ndarray, k: int, embargo: int = 0) -> list[Split]:
    """k contiguous folds, each tested once; training purged of overlapping labels, and embargoed
    for ``embargo`` bars after the test fold."""
    return cpcv(label_end, n_groups=k, k_test=1, embargo=embargo)


def cpcv(label_end: Sequence[int] | np.ndarray, n_groups: int, k_test: int, embargo: int = 0) -> list[Split]:
    """Combinatorial purged CV: one split per choice of ``k_test`` of ``n_groups`` groups."""
    ends = np.asarray(label_end, dtype=int)
    n = len(ends)
    if np.any(ends < np.arange(n)):
        raise ValueError("label_end[i] must be >= i: a label is known at or after its observation")
    if not 1 <= k_test < n_groups:
        raise ValueError(f"k_test={k_test}: need 1 <= k_test < n_groups ({n_groups})")
    if embargo < 0:
        raise ValueError(f"embargo={embargo}: must be >= 0")
    parts = groups(n, n_groups)
    out = []
    for index, chosen in enumerate(itertools.combinations(range(n_groups), k_test)):
        tests = [parts[g] for g in chosen]
        train, purged, embargoed = _purged_train(n, ends, _contiguous(tests), embargo)
        test = np.concatenate([np.arange(t.start, t.stop) for t in tests])
        out.append(Split(index, tuple(chosen), train, test, purged, embargoed))
    return out


def n_paths(n_groups: int, k_test: int) -> int:
    """How many full backtest paths CPCV's predictions make: C(N-1, k-1) = k/N * C(N, k)."""
    return math.comb(n_groups - 1, k_test - 1)


def paths(splits: Sequence[Split], n_groups: int) -> list[list[int]]:
    """The backtest paths: ``paths[p][g]`` is the split whose prediction of group ``g`` path
    ``p`` uses. Each group's splits are taken in order, the j-th one going to path j."""
    by_group: list[list[int]] = [[] for _ in range(n_groups)]
    for s in splits:
        for g in s.test_groups:
            by_group[g].append(s.index)
    counts = {len(v) for v in by_group}
    if len(counts) != 1:
        raise ValueError("every group must be tested in the same number of splits")
    return [[by_group[g][p] for g in range(n_groups)] for p in range(counts.pop())]


def split_problems(splits: Sequence[Split], label_end: Sequence[int] | np.ndarray, n_groups: int,
                   embargo: int) -> list[str]:
    """Every leak in ``splits``: a training label overlapping a test window, a training
    observation inside an embargo, or a test observation in the training set."""
    ends = np.asarray(label_end, dtype=int)
    parts = groups(len(ends), n_groups)
    problems = []
    for s in splits:
        train = s.train
        if np.intersect1d(train, s.test).size:
            problems.append(f"split {s.index}: trains on its own test observations")
        for block in _contiguous([parts[g] for g in s.test_groups]):
            first, last = block.start, block.stop - 1
            leak = train[(train <= last) & (ends[train] >= first)]
            if leak.size:
                problems.append(f"split {s.index}: {leak.size} training labels overlap test window "
                                f"{first}..{last} (first at {int(leak[0])})")
            inside = train[(train > last) & (train <= last + embargo)]
            if inside.size:
                problems.append(f"split {s.index}: {inside.size} training observations inside the embargo "
                                f"after {last}")
    return problems


def naive_kfold(n: int, k: int) -> list[Split]:
    """Plain (unshuffled) k-fold: no purge, no embargo — the leak the check should find."""
    out = []
    for index, g in enumerate(groups(n, k)):
        test = np.arange(g.start, g.stop)
        out.append(Split(index, (index,), np.setdiff1d(np.arange(n), test), test, 0, 0))
    return out


# --------------------------------------------------------------------------------------------
# the page


def _plot(splits: Sequence[Split], n: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.zeros((len(splits), n))
    for row, s in enumerate(splits):
        grid[row, s.train] = 1.0
        grid[row, s.test] = 2.0
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(splits) + 1.5))
    ax.imshow(grid, aspect="auto", interpolation="nearest", cmap=matplotlib.colors.ListedColormap(
        ["#dddddd", "#4c72b0", "#dd8452"]))
    ax.set_xlabel("observation (grey: purged or embargoed, blue: train, orange: test)")
    ax.set_ylabel("split")
    ax.set_title("Combinatorial purged cross-validation")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(out: Path | None = None) -> dict[str, Any]:
    from recipes.ch06_ml_signals.r01_feature_engineering import sample_frame

    n = len(sample_frame("SPX", "2010-01-04", "2014-12-31"))
    horizon, embargo, n_groups, k_test = 10, 5, 6, 2
    ends = horizon_ends(n, horizon)  # a 10-session forward return: labels overlap for 10 sessions

    print(f"{n} sessions of SPX, labels {horizon} sessions ahead, embargo {embargo} sessions")
    naive = naive_kfold(n, n_groups)
    kfold = purged_kfold(ends, n_groups, embargo)
    print(f"\nplain {n_groups}-fold: {len(split_problems(naive, ends, n_groups, embargo))} leaking splits")
    print(f"purged {n_groups}-fold: {len(split_problems(kfold, ends, n_groups, embargo))} leaking splits")

    splits = cpcv(ends, n_groups, k_test, embargo)
    print(f"\nCPCV N={n_groups} k={k_test}: {len(splits)} splits (C({n_groups}, {k_test}) = "
          f"{math.comb(n_groups, k_test)}), {n_paths(n_groups, k_test)} paths")
    print(f"{'split':>5} {'test groups':>12} {'train':>6} {'test':>5} {'purged':>7} {'embargoed':>10}")
    for s in splits:
        print(f"{s.index:>5} {','.join(map(str, s.test_groups)):>12} {len(s.train):>6} {len(s.test):>5} "
              f"{s.purged:>7} {s.embargoed:>10}")
    table = paths(splits, n_groups)
    print("\npath: the split predicting each group")
    for p, row in enumerate(table):
        print(f"  path {p}: " + " ".join(f"g{g}<-s{s}" for g, s in enumerate(row)))
    problems = split_problems(splits, ends, n_groups, embargo)
    print(f"\nleaks found in the CPCV splits: {len(problems)}")

    folder = out_dir(out)
    _plot(splits, n, folder / "cpcv_splits.png")
    return {"sessions": n, "splits": len(splits), "paths": len(table), "leaks": len(problems),
            "naive_leaks": len(split_problems(naive, ends, n_groups, embargo)),
            "purged_kfold_leaks": len(split_problems(kfold, ends, n_groups, embargo)),
            "purged": [s.purged for s in splits], "embargoed": [s.embargoed for s in splits]}


if __name__ == "__main__":
    main()
