"""Costs, computed one way for every engine (the same float operations in the same order).

Backtrader's own arithmetic for these is ``abs(size) * commission * price`` (percent) and
``price * (1 +/- perc)`` (slippage); the functions below are written the same way so that an
adapter that must compute costs itself gets the very same numbers.

Cash is kept once more, exactly, in a :class:`CashBook` that every engine pays its fills through:
the cash rule and every share count are decided on it (docs/engine-parity.md, "Cash and sizing").
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping
from decimal import Decimal

from algotrade.core.config import BpsSlippage, BrokerConfig, PercentCommission, PerShareCommission
from algotrade.core.errors import ConfigError


def per_share_commission(size: float, per_share: float, minimum: float) -> float:
    return max(abs(size) * per_share, minimum) if size else 0.0


def commission(broker: BrokerConfig, size: float, price: float) -> float:
    c = broker.commission
    if isinstance(c, PerShareCommission):
        return per_share_commission(size, c.per_share, c.minimum)
    if isinstance(c, PercentCommission):
        return abs(size) * c.percent * price
    return 0.0


def slippage_fraction(broker: BrokerConfig) -> float:
    """Slippage as a fraction of price: 5 bps -> 0.0005."""
    return broker.slippage.bps / 10_000 if isinstance(broker.slippage, BpsSlippage) else 0.0


def slipped(price: float, size: float, fraction: float) -> float:
    """The fill price after slippage: worse for the order's side."""
    if not fraction:
        return price
    return price * (1 + fraction) if size > 0 else price * (1 - fraction)


# --------------------------------------------------------------------------------------------
# exact cash

#: enough digits for any sum of prices, share counts and fees a run produces (no rounding at all)
EXACT = decimal.Context(prec=80, traps=[decimal.InvalidOperation])


def exact(x: float | int | Decimal) -> Decimal:
    """The decimal number a float was written as: ``exact(10.1) == Decimal('10.1')``.

    Prices (3 decimals once the data is validated), cash amounts and config values are written
    in decimal; the float that carries them is only the nearest binary number. ``repr`` gives the
    shortest decimal that reads back as that float, which for such values is the decimal itself,
    so arithmetic on ``exact`` values is the arithmetic of the numbers as written.
    """
    if isinstance(x, Decimal):
        return x
    if isinstance(x, int):
        return Decimal(x)
    if not math.isfinite(x):
        raise ValueError(f"not a finite amount: {x!r}")
    return Decimal(repr(float(x)))


def exact_fee(size: int, price: float, per_share: float | None = None, minimum: float = 0.0,
              percent: float | None = None) -> Decimal:
    """A commission in exact decimal arithmetic: per share with a minimum per order, or a
    fraction of the notional (the fee the cash book charges)."""
    if not size:
        return Decimal(0)
    if per_share is not None:
        return max(EXACT.multiply(Decimal(abs(size)), exact(per_share)), exact(minimum))
    if percent is not None:
        return EXACT.multiply(EXACT.multiply(Decimal(abs(size)), exact(percent)), exact(price))
    return Decimal(0)


def exact_commission(broker: BrokerConfig, size: int, price: float) -> Decimal:
    """:func:`commission` in exact decimal arithmetic."""
    c = broker.commission
    if isinstance(c, PerShareCommission):
        return exact_fee(size, price, per_share=c.per_share, minimum=c.minimum)
    if isinstance(c, PercentCommission):
        return exact_fee(size, price, percent=c.percent)
    return Decimal(0)


#: the borrow fee's day count: a year of 252 sessions, accrued at each session's close
BORROW_DAYS = 252


class CashBook:
    """The account's cash in exact decimal arithmetic: the one cash rule of every backtest engine.

    Engines keep cash in binary floats, each with its own order of operations (Backtrader books
    a sale as cost basis plus profit, Zipline as price times amount), so the same fills leave
    cash a few units in the last place apart, e.g. 1,009.9999999999999 on one engine and
    1,010.0 on the other. Every decision that depends on cash (share counts, the cash rule at fill
    time, risk limits) is taken from this book instead, which both engines pay every fill through
    (:meth:`pay`), so those decisions are the exact-arithmetic ones, identical on every engine.

    The book also holds the positions it paid for and a mark per symbol (the last fill price, or
    the last session close given to :meth:`close_session`), for the two rules of shorts
    (docs/engine-parity.md, "Shorts"): ``broker.short_margin`` refuses a fill that opens or
    enlarges a short when equity after it would be below margin x gross short value, and
    ``broker.borrow_fee_bps`` charges each session's close |short market value| x bps/10000/252.
    """

    def __init__(self, broker: BrokerConfig) -> None:
        self.broker = broker
        self._cash = exact(broker.cash)
        self.margin = None if broker.short_margin is None else exact(broker.short_margin)
        self.borrow_rate = EXACT.divide(exact(broker.borrow_fee_bps), Decimal(10_000 * BORROW_DAYS))
        self.positions: dict[str, int] = {}
        self.marks: dict[str, Decimal] = {}
        #: every borrow fee charged: (session, fee)
        self.borrow_fees: list[tuple[dt.date, Decimal]] = []
        #: why the last refused fill was refused (the reason its order is rejected with)
        self.refusal = ""

    @property
    def exact_cash(self) -> Decimal:
        return self._cash

    @property
    def cash(self) -> float:
        return float(self._cash)

    def equity_and_shorts(self, positions: dict[str, int], marks: dict[str, Decimal]) -> tuple[Decimal, Decimal]:
        """Cash plus positions at ``marks``, and the gross value of the short positions, exactly."""
        with decimal.localcontext(EXACT):
            held = sum((Decimal(q) * marks[s] for s, q in positions.items() if q), Decimal(0))
            shorts = sum((Decimal(-q) * marks[s] for s, q in positions.items() if q < 0), Decimal(0))
            return self._cash + held, shorts

    def pay(self, quantity: int, price: float, symbol: str = "") -> bool:
        """Book a fill of ``quantity`` shares (signed) of ``symbol`` at ``price`` with its
        commission, unless it is a buy the cash cannot pay for (the cash rule: cash never goes
        below zero) or a sale that opens or enlarges a short the margin does not cover. Returns
        whether the fill may happen; a refused fill changes nothing but :attr:`refusal`."""
        cost = EXACT.multiply(Decimal(quantity), exact(price))
        after = EXACT.subtract(EXACT.subtract(self._cash, cost), exact_commission(self.broker, quantity, price))
        if quantity > 0 and after < 0:
            self.refusal = "insufficient cash at fill time"
            return False
        if not symbol:  # an engine that books fills without their symbol: the cash rule alone
            if self.margin is not None or self.borrow_rate:
                raise ConfigError(
                    "broker.short_margin / broker.borrow_fee_bps: this engine books fills without their symbol "
                    "(CashBook.pay(quantity, price)), so the shorts' rules cannot see its positions; "
                    "run on backtrader or zipline, or drop both keys"
                )
            self._cash = after
            return True
        held = self.positions.get(symbol, 0) + quantity
        if self.margin is not None and quantity < 0 and held < 0:
            positions = {**self.positions, symbol: held}
            marks = {**self.marks, symbol: exact(price)}
            before, self._cash = self._cash, after
            equity, shorts = self.equity_and_shorts(positions, marks)
            self._cash = before
            required = EXACT.multiply(self.margin, shorts)
            if equity < required:
                self.refusal = (
                    f"short margin: equity {equity:.2f} after the sale would be below broker.short_margin "
                    f"{self.broker.short_margin} x gross short value {shorts:.2f} = {required:.2f}"
                )
                return False
        self._cash = after
        self.positions[symbol] = held
        self.marks[symbol] = exact(price)
        return True

    def close_session(self, date: dt.date, closes: Mapping[str, float]) -> Decimal:
        """Mark the positions at the session's ``closes`` and charge the borrow fee of the shorts
        held at the close: |short market value| x broker.borrow_fee_bps / 10000 / 252, exactly.
        Returns the fee charged (0 without shorts or without a fee)."""
        for s in self.positions:
            if s in closes:
                self.marks[s] = exact(closes[s])
        if not self.borrow_rate:
            return Decimal(0)
        _, shorts = self.equity_and_shorts(self.positions, self.marks)
        if not shorts:
            return Decimal(0)
        fee = EXACT.multiply(shorts, self.borrow_rate)
        self._cash = EXACT.subtract(self._cash, fee)
        self.borrow_fees.append((date, fee))
        return fee
