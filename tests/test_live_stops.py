"""Protective exits live: OCA brackets in the gateway simulator (real IB client, real socket), the IB
broker's "exit" orders as STP + LMT legs, the trailing modify, and the in-memory broker's exits."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from adapters.ib.broker import bracket_view
from adapters.ib.gateway.account import Position
from algotrade.backtest.run import execute
from algotrade.core.config import Experiment
from algotrade.core.costs import slipped
from algotrade.core.data import Market, load_market
from algotrade.core.host import StrategyHost
from algotrade.live.broker import InMemoryBroker, LiveRunner, bar_stream
from algotrade.live.journal import SCHEMA_VERSION, Journal
from algotrade.live.reconcile import (
    BrokerOrder,
    BrokerView,
    JournalView,
    ReconcilePlan,
    bracket_id,
    bracket_legs,
    reconcile,
)
from algotrade.live.reconcile import Execution as ReconExecution
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


# --- journal and reconcile of brackets ------------------------------------------------------------

RUN, D = "r1", dt.date(2024, 3, 1)


def _exit_intent(j: Journal, broker_id: str | None = "12+13") -> str:
    ref = j.record_intent(RUN, "sma", 2, "SPY", -100, "exit", limit=110.0, stop=95.0, created=D).order_ref
    if broker_id is not None:
        j.record_submitted(ref, broker_id)
    return ref


def _plan(j: Journal, open_orders: tuple[BrokerOrder, ...] = (), execs: tuple[ReconExecution, ...] = (),
          positions: dict[str, int] | None = None, done: tuple[BrokerOrder, ...] = ()) -> ReconcilePlan:
    return reconcile(JournalView.from_journal(j, RUN), BrokerView(open_orders, execs, positions or {}, done),
                     RUN, ["SPY"])


def _bracket(ref: str, bid: str = "12+13", stop: float = 95.0, filled: int = 0, status: str = "open") -> BrokerOrder:
    return BrokerOrder(bid, ref, "SPY", -100, filled, status, "exit", 110.0, stop)


def test_a_journaled_bracket_is_one_order_whatever_leg_the_broker_reports(tmp_path: Path) -> None:
    j = Journal.in_folder(tmp_path)
    j.record_fill("E0", j.record_intent(RUN, "sma", 1, "SPY", 100, "market", created=D).order_ref,
                  "SPY", 100, 100.0, 0.0, D)
    ref = _exit_intent(j)
    assert _plan(j, (_bracket(ref),), positions={"SPY": 100}).ok
    # the stop leg filled (its execution names the leg), the take-profit leg was cancelled by OCA
    fill = ReconExecution("E1", ref, "12", "SPY", -100, 95.0, 0.0, "2024-03-04")
    plan = _plan(j, (), (fill,), {}, (_bracket(ref, filled=-100, status="filled"),))
    assert plan.ok and plan.record_fills == (fill,) and plan.close == ()
    # one leg still open, the other gone: still the journal's order, not a duplicate or another id
    assert _plan(j, (BrokerOrder("13", ref, "SPY", -100, 0, "open", "limit", 110.0),), positions={"SPY": 100}).ok
    # a second bracket under the same orderRef is a duplicate
    dup = _plan(j, (_bracket(ref), _bracket(ref, "20+21")), positions={"SPY": 100})
    assert [m.kind for m in dup.mismatches] == ["duplicate_order"]


def test_a_journaled_trailing_modify_the_broker_lacks_is_sent_again(tmp_path: Path) -> None:
    j = Journal.in_folder(tmp_path)
    j.record_fill("E0", j.record_intent(RUN, "sma", 1, "SPY", 100, "market", created=D).order_ref,
                  "SPY", 100, 100.0, 0.0, D)
    ref = _exit_intent(j)
    j.record_modify(ref, -100, 110.0, 97.5)
    j.close()
    j = Journal.in_folder(tmp_path)  # what a restarted process reads
    intent = j.intent(ref)
    assert intent is not None and (intent.stop, intent.levels) == (95.0, (-100, 110.0, 97.5))
    assert _plan(j, (_bracket(ref, stop=95.0),), positions={"SPY": 100}).modify == (ref,)
    assert _plan(j, (_bracket(ref, stop=97.5),), positions={"SPY": 100}).modify == ()


def test_ib_legs_fold_into_one_exit_order() -> None:
    stp = BrokerOrder("12", "r1:sma:2", "SPY", -100, 0, "cancelled", "stop", None, 95.0)
    lmt = BrokerOrder("13", "r1:sma:2", "SPY", -100, -100, "filled", "limit", 110.0)
    other = BrokerOrder("9", "r1:sma:1", "SPY", 100, 100, "filled", "market")
    assert bracket_view([other, lmt, stp], {"12", "13"}) == [
        other, BrokerOrder("12+13", "r1:sma:2", "SPY", -100, -100, "filled", "exit", 110.0, 95.0)]
    working = [replace(stp, status="open"), replace(lmt, status="open", filled=0)]
    assert [(o.broker_id, o.status, o.stop, o.limit) for o in bracket_view(working, {"12", "13"})] == [
        ("12+13", "open", 95.0, 110.0)]
    assert bracket_legs("12+13") == {"12", "13"} and bracket_id(["12", "13"]) == "12+13"


def test_a_version_2_journal_is_migrated_to_take_exits(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V2_SCHEMA)
    db.execute("INSERT INTO intents VALUES ('r1:sma:1','r1','sma',1,'SPY',100,'market',NULL,NULL,'2024-03-01','t')")
    db.execute("INSERT INTO events (order_ref, kind, exec_id, symbol, quantity, price, commission, date, written_at) "
               "VALUES ('r1:sma:1','fill','E1','SPY',100,10.0,0.0,'2024-03-01','t')")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    j = Journal(path)
    assert j.schema_version == SCHEMA_VERSION == 3 and j.positions(RUN) == {"SPY": 100}
    ref = _exit_intent(j)
    j.record_modify(ref, -100, 110.0, 96.0)
    assert j.intent(ref).levels == (-100, 110.0, 96.0)  # type: ignore[union-attr]


V2_SCHEMA = """
CREATE TABLE intents (order_ref TEXT PRIMARY KEY, run_id TEXT NOT NULL, strategy TEXT NOT NULL,
    seq INTEGER NOT NULL, symbol TEXT NOT NULL, quantity INTEGER NOT NULL CHECK (quantity != 0),
    type TEXT NOT NULL CHECK (type IN ('market', 'limit', 'stop')), limit_price REAL, stop_price REAL,
    created TEXT NOT NULL, written_at TEXT NOT NULL, UNIQUE (run_id, strategy, seq));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, order_ref TEXT NOT NULL REFERENCES intents (order_ref),
    kind TEXT NOT NULL CHECK (kind IN ('submitted', 'status', 'fill', 'cancel_requested', 'closed')),
    broker_id TEXT, status TEXT, reason TEXT NOT NULL DEFAULT '', exec_id TEXT, symbol TEXT, quantity INTEGER,
    price REAL, commission REAL, date TEXT, host_bar INTEGER, written_at TEXT NOT NULL);
"""
