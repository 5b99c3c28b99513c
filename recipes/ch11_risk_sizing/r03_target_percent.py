"""Target percent: enter with a fixed fraction of the account's value.

``target_percent: 0.5`` holds half the portfolio value (cash plus positions at the decision bar's
close) in the symbol, times the entry's weight: the bet grows and shrinks with the account (the
"fixed fractional" rule). The dollars are ``percent * weight * equity`` in exact decimal, and the
shares are those dollars over the close, truncated (``shares_for_value``).

What to look at: the same fraction on a $100,000 and a $150,000 account.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from algotrade.core.costs import EXACT, exact
from recipes.ch11_risk_sizing.r01_fixed_shares import sample_bars


def target_percent_value(percent: float, equity: float | Decimal, weight: float = 1.0) -> Decimal:
    """The dollars to hold: ``percent * weight * equity``, exactly."""
    return EXACT.multiply(EXACT.multiply(exact(percent), exact(weight)), exact(equity))


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.core.strategy import shares_for_value

    price = float(sample_bars()["close"].iloc[-1])
    rows = {}
    for equity in (100_000.0, 150_000.0):
        shares = shares_for_value(target_percent_value(0.5, equity), price)
        rows[equity] = shares
        print(f"50% of ${equity:,.0f} at {price:,.2f}: {shares} shares")
    return {"price": price, "shares_100k": rows[100_000.0], "shares_150k": rows[150_000.0]}


if __name__ == "__main__":
    main()
