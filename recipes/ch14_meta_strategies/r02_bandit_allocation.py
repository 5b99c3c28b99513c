"""Allocating capital among strategies by Thompson-sampled means of their trailing returns.

Chapter 14's meta-strategy runs several strategies side by side. Each one (a *child*) trades its
own virtual sub-portfolio, so each has a daily return whether or not it is given any money. Every
``rebalance`` sessions the composer looks at the last ``window`` daily returns of each child's
sub-portfolio, turns them into a Normal-Inverse-Gamma posterior on that child's mean daily return
(recipe r01), and samples: the capital share of a child is the fraction of ``draws`` Thompson
draws in which its sampled mean was the largest. With ``draws: 1`` all the capital goes to one
child at a time (the classic bandit); with many draws the shares approach each child's posterior
probability of being the best, so a child that is probably but not certainly best gets most, not
all, of the money. The ``equal`` selector gives every child 1/K and is the yardstick.

Three rules keep it honest:

* causal: the shares decided at the close of session t use returns up to and including t only
  (the trailing window ends there), and the money moves with the next orders;
* deterministic: every draw comes from one ``numpy.random.Generator`` seeded once per run and
  used in date order, so the same seed gives the same allocations on every engine;
* nothing to learn from yet, nothing to prefer: on the first session (no returns) the shares
  are equal, whatever the selector.

Between rebalances each child keeps the dollars it was given: its share of the combined book
drifts with its own returns until the next draw.

What to look at: buy-and-hold, a 50/200-day trend filter and cash on the S&P 500, 2005-2012; the
shares at a few rebalances, and the combined book's return beside each child's; the plot
(bandit_allocation.png) stacks the shares over time above the growth of every book. On this
sample the bandit's book trails the equal split: 63 daily returns pin a mean down to about 0.1%
a day, far more than the edge between these children, so the draws mostly chase noise. A bandit
earns its keep when the arms differ by more than their returns' noise over the window, which is
worth checking (recipe r01's posterior sd) before trusting one with money.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from recipes.ch14_meta_strategies import out_dir
from recipes.ch14_meta_strategies.r01_thompson_sampling import NormalInverseGamma, best_arm_shares

Selector = Literal["thompson", "equal"]
#: the weak prior of recipe r01: mean 0 worth one observation, variance 1e-4 (1% a day)
PRIOR = NormalInverseGamma()


def trailing_returns(values: np.ndarray, i: int, window: int) -> np.ndarray:
    """The daily returns of each sub-portfolio (columns of ``values``, one row per session) over
    the last ``window`` sessions up to and including session ``i``: at most ``window`` rows."""
    lo = max(1, i + 1 - window)
    now, before = values[lo : i + 1], values[lo - 1 : i]
    # a sub-portfolio that has lost everything stays at nothing: a return of zero, not 0/0
    return np.divide(now, before, out=np.ones_like(now), where=before > 0) - 1.0


def allocate(rewards: np.ndarray, selector: Selector, rng: np.random.Generator, draws: int,
             prior: NormalInverseGamma = PRIOR) -> np.ndarray:
    """Capital shares (summing to 1) of K children from ``rewards`` (rows: sessions, columns: children)."""
    k = rewards.shape[1]
    if selector == "equal" or len(rewards) == 0:
        return np.full(k, 1.0 / k)
    return best_arm_shares([prior.update(rewards[:, j]) for j in range(k)], rng, draws)


def allocation_path(values: np.ndarray, selector: Selector = "thompson", seed: int = 7, rebalance: int = 21,
                    window: int = 63, draws: int = 1000) -> list[tuple[int, np.ndarray]]:
    """(session, shares) at sessions 0, rebalance, 2*rebalance, ... of children whose sub-portfolio
    values are the columns of ``values``."""
    rng = np.random.default_rng(seed)
    return [(i, allocate(trailing_returns(values, i, window), selector, rng, draws))
            for i in range(0, len(values), rebalance)]


def combined_values(values: np.ndarray, path: Sequence[tuple[int, np.ndarray]], start: float = 1.0) -> np.ndarray:
    """The combined book: at each rebalance the dollars are split by the shares, then each part
    grows with its child's sub-portfolio until the next rebalance."""
    out = np.empty(len(values))
    total = start
    marks = [i for i, _ in path] + [len(values)]
    for (i, shares), nxt in zip(path, marks[1:], strict=True):
        units = total * shares / values[i]  # sub-portfolio units held per child
        out[i:nxt] = values[i:nxt] @ units
        total = float(out[nxt - 1]) if nxt == len(values) else float(values[nxt] @ units)
    return out


def demo_values() -> tuple[list[str], list[Any], np.ndarray]:
    """Sub-portfolio values of three toy children on the S&P 500 sample, 2005-2012."""
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    close = load_market(DataConfig.model_validate({"symbols": ["SPX"]})).frames["SPX"]["close"].loc["2004-01-01":"2012-12-31"]
    ret = close.pct_change().fillna(0.0).to_numpy()
    trend = (close.rolling(50).mean() > close.rolling(200).mean()).shift(1, fill_value=False).to_numpy()
    keep = close.index >= "2005-01-01"
    values = np.column_stack([np.cumprod(1 + ret[keep]), np.cumprod(1 + ret[keep] * trend[keep]), np.ones(keep.sum())])
    return ["buy_and_hold", "trend_50_200", "cash"], list(close.index[keep]), values


def main(out: Path | None = None, seed: int = 7) -> dict[str, Any]:
    names, dates, values = demo_values()
    path = allocation_path(values, "thompson", seed)
    combined = combined_values(values, path)
    for i, shares in path[::16]:
        print(f"{dates[i]:%Y-%m-%d}  " + "  ".join(f"{n} {s:5.1%}" for n, s in zip(names, shares, strict=True)))
    finals = {n: float(values[-1, j] - 1) for j, n in enumerate(names)}
    equal = combined_values(values, allocation_path(values, "equal"))
    print("total return: " + ", ".join(f"{n} {r:+.1%}" for n, r in finals.items())
          + f"; thompson book {combined[-1] - 1:+.1%}; equal book {equal[-1] - 1:+.1%}")
    plot = plot_allocations(out_dir(out) / "bandit_allocation.png", names, dates, values, path,
                            {"thompson book": combined, "equal book": equal})
    print(f"plot: {plot}")
    return {"rebalances": len(path), "children": finals, "thompson": float(combined[-1] - 1),
            "equal": float(equal[-1] - 1), "plot": plot}


def plot_allocations(path: Path, names: list[str], dates: list[Any], values: np.ndarray,
                     shares: Sequence[tuple[int, np.ndarray]], books: dict[str, np.ndarray]) -> Path:
    """The shares held from each rebalance to the next (stacked), above every book's growth."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.4])
    x = [dates[i] for i, _ in shares] + [dates[-1]]
    stacked = np.array([s for _, s in shares] + [shares[-1][1]]).T
    top.stackplot(x, *stacked, labels=names, step="post", alpha=0.8)
    top.set_ylim(0, 1)
    top.set_title("capital share of each child, re-drawn every rebalance", loc="left", fontsize=10)
    top.legend(loc="upper right", fontsize=8, ncol=len(names))
    for j, name in enumerate(names):
        bottom.plot(dates, values[:, j], lw=0.8, label=name)
    for name, book in books.items():
        bottom.plot(dates, book, lw=1.6, label=name)
    bottom.set_title("growth of $1", loc="left", fontsize=10)
    bottom.legend(loc="upper left", fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
