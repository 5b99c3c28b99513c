"""Protective exits live: OCA brackets in the gateway simulator (real IB client, real socket), the IB
broker's "exit" orders as STP + LMT legs, the trailing modify, and the in-memory broker's exits."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.ib.gateway.account import Position
from algotrade.core.costs import slipped
from tests import gateway_fixtures as gf

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
