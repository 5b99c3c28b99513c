"""Protective exits live: OCA brackets in the gateway simulator (real IB client, real socket), the IB
broker's "exit" orders as STP + LMT legs, the trailing modify, and the in-memory broker's exits."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from adapters.ib.gateway.account import Position
from algotrade.backtest.run import execute
from algotrade.core.config import Experiment
from algotrade.core.costs import slipped
from algotrade.core.data import Market, load_market
from algotrade.core.host import StrategyHost
from algotrade.live.broker import InMemoryBroker, LiveRunner, bar_stream
from algotrade.live.journal import Journal
from algotrade.live.reconcile import BrokerView, JournalView, reconcile
from tests import gateway_fixtures as gf
from tests.test_live_runner import KillAt, Killed

LimitOrder, Stock, StopOrder = (getattr(gf.ib_client, n) for n in ("LimitOrder", "Stock", "StopOrder"))
gateway = gf.gateway
ib_guard = gf.ib_guard
wait_until = gf.wait_until


def aaa() -> Any:
    return Stock("AAA", "SMART", "USD")


def row(gw: gf.Gateway, index: int) -> Any:
    return gw.sim.market.frames["AAA"].iloc[index]


def bracket(ib: Any, group: str, qty: int, stop: float | None, limit: float | None) -> list[Any]:
    """A long's protective exit as IbBroker sends it: SELL STP and/or LMT legs in one OCA group."""
    legs = []
    if stop is not None:
        legs.append(StopOrder("SELL", qty, stop))
    if limit is not None:
        legs.append(LimitOrder("SELL", qty, limit))
    trades = []
    for order in legs:
        order.ocaGroup, order.ocaType, order.orderRef, order.tif = group, 1, group, "GTC"
        trades.append(ib.placeOrder(aaa(), order))
    wait_until(ib, lambda: all(t.orderStatus.status in ("PreSubmitted", "Submitted") for t in trades), what="ack")
    return trades


def long_position(gw: gf.Gateway, qty: int = 10) -> None:
    gw.sim.account.positions["AAA"] = Position(float(qty), 50.0)


@pytest.mark.parametrize("slip", [0, 10])
def test_oca_stop_leg_fills_at_the_stop_and_cancels_the_take_profit(gateway, ib_guard, slip):
    ib_guard.allow(202)
    gw = gateway(broker={"slippage": {"bps": slip}} if slip else None, start=9)
    long_position(gw)
    ib = gw.connect()
    nxt = row(gw, 10)
    stop = round((nxt.open + nxt.low) / 2, 2)  # below the open, above the low: touched intrabar
    limit = round(nxt.high + 5, 2)
    stp, lmt = bracket(ib, "run1:s:1", 10, stop, limit)
    gw.sim.advance()
    wait_until(ib, lambda: stp.orderStatus.status == "Filled" and lmt.orderStatus.status == "Cancelled",
               what="stop filled, take-profit cancelled")
    assert stp.orderStatus.avgFillPrice == pytest.approx(slipped(stop, -10, slip / 10_000))
    assert gw.sim.account.positions["AAA"].quantity == 0
    assert [f.execution.orderId for f in ib.fills()] == [stp.order.orderId]


def test_oca_both_levels_touched_the_stop_wins_and_a_gap_fills_at_the_open(gateway, ib_guard):
    ib_guard.allow(202)
    gw = gateway(start=9)
    long_position(gw)
    ib = gw.connect()
    nxt = row(gw, 10)
    stp, lmt = bracket(ib, "both", 10, round(nxt.low + 0.01, 2), round(nxt.high - 0.01, 2))
    gw.sim.advance()
    wait_until(ib, lambda: stp.orderStatus.status == "Filled" and lmt.orderStatus.status == "Cancelled", what="stop")
    assert stp.orderStatus.avgFillPrice == pytest.approx(round(nxt.low + 0.01, 2))

    long_position(gw)
    gap = row(gw, 11)
    stp2, lmt2 = bracket(ib, "gap", 10, round(gap.low - 5, 2), round(gap.open - 1, 2))  # opens above the TP
    gw.sim.advance()
    wait_until(ib, lambda: lmt2.orderStatus.status == "Filled" and stp2.orderStatus.status == "Cancelled", what="tp")
    assert lmt2.orderStatus.avgFillPrice == pytest.approx(gap.open)


def test_oca_untouched_legs_rest_and_a_trailing_modify_moves_the_stop(gateway, ib_guard):
    ib_guard.allow(202)
    gw = gateway(start=9)
    long_position(gw)
    ib = gw.connect()
    nxt, after = row(gw, 10), row(gw, 11)
    stp, lmt = bracket(ib, "trail", 10, round(nxt.low - 3, 2), round(nxt.high + 30, 2))
    gw.sim.advance()
    assert stp.orderStatus.status == lmt.orderStatus.status == "PreSubmitted"
    new_stop = round((after.open + after.low) / 2, 2)
    stp.order.auxPrice = new_stop
    ib.placeOrder(aaa(), stp.order)  # a modify: the same orderId
    wait_until(ib, lambda: gw.sim.account.orders[stp.order.orderId].aux_price == new_stop, what="modified")
    assert len(gw.sim.account.orders) == 2
    gw.sim.advance()
    wait_until(ib, lambda: stp.orderStatus.status == "Filled" and lmt.orderStatus.status == "Cancelled", what="fill")
    assert stp.orderStatus.avgFillPrice == pytest.approx(new_stop)


def test_oca_group_and_type_reach_the_simulator_and_come_back_on_open_orders(gateway, ib_guard):
    gw = gateway(start=9)
    long_position(gw)
    ib = gw.connect()
    stp, lmt = bracket(ib, "ref-7", 10, 1.0, 999.0)
    for t in (stp, lmt):
        sim = gw.sim.account.orders[t.order.orderId]
        assert (sim.oca_group, sim.oca_type) == ("ref-7", 1)
    other = gw.connect(client_id=0)
    other.reqAllOpenOrders()
    wait_until(other, lambda: len(other.openTrades()) == 2, what="open orders")
    assert {(t.order.ocaGroup, t.order.ocaType) for t in other.openTrades()} == {("ref-7", 1)}


def test_orders_outside_an_oca_group_fill_as_before(gateway, ib_guard):
    gw = gateway(start=9)
    long_position(gw, 20)
    ib = gw.connect()
    nxt = row(gw, 10)
    stop = round((nxt.open + nxt.low) / 2, 2)
    stp, lmt = bracket(ib, "", 10, stop, round(nxt.high - 0.01, 2))  # no group: both fill
    gw.sim.advance()
    wait_until(ib, lambda: stp.orderStatus.status == lmt.orderStatus.status == "Filled", what="both fill")
    assert gw.sim.account.positions["AAA"].quantity == 0


# --- the live runner: exits through the in-memory broker, and restarts -----------------------------

STOPS = {"trailing": 0.03, "take_profit": 0.06}


@cache
def _stops_experiment() -> tuple[Experiment, Market]:
    exp = Experiment.model_validate({
        "name": "live_stops",
        "data": {"source": "sample", "symbols": ["SPX"], "start": "2006-01-03", "end": "2007-12-31"},
        "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
        "engine": "backtrader",
        "broker": {"fill": "next_open", "commission": {"per_share": 0.005, "minimum": 1.0}},
        "sizing": {"target_percent": 0.9},
        "stops": STOPS,
    })
    return exp, load_market(exp.data)


def _orders(host: StrategyHost) -> list[tuple[Any, ...]]:
    return [(o.id, o.type, o.symbol, o.quantity, o.stop, o.limit, o.status, o.filled, o.tag) for o in host.orders]


def _live(tmp: Path, broker: InMemoryBroker, checkpoint: Any = None) -> tuple[StrategyHost, LiveRunner]:
    exp, market = _stops_experiment()
    runner = LiveRunner.from_experiment(exp, broker, Journal.in_folder(tmp), checkpoint=checkpoint)
    return runner.run(broker.feed(bar_stream(market.bars()))), runner


@cache
def _backtest() -> StrategyHost:
    exp, market = _stops_experiment()
    return execute(exp, market, "backtrader")[0]


def _assert_like_the_backtest(host: StrategyHost, broker: InMemoryBroker, runner: LiveRunner) -> None:
    backtest = _backtest()
    kinds = {o.tag for o in backtest.orders if o.type == "exit" and o.status == "filled"}
    assert kinds == {"bracket"} and sum(o.type == "exit" and o.status == "filled" for o in backtest.orders) >= 3
    assert _fills(host) == _fills(backtest)
    # the backtest expires what still rests when its data ends; live, that exit rests at the broker
    assert _orders(host) == [(*o[:6], "pending" if o[6] == "expired" else o[6], *o[7:]) for o in _orders(backtest)]
    placed = broker.refs_placed()
    assert len(placed) == len(set(placed)) == len(backtest.orders), "an order was sent twice or lost"
    if not broker.is_connected():
        broker.connect()
    plan = reconcile(JournalView.from_journal(runner.journal, runner.run_id),
                     BrokerView(tuple(broker.open_orders()), tuple(broker.executions()), broker.positions(),
                                tuple(broker.completed_orders())), runner.run_id, runner.symbols)
    assert plan.ok and plan.send == plan.modify == plan.attach == plan.record_fills == ()


def test_live_exits_on_the_in_memory_broker_trade_like_the_backtest_and_trail_by_modify(tmp_path: Path) -> None:
    broker = InMemoryBroker(config=_stops_experiment()[0].broker)
    host, runner = _live(tmp_path, broker)
    _assert_like_the_backtest(host, broker, runner)
    assert broker.modifies > 10  # the trailing stop moved up in place, never re-placed
    exits = [i for i in runner.journal.intents(runner.run_id) if i.type == "exit"]
    assert any(i.modified is not None and i.levels[2] != i.stop for i in exits)


def _fills(host: StrategyHost) -> list[tuple[Any, ...]]:
    return [(f.date, f.symbol, f.quantity, f.price, f.commission, f.order_id) for f in host.fills]


@pytest.mark.parametrize(("step", "nth"), [
    ("modify", 1), ("modify", 7),  # journaled the new stop, killed before the broker had it
    ("modified", 3),  # the broker had it, the journal not yet its broker id
    ("intent", 2), ("placed", 2), ("fill", 3), ("polled", 40), ("bar", 100),
])
def test_a_kill_at_any_exit_step_restarts_without_losing_or_duplicating_an_exit(
        tmp_path: Path, step: str, nth: int) -> None:
    broker = InMemoryBroker(config=_stops_experiment()[0].broker)
    with pytest.raises(Killed):
        _live(tmp_path, broker, KillAt(nth, step))
    broker.disconnect()  # the socket closes with the process; the journal is left as is
    host, runner = _live(tmp_path, broker)
    _assert_like_the_backtest(host, broker, runner)
