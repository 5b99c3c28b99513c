"""Take-profit: a limit above the entry, alone or bracketed with a stop.

A take-profit banks a gain of a fixed fraction: sell once the price rises ``fraction`` above the
entry (:func:`take_profit_level`). Alone it cuts the winners short and leaves the losers to the
strategy's own exit; with a stop-loss below (recipe 10) the two form a **bracket** — one order
that closes the position at whichever level the market reaches first (at IB, a stop and a limit
in one OCA group, so that one fill cancels the other).

The fill rule is recipe 10's :func:`~recipes.ch11_risk_sizing.r10_stop_loss.touch_price`: a bar
opening at or above the limit fills at the open (a gap up pays more than the limit), a bar whose
high reaches it fills at the limit, and a bar that touches both the stop and the limit is counted
as stopped (a daily bar does not say which came first: the rule assumes the worse). ``main`` runs
the crossover trades of recipe 10 with a 10% take-profit, then with a 5%/10% bracket.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recipes.ch11_risk_sizing.r10_stop_loss import (
    STOP_FRACTION,
    FloatArray,
    crossover_trades,
    stop_loss_level,
    stopped_trades,
    summary,
    to_tick,
)

PROFIT_FRACTION = 0.10


def take_profit_level(entry: float, fraction: float, side: int = 1) -> float:
    """The limit ``fraction`` above the entry price of a long (``side`` +1), below it for a short (-1)."""
    return to_tick(entry * (1 + fraction) if side > 0 else entry * (1 - fraction))


def main(out: Path | None = None) -> dict[str, Any]:
    from recipes.ch03_vectorized.r01_ma_crossover_signals import load_spx

    frame = load_spx()
    entries, exits = crossover_trades(frame)

    def profit(price: float, e: int, k0: int, k1: int) -> tuple[None, FloatArray]:
        return None, np.full(k1 - k0, take_profit_level(price, PROFIT_FRACTION))

    def bracket(price: float, e: int, k0: int, k1: int) -> tuple[FloatArray, FloatArray]:
        n = k1 - k0
        return np.full(n, stop_loss_level(price, STOP_FRACTION)), np.full(n, take_profit_level(price, PROFIT_FRACTION))

    tp = summary(stopped_trades(frame, entries, exits, profit))
    br = summary(stopped_trades(frame, entries, exits, bracket))
    print(f"SPX 20/50 crossover, {tp['trades']} trades")
    print(f"  {PROFIT_FRACTION:.0%} take-profit: {tp['took_profit']} hit, mean {tp['mean_return']:+.2%}")
    print(f"  {STOP_FRACTION:.0%}/{PROFIT_FRACTION:.0%} bracket: {br['stopped']} stopped, {br['took_profit']} took profit, "
          f"mean {br['mean_return']:+.2%}, worst {br['worst_return']:+.2%}")
    return {"take_profit": tp, "bracket": br}


if __name__ == "__main__":
    main()
