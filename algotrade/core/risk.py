"""Engine-neutral risk checks: composable objects between the strategy and any engine or broker.

Each check looks at one proposed order and the account as algotrade sees it, and returns the
reason to block it, or ``None``. The same objects guard backtests on every engine and live
trading. Orders that only reduce exposure are never blocked by the halts, so a halted strategy
can still get out.

Limits are compared in exact decimal arithmetic (:func:`algotrade.core.costs.exact`): an order sized
to exactly the limit (100 shares at $10.10 against a 50% limit on $2,020.00) is within it on
every engine, whatever the last bits of a float quotient would say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from algotrade.core.config import RiskConfig
from algotrade.core.costs import EXACT, exact

_UNBOUNDED = Decimal("Infinity")


@dataclass(frozen=True)
class RiskState:
    equity: float | Decimal
    peak_equity: float | Decimal
    day_start_equity: float | Decimal
    positions: Mapping[str, int]
    prices: Mapping[str, float]


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


class RiskCheck(Protocol):
    @property
    def name(self) -> str: ...

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None: ...


def _increases(position: int, quantity: int) -> bool:
    return abs(position + quantity) > abs(position)


@dataclass(frozen=True)
class LongOnly:
    name: str = "long_only"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        after = state.positions.get(symbol, 0) + quantity
        if after < 0:
            return f"long_only: would leave {after} shares of {symbol}"
        return None


@dataclass(frozen=True)
class MaxPositionPct:
    limit: float
    name: str = "max_position_pct"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        pos = state.positions.get(symbol, 0)
        weight = _ratio(_notional(pos + quantity, price), state.equity)
        if _increases(pos, quantity) and weight > exact(self.limit):
            return f"max_position_pct: {symbol} would be {weight:.1%} of equity (limit {self.limit:.1%})"
        return None


@dataclass(frozen=True)
class MaxGrossLeverage:
    limit: float
    name: str = "max_gross_leverage"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        pos = state.positions.get(symbol, 0)
        gross = _notional(pos + quantity, price)
        for s, q in state.positions.items():
            if s != symbol:
                gross = EXACT.add(gross, _notional(q, state.prices.get(s, 0.0)))
        lev = _ratio(gross, state.equity)
        if _increases(pos, quantity) and lev > exact(self.limit):
            return f"max_gross_leverage: gross exposure would be {lev:.2f}x equity (limit {self.limit:.2f}x)"
        return None


@dataclass(frozen=True)
class MaxOrderNotional:
    limit: float
    name: str = "max_order_notional"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        notional = _notional(quantity, price)
        if notional > exact(self.limit):
            return f"max_order_notional: order worth {notional:,.2f} exceeds {self.limit:,.2f}"
        return None


@dataclass(frozen=True)
class DrawdownHalt:
    limit: float
    name: str = "max_drawdown_pct"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        dd = _fall(state.equity, state.peak_equity)
        if dd >= exact(self.limit) and _increases(state.positions.get(symbol, 0), quantity):
            return f"max_drawdown_pct: halted, drawdown {dd:.1%} reached the limit {self.limit:.1%}"
        return None


@dataclass(frozen=True)
class DailyLossHalt:
    limit: float
    name: str = "daily_loss_limit_pct"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        loss = _fall(state.equity, state.day_start_equity)
        if loss >= exact(self.limit) and _increases(state.positions.get(symbol, 0), quantity):
            return f"daily_loss_limit_pct: halted for the day, down {loss:.1%} (limit {self.limit:.1%})"
        return None


def checks_from_config(cfg: RiskConfig) -> tuple[RiskCheck, ...]:
    """The checks a ``risk:`` section asks for, in a fixed order."""
    checks: list[RiskCheck] = []
    if cfg.long_only:
        checks.append(LongOnly())
    if cfg.max_order_notional is not None:
        checks.append(MaxOrderNotional(cfg.max_order_notional))
    if cfg.max_position_pct is not None:
        checks.append(MaxPositionPct(cfg.max_position_pct))
    if cfg.max_gross_leverage is not None:
        checks.append(MaxGrossLeverage(cfg.max_gross_leverage))
    if cfg.max_drawdown_pct is not None:
        checks.append(DrawdownHalt(cfg.max_drawdown_pct))
    if cfg.daily_loss_limit_pct is not None:
        checks.append(DailyLossHalt(cfg.daily_loss_limit_pct))
    return tuple(checks)


def first_block(
    checks: tuple[RiskCheck, ...], symbol: str, quantity: int, price: float, state: RiskState
) -> str | None:
    for check in checks:
        reason = check.check(symbol, quantity, price, state)
        if reason:
            return reason
    return None
