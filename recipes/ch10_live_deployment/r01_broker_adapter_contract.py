"""One strategy, three brokers: the backtest, an in-memory broker and IB over the gateway simulator.

The point of a broker seam is that the strategy cannot tell where its orders go. algotrade's
strategies never call an engine or a broker: they call ``ctx.enter``, ``ctx.order_target_percent``
and friends on a :class:`~algotrade.core.host.StrategyHost`, which sizes, risk-checks and numbers the
orders and hands them to a port. Behind the port is either a backtest engine, or a
:class:`~algotrade.live.broker.LiveRunner` talking to anything that implements the small
:class:`~algotrade.live.broker.Broker` protocol: ``connect``, ``account``, ``positions``,
``place(OrderRequest)`` returning the broker's id, ``cancel``, ``open_orders``,
``completed_orders``, ``executions`` and ``poll_events`` (fills with their commission, status
changes, disconnects).

This page runs the quickstart's SMA crossover (``experiments/paper_quickstart.yaml``, on SPX and
IXIC, 18 months, each symbol sized at half of the 95% target) three ways:

1. **The backtest** — ``algotrade.backtest.run.execute`` on Backtrader.
2. **InMemoryBroker** — the public test double: a complete broker in memory that fills by the
   backtest's rule (here ``next_open``, with the experiment's commission) as each bar reaches
   it (``broker.feed(stream)``). What the unit tests of a live adapter run against.
3. **IbBroker over the simulator** — the real ib_async client, through the TWS wire protocol,
   to :class:`~adapters.ib.gateway.GatewaySimulator` replaying the same bars; bars arrive as
   keepUpToDate history updates, exactly as from a paper TWS (``algotrade.live.paper.simulated_stream``).

Both live runs keep an order journal (``journal.sqlite``): every order is written before it is
sent, under its deterministic ``orderRef``, and every fill is recorded with its exec id.

What to look at: the three fill lists, fill by fill (date, symbol, signed quantity, price,
commission), and the final equity of each. They are equal: the adapter adds no behaviour.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from adapters.ib.broker import IbBroker
from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, load_experiment, symbols_text
from algotrade.core.data import Market, load_market
from algotrade.core.host import StrategyHost
from algotrade.live.broker import InMemoryBroker, LiveRunner, bar_stream
from algotrade.live.journal import Journal
from algotrade.live.paper import simulated_stream
from recipes.ch10_live_deployment import out_dir

EXPERIMENT = Path("experiments") / "paper_quickstart.yaml"
#: both sample symbols (sma_cross gives each 1/n of the 95% target), over a short range, so the
#: page runs in seconds
OVERRIDES = (
    "data.symbols=[SPX, IXIC]",
    "data.start=2010-01-04",
    "data.end=2011-06-30",
    "output.report=false",
)
Trade = tuple[str, str, int, float, float]


# --------------------------------------------------------------------------------------------
# ingredients


def experiment(overrides: tuple[str, ...] = OVERRIDES) -> tuple[Experiment, Market]:
    exp = load_experiment(Path(__file__).resolve().parents[2] / EXPERIMENT, overrides)
    return exp, load_market(exp.data)


def fresh_journal(path: Path) -> Journal:
    """A new, empty journal at ``path`` (an old one would make the runner replay its bars)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return Journal(path)


def trades(host: StrategyHost) -> list[Trade]:
    """A run's fills: (date, symbol, signed quantity, price, commission)."""
    return [(str(f.date), f.symbol, f.quantity, round(f.price, 6), round(f.commission, 6)) for f in host.fills]


def synced(stream: Iterator[tuple[dt.date, Mapping[str, Any]]], broker: IbBroker, timeout: float = 5.0
           ) -> Iterator[tuple[dt.date, Mapping[str, Any]]]:
    """The simulator's bar stream with a barrier before each next session: the client's loop runs
    until the gateway has acknowledged every order (and cancel) sent on the bar before.
    ``placeOrder`` only writes to the socket; without the barrier a busy machine can let the
    simulator replay the next session before it has read the order, which then fills a session
    late."""
    pending = ("PendingSubmit", "PendingCancel")
    for item in stream:
        yield item
        deadline = time.monotonic() + timeout
        while any(t.orderStatus.status in pending for t in broker.ib.openTrades()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"IB did not acknowledge the orders of {item[0]} within {timeout} s")
            broker.ib.sleep(0.001)


def run_backtest(exp: Experiment, market: Market) -> StrategyHost:
    host, _ = execute(exp, market, "backtrader")
    return host


def run_in_memory(exp: Experiment, market: Market, journal: Journal) -> tuple[StrategyHost, InMemoryBroker]:
    broker = InMemoryBroker(config=exp.broker)
    runner = LiveRunner.from_experiment(exp, broker, journal, run_id="inmemory")
    return runner.run(broker.feed(bar_stream(market.bars()))), broker


def run_on_simulator(exp: Experiment, market: Market, journal: Journal, run_id: str = "ib",
                     client_id: int = 31) -> tuple[StrategyHost, list[Any], GatewaySimulator]:
    """The experiment through IbBroker and the real ib_async client to a simulator on a free port,
    replayed from the first session; returns the host, the client's fills (ib_async ``Fill``:
    execution and commission report) and the simulator.

    (The fills come from ``ib.fills()``, the client's live record. ``ib.reqExecutions()`` asked
    again in the same session returns fresh ``Fill`` objects whose commission report stays
    empty, because ib_async attaches the report to the fill it already knows.)"""
    sim = GatewaySimulator(market, exp.broker, start=0)
    with run_in_thread(sim, port=0) as (host, port):
        broker = IbBroker(host, port, client_id=client_id, account=sim.account_id, timeout=5.0)
        runner = LiveRunner.from_experiment(exp, broker, journal, run_id=run_id)
        try:
            done = runner.run(synced(simulated_stream(broker, sim, exp.data.symbols), broker))
            executions = list(broker.ib.fills())
        finally:
            broker.disconnect()
    return done, executions, sim


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    exp, market = experiment()
    first, last = market.dates[0].date(), market.dates[-1].date()
    print(f"{exp.name}: {exp.strategy.name} {exp.strategy.params} on {symbols_text(exp.data.symbols)}, "
          f"{first} .. {last} ({len(market.dates)} sessions), fill {exp.broker.fill}")

    hosts: dict[str, StrategyHost] = {}
    timing: dict[str, float] = {}
    t0 = dt.datetime.now()
    hosts["backtest"] = run_backtest(exp, market)
    timing["backtest"] = (dt.datetime.now() - t0).total_seconds()
    t0 = dt.datetime.now()
    hosts["in-memory"], _ = run_in_memory(exp, market, fresh_journal(folder / "inmemory" / "journal.sqlite"))
    timing["in-memory"] = (dt.datetime.now() - t0).total_seconds()
    t0 = dt.datetime.now()
    hosts["ib-simulator"], executions, sim = run_on_simulator(exp, market, fresh_journal(folder / "ib" / "journal.sqlite"))
    timing["ib-simulator"] = (dt.datetime.now() - t0).total_seconds()

    lists = {name: trades(h) for name, h in hosts.items()}
    print(f"\n{'date':<11} {'symbol':<6} {'qty':>6} {'price':>10} {'comm':>6}   same on every broker")
    for k, row in enumerate(lists["backtest"]):
        same = all(len(v) > k and v[k] == row for v in lists.values())
        print(f"{row[0]:<11} {row[1]:<6} {row[2]:>+6d} {row[3]:>10,.2f} {row[4]:>6.2f}   {same}")
    print()
    for name, h in hosts.items():
        print(f"{name:<13} fills {len(lists[name]):>3}   final equity {h.equity[-1][2]:>12,.2f}   "
              f"{timing[name]:.2f} s")
    same = lists["backtest"] == lists["in-memory"] == lists["ib-simulator"]
    print(f"the three fill lists are identical: {same}")
    print(f"IB fills with a journal orderRef: {sum(1 for f in executions if f.execution.orderRef)} "
          f"of {len(executions)}; the simulator ended on {sim.current_date}")
    return {
        "experiment": exp,
        "trades": lists,
        "identical": same,
        "final_equity": {name: h.equity[-1][2] for name, h in hosts.items()},
        "ib_executions": executions,
        "timing": timing,
    }


if __name__ == "__main__":
    main()
