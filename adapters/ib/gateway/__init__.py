"""The project's IB Gateway simulator: a localhost TWS API server replaying an experiment's market.

The unmodified ib_async (and ib_insync) client connects to it as to a real IB Gateway, so a live
adapter can be tested, and rehearsed offline, against the real client code.

    from algotrade.gateway import GatewaySimulator, run_in_thread

    sim = GatewaySimulator(market, experiment.broker, start=30)
    with run_in_thread(sim) as (host, port):
        ib.connect(host, port, clientId=1)
        ...
        sim.advance()          # replay one session: fill working orders, publish the bar

Protocol facts: ``../shared/reference/ib-wire.md``; layouts: :mod:`algotrade.gateway.wire`;
fills and account: :mod:`algotrade.gateway.account`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from algotrade.gateway.account import SimAccount, SimOrder
    from algotrade.gateway.server import GatewaySimulator, run_in_thread

# imported on first use, so that `algotrade.gateway.signals` (which the commands set up first
# thing, before pandas loads) imports nothing heavy
_LAZY = {
    "GatewaySimulator": "algotrade.gateway.server",
    "SimAccount": "algotrade.gateway.account",
    "SimOrder": "algotrade.gateway.account",
    "run_in_thread": "algotrade.gateway.server",
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
    raise AttributeError(f"module 'algotrade.gateway' has no attribute {name!r}")
