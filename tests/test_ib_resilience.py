"""IB resilience: the real ib_async client, IbBroker and LiveRunner against the gateway simulator.

Scripted faults between sessions (a dropped connection, a gateway restart, connectivity error
codes), stale data and the kill switch. The faults are scripted by wrapping the bar stream: an
action runs after the runner has processed a session and before the simulator replays the next.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.ib.broker import IbBroker
from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, load_experiment
from algotrade.core.data import Market, load_market
from algotrade.core.host import StrategyHost
from algotrade.live.broker import LiveRunner, OrderRequest
from algotrade.live.journal import Journal
from algotrade.live.paper import simulated_stream
from tests import gateway_fixtures as gf

ib_guard = gf.ib_guard

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "experiments" / "paper_quickstart.yaml"
SHORT = ("data.start=2010-01-04", "data.end=2011-06-30")
OFTEN = (*SHORT, "strategy.params.fast=2", "strategy.params.slow=5")  # trades every few sessions
PEER_CLOSED = "Peer closed connection."  # ib_async logs the server dropping the socket as ERROR

Fills = list[tuple[dt.date, str, int, float]]
Placed = list[tuple[str, bool, int, str]]  # (orderRef, runner connected, host bar, broker order id)


class RecordingSimulator(GatewaySimulator):
    """Records the nextValidId each connection is given, with the restart count at the time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_ids: list[tuple[int, int]] = []

    def _on_start_api(self, s: Any, fields: list[str]) -> None:
        super()._on_start_api(s, fields)
        self.next_ids.append((self.restarts, self.next_order_id))


def _fills(host: StrategyHost) -> Fills:
    return [(f.date, f.symbol, f.quantity, f.price) for f in host.fills]


def _scripted(stream: Iterator[tuple[dt.date, Mapping[str, Any]]],
              actions: Mapping[dt.date, Callable[[], None]]) -> Iterator[tuple[dt.date, Mapping[str, Any]]]:
    """The stream, running ``actions[date]`` once the runner has processed ``date`` (between
    that session and the next one the simulator replays)."""
    for date, bars in stream:
        yield date, bars
        action = actions.get(date)
        if action is not None:
            action()


def _spy_place(broker: IbBroker, runner: LiveRunner) -> Placed:
    """Every order the runner hands the broker, with whether the runner thought it was connected."""
    placed: Placed = []
    real = broker.place

    def place(request: OrderRequest) -> str:
        broker_id = real(request)
        placed.append((request.order_ref, runner.connected, len(runner.host.bars) - 1, broker_id))
        return broker_id

    broker.place = place  # type: ignore[method-assign]
    return placed


def _connected_at_bar(runner: LiveRunner) -> dict[dt.date, bool]:
    """Whether the runner was connected when the strategy ran on each bar."""
    seen: dict[dt.date, bool] = {}

    def checkpoint(step: str) -> None:
        if step == "bar":
            seen[runner.host.bars.dates[-1]] = runner.connected

    runner.checkpoint = checkpoint
    return seen


@contextlib.contextmanager
def _live(exp: Experiment, sim: GatewaySimulator, tmp_path: Path) -> Iterator[tuple[IbBroker, LiveRunner]]:
    with run_in_thread(sim, port=0) as (host, port):
        broker = IbBroker(host, port, client_id=31, account=sim.account_id)
        runner = LiveRunner.from_experiment(exp, broker, Journal(tmp_path / "journal.sqlite"))
        try:
            yield broker, runner
        finally:
            broker.disconnect()


def _quickstart() -> tuple[Experiment, Market, StrategyHost]:
    exp = load_experiment(PAPER, SHORT)
    market = load_market(exp.data)
    shadow, _ = execute(exp, market, "backtrader")
    return exp, market, shadow


def _first_order_bar(shadow: StrategyHost) -> tuple[dt.date, dt.date]:
    """The session of the backtest's first order and the next session (its fill, next_open),
    checked to make no order of its own."""
    first = shadow.orders[0]
    assert first.fill_date is not None
    created = {o.created for o in shadow.orders}
    assert first.fill_date not in created, "the scenario needs a session without an order after the first"
    return first.created, first.fill_date


def _sessions(sim: GatewaySimulator) -> list[dt.date]:
    return [d.date() for d in sim.dates]


def _assert_unique_refs(sim: GatewaySimulator) -> list[str]:
    refs = [o.order_ref for o in sim.account.orders.values()]
    assert len(refs) == len(set(refs)), f"an order was sent twice: {refs}"
    return refs


@pytest.mark.parametrize("fault", ["disconnect", "restart"])
def test_connection_lost_between_sessions_reconnects_reconciles_and_keeps_the_backtests_trades(
        fault: str, tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    """The order of session k is on the wire; the connection drops before session k+1 (which
    fills it while no client is connected). The stream reconnects and resubscribes, the runner
    learns of the drop, sends nothing while it considers itself disconnected, reconciles on the
    next session and the run ends with the backtest's trades, each order sent once."""
    ib_guard.allow_text(PEER_CLOSED)
    exp, market, shadow = _quickstart()
    order_bar, gap_bar = _first_order_bar(shadow)
    sim = RecordingSimulator(market, exp.broker, start=0)
    with _live(exp, sim, tmp_path) as (broker, runner):
        placed = _spy_place(broker, runner)
        connected = _connected_at_bar(runner)
        before: list[int] = []

        def drop() -> None:
            before.append(max(int(p[3]) for p in placed))  # order ids used before the fault
            sim.disconnect_all() if fault == "disconnect" else sim.restart()

        paper = runner.run(_scripted(simulated_stream(broker, sim, exp.data.symbols), {order_bar: drop}))
        assert broker.disconnects == 1
    assert _fills(paper) == _fills(shadow)
    refs = _assert_unique_refs(sim)
    assert len(refs) == len(shadow.fills)  # none lost
    assert list(runner.host.bars.dates) == _sessions(sim)  # resubscribed: no session missed
    # the drop is noticed and repaired within the gap session's step: reconnect, reconcile, go on
    assert connected[order_bar] is True and connected[gap_bar] is True
    assert all(c for _, c, _, _ in placed), placed
    assert len(runner.plans) == 2 and all(p.ok for p in runner.plans)  # connect, then reconnect
    assert runner.halted is None
    if fault == "restart":
        assert sim.restarts == 1
        after_restart = [nid for restarts, nid in sim.next_ids if restarts == 1]
        assert after_restart and after_restart[0] > before[0]
        later = [int(p[3]) for p in placed[1:]]
        assert later and min(later) > before[0]


def test_order_made_right_after_a_drop_is_sent_once_on_its_own_bar(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    """The connection drops just before the session whose bar makes the first order: within that
    bar's step the runner sees the drop, reconnects, reconciles, and only then lets the strategy
    trade, so the order goes out once, on time, and fills as in the backtest. (Orders made while
    the broker stays unreachable are held and sent once on reconnect: tests/test_live_runner.py.)"""
    ib_guard.allow_text(PEER_CLOSED)
    exp, market, shadow = _quickstart()
    order_bar, _ = _first_order_bar(shadow)
    sessions = _sessions(GatewaySimulator(market, exp.broker))
    k = sessions.index(order_bar)
    sim = GatewaySimulator(market, exp.broker, start=0)
    with _live(exp, sim, tmp_path) as (broker, runner):
        placed = _spy_place(broker, runner)
        connected = _connected_at_bar(runner)
        paper = runner.run(_scripted(simulated_stream(broker, sim, exp.data.symbols),
                                     {sessions[k - 1]: sim.disconnect_all}))
    first_ref = f"{runner.run_id}:{runner.name}:1"
    assert connected[order_bar] is True
    assert runner.journal.intent(first_ref) is not None
    assert [p[:3] for p in placed if p[0] == first_ref] == [(first_ref, True, k)]  # once, on its own bar
    assert len(runner.plans) == 2 and all(p.ok for p in runner.plans)
    _assert_unique_refs(sim)
    assert _fills(paper) == _fills(shadow)


def test_connectivity_codes_hold_orders_and_reconcile_when_restored(
        tmp_path: Path, ib_guard: gf.LogGuard, caplog: pytest.LogCaptureFixture) -> None:
    """1100 injected by the simulator (the socket stays up): the run holds orders (a risk event);
    1102: it reconnects its side and reconciles (the fill made meanwhile is recorded from IB's
    executions), and the run carries on with the backtest's fills."""
    ib_guard.allow(1100, 1102)
    exp, market, shadow = _quickstart()
    order_bar, gap_bar = _first_order_bar(shadow)
    sim = GatewaySimulator(market, exp.broker, start=0)
    caplog.set_level(logging.WARNING, logger="algotrade.ib")
    with _live(exp, sim, tmp_path) as (broker, runner):
        actions = {order_bar: lambda: sim.inject_error(1100), gap_bar: lambda: sim.inject_error(1102)}
        paper = runner.run(_scripted(simulated_stream(broker, sim, exp.data.symbols), actions))
        assert broker.disconnects == 0
    logged = [r.getMessage() for r in caplog.records if r.name == "algotrade.ib"]
    assert any(m.startswith("IB connectivity 1100") for m in logged), logged
    assert any(m.startswith("IB connectivity 1102") for m in logged), logged
    assert _fills(paper) == _fills(shadow)
    assert len(_assert_unique_refs(sim)) == len(shadow.fills)
    assert len(runner.plans) == 2 and runner.halted is None  # at connect, and once after the 1102
    assert [e.kind for e in runner.journal.risk_events(runner.run_id)] == ["connectivity"]


def test_stale_data_halts_trading(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    exp = load_experiment(PAPER, OFTEN)
    market = load_market(exp.data)
    sim = GatewaySimulator(market, exp.broker, start=0)
    halt_on = _sessions(sim)[len(sim.dates) // 3]
    stale: list[bool] = []
    with _live(exp, sim, tmp_path) as (broker, runner):
        placed = _spy_place(broker, runner)
        due = runner.bar_due(halt_on)

        def clock_check() -> None:
            stale.append(runner.check_stale(now=due - dt.timedelta(seconds=1)))
            stale.append(runner.check_stale(now=due + dt.timedelta(seconds=1)))

        paper = runner.run(_scripted(simulated_stream(broker, sim, exp.data.symbols), {halt_on: clock_check}))
    assert stale == [False, True]
    assert runner.halted is not None and runner.halted.startswith("stale data")
    assert runner.journal.halt(runner.run_id) == runner.halted  # survives a restart
    k = _sessions(sim).index(halt_on)
    assert placed and max(bar for _, _, bar, _ in placed) <= k  # nothing sent after the halt
    assert len(sim.account.orders) == len(placed)
    blocked = [o for o in paper.orders if o.created > halt_on]
    assert blocked and all(o.status == "blocked" for o in blocked)


def test_kill_switch_through_ib_leaves_no_open_order_and_a_flat_position(tmp_path: Path,
                                                                         ib_guard: gf.LogGuard) -> None:
    ib_guard.allow(202)  # ib_async logs the cancel confirmation ("Order Canceled") as an error
    exp = load_experiment(PAPER, OFTEN)
    market = load_market(exp.data)
    sim = GatewaySimulator(market, exp.broker, start=0)
    with _live(exp, sim, tmp_path) as (broker, runner):
        killed: list[str] = []
        working_at_kill: list[str] = []

        def stream() -> Iterator[tuple[dt.date, Mapping[str, Any]]]:
            for date, bars in simulated_stream(broker, sim, exp.data.symbols):
                yield date, bars
                # the first session that ends with a position and a working order (an exit)
                if not killed and broker.positions() and broker.ib.openTrades():
                    working_at_kill.extend(t.order.orderRef for t in broker.ib.openTrades())
                    killed.extend(runner.kill_switch("test"))

        runner.run(stream())
    assert killed and working_at_kill
    orders = {o.order_ref: o for o in sim.account.orders.values()}
    assert all(orders[ref].status == "Cancelled" for ref in working_at_kill)
    assert all(orders[ref].status == "Filled" for ref in killed)
    assert sim.account.working_orders() == []
    assert all(p.quantity == 0 for p in sim.account.positions.values())
    assert runner.halted is not None and runner.halted.startswith("kill switch")
    _assert_unique_refs(sim)
