"""Risk per trade: size so that hitting the stop loses a fixed fraction of equity.

Decide where the trade is wrong first — a stop ``atr_mult`` average true ranges below the entry —
then buy as many shares as make that distance cost ``risk`` of equity:

    shares = floor(equity * risk / (atr_mult * ATR(atr_window)))
    stop   = entry - atr_mult * ATR(atr_window)

capped so that ``shares * price <= equity * max_leverage`` (1.0 by default). ATR is Wilder's average
true range as TA-Lib computes it: the true range ``max(high - low, |high - prev close|, |low - prev
close|)``, its simple mean over the first ``atr_window`` ranges, then ``atr = (atr * (n - 1) + tr) / n``;
it is known from bar ``atr_window`` on (NaN before: no entry).

What to look at: the ATR, the stop level and the shares that risk 1 % of $100,000 on SPX.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from algotrade.core.costs import EXACT, exact
from recipes.ch11_risk_sizing.r01_fixed_shares import sample_bars

# the stop itself is the stops recipe's (r10): the same level the engines' protective exit rests at
from recipes.ch11_risk_sizing.r10_stop_loss import atr_stop_level


def wilder_atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, window: int) -> float:
    """Wilder's ATR at the last bar (TA-Lib's ``ATR``), NaN until ``window + 1`` bars exist."""
    h, lo, c = (np.asarray(a, dtype=float) for a in (high, low, close))
    if len(c) < window + 1:
        return math.nan
    tr = np.maximum(h[1:] - lo[1:], np.maximum(np.abs(h[1:] - c[:-1]), np.abs(lo[1:] - c[:-1])))
    atr = float(np.mean(tr[:window]))
    for x in tr[window:]:
        atr = (atr * (window - 1) + float(x)) / window
    return atr


def risk_per_trade_shares(equity: float | Decimal, price: float, atr: float, risk: float, atr_mult: float,
                          max_leverage: float = 1.0) -> int:
    """``floor(equity * risk / (atr_mult * atr))``, capped at ``floor(equity * max_leverage / price)``.

    Both in exact decimal arithmetic on the numbers as written (the rounding rule of
    ``algotrade.core.strategy.shares_for_value``): in floats ``100 * 0.29 / 1`` is 28.999999999999996 and would floor to 28."""
    if not (math.isfinite(atr) and atr > 0 and price > 0):
        return 0
    budget = EXACT.multiply(exact(equity), exact(risk))
    distance = EXACT.multiply(exact(atr_mult), exact(atr))
    shares = int(EXACT.divide(budget, distance).to_integral_value(rounding=ROUND_DOWN))
    cap = int(EXACT.divide(EXACT.multiply(exact(equity), exact(max_leverage)), exact(price))
              .to_integral_value(rounding=ROUND_DOWN))
    return max(0, min(shares, cap))


def main(out: Path | None = None) -> dict[str, Any]:
    bars = sample_bars(end="2012-12-31")
    atr = wilder_atr(bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy(), 14)
    price = float(bars["close"].iloc[-1])
    shares = risk_per_trade_shares(100_000.0, price, atr, 0.01, 2.0)
    stop = atr_stop_level(price, atr, 2.0)
    print(f"SPX {price:,.2f}, ATR(14) {atr:.2f}: stop {stop:,.2f}; risking 1% of $100,000 -> {shares} shares "
          f"(loss at the stop ${shares * (price - stop):,.0f})")
    return {"price": price, "atr": atr, "stop": stop, "shares": shares}


if __name__ == "__main__":
    main()
