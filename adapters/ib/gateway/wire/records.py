"""The value objects the message builders (:mod:`adapters.ib.gateway.wire.messages`) take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    oca_type: int = 0
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
