"""Pair selection: test every pair of a universe, and correct for having tested them all.

Search 12 symbols for pairs and you run 66 Engle-Granger tests; at the 5 % level about three
unrelated pairs pass by chance. A multiple-testing correction keeps that in check.
Bonferroni compares each p-value with ``level / m`` and bounds the chance of any false pair at
``level`` (strict: it also loses true ones when ``m`` is large). Benjamini-Hochberg sorts the
p-values and keeps the largest k with ``p(k) <= k / m * level``: it bounds the expected share of
false pairs among those kept (the false discovery rate), and keeps more true ones.
statsmodels ``multipletests`` computes both (``bonferroni``, ``fdr_bh``). Each pair is tested in
the order given (y on x); the test is not symmetric, so a careful search tests both orders or, as
here, a fixed one.

What to look at: the three planted pairs kept by both corrections in a universe of planted pairs
and independent controls, and the unrelated pairs that the raw 5 % cut would have kept.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

from recipes.ch12_pairs_trading.r01_engle_granger import PLANTED, engle_granger, planted_closes

#: the corrections the page compares, by statsmodels' name
METHODS = ("bonferroni", "fdr_bh")


def pair_pvalues(closes: pd.DataFrame) -> pd.DataFrame:
    """Engle-Granger p-value and hedge ratio of every pair of columns (the earlier column as y)."""
    rows = []
    for y, x in combinations(closes.columns, 2):
        eg = engle_granger(closes[y], closes[x])
        rows.append({"y": y, "x": x, "pvalue": eg.pvalue, "beta": eg.beta})
    return pd.DataFrame(rows)


def select_pairs(closes: pd.DataFrame, level: float = 0.05) -> pd.DataFrame:
    """:func:`pair_pvalues` with, per correction, the adjusted p-value and whether the pair is kept."""
    from statsmodels.stats.multitest import multipletests

    table = pair_pvalues(closes)
    table["raw"] = table["pvalue"] <= level
    for method in METHODS:
        keep, adjusted, _, _ = multipletests(table["pvalue"], alpha=level, method=method)
        table[f"{method}_p"], table[method] = adjusted, keep
    return table


def universe(seed: int = 3, n: int = 2520) -> pd.DataFrame:
    """Closes of three planted pairs (different betas and half-lives) and six independent controls."""
    pairs = (
        {**PLANTED, "y": "Y1", "x": "X1"},
        {**PLANTED, "y": "Y2", "x": "X2", "beta": 0.8, "alpha": 30.0, "half_life": 3.0},
        {**PLANTED, "y": "Y3", "x": "X3", "beta": 2.0, "alpha": 5.0, "half_life": 7.0, "spread_vol": 1.5},
    )
    return planted_closes(seed, n, pairs, ("X1", "X2", "X3", "C1", "C2", "C3", "C4", "C5", "C6"))


def main(out: Path | None = None) -> dict[str, Any]:
    table = select_pairs(universe())
    print(f"{len(table)} pairs tested")
    for method in ("raw", *METHODS):
        kept = table[table[method]]
        print(f"{method:>10}: keeps {', '.join(kept['y'] + '~' + kept['x']) or 'none'}")
    return {m: sorted(zip(table[table[m]]["y"], table[table[m]]["x"], strict=True)) for m in ("raw", *METHODS)}


if __name__ == "__main__":
    main()
