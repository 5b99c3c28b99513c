"""Engine-neutral risk checks: composable objects between the strategy and any engine or broker.

Each check looks at one proposed order and the account as algotrade sees it, and returns the
reason to block it, or ``None``. The same objects guard backtests on every engine and live
trading. Orders that only reduce exposure are never blocked by the halts, so a halted strategy
can still get out.

Limits are compared in exact decimal arithmetic (:func:`algotrade.core.costs.exact`): an order sized
to exactly the limit (100 shares at $10.10 against a 50% limit on $2,020.00) is within it on
every engine, whatever the last bits of a float quotient would say.

:func:`decide` is the decision every order goes through (algotrade/core/host.py): each breached
check either cuts the order to the largest whole number of shares within it (``on_breach:
resize``, found by bisection on the quantity, so it works for the value-at-risk limit too) or
refuses it (``on_breach: refuse``; the drawdown and daily-loss halts always refuse), and each cut,
refusal or halt is a :class:`RiskEvent` with the rule, the value that breached and the limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property
from typing import Literal, Protocol

from algotrade.core.config import RiskConfig
from algotrade.core.config.sections import VarLimitConfig
from algotrade.core.costs import EXACT, exact
from algotrade.core.var import VarModel, portfolio_var

_UNBOUNDED = Decimal("Infinity")


@dataclass(frozen=True)
class RiskState:
    equity: float | Decimal
    peak_equity: float | Decimal
    day_start_equity: float | Decimal
    positions: Mapping[str, int]
    prices: Mapping[str, float]
    #: each symbol's closes so far (the value-at-risk limit reads its trailing returns up to ``index``)
    closes: Mapping[str, Sequence[float]] = field(default_factory=dict)
    index: int = -1

    @cached_property
    def exposure(self) -> tuple[dict[str, Decimal], Decimal, Decimal]:
        """Each held position's signed value at ``prices``, and their gross and net sums, exactly
        (computed once per state: every check and every resize step of one order reads them)."""
        values = {s: EXACT.multiply(Decimal(q), exact(self.prices.get(s, 0.0))) for s, q in self.positions.items()}
        gross = net = Decimal(0)
        for v in values.values():
            gross, net = EXACT.add(gross, abs(v)), EXACT.add(net, v)
        return values, gross, net


def _notional(quantity: int, price: float) -> Decimal:
    return abs(EXACT.multiply(Decimal(quantity), exact(price)))


def _ratio(part: Decimal, whole: float | Decimal) -> Decimal:
    """``part / whole`` exactly, or infinity when ``whole`` is not positive."""
    w = exact(whole)
    return EXACT.divide(part, w) if w > 0 else _UNBOUNDED


def _fall(value: float | Decimal, base: float | Decimal) -> Decimal:
    """How far ``value`` is below ``base``, as a fraction of ``base`` (0 when base is not positive)."""
    b = exact(base)
    return EXACT.subtract(Decimal(1), EXACT.divide(exact(value), b)) if b > 0 else Decimal(0)


RiskAction = Literal["resized", "refused", "halted"]


@dataclass(frozen=True)
class RiskEvent:
    """One risk decision that changed an order: cut to ``final`` shares, refused, or halted."""

    date: dt.date
    symbol: str
    rule: str
    value: float  # what the order would have made the rule's measure (a fraction, shares, dollars)
    limit: float
    action: RiskAction
    requested: int
    final: int
    reason: str = ""


class RiskCheck(Protocol):
    @property
    def name(self) -> str: ...

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None: ...


class MeasuredCheck(RiskCheck, Protocol):
    """A check that can say what it measured and how an order that breaches it is handled."""

    @property
    def limit(self) -> float: ...

    #: cut a breaching order to the largest size within the limit (False: refuse it)
    @property
    def resize(self) -> bool: ...

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float: ...


def _increases(position: int, quantity: int) -> bool:
    return abs(position + quantity) > abs(position)


def _gross(symbol: str, quantity: int, price: float, state: RiskState, signed: bool = False) -> Decimal:
    """Gross (or, ``signed``, net) position value after the order, exactly."""
    values, gross, net = state.exposure
    old = values.get(symbol, Decimal(0))
    new = EXACT.multiply(Decimal(state.positions.get(symbol, 0) + quantity), exact(price))
    # the other positions' sum is exact (no rounding at EXACT's precision): take this symbol's
    # value out and the value after the order in
    if signed:
        return abs(EXACT.add(EXACT.subtract(net, old), new))
    return EXACT.add(EXACT.subtract(gross, abs(old)), abs(new))


@dataclass(frozen=True)
class LongOnly:
    name: str = "long_only"
    limit: float = 0.0
    resize: bool = True

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float:
        return float(state.positions.get(symbol, 0) + quantity)

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        after = state.positions.get(symbol, 0) + quantity
        if after < 0:
            return f"long_only: would leave {after} shares of {symbol}"
        return None


@dataclass(frozen=True)
class MaxPositionPct:
    limit: float
    name: str = "max_position_pct"
    resize: bool = True

    def _weight(self, symbol: str, quantity: int, price: float, state: RiskState) -> Decimal:
        return _ratio(_notional(state.positions.get(symbol, 0) + quantity, price), state.equity)

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float:
        return float(self._weight(symbol, quantity, price, state))

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        weight = self._weight(symbol, quantity, price, state)
        if _increases(state.positions.get(symbol, 0), quantity) and weight > exact(self.limit):
            return f"max_position_pct: {symbol} would be {weight:.1%} of equity (limit {self.limit:.1%})"
        return None


@dataclass(frozen=True)
class MaxGrossLeverage:
    limit: float
    name: str = "max_gross_leverage"
    resize: bool = True

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float:
        return float(_ratio(_gross(symbol, quantity, price, state), state.equity))

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        lev = _ratio(_gross(symbol, quantity, price, state), state.equity)
        if _increases(state.positions.get(symbol, 0), quantity) and lev > exact(self.limit):
            return f"max_gross_leverage: gross exposure would be {lev:.2f}x equity (limit {self.limit:.2f}x)"
        return None


@dataclass(frozen=True)
class MaxNetExposure:
    """|sum of signed position values| / equity; orders that do not increase it always pass."""

    limit: float
    name: str = "max_net_exposure"
    resize: bool = True

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float:
        return float(_ratio(_gross(symbol, quantity, price, state, signed=True), state.equity))

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        after = _ratio(_gross(symbol, quantity, price, state, signed=True), state.equity)
        before = _ratio(_gross(symbol, 0, price, state, signed=True), state.equity)
        if after > exact(self.limit) and after > before:
            return f"max_net_exposure: net exposure would be {after:.2f}x equity (limit {self.limit:.2f}x)"
        return None


@dataclass(frozen=True)
class MaxPositions:
    """At most ``limit`` symbols held at once: an order opening one more is refused (it cannot be
    made smaller and still open the position); orders on held symbols always pass."""

    limit: int
    name: str = "max_positions"
    resize: bool = True

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float:
        held = {s for s, q in state.positions.items() if q}
        return float(len(held | {symbol}) if state.positions.get(symbol, 0) + quantity else len(held - {symbol}))

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        held = sum(1 for q in state.positions.values() if q)
        if quantity and not state.positions.get(symbol, 0) and held >= self.limit:
            return f"max_positions: {symbol} would be position {held + 1} (limit {self.limit})"
        return None


@dataclass(frozen=True)
class MaxOrderNotional:
    limit: float
    name: str = "max_order_notional"
    resize: bool = True

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float:
        return float(_notional(quantity, price))

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        notional = _notional(quantity, price)
        if notional > exact(self.limit):
            return f"max_order_notional: order worth {notional:,.2f} exceeds {self.limit:,.2f}"
        return None


@dataclass(frozen=True)
class DrawdownHalt:
    limit: float
    name: str = "max_drawdown_pct"
    resize: bool = False  # a halt stops new risk: it never lets part of an order through

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float:
        return float(_fall(state.equity, state.peak_equity))

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        dd = _fall(state.equity, state.peak_equity)
        if dd >= exact(self.limit) and _increases(state.positions.get(symbol, 0), quantity):
            return f"max_drawdown_pct: halted, drawdown {dd:.1%} reached the limit {self.limit:.1%}"
        return None


@dataclass(frozen=True)
class DailyLossHalt:
    limit: float
    name: str = "daily_loss_limit_pct"
    resize: bool = False

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float:
        return float(_fall(state.equity, state.day_start_equity))

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        loss = _fall(state.equity, state.day_start_equity)
        if loss >= exact(self.limit) and _increases(state.positions.get(symbol, 0), quantity):
            return f"daily_loss_limit_pct: halted for the day, down {loss:.1%} (limit {self.limit:.1%})"
        return None


@dataclass(frozen=True)
class VarLimit:
    """The ``risk.var`` limit on the 1-day VaR of the portfolio after the order (algotrade/core/var.py
    defines the portfolio and the estimates). An order breaches it when the VaR after it is above
    the limit and above the VaR before it: an order that lowers the VaR always passes."""

    limit: float
    model: VarModel = field(default_factory=VarModel)
    name: str = "var"
    resize: bool = True

    @classmethod
    def from_config(cls, cfg: VarLimitConfig) -> VarLimit:
        return cls(cfg.limit, VarModel(cfg.method, cfg.confidence, cfg.window, cfg.draws, cfg.seed))

    def _var(self, symbol: str, quantity: int, price: float, state: RiskState) -> float | None:
        positions = {**state.positions, symbol: state.positions.get(symbol, 0) + quantity}
        prices = {**state.prices, symbol: price}
        got = portfolio_var(self.model, positions, prices, float(exact(state.equity)), state.closes, state.index)
        return got[0] if got else None

    def measure(self, symbol: str, quantity: int, price: float, state: RiskState) -> float:
        var = self._var(symbol, quantity, price, state)
        return float("nan") if var is None else var

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        var = self._var(symbol, quantity, price, state) if quantity else None
        if var is None or var <= self.limit:
            return None
        before = self._var(symbol, 0, price, state)
        if before is not None and var <= before:
            return None
        m = self.model
        return f"var: 1-day {m.confidence:.0%} {m.method} VaR would be {var:.2%} of equity (limit {self.limit:.2%})"


_HALTS = (DrawdownHalt, DailyLossHalt)


def checks_from_config(cfg: RiskConfig) -> tuple[MeasuredCheck, ...]:
    """The checks a ``risk:`` section asks for, in a fixed order (``on_breach`` sets how each
    non-halt check treats an order that breaches it)."""
    checks: list[MeasuredCheck] = []
    if cfg.long_only:
        checks.append(LongOnly())
    if cfg.max_positions is not None:
        checks.append(MaxPositions(cfg.max_positions))
    if cfg.max_order_notional is not None:
        checks.append(MaxOrderNotional(cfg.max_order_notional))
    if cfg.max_position_pct is not None:
        checks.append(MaxPositionPct(cfg.max_position_pct))
    if cfg.max_gross_leverage is not None:
        checks.append(MaxGrossLeverage(cfg.max_gross_leverage))
    if cfg.max_net_exposure is not None:
        checks.append(MaxNetExposure(cfg.max_net_exposure))
    if cfg.var is not None:
        checks.append(VarLimit.from_config(cfg.var))
    if cfg.max_drawdown_pct is not None:
        checks.append(DrawdownHalt(cfg.max_drawdown_pct))
    if cfg.daily_loss_limit_pct is not None:
        checks.append(DailyLossHalt(cfg.daily_loss_limit_pct))
    if cfg.on_breach == "refuse":
        checks = [replace(c, resize=False) for c in checks]  # type: ignore[type-var]
    return tuple(checks)


def first_block(
    checks: tuple[RiskCheck, ...], symbol: str, quantity: int, price: float, state: RiskState
) -> str | None:
    for check in checks:
        reason = check.check(symbol, quantity, price, state)
        if reason:
            return reason
    return None


def _largest_within(check: RiskCheck, symbol: str, quantity: int, price: float, state: RiskState) -> int:
    """The largest ``k`` shares in the order's direction, ``0 <= |k| < |quantity|``, that ``check``
    lets through (bisection: the checks pass on a range of sizes that starts at 0), or 0."""
    sign = 1 if quantity > 0 else -1
    if check.check(symbol, 0, price, state):
        return 0
    lo, hi = 0, abs(quantity)  # lo passes, hi breaches
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if check.check(symbol, sign * mid, price, state):
            hi = mid
        else:
            lo = mid
    return sign * lo


def decide(
    checks: Sequence[RiskCheck], date: dt.date, symbol: str, quantity: int, price: float, state: RiskState
) -> tuple[int, list[RiskEvent]]:
    """The quantity of an order that every check lets through (0: refused), and the events.

    Checks that refuse (halts, ``on_breach: refuse``) are applied first, then the others in order; a
    breached check that resizes cuts the order to the largest size
    within it, and the checks are applied again to the cut order until none is breached (sizes
    only shrink, so this ends). A check that does not resize (``on_breach: refuse``, a halt, a
    check without ``resize``) refuses the whole order."""
    events: list[RiskEvent] = []
    current = quantity
    checks = sorted(checks, key=lambda c: bool(getattr(c, "resize", False)))  # refusals and halts first
    while current:
        breached = next(((c, r) for c in checks if (r := c.check(symbol, current, price, state))), None)
        if breached is None:
            break
        check, reason = breached
        measure = getattr(check, "measure", None)
        value = measure(symbol, current, price, state) if measure else float("nan")
        final = _largest_within(check, symbol, current, price, state) if getattr(check, "resize", False) else 0
        action: RiskAction = "halted" if isinstance(check, _HALTS) else "resized" if final else "refused"
        events.append(RiskEvent(date, symbol, check.name, value, float(getattr(check, "limit", float("nan"))),
                                action, current, final, reason))
        current = final
    return current, events
