"""Fixed shares: enter every position with the same number of shares.

The simplest sizing rule, and the one whose risk varies the most: 100 shares of a $20 stock and
100 shares of a $2,000 stock are very different bets. It is still useful when the instrument is
fixed (one index, one future) and for tests, because the order size does not depend on the
account. A strategy that enters with a ``weight`` (e.g. 0.5 for half a position) gets
``shares * weight`` rounded to the nearest whole share, ties to the even share, computed exactly
in decimal so 100 x 0.29 is 29 shares and never 28.

This page also holds the small data helper the other sizing pages use: the last ``n`` daily bars
of a sample index up to a date, so each page sizes the same bar.

What to look at: the share count and the notional it implies at two different prices.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from algotrade.core.costs import EXACT, exact


def fixed_shares(shares: int, weight: float = 1.0) -> int:
    """``shares * weight`` to the nearest whole share (ties to even), in exact decimal arithmetic."""
    return int(EXACT.multiply(Decimal(shares), exact(weight)).to_integral_value(rounding=ROUND_HALF_EVEN))


def sample_bars(symbol: str = "SPX", end: str = "2012-12-31", n: int = 300) -> pd.DataFrame:
    """The last ``n`` daily bars (open, high, low, close, volume) of a sample index up to ``end``."""
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    frame = load_market(DataConfig.model_validate({"symbols": [symbol]})).frames[symbol]
    return frame.loc[:end].iloc[-n:]


def main(out: Path | None = None) -> dict[str, Any]:
    bars = sample_bars()
    price = float(bars["close"].iloc[-1])
    full, half = fixed_shares(100), fixed_shares(100, 0.5)
    print(f"SPX close {price:,.2f} on {bars.index[-1].date()}: 100 shares = ${full * price:,.0f}; "
          f"weight 0.5 -> {half} shares = ${half * price:,.0f}")
    return {"price": price, "shares": full, "half_shares": half, "notional": full * price}


if __name__ == "__main__":
    main()
