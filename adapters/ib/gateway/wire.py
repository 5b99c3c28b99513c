"""The TWS API wire format: framing, message builders (server -> client), request parsers.

Framing: every message is a 4-byte big-endian length followed by ASCII fields, each ending in
NUL; field 0 is the message id. The only exceptions are the client's ``API\\0`` greeting and the
server's two-field handshake reply.

Builders return the field list of one message (strings, ready for :func:`frame`). Every field
that exists only from some server version on is gated on the negotiated version ``sv``; the
layouts are those the installed clients decode (ib_async 2.1.0 ``decoder.py`` and IB's
``ibapi`` 10.50 ``decoder.py``/``orderdecoder.py``) and ``../shared/reference/ib-wire.md``.
Counts are written ``0`` (never empty), because ib_insync calls ``int()`` on them directly.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: The highest server version the simulator speaks; a client gets min(this, its maximum).
MAX_SERVER_VERSION = 178
#: The lowest client maximum accepted (ib_insync and ib_async both start at 157).
MIN_SERVER_VERSION = 157

# server versions at which a layout changes (names as in ibapi/server_versions.py)
SV_DURATION = 159
SV_POST_TO_ATS = 160
SV_AUTO_CANCEL_PARENT = 162
SV_FRACTIONAL_SIZE_SUPPORT = 163
SV_SIZE_RULES = 164
SV_ADVANCED_ORDER_REJECT = 166
SV_PEGBEST_PEGMID_OFFSETS = 170
SV_BOND_ISSUERID = 176
SV_FA_PROFILE_DESUPPORT = 177
SV_PENDING_PRICE_REVISION = 178

UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1

# incoming (client -> server) message ids
class In:
    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCT_DATA = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_HISTORICAL_DATA = 20
    CANCEL_HISTORICAL_DATA = 25
    REQ_CURRENT_TIME = 49
    REQ_REAL_TIME_BARS = 50
    CANCEL_REAL_TIME_BARS = 51
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_HEAD_TIMESTAMP = 87
    CANCEL_HEAD_TIMESTAMP = 90
    REQ_PNL = 92
    CANCEL_PNL = 93
    REQ_PNL_SINGLE = 94
    CANCEL_PNL_SINGLE = 95
    REQ_COMPLETED_ORDERS = 99


# outgoing (server -> client) message ids
class Out:
    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    HISTORICAL_DATA = 17
    CURRENT_TIME = 49
    REAL_TIME_BARS = 50
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    TICK_REQ_PARAMS = 81
    HEAD_TIMESTAMP = 88
    HISTORICAL_DATA_UPDATE = 90
    PNL = 94
    PNL_SINGLE = 95
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


class WireError(ValueError):
    """A message that does not follow the protocol."""


# --------------------------------------------------------------------------------------------
# framing


def fmt(value: Any) -> str:
    """One field as text: None and unset numbers -> '', bools -> '0'/'1', floats round-trip."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return "" if value == UNSET_INTEGER else str(value)
    if isinstance(value, float):
        if value == UNSET_DOUBLE or math.isnan(value):
            return ""
        if math.isinf(value):
            return "Infinite"
        return repr(value)
    return str(value)


def frame(fields: Iterable[Any]) -> bytes:
    """Length-prefixed, NUL-terminated fields."""
    payload = "".join(fmt(f) + "\0" for f in fields).encode("ascii", errors="backslashreplace")
    return struct.pack(">I", len(payload)) + payload


def split_fields(payload: bytes) -> list[str]:
    """The fields of one message payload (without the length prefix)."""
    parts = payload.decode("ascii", errors="backslashreplace").split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def unframe(data: bytes) -> tuple[list[list[str]], bytes]:
    """Split a byte stream into complete messages; returns (messages, rest)."""
    out = []
    while len(data) >= 4:
        (n,) = struct.unpack(">I", data[:4])
        if len(data) < 4 + n:
            break
        out.append(split_fields(data[4 : 4 + n]))
        data = data[4 + n :]
    return out, data


def parse_greeting(payload: bytes) -> tuple[int, int, str]:
    """The client's version range ``v157..178[ +PACEAPI]`` -> (min, max, options)."""
    text = payload.decode("ascii", errors="replace").strip("\0")
    head, _, options = text.partition(" ")
    if not head.startswith("v"):
        raise WireError(f"bad API greeting {text!r}: expected 'vMIN..MAX'")
    lo, sep, hi = head[1:].partition("..")
    try:
        low = int(lo)
        high = int(hi) if sep else low
    except ValueError:
        raise WireError(f"bad API greeting {text!r}: versions are not numbers") from None
    return low, high, options


def negotiate(client_max: int, server_max: int = MAX_SERVER_VERSION) -> int:
    return min(client_max, server_max)


def handshake_reply(version: int, conn_time: str) -> list[Any]:
    """The server's two-field reply: version and connection time."""
    return [version, conn_time]


# --------------------------------------------------------------------------------------------
# value objects the builders take


@dataclass(frozen=True)
class WireContract:
    con_id: int
    symbol: str
    sec_type: str = "STK"
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    local_symbol: str = ""
    trading_class: str = ""

    def c11(self) -> list[Any]:
        """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency,
        localSymbol, tradingClass."""
        return [
            self.con_id, self.symbol, self.sec_type, self.last_trade_date, self.strike, self.right,
            self.multiplier, self.exchange, self.currency, self.local_symbol, self.trading_class,
        ]


@dataclass(frozen=True)
class ContractDetailsInfo:
    contract: WireContract
    market_name: str = ""
    min_tick: float = 0.01
    order_types: str = "ACTIVETIM,ADJUST,ALERT,ALLOC,DAY,GTC,LMT,MKT,STP"
    valid_exchanges: str = "SMART,NYSE,ARCA,NASDAQ"
    price_magnifier: int = 1
    long_name: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    time_zone_id: str = "US/Eastern"
    trading_hours: str = ""
    liquid_hours: str = ""
    agg_group: int = 1
    market_rule_ids: str = "26,26,26,26"
    stock_type: str = "COMMON"
    min_size: float = 1.0
    size_increment: float = 1.0
    suggested_size_increment: float = 100.0


@dataclass(frozen=True)
class WireOrder:
    """What openOrder / completedOrder carry about one order."""

    order_id: int
    client_id: int
    perm_id: int
    action: str
    total_quantity: float
    order_type: str
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = "DAY"
    oca_group: str = ""
    account: str = ""
    open_close: str = ""
    origin: int = 0
    order_ref: str = ""
    outside_rth: bool = False
    parent_id: int = 0
    status: str = "PreSubmitted"
    filled_quantity: float = 0.0
    commission: float | None = None
    completed_time: str = ""
    completed_status: str = ""


@dataclass(frozen=True)
class WireExecution:
    exec_id: str
    time: str
    account: str
    exchange: str
    side: str  # BOT / SLD
    shares: float
    price: float
    perm_id: int
    client_id: int
    order_id: int
    cum_qty: float
    avg_price: float
    order_ref: str = ""
    liquidation: int = 0
    last_liquidity: int = 1
    pending_price_revision: bool = False


@dataclass(frozen=True)
class WireBar:
    date: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


# --------------------------------------------------------------------------------------------
# server -> client messages


def error(sv: int, req_id: int, code: int, message: str, advanced_json: str = "") -> list[Any]:
    fields: list[Any] = [Out.ERR_MSG, 2, req_id, code, message]
    if sv >= SV_ADVANCED_ORDER_REJECT:
        fields.append(advanced_json)
    return fields


def managed_accounts(accounts: Sequence[str]) -> list[Any]:
    return [Out.MANAGED_ACCTS, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> list[Any]:
    return [Out.NEXT_VALID_ID, 1, order_id]


def current_time(epoch: int) -> list[Any]:
    return [Out.CURRENT_TIME, 1, epoch]


def contract_data(sv: int, req_id: int, d: ContractDetailsInfo) -> list[Any]:
    c = d.contract
    fields: list[Any] = [Out.CONTRACT_DATA]
    if sv < SV_SIZE_RULES:
        fields.append(8)
    fields += [
        req_id, c.symbol, c.sec_type, c.last_trade_date, c.strike, c.right, c.exchange,
        c.currency, c.local_symbol, d.market_name, c.trading_class, c.con_id, d.min_tick,
    ]
    if sv < SV_SIZE_RULES:
        fields.append(1)  # mdSizeMultiplier
    fields += [
        c.multiplier, d.order_types, d.valid_exchanges, d.price_magnifier, 0, d.long_name,
        c.primary_exchange, "", d.industry, d.category, d.subcategory, d.time_zone_id,
        d.trading_hours, d.liquid_hours, "", "",  # evRule, evMultiplier
        0,  # secIdList count
        d.agg_group, "", "", d.market_rule_ids, "", d.stock_type,
    ]
    if sv == SV_FRACTIONAL_SIZE_SUPPORT:
        fields.append(d.suggested_size_increment)
    if sv >= SV_SIZE_RULES:
        fields += [d.min_size, d.size_increment, d.suggested_size_increment]
    return fields


def contract_data_end(req_id: int) -> list[Any]:
    return [Out.CONTRACT_DATA_END, 1, req_id]


def historical_data(req_id: int, start: str, end: str, bars: Sequence[WireBar]) -> list[Any]:
    fields: list[Any] = [Out.HISTORICAL_DATA, req_id, start, end, len(bars)]
    for b in bars:
        fields += [b.date, b.open, b.high, b.low, b.close, _qty(b.volume), b.wap, b.count]
    return fields


def historical_data_update(req_id: int, b: WireBar) -> list[Any]:
    """Note the order: open, close, high, low (not OHLC), then wap, volume."""
    return [
        Out.HISTORICAL_DATA_UPDATE, req_id, b.count, b.date, b.open, b.close, b.high, b.low,
        b.wap, _qty(b.volume),
    ]


def realtime_bar(req_id: int, epoch: int, b: WireBar) -> list[Any]:
    return [Out.REAL_TIME_BARS, 3, req_id, epoch, b.open, b.high, b.low, b.close, _qty(b.volume), b.wap, b.count]


def head_timestamp(req_id: int, stamp: str) -> list[Any]:
    return [Out.HEAD_TIMESTAMP, req_id, stamp]


def tick_price(req_id: int, tick_type: int, price: float, size: float, attr_mask: int = 0) -> list[Any]:
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, _qty(size), attr_mask]


def tick_size(req_id: int, tick_type: int, size: float) -> list[Any]:
    return [Out.TICK_SIZE, 6, req_id, tick_type, _qty(size)]


def market_data_type(req_id: int, data_type: int) -> list[Any]:
    return [Out.MARKET_DATA_TYPE, 1, req_id, data_type]


def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str, snapshot_permissions: int) -> list[Any]:
    return [Out.TICK_REQ_PARAMS, req_id, min_tick, bbo_exchange, snapshot_permissions]


def tick_snapshot_end(req_id: int) -> list[Any]:
    return [Out.TICK_SNAPSHOT_END, 1, req_id]


def _order_head(o: WireOrder, c: WireContract) -> list[Any]:
    return [
        o.action, _qty(o.total_quantity), o.order_type, o.lmt_price, o.aux_price, o.tif,
        o.oca_group, o.account, o.open_close, o.origin, o.order_ref,
    ]


def open_order(sv: int, o: WireOrder, c: WireContract) -> list[Any]:
    """openOrder (5), no version field at sv >= 145. About 130 positional fields."""
    f: list[Any] = [Out.OPEN_ORDER, o.order_id, *c.c11(), *_order_head(o, c)]
    f += [o.client_id, o.perm_id, o.outside_rth, False, 0.0, ""]  # hidden, discretionaryAmt, goodAfterTime
    f += [""]  # deprecated sharesAllocation
    f += ["", "", ""]  # faGroup, faMethod, faPercentage
    if sv < SV_FA_PROFILE_DESUPPORT:
        f += [""]  # faProfile
    f += [
        "", "", "", None, "",  # modelCode, goodTillDate, rule80A, percentOffset, settlingFirm
        0, "", -1,  # shortSaleSlot, designatedLocation, exemptCode
        0, None, None, None,  # auctionStrategy, startingPrice, stockRefPrice, delta
        None, None,  # stockRangeLower, stockRangeUpper
        0, False, False, False,  # displaySize, blockOrder, sweepToFill, allOrNone
        None, 3, False, False, None,  # minQty, ocaType, eTradeOnly, firmQuoteOnly, nbboPriceCap
        o.parent_id, 0,  # parentId, triggerMethod
        None, 0, "", None,  # volatility, volatilityType, deltaNeutralOrderType (empty), dnAuxPrice
        False, 0,  # continuousUpdate, referencePriceType
        None, None,  # trailStopPrice, trailingPercent
        None, None,  # basisPoints, basisPointsType
        "",  # comboLegsDescrip
        0, 0, 0,  # comboLegs, orderComboLegs, smartComboRoutingParams counts
        None, None, None,  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement (unset)
        "",  # hedgeType (empty: no hedgeParam)
        False, "", "", False,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
        False,  # deltaNeutralContract present
        "",  # algoStrategy (empty: no params)
        False, False, o.status,  # solicited, whatIf, status
        "", "", "", "", "", "",  # init/maint/equityWithLoan before and change
        "", "", "",  # init/maint/equityWithLoan after
        o.commission, None, None, "",  # commission, min, max, commissionCurrency
        "",  # warningText
        False, False,  # randomizeSize, randomizePrice
        0,  # conditions count (empty: no ignoreRth/cancelOrder)
        "", None, None, None, None, None, None, 0,  # adjustedOrderType .. adjustableTrailingUnit
        "", "", "",  # softDollarTier name, value, displayName
        None, False, False, None, False,  # cashQty, dontUseAutoPriceForHedge, isOmsContainer,
        # discretionaryUpToLimitPrice, usePriceMgmtAlgo
    ]
    if sv >= SV_DURATION:
        f.append(None)  # duration
    if sv >= SV_POST_TO_ATS:
        f.append(None)  # postToAts
    if sv >= SV_AUTO_CANCEL_PARENT:
        f.append(False)  # autoCancelParent
    if sv >= SV_PEGBEST_PEGMID_OFFSETS:
        f += [None, None, None, None, None]  # minTradeQty .. midOffsetAtHalf
    return f


def open_order_end() -> list[Any]:
    return [Out.OPEN_ORDER_END, 1]


def completed_order(sv: int, o: WireOrder, c: WireContract) -> list[Any]:
    """completedOrder (101): like openOrder without orderId/clientId and with fewer fields."""
    f: list[Any] = [Out.COMPLETED_ORDER, *c.c11(), *_order_head(o, c)]
    f += [o.perm_id, o.outside_rth, False, 0.0, ""]  # permId, outsideRth, hidden, discretionaryAmt, gat
    f += ["", "", ""]  # faGroup, faMethod, faPercentage
    if sv < SV_FA_PROFILE_DESUPPORT:
        f += [""]
    f += [
        "", "", "", None, "",  # modelCode, goodTillDate, rule80A, percentOffset, settlingFirm
        0, "", -1,  # shortSaleSlot, designatedLocation, exemptCode
        None, None, None, None, None,  # startingPrice, stockRefPrice, delta, rangeLower, rangeUpper
        0, False, False, None, 3, 0,  # displaySize, sweepToFill, allOrNone, minQty, ocaType, triggerMethod
        None, 0, "", None,  # volatility, volatilityType, deltaNeutralOrderType, dnAuxPrice
        False, 0, None, None,  # continuousUpdate, referencePriceType, trailStopPrice, trailingPercent
        "", 0, 0, 0,  # comboLegsDescrip, leg counts, smartComboRoutingParams count
        None, None, None,  # scale sizes and price increment
        "",  # hedgeType
        "", "", False,  # clearingAccount, clearingIntent, notHeld
        False,  # deltaNeutralContract present
        "",  # algoStrategy
        False, o.status, False, False,  # solicited, status, randomizeSize, randomizePrice
        0,  # conditions count
        None, None, None, False, False,  # trailStopPrice, lmtPriceOffset, cashQty, dontUseAuto.., isOms
        "", _qty(o.filled_quantity), 0, False,  # autoCancelDate, filledQuantity, refFuturesConId, autoCancelParent
        "", False, False, 0,  # shareholder, imbalanceOnly, routeMarketableToBbo, parentPermId
        o.completed_time, o.completed_status,
    ]
    if sv >= SV_PEGBEST_PEGMID_OFFSETS:
        f += [None, None, None, None, None]
    return f


def completed_orders_end() -> list[Any]:
    return [Out.COMPLETED_ORDERS_END]


def order_status(
    order_id: int, status: str, filled: float, remaining: float, avg_fill_price: float,
    perm_id: int, parent_id: int, last_fill_price: float, client_id: int, why_held: str = "",
    mkt_cap_price: float = 0.0,
) -> list[Any]:
    """orderStatus (3); no version field at sv >= 131 (MARKET_CAP_PRICE), which every client has."""
    return [
        Out.ORDER_STATUS, order_id, status, _qty(filled), _qty(remaining), avg_fill_price, perm_id,
        parent_id, last_fill_price, client_id, why_held, mkt_cap_price,
    ]


def exec_details(sv: int, req_id: int, e: WireExecution, c: WireContract) -> list[Any]:
    f: list[Any] = [Out.EXECUTION_DATA, req_id, e.order_id, *c.c11()]
    f += [
        e.exec_id, e.time, e.account, e.exchange, e.side, _qty(e.shares), e.price, e.perm_id,
        e.client_id, e.liquidation, _qty(e.cum_qty), e.avg_price, e.order_ref, "", None, "",
        e.last_liquidity,
    ]
    if sv >= SV_PENDING_PRICE_REVISION:
        f.append(e.pending_price_revision)
    return f


def exec_details_end(req_id: int) -> list[Any]:
    return [Out.EXECUTION_DATA_END, 1, req_id]


def commission_report(
    exec_id: str, commission: float, currency: str, realized_pnl: float | None,
    yield_: float | None = None, yield_redemption_date: int = 0,
) -> list[Any]:
    """realizedPNL unset (opening fills) is sent as IB does: the 'unset double'."""
    rpnl = UNSET_DOUBLE if realized_pnl is None else realized_pnl
    yld = UNSET_DOUBLE if yield_ is None else yield_
    return [Out.COMMISSION_REPORT, 1, exec_id, commission, currency, _unset(rpnl), _unset(yld), yield_redemption_date]


def position(account: str, c: WireContract, pos: float, avg_cost: float) -> list[Any]:
    return [Out.POSITION_DATA, 3, account, *c.c11(), _qty(pos), avg_cost]


def position_end() -> list[Any]:
    return [Out.POSITION_END, 1]


def update_portfolio(
    c: WireContract, pos: float, market_price: float, market_value: float, avg_cost: float,
    unrealized: float, realized: float, account: str,
) -> list[Any]:
    """updatePortfolio (7), v8: the contract carries primaryExch where the others have exchange."""
    return [
        Out.PORTFOLIO_VALUE, 8, c.con_id, c.symbol, c.sec_type, c.last_trade_date, c.strike, c.right,
        c.multiplier, c.primary_exchange, c.currency, c.local_symbol, c.trading_class, _qty(pos),
        market_price, market_value, avg_cost, unrealized, realized, account,
    ]


def update_account_value(key: str, value: str, currency: str, account: str) -> list[Any]:
    return [Out.ACCT_VALUE, 2, key, value, currency, account]


def update_account_time(hhmm: str) -> list[Any]:
    return [Out.ACCT_UPDATE_TIME, 1, hhmm]


def account_download_end(account: str) -> list[Any]:
    return [Out.ACCT_DOWNLOAD_END, 1, account]


def account_update_multi(req_id: int, account: str, model: str, key: str, value: str, currency: str) -> list[Any]:
    return [Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, model, key, value, currency]


def account_update_multi_end(req_id: int) -> list[Any]:
    return [Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> list[Any]:
    return [Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> list[Any]:
    return [Out.ACCOUNT_SUMMARY_END, 1, req_id]


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> list[Any]:
    return [Out.PNL, req_id, daily, unrealized, realized]


def pnl_single(req_id: int, pos: float, daily: float, unrealized: float, realized: float, value: float) -> list[Any]:
    return [Out.PNL_SINGLE, req_id, _qty(pos), daily, unrealized, realized, value]


def _qty(x: float) -> str:
    """Quantities as IB writes them: integral ones without a decimal point."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def _unset(x: float) -> str:
    return "1.7976931348623157E308" if x == UNSET_DOUBLE else repr(float(x))


# --------------------------------------------------------------------------------------------
# client -> server requests


class Reader:
    """A cursor over one request's fields (after the message id)."""

    def __init__(self, fields: Sequence[str], start: int = 1) -> None:
        self.fields = fields
        self.i = start

    def text(self) -> str:
        if self.i >= len(self.fields):
            raise WireError(f"message {self.fields[:1]} is short: wanted field {self.i}, has {len(self.fields)}")
        v = self.fields[self.i]
        self.i += 1
        return v

    def integer(self, default: int = 0) -> int:
        v = self.text()
        return int(v) if v else default

    def number(self, default: float | None = None) -> float | None:
        v = self.text()
        if not v:
            return default
        x = float(v)
        return None if x == UNSET_DOUBLE else x

    def flag(self) -> bool:
        v = self.text()
        return bool(int(v)) if v else False

    def skip(self, n: int = 1) -> None:
        self.i += n

    def rest(self) -> list[str]:
        return list(self.fields[self.i :])

    def contract12(self) -> RequestContract:
        return RequestContract(
            con_id=self.integer(), symbol=self.text(), sec_type=self.text(), last_trade_date=self.text(),
            strike=self.number() or 0.0, right=self.text(), multiplier=self.text(), exchange=self.text(),
            primary_exchange=self.text(), currency=self.text(), local_symbol=self.text(),
            trading_class=self.text(),
        )


@dataclass(frozen=True)
class RequestContract:
    """A contract as a request carries it (C12: primaryExchange after exchange)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""


@dataclass(frozen=True)
class StartApi:
    client_id: int
    optional_capabilities: str


@dataclass(frozen=True)
class ContractDetailsRequest:
    req_id: int
    contract: RequestContract


@dataclass(frozen=True)
class HistoricalDataRequest:
    req_id: int
    contract: RequestContract
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


@dataclass(frozen=True)
class RealTimeBarsRequest:
    req_id: int
    contract: RequestContract
    bar_size: int
    what_to_show: str
    use_rth: bool


@dataclass(frozen=True)
class MktDataRequest:
    req_id: int
    contract: RequestContract
    generic_ticks: str
    snapshot: bool
    regulatory_snapshot: bool


@dataclass(frozen=True)
class PlaceOrderRequest:
    order_id: int
    contract: RequestContract
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str
    account: str
    open_close: str
    origin: int
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    what_if: bool


@dataclass(frozen=True)
class ExecutionsRequest:
    req_id: int
    client_id: int
    account: str
    time: str
    symbol: str
    sec_type: str
    exchange: str
    side: str


def parse_start_api(fields: Sequence[str]) -> StartApi:
    r = Reader(fields)
    r.skip()  # version
    client_id = r.integer()
    caps = r.text() if r.i < len(fields) else ""
    return StartApi(client_id, caps)


def parse_contract_details(fields: Sequence[str]) -> ContractDetailsRequest:
    r = Reader(fields)
    r.skip()  # version 8
    req_id = r.integer()
    return ContractDetailsRequest(req_id, r.contract12())


def parse_historical_data(fields: Sequence[str]) -> HistoricalDataRequest:
    r = Reader(fields)
    req_id = r.integer()
    contract = r.contract12()
    r.skip()  # includeExpired
    end, bar_size, duration = r.text(), r.text(), r.text()
    use_rth = r.flag()
    what = r.text()
    format_date = r.integer(1)
    if contract.sec_type == "BAG":
        n = r.integer()
        r.skip(4 * n)
    keep = r.flag()
    return HistoricalDataRequest(req_id, contract, end, bar_size, duration, use_rth, what, format_date, keep)


def parse_real_time_bars(fields: Sequence[str]) -> RealTimeBarsRequest:
    r = Reader(fields)
    r.skip()  # version 3
    req_id = r.integer()
    contract = r.contract12()
    size = r.integer(5)
    what = r.text()
    use_rth = r.flag()
    return RealTimeBarsRequest(req_id, contract, size, what, use_rth)


def parse_mkt_data(fields: Sequence[str]) -> MktDataRequest:
    r = Reader(fields)
    r.skip()  # version 11
    req_id = r.integer()
    contract = r.contract12()
    if contract.sec_type == "BAG":
        n = r.integer()
        r.skip(4 * n)
    if r.flag():  # delta-neutral contract
        r.skip(3)
    generic = r.text()
    snapshot = r.flag()
    regulatory = r.flag()
    return MktDataRequest(req_id, contract, generic, snapshot, regulatory)


def parse_place_order(sv: int, fields: Sequence[str]) -> PlaceOrderRequest:
    """placeOrder (3) as ib_async / ib_insync send it at sv >= 145 (no version field).

    Reads the head of the message (through ``hidden``) and walks the conditional middle part
    far enough to find ``whatIf``."""
    r = Reader(fields)
    order_id = r.integer()
    contract = r.contract12()
    r.skip(2)  # secIdType, secId
    action = r.text()
    quantity = r.number() or 0.0
    order_type = r.text()
    lmt = r.number()
    aux = r.number()
    tif, oca, account, open_close = r.text(), r.text(), r.text(), r.text()
    origin = r.integer()
    order_ref = r.text()
    transmit = r.flag()
    parent_id = r.integer()
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = r.flag()
    r.skip()  # hidden
    what_if = False
    try:
        if contract.sec_type == "BAG":
            r.skip(8 * r.integer())
            r.skip(r.integer())
            r.skip(2 * r.integer())
        r.skip(7)  # '', discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage
        if sv < SV_FA_PROFILE_DESUPPORT:
            r.skip()
        r.skip(20)  # modelCode .. overridePercentageConstraints
        r.skip(2)  # volatility, volatilityType
        dn_type = r.text()
        r.skip()  # deltaNeutralAuxPrice
        if dn_type:
            r.skip(8)
        r.skip(6)  # continuousUpdate .. scaleSubsLevelSize
        incr = r.number()
        if incr is not None and incr > 0:
            r.skip(7)
        r.skip(3)  # scaleTable, activeStartTime, activeStopTime
        if r.text():  # hedgeType
            r.skip()
        r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
        if r.flag():
            r.skip(3)
        if r.text():  # algoStrategy
            r.skip(2 * r.integer())
        r.skip()  # algoId
        what_if = r.flag()
    except (WireError, ValueError):
        what_if = False
    return PlaceOrderRequest(
        order_id, contract, action, quantity, order_type, lmt, aux, tif, oca, account, open_close,
        origin, order_ref, transmit, parent_id, outside_rth, what_if,
    )


def parse_executions(fields: Sequence[str]) -> ExecutionsRequest:
    r = Reader(fields)
    r.skip()  # version 3
    return ExecutionsRequest(
        req_id=r.integer(), client_id=r.integer(), account=r.text(), time=r.text(), symbol=r.text(),
        sec_type=r.text(), exchange=r.text(), side=r.text(),
    )


__all__ = [
    "ContractDetailsInfo",
    "ContractDetailsRequest",
    "ExecutionsRequest",
    "HistoricalDataRequest",
    "In",
    "MAX_SERVER_VERSION",
    "MIN_SERVER_VERSION",
    "MktDataRequest",
    "Out",
    "PlaceOrderRequest",
    "Reader",
    "RealTimeBarsRequest",
    "RequestContract",
    "StartApi",
    "WireBar",
    "WireContract",
    "WireError",
    "WireExecution",
    "WireOrder",
    "frame",
    "negotiate",
    "parse_greeting",
    "split_fields",
    "unframe",
]
