"""The two rules of shorts in the simulated account, by the cash book's own functions
(:mod:`algotrade.core.costs`; docs/engine-parity.md, "Shorts"): ``broker.short_margin`` refuses at
fill time a sale that opens or enlarges a short it does not cover, and ``broker.borrow_fee_bps``
is debited from cash at each session's close for the shorts held, in exact decimals. IB shows
the fee the same way: lower cash, and so lower net liquidation."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from algotrade.core.config import BrokerConfig
from algotrade.core.costs import borrow_fee, exact, short_margin_refusal

if TYPE_CHECKING:
    from adapters.ib.gateway.account import Position, SimOrder


def _exact(positions: Mapping[str, Position], marks: Mapping[str, float]) -> tuple[dict[str, int], dict[str, Decimal]]:
    held = {s: int(p.quantity) for s, p in positions.items() if p.quantity}
    return held, {s: exact(marks.get(s, positions[s].avg_cost)) for s in held}


def sale_refusal(broker: BrokerConfig, cash: float, positions: Mapping[str, Position], marks: Mapping[str, float],
                 order: SimOrder, quantity: float, price: float) -> str:
    """Why ``broker.short_margin`` refuses a fill of ``quantity`` shares of ``order`` at ``price``:
    "" when it admits it (always for buys, covers and without a margin)."""
    if broker.short_margin is None or order.sign > 0:
        return ""
    held, exact_marks = _exact(positions, marks)
    return short_margin_refusal(broker, exact(cash), held, exact_marks, order.symbol, -int(quantity), price)


def session_borrow_fee(broker: BrokerConfig, positions: Mapping[str, Position], marks: Mapping[str, float]) -> float:
    """The borrow fee of the shorts held at the session's closes (``marks``), to debit from cash."""
    if not broker.borrow_fee_bps:
        return 0.0
    return float(borrow_fee(broker, *_exact(positions, marks)))
