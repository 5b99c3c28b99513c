"""OCA groups in the gateway simulator: which leg of a one-cancels-all group fills on a bar.

A protective exit reaches IB as an OCA group (ocaType 1) of a STP and/or a LMT leg; the simulator
fills it by :func:`algotrade.core.exits.exit_fill`, the rule by which every backtest engine fills
algotrade's ``"exit"`` order, so paper trading reproduces the backtest's stops.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from algotrade.core.exits import exit_fill
from algotrade.core.strategy import Bar, Order

if TYPE_CHECKING:
    from adapters.ib.gateway.account import BarRow, SimOrder


@dataclass(frozen=True)
class Cancellation:
    """An order the simulated exchange cancelled: an OCA sibling of an order that filled."""

    order: SimOrder
    reason: str


def oca_groups(orders: Iterable[SimOrder]) -> dict[str, list[SimOrder]]:
    """The one-cancels-all groups (ocaType 1) among ``orders``, by group name."""
    groups: dict[str, list[SimOrder]] = {}
    for order in orders:
        if order.oca_group and order.oca_type == 1:
            groups.setdefault(order.oca_group, []).append(order)
    return groups


def cancel_siblings(group: list[SimOrder], filled: SimOrder, cancel: Callable[[SimOrder], object]) -> list[Cancellation]:
    """Cancel the working orders of ``filled``'s OCA group but it (``cancel`` does it)."""
    out = []
    for sibling in group:
        if sibling is not filled and sibling.is_working:
            cancel(sibling)
            sibling.reason = f"OCA group {filled.oca_group}: order {filled.order_id} filled"
            out.append(Cancellation(sibling, sibling.reason))
    return out


def oca_fill(group: list[SimOrder], bar: BarRow, fill_price: Callable[[SimOrder, BarRow], float | None],
             slip: float) -> tuple[SimOrder, float] | None:
    """The leg of an OCA group that fills on ``bar`` and its price.

    A protective exit's group (one STP and/or one LMT on one side of one symbol, the same
    size) fills by :func:`~algotrade.core.exits.exit_fill`, as algotrade's ``"exit"`` order
    does in a backtest; any other group, leg by leg in order id order, the first fill wins."""
    legs = [o for o in group if o.is_working]
    stops = [o for o in legs if o.order_type == "STP"]
    limits = [o for o in legs if o.order_type == "LMT"]
    first = legs[0] if legs else None
    if (first is not None and len(stops) <= 1 and len(limits) <= 1 and len(stops) + len(limits) == len(legs)
            and all(o.symbol == first.symbol and o.action == first.action and o.remaining == first.remaining
                    for o in legs)):
        stop, limit = (stops[0] if stops else None), (limits[0] if limits else None)
        exit_order = Order(0, first.symbol, first.sign * round(first.remaining), "exit", dt.date.min,
                           limit=limit.lmt_price if limit is not None else None,
                           stop=stop.aux_price if stop is not None else None)
        hit = exit_fill(exit_order, Bar(dt.date.min, bar.open, bar.high, bar.low, bar.close, bar.volume),
                        slip)
        if hit is None:
            return None
        leg = stop if hit[1] == "stop" else limit
        assert leg is not None
        return leg, hit[0]
    for leg in sorted(legs, key=lambda o: o.order_id):
        price = fill_price(leg, bar)
        if price is not None:
            return leg, price
    return None


__all__ = ["Cancellation", "cancel_siblings", "oca_fill", "oca_groups"]
