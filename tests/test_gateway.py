"""The gateway simulator against the real IB client (ib_async; ib_insync in its own run), and its
wire layouts against IB's official decoder (ibapi) and the client's decoder at server versions 176
and 178."""

from __future__ import annotations

import datetime as dt
import importlib
import math
import socket
import struct
import time
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from ibapi.decoder import Decoder as IbapiDecoder
from ibapi.wrapper import EWrapper

from adapters.ib.gateway import wire
from algotrade.core.config import BrokerConfig
from algotrade.core.costs import commission, slipped
from tests import gateway_fixtures as gf

IB, LimitOrder, MarketOrder, Stock, StopOrder = (
    getattr(gf.ib_client, name) for name in ("IB", "LimitOrder", "MarketOrder", "Stock", "StopOrder"))
AsyncDecoder = importlib.import_module(f"{gf.CLIENT}.decoder").Decoder
gateway = gf.gateway
ib_guard = gf.ib_guard
wait_until = gf.wait_until

ACCOUNT = "DU0000001"


def aaa() -> Stock:
    return Stock("AAA", "SMART", "USD")


def row(gw: gf.Gateway, symbol: str, index: int) -> Any:
    return gw.sim.market.frames[symbol].iloc[index]


def placed(ib: IB, contract: Stock, order: Any) -> Any:
    trade = ib.placeOrder(contract, order)
    wait_until(ib, lambda: trade.orderStatus.status in ("PreSubmitted", "Submitted", "Cancelled"), what="ack")
    return trade


# ============================================================================ connection


def test_connect_is_fast_and_clean(gateway, ib_guard):
    gw = gateway()
    t0 = time.perf_counter()
    ib = gw.connect()
    assert time.perf_counter() - t0 < 1.0
    assert ib.isConnected()
    assert ib.managedAccounts() == [ACCOUNT]
    assert ib.client.serverVersion() == gf.SERVER_VERSION
    assert ib.reqCurrentTime() == gw.sim.now().astimezone(dt.UTC)
    assert {v.tag for v in ib.accountValues()} >= {"NetLiquidation", "TotalCashValue", "AvailableFunds"}
    assert not ib.positions() and not ib.openTrades()


def test_handshake_negotiates_the_lower_version(gateway):
    gw = gateway()
    for offer, expected in ((b"v100..176", 176), (b"v157..178", 178), (b"v100..226", 178)):
        with socket.create_connection((gw.host, gw.port), timeout=5) as sock:
            sock.sendall(b"API\0" + struct.pack(">I", len(offer)) + offer)
            (n,) = struct.unpack(">I", sock.recv(4))
            payload = b""
            while len(payload) < n:
                payload += sock.recv(n - len(payload))
            fields = wire.split_fields(payload)
            assert len(fields) == 2 and int(fields[0]) == expected


def test_qualify_known_and_unknown(gateway, ib_guard):
    ib_guard.allow(200)
    ib = gateway().connect()
    known, *unknown = ib.qualifyContracts(Stock("AAA", "SMART", "USD"), Stock("NOPE", "SMART", "USD"))
    assert known.conId == 1001 and known.primaryExchange == "NYSE" and known.secType == "STK"
    assert unknown == ([None] if gf.CLIENT == "ib_async" else [])  # ib_insync leaves the unknown out
    [details] = ib.reqContractDetails(Stock("BBB", "SMART", "USD"))
    assert details.contract.conId == 1002 and details.minTick == 0.01


def test_duplicate_client_id_is_refused(gateway, ib_guard):
    ib_guard.allow(326)
    ib_guard.allow_text("API connection failed")
    ib_guard.allow_text("Peer closed connection")
    gw = gateway()
    gw.connect(client_id=7)
    with pytest.raises((ConnectionError, TimeoutError)):
        gw.connect(client_id=7, timeout=0.3)
    assert gw.sim.connected_clients == [7]


# ============================================================================ market data


def test_historical_bars_equal_the_market_frame(gateway, ib_guard):
    gw = gateway(start=9)
    ib = gw.connect()
    bars = ib.reqHistoricalData(aaa(), "", "1 Y", "1 day", "TRADES", True)
    frame = gw.sim.market.frames["AAA"].iloc[:10]
    assert len(bars) == 10
    for bar, (date, r) in zip(bars, frame.iterrows(), strict=True):
        assert bar.date == date.date()
        assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (r.open, r.high, r.low, r.close, r.volume)
    five = ib.reqHistoricalData(aaa(), "", "5 D", "1 day", "TRADES", True)
    assert [b.date for b in five] == [d.date() for d in frame.index[-5:]]
    earlier = ib.reqHistoricalData(aaa(), dt.date(2021, 3, 5), "1 M", "1 day", "TRADES", True)
    assert earlier[-1].date == dt.date(2021, 3, 5)


def test_keep_up_to_date_streams_each_replayed_session(gateway, ib_guard):
    gw = gateway(start=9)
    ib = gw.connect()
    bars = ib.reqHistoricalData(aaa(), "", "1 Y", "1 day", "TRADES", True, keepUpToDate=True)
    assert len(bars) == 10
    assert gw.sim.advance(3) == 3
    wait_until(ib, lambda: len(bars) == 13, what="3 streamed bars")
    for i in (10, 11, 12):
        r = row(gw, "AAA", i)
        assert bars[i].date == gw.sim.dates[i].date()
        assert (bars[i].open, bars[i].high, bars[i].low, bars[i].close) == (r.open, r.high, r.low, r.close)


def test_realtime_bars_and_market_data(gateway, ib_guard):
    gw = gateway(start=9)
    ib = gw.connect()
    [contract] = ib.qualifyContracts(aaa())
    rt = ib.reqRealTimeBars(contract, 5, "TRADES", True)
    ticker = ib.reqMktData(contract)
    # ticks are separate messages: wait for the previous close too (tick 9 comes after last)
    wait_until(ib, lambda: ticker.last == row(gw, "AAA", 9).close and not math.isnan(ticker.close),
               what="last price and previous close")
    assert ticker.close == row(gw, "AAA", 8).close
    gw.sim.advance()
    wait_until(ib, lambda: len(rt) == 1 and ticker.last == row(gw, "AAA", 10).close, what="bar and tick")
    assert rt[0].close == row(gw, "AAA", 10).close


def test_play_max_replays_to_the_end(gateway, ib_guard):
    gw = gateway(start=9)
    ib = gw.connect()
    bars = ib.reqHistoricalData(aaa(), "", "1 Y", "1 day", "TRADES", True, keepUpToDate=True)
    gw.sim.play("max")
    assert gw.sim.finished.wait(5)
    assert gw.sim.sessions_left == 0
    wait_until(ib, lambda: len(bars) == len(gw.sim.dates), what="every session")


# ============================================================================ orders


@pytest.mark.parametrize(("fill", "version"), [("next_open", 178), ("next_close", 176)])
def test_market_order_lifecycle(gateway, ib_guard, fill, version):
    broker = {"fill": fill, "commission": {"per_share": 0.01, "minimum": 1.0}, "slippage": {"bps": 5}}
    gw = gateway(broker=broker, start=9, max_version=version)
    ib = gw.connect()
    assert ib.client.serverVersion() == min(version, gf.SERVER_VERSION)
    trade = placed(ib, aaa(), MarketOrder("BUY", 10, orderRef="sig-42"))
    assert trade.orderStatus.status == "PreSubmitted"
    commissions = []
    trade.commissionReportEvent += lambda _t, _f, report: commissions.append(report)
    gw.sim.advance()
    wait_until(ib, lambda: trade.orderStatus.status == "Filled" and commissions, what="fill")

    cfg = gw.sim.account.broker
    ref = row(gw, "AAA", 10).open if fill == "next_open" else row(gw, "AAA", 10).close
    price = slipped(ref, 10, 0.0005)
    fee = commission(cfg, 10, price)
    assert [e.status for e in trade.log][:2] == ["PendingSubmit", "PreSubmitted"]
    assert trade.log[-1].status == "Filled"
    assert trade.orderStatus.avgFillPrice == pytest.approx(price, rel=1e-12)
    [f] = trade.fills
    assert f.execution.price == pytest.approx(price, rel=1e-12) and f.execution.shares == 10
    assert f.execution.orderRef == "sig-42" and trade.order.orderRef == "sig-42"
    assert f.commissionReport.commission == pytest.approx(fee)
    assert commissions[0].execId == f.execution.execId

    wait_until(ib, lambda: bool(ib.positions()) and bool(ib.portfolio()), what="position and portfolio")
    [pos] = ib.positions()
    assert pos.contract.conId == 1001 and pos.position == 10
    assert pos.avgCost == pytest.approx(price + fee / 10)
    [item] = ib.portfolio()
    assert item.marketPrice == row(gw, "AAA", 10).close
    cash = {v.tag: float(v.value) for v in ib.accountValues() if v.currency == "USD" and not v.modelCode}
    assert cash["TotalCashValue"] == pytest.approx(100_000 - 10 * price - fee, abs=0.01)
    assert cash["NetLiquidation"] == pytest.approx(100_000 - 10 * price - fee + 10 * item.marketPrice, abs=0.01)


def test_limit_and_stop_orders(gateway, ib_guard):
    gw = gateway(broker={"fill": "next_close"}, start=9)
    ib = gw.connect()
    nxt = row(gw, "AAA", 10)
    never = placed(ib, aaa(), LimitOrder("BUY", 5, round(nxt.low - 1, 2)))
    at_limit = placed(ib, aaa(), LimitOrder("BUY", 5, round((nxt.open + nxt.low) / 2, 2)))
    at_open = placed(ib, aaa(), LimitOrder("BUY", 5, round(nxt.open + 0.5, 2)))
    stop_hit = placed(ib, aaa(), StopOrder("BUY", 5, round((nxt.open + nxt.high) / 2, 2)))
    stop_far = placed(ib, aaa(), StopOrder("BUY", 5, round(nxt.high + 1, 2)))
    gw.sim.advance()
    wait_until(ib, lambda: all(t.orderStatus.status == "Filled" for t in (at_limit, at_open, stop_hit)), what="fills")
    assert at_limit.orderStatus.avgFillPrice == at_limit.order.lmtPrice
    assert at_open.orderStatus.avgFillPrice == nxt.open
    assert stop_hit.orderStatus.avgFillPrice == stop_hit.order.auxPrice
    assert never.orderStatus.status == stop_far.orderStatus.status == "PreSubmitted"
    assert ib.positions()[0].position == 15


def test_cancel(gateway, ib_guard):
    ib_guard.allow(202)
    gw = gateway(start=9)
    ib = gw.connect()
    trade = placed(ib, aaa(), LimitOrder("BUY", 5, 1.0))
    ib.cancelOrder(trade.order)
    wait_until(ib, lambda: trade.orderStatus.status == "Cancelled", what="cancel")
    gw.sim.advance()
    assert gw.sim.account.orders[trade.order.orderId].status == "Cancelled"
    assert not trade.fills and not ib.openTrades()


def test_rejections(gateway, ib_guard):
    ib_guard.allow(201)
    gw = gateway(start=9)
    ib = gw.connect()
    gw.sim.reject_next_order("scripted for the test")
    rejected = ib.placeOrder(aaa(), MarketOrder("BUY", 1))
    wait_until(ib, lambda: rejected.orderStatus.status == "Cancelled", what="rejection")
    assert any(e.errorCode == 201 and "scripted for the test" in e.message for e in rejected.log)
    too_big = placed(ib, aaa(), MarketOrder("BUY", 1_000_000))
    gw.sim.advance()
    wait_until(ib, lambda: too_big.orderStatus.status == "Cancelled", what="cash rejection")
    assert any("insufficient cash" in e.message for e in too_big.log)
    assert not ib.positions() and gw.sim.account.cash == 100_000


def test_partial_fill(gateway, ib_guard):
    gw = gateway(broker={"fill": "next_open"}, start=9)
    ib = gw.connect()
    gw.sim.partial_fill_next_order(0.3)
    trade = placed(ib, aaa(), MarketOrder("BUY", 10))
    gw.sim.advance()
    wait_until(ib, lambda: trade.orderStatus.filled == 3, what="partial fill")
    assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 7
    gw.sim.advance()
    wait_until(ib, lambda: trade.orderStatus.status == "Filled", what="rest filled")
    assert [f.execution.shares for f in trade.fills] == [3, 7]
    o1, o2 = row(gw, "AAA", 10).open, row(gw, "AAA", 11).open
    assert trade.orderStatus.avgFillPrice == pytest.approx((3 * o1 + 7 * o2) / 10)


def test_sell_realizes_pnl(gateway, ib_guard):
    gw = gateway(broker={"fill": "next_close", "commission": {"per_share": 0.01, "minimum": 1.0}}, start=9)
    ib = gw.connect()
    pnl = ib.reqPnL(ACCOUNT)
    buy = placed(ib, aaa(), MarketOrder("BUY", 100))
    gw.sim.advance()
    wait_until(ib, lambda: buy.orderStatus.status == "Filled")
    sell = placed(ib, aaa(), MarketOrder("SELL", 100))
    gw.sim.advance()
    wait_until(ib, lambda: sell.orderStatus.status == "Filled" and sell.fills and sell.fills[0].commissionReport.commission)
    c10, c11 = row(gw, "AAA", 10).close, row(gw, "AAA", 11).close
    expected = 100 * (c11 - c10) - 2.0
    assert sell.fills[0].commissionReport.realizedPNL == pytest.approx(expected)
    wait_until(ib, lambda: pnl.realizedPnL == pytest.approx(expected), what="pnl stream")
    summary = {v.tag: float(v.value) for v in ib.accountSummary() if v.tag == "NetLiquidation"}
    assert summary["NetLiquidation"] == pytest.approx(100_000 + expected, abs=0.01)
    values = {v.tag: float(v.value) for v in ib.accountValues() if v.tag == "RealizedPnL"}
    assert values["RealizedPnL"] == pytest.approx(expected, abs=0.01)
    wait_until(ib, lambda: not ib.positions(), what="flat position")


# ============================================================================ scenarios


def test_executions_survive_a_reconnect(gateway, ib_guard):
    gw = gateway(start=9)
    ib = gw.connect(client_id=3)
    trade = placed(ib, aaa(), MarketOrder("BUY", 4, orderRef="first"))
    gw.sim.advance()
    wait_until(ib, lambda: trade.orderStatus.status == "Filled" and trade.fills)
    exec_id = trade.fills[0].execution.execId
    ib.disconnect()

    ib2 = gw.connect(client_id=3)
    assert [f.execution.execId for f in ib2.fills()] == [exec_id]
    fills = ib2.reqExecutions()
    assert [(f.execution.execId, f.execution.orderRef, f.execution.shares) for f in fills] == [(exec_id, "first", 4)]
    assert [t.orderStatus.status for t in ib2.trades()] == ["Filled"]
    assert ib2.positions()[0].position == 4


def test_disconnect_and_reconnect(gateway, ib_guard):
    ib_guard.allow_text("Peer closed connection")
    gw = gateway(start=9)
    ib = gw.connect()
    trade = placed(ib, aaa(), LimitOrder("BUY", 2, 1.0))
    gw.sim.disconnect_all()
    wait_until(ib, lambda: not ib.isConnected(), what="disconnect")
    ib2 = gw.connect()
    assert [t.order.orderId for t in ib2.openTrades()] == [trade.order.orderId]
    assert gw.sim.connected_clients == [1]


def test_restart_keeps_next_valid_id_above_earlier_ids(gateway, ib_guard):
    ib_guard.allow_text("Peer closed connection")
    gw = gateway(start=9)
    ib = gw.connect(client_id=1)
    first = placed(ib, aaa(), MarketOrder("BUY", 1))
    gw.sim.advance()
    wait_until(ib, lambda: first.orderStatus.status == "Filled")
    gw.sim.restart()
    wait_until(ib, lambda: not ib.isConnected(), what="disconnect on restart")
    assert gw.sim.restarts == 1
    other = gw.connect(client_id=2)
    second = placed(other, aaa(), MarketOrder("BUY", 1))
    assert second.order.orderId > first.order.orderId
    assert gw.sim.next_order_id > second.order.orderId
    again = gw.connect(client_id=1)
    assert [(t.order.permId, t.orderStatus.status) for t in again.trades()] == [(first.order.permId, "Filled")]
    assert [f.execution.orderId for f in again.fills()] == [first.order.orderId]


def test_connectivity_error_injection(gateway, ib_guard):
    ib_guard.allow(1100, 1102)
    gw = gateway()
    ib = gw.connect()
    seen: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: seen.append(code)
    gw.sim.inject_error(1100)
    gw.sim.inject_error(1102)
    wait_until(ib, lambda: seen == [1100, 1102], what="connectivity errors")


# ============================================================================ wire cross-check

C = wire.WireContract(con_id=1001, symbol="AAA", primary_exchange="NYSE", local_symbol="AAA", trading_class="AAA")
ORDER = wire.WireOrder(
    order_id=17, client_id=3, perm_id=1000017, action="BUY", total_quantity=10.0, order_type="LMT",
    lmt_price=101.25, tif="GTC", account=ACCOUNT, order_ref="ref-1", status="Filled", filled_quantity=10.0,
    commission=1.0, completed_time="20210315 16:00:00 America/New_York", completed_status="Filled",
)
EXEC = wire.WireExecution(
    exec_id="000f4251.00000001.01.01", time="20210315 16:00:00 America/New_York", account=ACCOUNT,
    exchange="NYSE", side="BOT", shares=10.0, price=101.25, perm_id=1000017, client_id=3, order_id=17,
    cum_qty=10.0, avg_price=101.25, order_ref="ref-1",
)
BAR = wire.WireBar("20210315", 100.5, 102.0, 99.75, 101.25, 123456.0, 101.0, 0)


class Recorder(EWrapper):
    """IB's EWrapper, recording the calls the official decoder makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []


RECORDED = [
    "error", "managedAccounts", "nextValidId", "currentTime", "contractDetails", "contractDetailsEnd",
    "historicalData", "historicalDataEnd", "historicalDataUpdate", "realtimeBar", "tickPrice",
    "tickSize", "marketDataType", "tickReqParams", "tickSnapshotEnd", "openOrder", "openOrderEnd",
    "completedOrder", "completedOrdersEnd", "orderStatus", "execDetails", "execDetailsEnd",
    "commissionAndFeesReport", "position", "positionEnd", "updatePortfolio", "updateAccountValue",
    "updateAccountTime", "accountDownloadEnd", "accountUpdateMulti", "accountUpdateMultiEnd",
    "accountSummary", "accountSummaryEnd", "pnl", "pnlSingle", "headTimestamp",
]
for _name in RECORDED:
    setattr(Recorder, _name, lambda self, *args, _n=_name: self.calls.append((_n, args)))


def ibapi_decode(sv: int, fields: list[Any]) -> list[tuple[str, tuple[Any, ...]]]:
    [msg], rest = wire.unframe(wire.frame(fields))
    assert not rest
    rec = Recorder()
    IbapiDecoder(rec, sv).interpret(tuple(f.encode() for f in msg[1:]), int(msg[0]))
    return rec.calls


def async_decode(sv: int, fields: list[Any]) -> list[tuple[str, tuple[Any, ...]]]:
    [msg], _ = wire.unframe(wire.frame(fields))
    calls: list[tuple[str, tuple[Any, ...]]] = []

    class Rec:
        ib = SimpleNamespace(TimezoneTWS="")
        defaultTimezone = dt.UTC

        def __getattr__(self, name: str) -> Any:
            return lambda *args: calls.append((name, args))

    AsyncDecoder(Rec(), sv).interpret(msg)
    return calls


def _one(calls: list[tuple[str, tuple[Any, ...]]], name: str) -> tuple[Any, ...]:
    found = [args for n, args in calls if n == name]
    assert len(found) == 1, f"expected one {name} call, got {calls}"
    return found[0]


@pytest.mark.parametrize("sv", gf.DECODER_VERSIONS)
def test_messages_decode_identically_with_ibapi_and_the_client(sv, ib_guard):
    details = wire.ContractDetailsInfo(C, market_name="AAA", long_name="Triple A Inc")

    req_id, cd = _one(ibapi_decode(sv, wire.contract_data(sv, 5, details)), "contractDetails")
    a_req, a_cd = _one(async_decode(sv, wire.contract_data(sv, 5, details)), "contractDetails")
    for r, c, d in ((req_id, cd.contract, cd), (a_req, a_cd.contract, a_cd)):
        assert r == 5
        assert (c.conId, c.symbol, c.secType, c.exchange, c.primaryExchange, c.currency, c.localSymbol) == (
            1001, "AAA", "STK", "SMART", "NYSE", "USD", "AAA")
        assert (d.minTick, d.longName, d.stockType, d.timeZoneId) == (0.01, "Triple A Inc", "COMMON", "US/Eastern")
    assert cd.minSize == Decimal(1) and cd.sizeIncrement == Decimal(1)

    for decode in (ibapi_decode, async_decode):
        order_id, c, o, st = _one(decode(sv, wire.open_order(sv, ORDER, C)), "openOrder")
        assert (order_id, c.conId, c.symbol, o.orderId, o.clientId, o.permId) == (17, 1001, "AAA", 17, 3, 1000017)
        assert (o.action, float(o.totalQuantity), o.orderType, o.lmtPrice, o.tif, o.account, o.orderRef) == (
            "BUY", 10.0, "LMT", 101.25, "GTC", ACCOUNT, "ref-1")
        assert st.status == "Filled"

        c, o, st = _one(decode(sv, wire.completed_order(sv, ORDER, C)), "completedOrder")
        assert (c.conId, o.permId, o.orderRef, float(o.totalQuantity), st.status) == (1001, 1000017, "ref-1", 10.0, "Filled")
        assert (float(o.filledQuantity), st.completedTime, st.completedStatus) == (10.0, ORDER.completed_time, "Filled")

        args = _one(decode(sv, wire.order_status(17, "Filled", 10, 0, 101.25, 1000017, 0, 101.25, 3)), "orderStatus")
        assert [float(a) if isinstance(a, Decimal) else a for a in args] == [
            17, "Filled", 10.0, 0.0, 101.25, 1000017, 0, 101.25, 3, "", 0.0]

        r, c, e = _one(decode(sv, wire.exec_details(sv, -1, EXEC, C)), "execDetails")
        assert (r, c.conId, c.symbol, e.execId, e.orderId, e.side, float(e.shares), e.price) == (
            -1, 1001, "AAA", EXEC.exec_id, 17, "BOT", 10.0, 101.25)
        assert (e.permId, e.clientId, float(e.cumQty), e.avgPrice, e.orderRef, e.acctNumber) == (
            1000017, 3, 10.0, 101.25, "ref-1", ACCOUNT)

        c, pos, avg = _one(decode(sv, wire.position(ACCOUNT, C, 10, 101.35)), "position")[1:]
        assert (c.conId, float(pos), avg) == (1001, 10.0, 101.35)

        c, *vals, acct = _one(decode(sv, wire.update_portfolio(C, 10, 102.0, 1020.0, 101.35, 6.5, 0.0, ACCOUNT)), "updatePortfolio")
        assert (c.conId, c.primaryExchange, [float(v) for v in vals], acct) == (
            1001, "NYSE", [10.0, 102.0, 1020.0, 101.35, 6.5, 0.0], ACCOUNT)

        calls = decode(sv, wire.historical_data(9, "20210301 00:00:00", "20210315 23:59:59", [BAR, BAR]))
        bars = [args[1] for n, args in calls if n == "historicalData"]
        assert [(b.date, b.open, b.high, b.low, b.close, float(b.volume)) for b in bars] == [
            ("20210315", 100.5, 102.0, 99.75, 101.25, 123456.0)] * 2
        assert _one(calls, "historicalDataEnd")[0] == 9

        _, b = _one(decode(sv, wire.historical_data_update(9, BAR)), "historicalDataUpdate")
        assert (b.date, b.open, b.high, b.low, b.close, float(b.volume)) == ("20210315", 100.5, 102.0, 99.75, 101.25, 123456.0)

        err = _one(decode(sv, wire.error(sv, 17, 201, "Order rejected - reason:x")), "error")
        assert 17 in err and 201 in err and "Order rejected - reason:x" in err

    report = _one(ibapi_decode(sv, wire.commission_report(EXEC.exec_id, 1.0, "USD", None)), "commissionAndFeesReport")[0]
    assert (report.execId, report.commissionAndFees, report.currency) == (EXEC.exec_id, 1.0, "USD")
    report = _one(async_decode(sv, wire.commission_report(EXEC.exec_id, 1.0, "USD", 12.5)), "commissionReport")[0]
    assert (report.execId, report.commission, report.currency, report.realizedPNL) == (EXEC.exec_id, 1.0, "USD", 12.5)

    assert _one(ibapi_decode(sv, wire.realtime_bar(4, 1615838400, BAR)), "realtimeBar")[:6] == (
        4, 1615838400, 100.5, 102.0, 99.75, 101.25)
    assert _one(ibapi_decode(sv, wire.tick_price(4, 4, 101.25, 100)), "tickPrice")[:3] == (4, 4, 101.25)
    assert _one(ibapi_decode(sv, wire.tick_size(4, 8, 5000)), "tickSize") == (4, 8, Decimal(5000))
    simple = [
        (wire.managed_accounts([ACCOUNT]), "managedAccounts", (ACCOUNT,)),
        (wire.next_valid_id(42), "nextValidId", (42,)),
        (wire.current_time(1615838400), "currentTime", (1615838400,)),
        (wire.contract_data_end(5), "contractDetailsEnd", (5,)),
        (wire.open_order_end(), "openOrderEnd", ()),
        (wire.completed_orders_end(), "completedOrdersEnd", ()),
        (wire.exec_details_end(6), "execDetailsEnd", (6,)),
        (wire.position_end(), "positionEnd", ()),
        (wire.update_account_value("NetLiquidation", "100000.00", "USD", ACCOUNT), "updateAccountValue",
         ("NetLiquidation", "100000.00", "USD", ACCOUNT)),
        (wire.update_account_time("16:00"), "updateAccountTime", ("16:00",)),
        (wire.account_download_end(ACCOUNT), "accountDownloadEnd", (ACCOUNT,)),
        (wire.account_update_multi(7, ACCOUNT, "", "CashBalance", "5.00", "USD"), "accountUpdateMulti",
         (7, ACCOUNT, "", "CashBalance", "5.00", "USD")),
        (wire.account_update_multi_end(7), "accountUpdateMultiEnd", (7,)),
        (wire.account_summary(8, ACCOUNT, "NetLiquidation", "1.00", "USD"), "accountSummary",
         (8, ACCOUNT, "NetLiquidation", "1.00", "USD")),
        (wire.account_summary_end(8), "accountSummaryEnd", (8,)),
        (wire.pnl(9, 1.5, 2.5, 3.5), "pnl", (9, 1.5, 2.5, 3.5)),
        (wire.market_data_type(4, 1), "marketDataType", (4, 1)),
        (wire.tick_snapshot_end(4), "tickSnapshotEnd", (4,)),
        (wire.tick_req_params(4, 0.01, "9c0001", 3), "tickReqParams", (4, 0.01, "9c0001", 3)),
        (wire.head_timestamp(3, "20210301  09:30:00"), "headTimestamp", (3, "20210301  09:30:00")),
    ]
    for fields, name, expected in simple:
        assert _one(ibapi_decode(sv, fields), name) == expected, name
        assert _one(async_decode(sv, fields), name) == expected, name
    single = _one(ibapi_decode(sv, wire.pnl_single(9, 10, 1.0, 2.0, 3.0, 1020.0)), "pnlSingle")
    assert [float(x) for x in single] == [9, 10, 1.0, 2.0, 3.0, 1020.0]


def test_place_order_parser_reads_what_the_client_sends():
    Client = importlib.import_module(f"{gf.CLIENT}.client").Client

    sent: list[str] = []
    client = Client(SimpleNamespace())
    client.conn = SimpleNamespace(sendMsg=lambda m: sent.append(m), numMsgSent=0)
    client.connState = Client.CONNECTED
    for sv in gf.DECODER_VERSIONS:
        client._serverVersion = sv
        order = LimitOrder("SELL", 7, 99.5, orderRef="abc", tif="GTC", account=ACCOUNT)
        client.placeOrder(31, Stock("AAA", "SMART", "USD", primaryExchange="NYSE"), order)
        [msg], _ = wire.unframe(sent.pop())
        req = wire.parse_place_order(sv, msg)
        assert (req.order_id, req.contract.symbol, req.contract.primary_exchange, req.action, req.quantity) == (
            31, "AAA", "NYSE", "SELL", 7.0)
        assert (req.order_type, req.lmt_price, req.aux_price, req.tif, req.order_ref, req.what_if) == (
            "LMT", 99.5, None, "GTC", "abc", False)
        order.whatIf = True
        client.placeOrder(32, Stock("AAA", "SMART", "USD"), order)
        [msg], _ = wire.unframe(sent.pop())
        assert wire.parse_place_order(sv, msg).what_if


def test_broker_default_comes_from_config():
    sim_cfg = BrokerConfig.model_validate({})
    gw_cash = gf.GatewaySimulator(gf.make_market(5), None).account.cash
    assert gw_cash == sim_cfg.cash
