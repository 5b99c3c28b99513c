"""Fixed cash: enter every position with the same number of dollars.

Fixed cash spends, say, $10,000 on each entry whatever the price, so positions in cheap and
expensive stocks carry the same notional. The order is the whole number of shares that
$10,000 x weight buys at the decision bar's close, truncated toward zero (the project's one
rounding rule, ``algotrade.core.strategy.shares_for_value``: exact decimal division, so $1,010 at
$10.10 is 100 shares). It does not grow with the account: a fixed-cash strategy that doubles its
equity still bets $10,000 (compare r03, target percent).

What to look at: the dollar amount, the shares it buys and the cash left over by the truncation.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from algotrade.core.costs import EXACT, exact
from recipes.ch11_risk_sizing.r01_fixed_shares import sample_bars


def fixed_cash_value(cash: float, weight: float = 1.0) -> Decimal:
    """The dollars to hold: ``cash * weight``, exactly, on the numbers as written."""
    return EXACT.multiply(exact(cash), exact(weight))


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.core.strategy import shares_for_value

    bars = sample_bars()
    price = float(bars["close"].iloc[-1])
    value = fixed_cash_value(10_000)
    shares = shares_for_value(value, price)
    print(f"$10,000 at {price:,.2f}: {shares} shares (${shares * price:,.2f}; ${float(value) - shares * price:,.2f} left)")
    return {"price": price, "value": float(value), "shares": shares}


if __name__ == "__main__":
    main()
