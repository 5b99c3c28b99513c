"""The broker seam for live and paper trading: what a live adapter implements and what it sends
back (:class:`Broker`, :class:`OrderRequest`, :class:`Account`, the events), and the bars a live
runner consumes (:data:`BarStream`). Implemented by :class:`~algotrade.live.memory_broker.InMemoryBroker`
and the IB adapter; :class:`~algotrade.live.broker.LiveRunner` drives one. Import these names from
:mod:`algotrade.live.broker`, which re-exports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from algotrade.core.strategy import FIELDS, Bar
from algotrade.live.reconcile import BrokerOrder, Execution

BarLike = Bar | Mapping[str, float]
BarStream = Iterable[tuple[dt.date, Mapping[str, BarLike]]]


def _fields(bar: BarLike) -> dict[str, float]:
    if isinstance(bar, Bar):
        return {f: float(getattr(bar, f)) for f in FIELDS}
    return {f: float(bar[f]) for f in FIELDS}


@dataclass(frozen=True)
class OrderRequest:
    """What is sent to a broker: an order under its deterministic ``orderRef``."""

    order_ref: str
    symbol: str
    quantity: int  # signed: + buy, - sell
    type: str = "market"  # market | limit | stop | exit (stop and/or limit: a protective bracket)
    limit: float | None = None
    stop: float | None = None


@dataclass(frozen=True)
class Account:
    account_id: str
    cash: float
    value: float


@dataclass(frozen=True)
class FillEvent:
    execution: Execution


@dataclass(frozen=True)
class StatusEvent:
    order_ref: str
    broker_id: str
    status: str  # submitted | cancelled | rejected | expired | filled
    reason: str = ""


@dataclass(frozen=True)
class DisconnectEvent:
    reason: str = ""


@dataclass(frozen=True)
class ConnectivityEvent:
    """IB's connectivity codes, the socket still up: 1100 the gateway lost IB's servers (orders
    are held), 1101 restored with market data lost (resubscribe, reconcile), 1102 restored with
    data kept (reconcile)."""

    code: int
    message: str = ""


BrokerEvent = FillEvent | StatusEvent | DisconnectEvent | ConnectivityEvent


class Broker(Protocol):
    """What a live runner needs from a broker. ``place`` and ``connect`` raise
    :class:`~algotrade.core.errors.TransientBrokerError` when the connection is down."""

    def connect(self) -> None: ...

    def disconnect(self) -> None: ...

    def is_connected(self) -> bool: ...

    def account(self) -> Account: ...

    def positions(self) -> dict[str, int]: ...

    def place(self, request: OrderRequest) -> str:
        """Send an order; returns the broker's order id."""
        ...

    def modify(self, broker_id: str, request: OrderRequest) -> str:
        """Change a working order in place (same order: a trailing stop's new level, an exit's
        new size); returns its broker id, which changes only when a bracket gains or loses a leg."""
        ...

    def cancel(self, broker_id: str) -> None: ...

    def open_orders(self) -> list[BrokerOrder]: ...

    def completed_orders(self) -> list[BrokerOrder]: ...

    def executions(self, since: str | None = None) -> list[Execution]:
        """Executions of this session, after the one with exec id ``since`` when given."""
        ...

    def poll_events(self) -> list[BrokerEvent]:
        """Events since the last poll, oldest first (fills, status changes, disconnects)."""
        ...
