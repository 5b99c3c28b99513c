"""The engine-agnostic strategy API: a frozen config, a plain class and the records it sees.

A strategy never imports an engine. Engines call its hooks through an explicit context
(:class:`algotrade.core.host.Context`)::

    class SmaCrossConfig(StrategyConfig):
        fast: int = 10
        slow: int = 30

    class SmaCross(Strategy[SmaCrossConfig]):
        config_class = SmaCrossConfig

        def indicators(self):
            return {"fast": SMA(self.config.fast), "slow": SMA(self.config.slow)}

        def on_bar(self, ctx):
            ...
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from algotrade.core.host import Context
    from algotrade.core.indicators import Indicator


class StrategyConfig(BaseModel):
    """Base of strategy configs: frozen, unknown parameters rejected, validated at construction."""

    model_config = ConfigDict(extra="forbid", frozen=True)


C = TypeVar("C", bound=StrategyConfig)

OrderType = Literal["market", "limit", "stop"]
OrderStatus = Literal["pending", "filled", "partial", "cancelled", "rejected", "blocked", "expired"]


@dataclass
class Order:
    """An order as algotrade tracks it, whatever engine carries it."""

    id: int
    symbol: str
    quantity: int  # signed: + buy, - sell
    type: OrderType
    created: dt.date
    limit: float | None = None
    stop: float | None = None
    status: OrderStatus = "pending"
    reason: str = ""
    filled: int = 0
    fill_price: float | None = None
    fill_date: dt.date | None = None
    commission: float = 0.0
    tag: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in ("pending", "partial")


@dataclass(frozen=True)
class Fill:
    order_id: int
    date: dt.date
    symbol: str
    quantity: int  # signed
    price: float
    commission: float


@dataclass(frozen=True)
class Bar:
    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: float


class Strategy(Generic[C]):
    """Base class: override the hooks you need. All hooks receive the context explicitly."""

    config_class: ClassVar[type[StrategyConfig]] = StrategyConfig
    #: longest look-back, in bars, before the first decision can be made (from indicators)
    description: ClassVar[str] = ""

    def __init__(self, config: C | None = None) -> None:
        self.config: C = config if config is not None else self.config_class()  # type: ignore[assignment]

    def indicators(self) -> dict[str, Indicator]:
        """Indicators to compute once per symbol before the run: name -> spec."""
        return {}

    def on_start(self, ctx: Context) -> None:
        """Called once before the first bar; schedule callbacks here."""

    def on_bar(self, ctx: Context) -> None:
        """Called after each bar closes."""

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """Called for each fill, before the next on_bar."""

    def on_stop(self, ctx: Context) -> None:
        """Called once after the last bar."""


@dataclass
class Schedule:
    rule: Literal["daily", "week_start", "month_start", "month_end"]
    callback: object = field(repr=False)


__all__ = ["Bar", "Fill", "Order", "Schedule", "Strategy", "StrategyConfig"]
