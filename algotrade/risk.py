"""Engine-neutral risk checks: composable objects between the strategy and any engine or broker.

Each check looks at one proposed order and the account as algotrade sees it, and returns the
reason to block it, or ``None``. The same objects guard backtests on every engine and live
trading. Orders that only reduce exposure are never blocked by the halts, so a halted strategy
can still get out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from algotrade.config import RiskConfig


@dataclass(frozen=True)
class RiskState:
    equity: float
    peak_equity: float
    day_start_equity: float
    positions: Mapping[str, int]
    prices: Mapping[str, float]


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
        weight = abs((pos + quantity) * price) / state.equity if state.equity > 0 else float("inf")
        if _increases(pos, quantity) and weight > self.limit:
            return f"max_position_pct: {symbol} would be {weight:.1%} of equity (limit {self.limit:.1%})"
        return None


@dataclass(frozen=True)
class MaxGrossLeverage:
    limit: float
    name: str = "max_gross_leverage"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        pos = state.positions.get(symbol, 0)
        gross = sum(
            abs(q * state.prices.get(s, 0.0)) for s, q in state.positions.items() if s != symbol
        ) + abs((pos + quantity) * price)
        lev = gross / state.equity if state.equity > 0 else float("inf")
        if _increases(pos, quantity) and lev > self.limit:
            return f"max_gross_leverage: gross exposure would be {lev:.2f}x equity (limit {self.limit:.2f}x)"
        return None


@dataclass(frozen=True)
class MaxOrderNotional:
    limit: float
    name: str = "max_order_notional"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        notional = abs(quantity * price)
        if notional > self.limit:
            return f"max_order_notional: order worth {notional:,.2f} exceeds {self.limit:,.2f}"
        return None


@dataclass(frozen=True)
class DrawdownHalt:
    limit: float
    name: str = "max_drawdown_pct"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        dd = 1 - state.equity / state.peak_equity if state.peak_equity > 0 else 0.0
        if dd >= self.limit and _increases(state.positions.get(symbol, 0), quantity):
            return f"max_drawdown_pct: halted, drawdown {dd:.1%} reached the limit {self.limit:.1%}"
        return None


@dataclass(frozen=True)
class DailyLossHalt:
    limit: float
    name: str = "daily_loss_limit_pct"

    def check(self, symbol: str, quantity: int, price: float, state: RiskState) -> str | None:
        base = state.day_start_equity
        loss = 1 - state.equity / base if base > 0 else 0.0
        if loss >= self.limit and _increases(state.positions.get(symbol, 0), quantity):
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
