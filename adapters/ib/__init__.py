"""Interactive Brokers adapter: the live/paper Broker through the ib_insync API.

The client library loads only when IbBroker is looked up, so the mapping tables import without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IbBroker"]


def requirements() -> tuple[str, ...]:
    """The IB client packages this adapter can use, in the order tried (ALGOTRADE_IB_CLIENT names one)."""
    from adapters.ib.client import client_names

    return client_names()


def __getattr__(name: str) -> Any:
    if name == "IbBroker":
        from adapters.ib.broker import IbBroker

        return IbBroker
    raise AttributeError(name)
