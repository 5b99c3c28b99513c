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

from algotrade.gateway.account import SimAccount, SimOrder
from algotrade.gateway.server import GatewaySimulator, run_in_thread

__all__ = [
    "GatewaySimulator",
    "SimAccount",
    "SimOrder",
    "run_in_thread",
]
