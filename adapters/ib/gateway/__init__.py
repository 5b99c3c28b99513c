"""The project's IB Gateway simulator: a localhost TWS API server replaying an experiment's market.

The unmodified ib_async (and ib_insync) client connects to it as to a real IB Gateway, so a live
adapter can be tested, and rehearsed offline, against the real client code.

    from adapters.ib.gateway import GatewaySimulator, run_in_thread

    sim = GatewaySimulator(market, experiment.broker, start=30)
    with run_in_thread(sim) as (host, port):
        ib.connect(host, port, clientId=1)
        ...
        sim.advance()          # replay one session: fill working orders, publish the bar

Protocol facts: ``../shared/reference/ib-wire.md``; layouts: :mod:`adapters.ib.gateway.wire`;
fills and account: :mod:`adapters.ib.gateway.account`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.ib.gateway.account import SimAccount, SimOrder
    from adapters.ib.gateway.server import GatewaySimulator, run_in_thread

# imported on first use, so that importing this package (or a light module of it, such as
# control, which the commands use first thing, before pandas loads) imports nothing heavy
_LAZY = {
    "GatewaySimulator": "adapters.ib.gateway.server",
    "SimAccount": "adapters.ib.gateway.account",
    "SimOrder": "adapters.ib.gateway.account",
    "run_in_thread": "adapters.ib.gateway.server",
}

__all__ = [
    "GatewaySimulator",
    "SimAccount",
    "SimOrder",
    "run_in_thread",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'adapters.ib.gateway' has no attribute {name!r}")
