"""The engine-agnostic strategy API: a frozen config, a plain class and the records it sees.

A strategy never imports an engine. Engines call its hooks through an explicit context
(:class:`Context`, below)::

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
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from algotrade.core.config import AnySizing
from algotrade.core.costs import EXACT, exact
from algotrade.core.errors import StrategyError
from algotrade.core.sizing import Entry, entry_size, method_for
from recipes.ch11_risk_sizing.r01_fixed_shares import fixed_shares

if TYPE_CHECKING:
    import numpy as np

    from algotrade.core.indicators import Indicator


class StrategyConfig(BaseModel):
    """Base of strategy configs: frozen, unknown parameters rejected, validated at construction."""

    model_config = ConfigDict(extra="forbid", frozen=True)


C = TypeVar("C", bound=StrategyConfig)

OrderType = Literal["market", "limit", "stop", "exit"]  # exit: a protective stop and/or take-profit (core/exits.py)
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


FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Bars:
    """Aligned bars for every symbol: one row per session, the same frame for every engine."""

    dates: tuple[dt.date, ...]
    arrays: Mapping[str, Mapping[str, np.ndarray]]  # symbol -> field -> float64 array

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.arrays)

    def __len__(self) -> int:
        return len(self.dates)


def shares_for_value(value: float | Decimal, price: float) -> int:
    """The one rounding rule: whole shares of ``value / price``, truncated toward zero.

    The division is exact, on the numbers as written (:func:`algotrade.core.costs.exact`): $1,010.00
    at $10.10 is 100 shares, where float division of the same numbers can give 99.99999999999999
    and so 99."""
    if price <= 0 or not math.isfinite(price):
        return 0
    return int(EXACT.divide(exact(value), exact(price)).to_integral_value(rounding=ROUND_DOWN))


#: ``shares * weight`` to the nearest whole share (ties to even), exactly: the fixed_shares recipe's rule
scaled_shares = fixed_shares


def schedule_hits(dates: Sequence[dt.date], rule: str) -> set[int]:
    hits: set[int] = set()
    for i, d in enumerate(dates):
        prev = dates[i - 1] if i else None
        nxt = dates[i + 1] if i + 1 < len(dates) else None
        if rule == "daily" or (rule == "month_start" and (prev is None or prev.month != d.month)) or (rule == "month_end" and (nxt is None or nxt.month != d.month)) or (rule == "week_start" and (prev is None or prev.isocalendar()[:2] != d.isocalendar()[:2])):
            hits.add(i)
    return hits


class HostState(Protocol):
    """What a :class:`Context` reads and calls on the host that runs its strategy
    (:class:`algotrade.core.host.StrategyHost`)."""

    evaluation_start: int | None

    @property
    def name(self) -> str: ...

    @property
    def log(self) -> logging.Logger: ...

    @property
    def bars(self) -> Bars: ...

    @property
    def i(self) -> int: ...

    @property
    def lists(self) -> Mapping[str, Mapping[str, list[float]]]: ...

    @property
    def ind(self) -> Mapping[str, Mapping[str, list[float]]]: ...

    @property
    def positions(self) -> Mapping[str, int]: ...

    @property
    def sizing(self) -> AnySizing: ...

    @property
    def open(self) -> list[Order]: ...

    @property
    def schedules(self) -> list[tuple[Schedule, set[int]]]: ...

    def account_cash(self) -> float: ...

    def account_value(self) -> Decimal: ...

    def new_order(self, symbol: str, quantity: int, limit: float | None, stop: float | None) -> Order | None: ...

    def cancel(self, order: Order) -> None: ...


class Context:
    """What a strategy sees and does on a bar. Never reaches past the current bar."""

    def __init__(self, host: HostState) -> None:
        self._host = host
        self.log = host.log
        self.symbols: tuple[str, ...] = host.bars.symbols

    @property
    def host(self) -> HostState:
        """The run's host (its bars, indicators, schedules and orders): for a meta-strategy that
        runs other strategies inside its own run (the composer's sub-books); a plain strategy
        needs only this context."""
        return self._host

    # --- time and data ---------------------------------------------------------------------
    @property
    def date(self) -> dt.date:
        return self._host.bars.dates[self._host.i]

    @property
    def bar_index(self) -> int:
        return self._host.i

    def bar(self, symbol: str) -> Bar:
        i = self._host.i
        a = self._host.bars.arrays[symbol]
        return Bar(
            self.date, float(a["open"][i]), float(a["high"][i]), float(a["low"][i]),
            float(a["close"][i]), float(a["volume"][i]),
        )

    def price(self, symbol: str, field: str = "close") -> float:
        return self._host.lists[symbol][field][self._host.i]

    def history(self, symbol: str, field: str, n: int) -> np.ndarray:
        """The last ``n`` values of a field up to and including the current bar (read-only)."""
        i = self._host.i
        view = self._host.bars.arrays[symbol][field][max(0, i + 1 - n) : i + 1]
        view.flags.writeable = False
        return view

    def indicator(self, symbol: str, name: str, ago: int = 0) -> float:
        """An indicator's value ``ago`` bars back (NaN before it is ready, or before the data)."""
        k = self._host.i - ago
        if ago < 0:
            raise StrategyError(
                "indicator() cannot look ahead (ago must be >= 0)",
                strategy=self._host.name, date=self.date, symbol=symbol,
            )
        return self._host.ind[symbol][name][k] if k >= 0 else math.nan

    # --- account ---------------------------------------------------------------------------
    def position(self, symbol: str) -> int:
        return self._host.positions.get(symbol, 0)

    @property
    def cash(self) -> float:
        return self._host.account_cash()

    @property
    def portfolio_value(self) -> float:
        """Cash plus positions at the current bar's close."""
        return float(self._host.account_value())

    # --- orders ----------------------------------------------------------------------------
    def order(
        self, symbol: str, quantity: int, limit: float | None = None, stop: float | None = None
    ) -> Order | None:
        """Order a signed number of shares (+ buy, - sell): market, limit or stop."""
        return self._host.new_order(symbol, int(quantity), limit, stop)

    def order_target_shares(
        self, symbol: str, shares: int, limit: float | None = None, stop: float | None = None
    ) -> Order | None:
        return self.order(symbol, int(shares) - self.position(symbol), limit, stop)

    def order_target_value(
        self, symbol: str, value: float | Decimal, limit: float | None = None, stop: float | None = None
    ) -> Order | None:
        """Hold ``value`` dollars of ``symbol`` (whole shares, truncated), priced at the current close."""
        shares = shares_for_value(value, self.price(symbol))
        return self.order_target_shares(symbol, shares, limit, stop)

    def order_target_percent(
        self, symbol: str, percent: float | Decimal, limit: float | None = None, stop: float | None = None
    ) -> Order | None:
        """Hold ``percent`` of portfolio value in ``symbol``, priced at the current close."""
        value = EXACT.multiply(exact(percent), self._host.account_value())
        return self.order_target_value(symbol, value, limit, stop)

    def enter(self, symbol: str, weight: float = 1.0) -> Order | None:
        """Enter long (``weight`` > 0) or short (< 0) with the run's sizing for ``symbol`` (:mod:`algotrade.core.sizing`),
        scaled by ``|weight|``: a short is the mirror of the long of the same weight."""
        a = self._host.lists[symbol]
        entry = Entry(a["high"], a["low"], a["close"], self._host.i, self._host.account_value())
        size = entry_size(method_for(self._host.sizing, symbol), entry, weight)
        return self.order_target_shares(symbol, size) if isinstance(size, int) else self.order_target_value(symbol, size)

    def exit(self, symbol: str) -> Order | None:
        return self.order_target_shares(symbol, 0)

    def cancel(self, order: Order) -> None:
        self._host.cancel(order)

    def has_open_orders(self, symbol: str) -> bool:
        """True while an order of the strategy's for ``symbol`` is pending (cheaper than
        open_orders). The protective exits the core keeps for ``stops:`` are not the strategy's."""
        return any(o.symbol == symbol and o.type != "exit" for o in self._host.open) if self._host.open else False

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self._host.open if (symbol is None or o.symbol == symbol) and o.type != "exit"]

    def mark_evaluation_start(self) -> None:
        """Results count from this bar on (e.g. the first out-of-sample bar of a walk-forward
        model): metrics.json is computed from here, the bars before are reported as warm-up."""
        if self._host.evaluation_start is None:
            self._host.evaluation_start = self._host.i

    def schedule(self, callback: Callable[[Context], None], rule: str = "month_start") -> None:
        """Call ``callback(ctx)`` on matching bars: daily, week_start, month_start, month_end."""
        if rule not in ("daily", "week_start", "month_start", "month_end"):
            raise StrategyError(
                f"unknown schedule rule {rule!r}; use daily, week_start, month_start or month_end",
                strategy=self._host.name, date=self.date, symbol="-",
            )
        self._host.schedules.append((Schedule(rule, callback), schedule_hits(self._host.bars.dates, rule)))  # type: ignore[arg-type]


__all__ = ["Bar", "Bars", "Context", "Fill", "Order", "Schedule", "Strategy", "StrategyConfig"]
