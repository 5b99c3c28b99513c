"""Pure mapping tables between algotrade's execution model and Backtrader's (no engine import).

Tested without Backtrader in tests/test_backtrader_mapping.py; engine.py turns the names into
Backtrader objects.
"""

from __future__ import annotations

from typing import Any

from algotrade.config import BpsSlippage, BrokerConfig, PercentCommission, PerShareCommission

#: (fill model, algotrade order type) -> Backtrader exectype name
EXECTYPE: dict[tuple[str, str], str] = {
    ("next_open", "market"): "Market",  # fills at the next bar's open
    ("next_close", "market"): "Close",  # fills at the next bar's close
    ("next_open", "limit"): "Limit",
    ("next_close", "limit"): "Limit",
    ("next_open", "stop"): "Stop",
    ("next_close", "stop"): "Stop",
}

#: Backtrader order status name -> (algotrade status, reason recorded in orders.csv)
STATUS: dict[str, tuple[str, str]] = {
    "Completed": ("filled", ""),
    "Partial": ("partial", ""),
    "Canceled": ("cancelled", "cancelled"),
    "Expired": ("expired", "expired"),
    "Margin": ("rejected", "insufficient cash at fill time"),
    "Rejected": ("rejected", "rejected by the broker"),
}


def commission_kwargs(broker: BrokerConfig) -> dict[str, Any] | None:
    """Keyword arguments for the commission scheme, or None for no commission."""
    c = broker.commission
    if isinstance(c, PerShareCommission):
        return {"kind": "per_share", "per_share": c.per_share, "minimum": c.minimum}
    if isinstance(c, PercentCommission):
        return {"kind": "percent", "commission": c.percent, "percabs": True}
    return None


def slippage_fraction(broker: BrokerConfig) -> float:
    """Slippage as a fraction of price: 5 bps -> 0.0005."""
    return broker.slippage.bps / 10_000 if isinstance(broker.slippage, BpsSlippage) else 0.0


def per_share_commission(size: float, per_share: float, minimum: float) -> float:
    return max(abs(size) * per_share, minimum) if size else 0.0
