"""One client connection of the gateway simulator and its subscriptions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from adapters.ib.gateway import wire


@dataclass(eq=False)
class Session:
    """One client connection and its subscriptions."""

    writer: asyncio.StreamWriter
    server_version: int
    client_id: int | None = None
    positions: bool = False
    account_updates: str | None = None
    account_multi: set[int] = field(default_factory=set)
    account_summary: dict[int, frozenset[str]] = field(default_factory=dict)
    pnl: set[int] = field(default_factory=set)
    pnl_single: dict[int, str] = field(default_factory=dict)
    history: dict[int, str] = field(default_factory=dict)
    realtime: dict[int, str] = field(default_factory=dict)
    tickers: dict[int, str] = field(default_factory=dict)
    market_data_type: int = 1
    closed: bool = False
    #: while the simulator persists a change, what it causes waits here (see ``_durable``)
    held: list[bytes] | None = None

    def send(self, fields: list[Any]) -> None:
        if self.held is not None:
            self.held.append(wire.frame(fields))
        elif not self.closed and not self.writer.is_closing():
            self.writer.write(wire.frame(fields))

    def release(self) -> None:
        held, self.held = self.held, None
        if held and not self.closed and not self.writer.is_closing():
            self.writer.write(b"".join(held))

    def unsubscribe_market_data(self) -> None:
        self.history.clear()
        self.realtime.clear()
        self.tickers.clear()

    def drop(self) -> None:
        self.closed = True
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()
