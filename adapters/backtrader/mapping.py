"""Pure mapping tables between algotrade's execution model and Backtrader's (no engine import).

Tested without Backtrader in tests/test_backtrader_mapping.py; engine.py turns the names into
Backtrader objects.
"""

from __future__ import annotations

from typing import Any

from algotrade.core.config import BrokerConfig, PercentCommission, PerShareCommission
from algotrade.core.costs import per_share_commission, slippage_fraction
from algotrade.core.symbols import SymbolRule

#: Backtrader names a feed by any string and tells every string apart: symbols pass verbatim
SYMBOLS = SymbolRule("backtrader")

#: (fill model, algotrade order type) -> Backtrader exectype name
EXECTYPE: dict[tuple[str, str], str] = {
    ("next_open", "market"): "Market",  # fills at the next bar's open
    ("next_close", "market"): "Close",  # fills at the next bar's close
    ("next_open", "limit"): "Limit",
    ("next_close", "limit"): "Limit",
    ("next_open", "stop"): "Stop",
    ("next_close", "stop"): "Stop",
    # a protective exit: placed as a stop, filled by algotrade.core.exits.exit_fill (engine.py _Broker)
    ("next_open", "exit"): "Stop",
    ("next_close", "exit"): "Stop",
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


__all__ = ["EXECTYPE", "STATUS", "SYMBOLS", "commission_kwargs", "per_share_commission", "slippage_fraction"]
