"""Costs, computed one way for every engine (the same float operations in the same order).

Backtrader's own arithmetic for these is ``abs(size) * commission * price`` (percent) and
``price * (1 +/- perc)`` (slippage); the functions below are written the same way so that an
adapter that must compute costs itself gets the very same numbers.
"""

from __future__ import annotations

from algotrade.config import BpsSlippage, BrokerConfig, PercentCommission, PerShareCommission


def per_share_commission(size: float, per_share: float, minimum: float) -> float:
    return max(abs(size) * per_share, minimum) if size else 0.0


def commission(broker: BrokerConfig, size: float, price: float) -> float:
    c = broker.commission
    if isinstance(c, PerShareCommission):
        return per_share_commission(size, c.per_share, c.minimum)
    if isinstance(c, PercentCommission):
        return abs(size) * c.percent * price
    return 0.0


def slippage_fraction(broker: BrokerConfig) -> float:
    """Slippage as a fraction of price: 5 bps -> 0.0005."""
    return broker.slippage.bps / 10_000 if isinstance(broker.slippage, BpsSlippage) else 0.0


def slipped(price: float, size: float, fraction: float) -> float:
    """The fill price after slippage: worse for the order's side."""
    if not fraction:
        return price
    return price * (1 + fraction) if size > 0 else price * (1 - fraction)
