"""Johansen: how many independent ways a set of prices is tied together.

Engle-Granger tests one direction (y on x) and one relation. Johansen's test works on the vector
of prices at once: it fits a vector error-correction model and reads the cointegration rank, the
number of stationary combinations, from the eigenvalues of its long-run matrix. The trace test
asks in turn "rank <= 0?", "rank <= 1?", ... and the rank is the first null it cannot reject. For
two prices: rank 0 means no relation, rank 1 a single spread (a tradable pair), rank 2 that both
series are already stationary. statsmodels ``coint_johansen`` gives the trace statistics and their
90/95/99 % critical values (Osterwald-Lenum); ``det_order=-1`` (used here) has no deterministic term, while ``det_order=0``, whose unrestricted constant implies a trend in the levels, rejected "rank <= 1" on half of the planted pairs of ten seeds; and
``k_ar_diff`` lagged differences in the model.

What to look at: rank 1 for the planted pair, rank 0 for the control, and the eigenvector of the
planted pair normalised on y: minus the hedge ratio on x.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from recipes.ch12_pairs_trading.r01_engle_granger import PLANTED, planted_closes

#: the column of coint_johansen's critical values for each confidence level
LEVELS = {0.90: 0, 0.95: 1, 0.99: 2}


def johansen_rank(prices: ArrayLike, level: float = 0.95, det_order: int = -1, k_ar_diff: int = 1) -> int:
    """The cointegration rank of the columns of ``prices`` by the trace test at ``level`` (0.90, 0.95, 0.99)."""
    from statsmodels.tsa.vector_ar.vecm import coint_johansen

    if level not in LEVELS:
        raise ValueError(f"level {level!r} has no critical values; use one of {sorted(LEVELS)}")
    res = coint_johansen(np.asarray(prices, dtype=float), det_order, k_ar_diff)
    crit = res.cvt[:, LEVELS[level]]
    for rank, (trace, bound) in enumerate(zip(res.lr1, crit, strict=True)):
        if trace < bound:
            return rank
    return len(crit)


def johansen_hedge(prices: ArrayLike, det_order: int = 0, k_ar_diff: int = 1) -> float:
    """The hedge ratio of the first column on the second from the leading eigenvector (with a
    constant, ``det_order=0``: without one the missing intercept biases it)."""
    from statsmodels.tsa.vector_ar.vecm import coint_johansen

    vec = coint_johansen(np.asarray(prices, dtype=float), det_order, k_ar_diff).evec[:, 0]
    return float(-vec[1] / vec[0])


def main(out: Path | None = None) -> dict[str, Any]:
    closes = planted_closes()
    result: dict[str, Any] = {}
    for y, x in (("Y", "X"), ("A", "B")):
        rank = johansen_rank(closes[[y, x]])
        print(f"{y}, {x}: Johansen trace-test rank {rank} at 95%")
        result[f"{y}~{x}"] = rank
    beta = johansen_hedge(closes[["Y", "X"]])
    print(f"Y on X from the leading eigenvector: beta = {beta:.4f} (planted {PLANTED['beta']})")
    result["beta"] = beta
    return result


if __name__ == "__main__":
    main()
