"""What the order journal hands back: intents, fills, events, bars and risk events (frozen
records), the deterministic orderRef, and the error a contradicting fill raises."""

from __future__ import annotations

import json
from dataclasses import dataclass

#: statuses that end an order without (fully) filling it
CLOSED_STATUSES = ("cancelled", "rejected", "expired", "dropped")


class FillConflict(ValueError):
    """A fill that cannot be recorded as reported: its order is not in the journal, or another
    fill with different figures is already recorded under the same (order, exec id)."""


@dataclass(frozen=True)
class RiskEvent:
    id: int
    run_id: str
    kind: str  # mismatch | unmatched_fill | outage | kill_switch | halt ...
    subject: str
    message: str
    written_at: str


def order_ref(run_id: str, strategy: str, seq: int) -> str:
    """The deterministic orderRef of an intent: the same decision always gets the same ref."""
    return f"{run_id}:{strategy}:{seq}"


def parse_levels(text: str | None) -> tuple[int, float | None, float | None] | None:
    """A ``modified`` event's (quantity, limit, stop), as the journal's query returns it (JSON)."""
    if text is None:
        return None
    quantity, limit, stop = json.loads(text)
    return int(quantity), limit, stop


@dataclass(frozen=True)
class Intent:
    """An order as the journal knows it: what was decided, and what happened to it since."""

    order_ref: str
    run_id: str
    strategy: str
    seq: int
    symbol: str
    quantity: int  # signed: + buy, - sell
    type: str
    limit: float | None
    stop: float | None
    created: str  # the bar date the decision was made on (ISO)
    broker_id: str | None = None
    filled: int = 0  # signed, from the journal's fills
    closed: str | None = None  # cancelled | rejected | expired | dropped
    cancel_requested: bool = False
    #: an exit's latest modification (quantity, limit, stop): a trailing stop's new level, a new size
    modified: tuple[int, float | None, float | None] | None = None

    @property
    def levels(self) -> tuple[int, float | None, float | None]:
        """(quantity, limit, stop) as the order now stands at the broker: modified, or as decided."""
        return self.modified if self.modified is not None else (self.quantity, self.limit, self.stop)

    @property
    def status(self) -> str:
        if self.closed:
            return self.closed
        if self.filled == self.levels[0]:
            return "filled"
        return "open"

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class JournalFill:
    exec_id: str
    order_ref: str
    symbol: str
    quantity: int  # signed
    price: float
    commission: float
    date: str


@dataclass(frozen=True)
class JournalEvent:
    """A fill or a closure, in journal order, with the bar before which the host saw it."""

    id: int
    kind: str  # fill | closed
    order_ref: str
    host_bar: int | None
    status: str | None = None
    reason: str = ""
    fill: JournalFill | None = None


@dataclass(frozen=True)
class BarRow:
    idx: int
    date: str
    cash: float
    value: float
    done: bool


__all__ = [
    "CLOSED_STATUSES",
    "BarRow",
    "FillConflict",
    "Intent",
    "JournalEvent",
    "JournalFill",
    "RiskEvent",
    "order_ref",
]
