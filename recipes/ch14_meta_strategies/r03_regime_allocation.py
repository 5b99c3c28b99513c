"""Allocating by market regime: a table of shares per regime, or a bandit that learns per regime.

Recipe r02's bandit judges every child on its last 63 sessions, whatever the market did in them.
A trend follower and a mean-reverter take turns: the trend pays in a calm, trending market and
the reverter in a choppy one. If the market's state can be read as it comes, two better rules
follow, and both are here:

* ``regime``: a table written in advance, one row of capital shares per regime (calm first):
  e.g. ``[[0.8, 0.2], [0.2, 0.8]]`` gives the first child 80% while the market is calm and 20%
  while it is turbulent. Nothing is learned; the table is the whole model.
* ``regime_thompson``: r02's Thompson draws, but each child's posterior is built only from the
  sessions of the trailing window that were in *today's* regime. In a turbulent week the bandit
  asks which child earned most in the turbulent sessions it has seen, not in the calm ones.

The regime of each session is chapter 13's walk-forward HMM (``r02_walk_forward_regimes``: fitted
on past observations only, stepped one close at a time) on one market series. Before its first
fit a session has no regime (label -1): both rules then hold equal shares, as r02 does before it
has returns. Everything stays causal: the shares decided at the close of session t use labels and
returns up to t, so changing any later close cannot change them (the tests check this).

What to look at: the three toy children of r02 on the S&P 500, 2005-2012, under the table
``buy_and_hold 70/10/20 calm, 10/30/60 turbulent``; the share of turbulent sessions; each book's
total return beside r02's bandit, and ``regime_allocation.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from recipes.ch13_regimes.r02_walk_forward_regimes import WalkForwardHMM
from recipes.ch14_meta_strategies import out_dir
from recipes.ch14_meta_strategies.r02_bandit_allocation import (
    allocate,
    combined_values,
    demo_values,
    plot_allocations,
    trailing_returns,
)

RegimeSelector = Literal["regime", "regime_thompson"]


def check_table(table: Sequence[Sequence[float]], n_states: int, children: int) -> None:
    """A shares table has one row per regime and one share per child; each row sums to 1."""
    if len(table) != n_states:
        raise ValueError(f"the shares table has {len(table)} rows; it needs one per regime ({n_states}), calm first")
    for r, row in enumerate(table):
        if len(row) != children:
            raise ValueError(f"row {r} of the shares table has {len(row)} shares; it needs one per child ({children})")
        if min(row) < 0 or abs(sum(row) - 1.0) > 1e-9:
            raise ValueError(f"row {r} of the shares table ({list(row)}) must be shares >= 0 that sum to 1")


def same_regime_rewards(rewards: np.ndarray, labels: Sequence[int], i: int, label: int) -> np.ndarray:
    """The rows of ``rewards`` (r02's trailing returns up to session ``i``) whose session was in
    regime ``label``: row ``j`` is the return *into* session ``i - len(rewards) + 1 + j``."""
    first = i - len(rewards) + 1
    keep = [j for j in range(len(rewards)) if labels[first + j] == label]
    return rewards[keep]


def allocate_by_regime(rewards: np.ndarray, labels: Sequence[int], i: int, selector: RegimeSelector,
                       rng: np.random.Generator, draws: int,
                       table: Sequence[Sequence[float]] | None = None) -> np.ndarray:
    """Capital shares at session ``i`` from its regime ``labels[i]``: the table's row, or Thompson
    draws on the trailing rewards of the sessions in the same regime. Equal shares before the
    first label (and, for the bandit, while no session of the window shares today's regime)."""
    k = rewards.shape[1]
    label = labels[i]
    if label < 0:
        return np.full(k, 1.0 / k)
    if selector == "regime":
        if table is None:
            raise ValueError("selector 'regime' needs a shares table: one row per regime, calm first")
        return np.asarray(table[label], dtype=float)
    return allocate(same_regime_rewards(rewards, labels, i, label), "thompson", rng, draws)


def regime_labels(closes: np.ndarray, **params: Any) -> list[int]:
    """Each session's walk-forward regime label (-1 before the first fit), stepped as it comes."""
    wf = WalkForwardHMM(**params)
    for t in range(len(closes)):
        wf.step(closes[max(0, t - wf.vol_window): t + 1])
    return wf.labels


def regime_path(values: np.ndarray, labels: Sequence[int], selector: RegimeSelector, seed: int = 7,
                rebalance: int = 21, window: int = 63, draws: int = 1000,
                table: Sequence[Sequence[float]] | None = None) -> list[tuple[int, np.ndarray]]:
    """(session, shares) at sessions 0, rebalance, 2*rebalance, ... as r02's allocation_path."""
    rng = np.random.default_rng(seed)
    return [(i, allocate_by_regime(trailing_returns(values, i, window), labels, i, selector, rng, draws, table))
            for i in range(0, len(values), rebalance)]


def main(out: Path | None = None, seed: int = 7) -> dict[str, Any]:
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    names, dates, values = demo_values()
    close = load_market(DataConfig.model_validate({"symbols": ["SPX"]})).frames["SPX"]["close"]
    # the HMM sees the closes from 2001 on, so it is fitted by 2005 (20 + 504 sessions of warm-up)
    history = close.loc["2001-01-01":"2012-12-31"]
    every = regime_labels(history.to_numpy(), vol_window=20, train_bars=504, refit_every=126, seed=0)
    labels = every[len(history) - len(dates):]
    table = [[0.7, 0.1, 0.2], [0.1, 0.3, 0.6]]
    books = {}
    for selector in ("regime", "regime_thompson"):
        path = regime_path(values, labels, selector, seed, table=table)  # type: ignore[arg-type]
        books[f"{selector} book"] = combined_values(values, path)
    turbulent = sum(1 for x in labels if x == 1) / len(labels)
    print(f"turbulent sessions: {turbulent:.0%} of {len(labels)} (first labelled {dates[labels.index(0)]:%Y-%m-%d})")
    finals = {n: float(values[-1, j] - 1) for j, n in enumerate(names)}
    print("total return: " + ", ".join(f"{n} {r:+.1%}" for n, r in finals.items()) + "; "
          + ", ".join(f"{n} {b[-1] - 1:+.1%}" for n, b in books.items()))
    plot = plot_allocations(out_dir(out) / "regime_allocation.png", names, dates, values,
                            regime_path(values, labels, "regime", seed, table=table), books)
    print(f"plot: {plot}")
    return {"turbulent": turbulent, "children": finals, **{n: float(b[-1] - 1) for n, b in books.items()},
            "plot": plot}


if __name__ == "__main__":
    main()
