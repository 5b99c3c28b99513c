"""Request parsers, client -> server: a field cursor and one parser per simulated request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.ib.gateway.wire.framing import SV_FA_PROFILE_DESUPPORT, UNSET_DOUBLE, WireError


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
    oca_type: int = 0  # 1: cancel the group's other orders on a fill (with block), 2: reduce, 3: reduce without block


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
    oca_type = 0
    try:
        if contract.sec_type == "BAG":
            r.skip(8 * r.integer())
            r.skip(r.integer())
            r.skip(2 * r.integer())
        r.skip(7)  # '', discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage
        if sv < SV_FA_PROFILE_DESUPPORT:
            r.skip()
        r.skip(4)  # modelCode, shortSaleSlot, designatedLocation, exemptCode
        oca_type = r.integer(0)
        r.skip(15)  # rule80A .. overridePercentageConstraints
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
        origin, order_ref, transmit, parent_id, outside_rth, what_if, oca_type,
    )


def parse_executions(fields: Sequence[str]) -> ExecutionsRequest:
    r = Reader(fields)
    r.skip()  # version 3
    return ExecutionsRequest(
        req_id=r.integer(), client_id=r.integer(), account=r.text(), time=r.text(), symbol=r.text(),
        sec_type=r.text(), exchange=r.text(), side=r.text(),
    )
