"""What a live run tells its watchers: the :class:`Observer` the runner calls at each point an
operator cares about (a bar arrives, its first order goes to the broker, orders are submitted,
filled, rejected or cancelled, the link drops or comes back, a risk event is journaled, trading
halts or resumes, a bar is done). The default :class:`NullObserver` does nothing.

The runner calls these on its trading thread, between its own journal writes and broker calls:
an observer must be cheap (update memory, never block, never do I/O).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol


class Observer(Protocol):
    """The hooks of a live run (every method is optional in spirit: :class:`NullObserver` has them all)."""

    def bar_arrived(self, date: dt.date, at: dt.datetime) -> None:
        """A bar of ``date`` reached the runner (the step starts); ``at`` is the run's clock."""

    def first_order(self, date: dt.date) -> None:
        """The first order of the bar ``date`` is handed to the broker."""

    def order_submitted(self, order_ref: str, symbol: str, quantity: int, type_: str) -> None: ...

    def order_filled(self, order_ref: str, symbol: str, quantity: int, price: float, date: str) -> None: ...

    def order_closed(self, order_ref: str, status: str, reason: str) -> None:
        """An order ended without (further) fills: ``status`` is rejected, cancelled, expired or dropped."""

    def connection_lost(self, reason: str) -> None: ...

    def connection_restored(self, reconnect: bool) -> None:
        """Connected (``reconnect``: after a loss, not the first connection)."""

    def risk_event(self, kind: str, message: str) -> None: ...

    def halt_changed(self, reason: str | None) -> None:
        """Trading halted (``reason``) or the halt was lifted (None)."""

    def bar_done(self, date: dt.date, bars: Mapping[str, Any], equity: float, cash: float,
                 positions: Mapping[str, int], live: bool) -> None:
        """The step of ``date`` (its ``bars``, by symbol) is over: the host's equity, cash and
        positions as of its start; ``live``: a traded session (not warm-up history)."""


class NullObserver:
    """Watches nothing."""

    def bar_arrived(self, date: dt.date, at: dt.datetime) -> None:
        pass

    def first_order(self, date: dt.date) -> None:
        pass

    def order_submitted(self, order_ref: str, symbol: str, quantity: int, type_: str) -> None:
        pass

    def order_filled(self, order_ref: str, symbol: str, quantity: int, price: float, date: str) -> None:
        pass

    def order_closed(self, order_ref: str, status: str, reason: str) -> None:
        pass

    def connection_lost(self, reason: str) -> None:
        pass

    def connection_restored(self, reconnect: bool) -> None:
        pass

    def risk_event(self, kind: str, message: str) -> None:
        pass

    def halt_changed(self, reason: str | None) -> None:
        pass

    def bar_done(self, date: dt.date, bars: Mapping[str, Any], equity: float, cash: float,
                 positions: Mapping[str, int], live: bool) -> None:
        pass


NULL_OBSERVER = NullObserver()

__all__ = ["NULL_OBSERVER", "NullObserver", "Observer"]
