"""A paper rehearsal: the live runner trades an experiment against the gateway simulator (the IB
client's real code over a real socket), beside the backtest of the same experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from algotrade.backtest.run import execute
from algotrade.core.config import Experiment
from algotrade.core.data import Market


def rehearse(exp: Experiment, market: Market, journal: Path, client_id: int) -> tuple[Any, Any]:
    """The paper run's result and the Backtrader backtest's host, for the same experiment and market."""
    from adapters.ib.broker import IbBroker
    from adapters.ib.gateway import GatewaySimulator, run_in_thread
    from algotrade.live.broker import LiveRunner
    from algotrade.live.journal import Journal
    from algotrade.live.paper import simulated_stream

    sim = GatewaySimulator(market, exp.broker, start=0)
    with run_in_thread(sim, port=0) as (host, port):
        broker = IbBroker(host, port, client_id=client_id, account=sim.account_id)
        paper = LiveRunner.from_experiment(exp, broker, Journal(journal)).run(
            simulated_stream(broker, sim, exp.data.symbols))
        broker.disconnect()
    shadow, _ = execute(exp, market, "backtrader")
    return paper, shadow


def fills(result: Any) -> list[tuple[Any, str, float, float]]:
    """Each fill's date, symbol, quantity and price."""
    return [(f.date, f.symbol, f.quantity, f.price) for f in result.fills]
