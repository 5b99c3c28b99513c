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


def equity_and_shorts(cash: Decimal, positions: Mapping[str, int], marks: Mapping[str, Decimal]) -> tuple[Decimal, Decimal]:
    """Cash plus positions at ``marks``, and the gross value of the short positions, exactly."""
    with decimal.localcontext(EXACT):
        held = sum((Decimal(q) * marks[s] for s, q in positions.items() if q), Decimal(0))
        shorts = sum((Decimal(-q) * marks[s] for s, q in positions.items() if q < 0), Decimal(0))
        return cash + held, shorts


def cash_after_fill(broker: BrokerConfig, cash: Decimal, quantity: int, price: float) -> Decimal:
    """The cash after a fill of ``quantity`` shares (signed) at ``price`` and its commission, exactly."""
    cost = EXACT.multiply(Decimal(quantity), exact(price))
    return EXACT.subtract(EXACT.subtract(cash, cost), exact_commission(broker, quantity, price))


def short_margin_refusal(broker: BrokerConfig, cash: Decimal, positions: Mapping[str, int],
                         marks: Mapping[str, Decimal], symbol: str, quantity: int, price: float) -> str:
    """Why ``broker.short_margin`` refuses a fill of ``quantity`` (signed) of ``symbol`` at ``price``
    for an account holding ``cash`` and ``positions`` marked at ``marks``: "" when it admits it.

    Only a sale that opens or enlarges a short (leaves the position below zero) is ruled; it is
    refused when equity after the fill (the fill's symbol marked at its price) is below
    margin x gross short value after it. Exactly at the limit it is admitted."""
    held = positions.get(symbol, 0) + quantity
    if broker.short_margin is None or quantity >= 0 or held >= 0:
        return ""
    after = cash_after_fill(broker, cash, quantity, price)
    equity, shorts = equity_and_shorts(after, {**positions, symbol: held}, {**marks, symbol: exact(price)})
    required = EXACT.multiply(exact(broker.short_margin), shorts)
    if equity >= required:
        return ""
    return (f"short margin: equity {equity:.2f} after the sale would be below broker.short_margin "
            f"{broker.short_margin} x gross short value {shorts:.2f} = {required:.2f}")


def borrow_rate(broker: BrokerConfig) -> Decimal:
    """The borrow fee per session as a fraction of the short value: bps / 10000 / 252, exactly."""
    return EXACT.divide(exact(broker.borrow_fee_bps), Decimal(10_000 * BORROW_DAYS))


def borrow_fee(broker: BrokerConfig, positions: Mapping[str, int], marks: Mapping[str, Decimal]) -> Decimal:
    """One session's borrow fee of the shorts in ``positions`` at ``marks`` (the session's closes):
    |short market value| x broker.borrow_fee_bps / 10000 / 252, exactly (0 without either)."""
    rate = borrow_rate(broker)
    if not rate:
        return Decimal(0)
    _, shorts = equity_and_shorts(Decimal(0), positions, marks)
    return EXACT.multiply(shorts, rate) if shorts else Decimal(0)


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

    def pay(self, quantity: int, price: float, symbol: str = "") -> bool:
        """Book a fill of ``quantity`` shares (signed) of ``symbol`` at ``price`` with its
        commission, unless it is a buy the cash cannot pay for (the cash rule: cash never goes
        below zero) or a sale that opens or enlarges a short the margin does not cover. Returns
        whether the fill may happen; a refused fill changes nothing but :attr:`refusal`."""
        after = cash_after_fill(self.broker, self._cash, quantity, price)
        if quantity > 0 and after < 0:
            self.refusal = "insufficient cash at fill time"
            return False
        if not symbol:  # an engine that books fills without their symbol: the cash rule alone
            if self.broker.short_margin is not None or self.broker.borrow_fee_bps:
                raise ConfigError(
                    "broker.short_margin / broker.borrow_fee_bps: this engine books fills without their symbol "
                    "(CashBook.pay(quantity, price)), so the shorts' rules cannot see its positions; "
                    "run on backtrader or zipline, or drop both keys"
                )
            self._cash = after
            return True
        refusal = short_margin_refusal(self.broker, self._cash, self.positions, self.marks, symbol, quantity, price)
        if refusal:
            self.refusal = refusal
            return False
        self._cash = after
        self.positions[symbol] = self.positions.get(symbol, 0) + quantity
        self.marks[symbol] = exact(price)
        return True

    def close_session(self, date: dt.date, closes: Mapping[str, float]) -> Decimal:
        """Mark the positions at the session's ``closes`` and charge the borrow fee of the shorts
        held at the close: |short market value| x broker.borrow_fee_bps / 10000 / 252, exactly.
        Returns the fee charged (0 without shorts or without a fee)."""
        for s in self.positions:
            if s in closes:
                self.marks[s] = exact(closes[s])
        fee = borrow_fee(self.broker, self.positions, self.marks)
        if not fee:
            return Decimal(0)
        self._cash = EXACT.subtract(self._cash, fee)
        self.borrow_fees.append((date, fee))
        return fee
