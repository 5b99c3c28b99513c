"""Message builders, server -> client: each returns the field list of one message.

Every field that exists only from some server version on is gated on the negotiated version
``sv``; the layouts are those the installed clients decode (ib_async 2.1.0 ``decoder.py`` and IB's
``ibapi`` 10.50 ``decoder.py``/``orderdecoder.py``) and ``../shared/reference/ib-wire.md``.
Counts are written ``0`` (never empty), because ib_insync calls ``int()`` on them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.ib.gateway.wire.framing import (
    SV_ADVANCED_ORDER_REJECT,
    SV_AUTO_CANCEL_PARENT,
    SV_DURATION,
    SV_FA_PROFILE_DESUPPORT,
    SV_FRACTIONAL_SIZE_SUPPORT,
    SV_PEGBEST_PEGMID_OFFSETS,
    SV_PENDING_PRICE_REVISION,
    SV_POST_TO_ATS,
    SV_SIZE_RULES,
    UNSET_DOUBLE,
    Out,
)
from adapters.ib.gateway.wire.records import (
    ContractDetailsInfo,
    WireBar,
    WireContract,
    WireExecution,
    WireOrder,
)


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
        None, o.oca_type or 3, False, False, None,  # minQty, ocaType (IB's default 3), eTradeOnly, firmQuoteOnly, nbboPriceCap
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
        0, False, False, None, o.oca_type or 3, 0,  # displaySize, sweepToFill, allOrNone, minQty, ocaType, triggerMethod
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
