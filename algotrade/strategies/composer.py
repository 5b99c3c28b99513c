"""A meta-strategy: several strategies on virtual sub-books, capital allotted by a bandit.

Each child is any registered strategy with its own validated parameters. It runs on a
:class:`SubBook`: the same bars, indicators and sizing as the run, but its own virtual cash and
positions, so it trades exactly as it would alone with the whole account. Every ``rebalance``
sessions the composer draws each child's capital share from the last ``window`` daily returns of
the sub-books (``recipes/ch14_meta_strategies/r02_bandit_allocation.py``: Thompson sampling on a
Normal-Inverse-Gamma posterior, or equal shares), and fixes, per child, the real dollars it stands
for per virtual dollar. The real book then holds, per symbol, the sum over children of each child's
virtual position times its scale (truncated toward zero): the children's orders are netted per
symbol into one real order whenever that sum changes.

The virtual fill rule, the same on every engine and live: a market order fills at the close of the
bar it was placed on (the price the child decided on; no commission or slippage); a resting limit
or stop order fills on a later bar whose range reaches it, at its level or at a better open. A
virtual buy that would leave the sub-book's cash below zero is rejected, as the cash book does.
A child's schedules are handed to the run's host (which decides their bars, live too); a child's
``mark_evaluation_start`` stays its own: the composer's results count from the first bar.
The allocations are a result table (``result_tables``): ``allocations.csv`` and the report's plot.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from algotrade.core.config import AnySizing
from algotrade.core.costs import EXACT, exact
from algotrade.core.errors import AlgotradeError, ConfigError, StrategyError
from algotrade.core.indicators import Indicator
from algotrade.core.registry import resolve_strategy
from algotrade.core.strategy import (
    Bars,
    Context,
    Fill,
    HostState,
    Order,
    OrderType,
    Schedule,
    Strategy,
    StrategyConfig,
)
from recipes.ch14_meta_strategies.r02_bandit_allocation import allocate, trailing_returns


class ChildSpec(StrategyConfig):
    name: str = Field(description="A registered strategy (short alias or package.module:Class).")
    params: dict[str, Any] = Field(default_factory=dict, description="The child's own parameters.")

    @model_validator(mode="before")
    @classmethod
    def _child_params(cls, data: Any) -> Any:
        """Validate the child's parameters against its own config class; fill its defaults."""
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            return data
        name, params = data["name"], data.get("params") or {}
        try:
            config_cls = resolve_strategy(name).config_class
        except ConfigError as exc:
            raise ValueError(f"child strategy {name!r}: {exc}") from None
        except AttributeError:
            raise ValueError(f"child strategy {name!r} has no config_class; is it an algotrade Strategy?") from None
        try:
            cfg = config_cls.model_validate(params)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = "".join(f".{p}" for p in first["loc"])
            value = f" (got {first['input']!r})" if first["loc"] else ""
            message = first["msg"].removeprefix("Value error, ")
            raise ValueError(f"child {name!r} params{field}: {message}{value}; "
                             f"`algotrade strategies` lists {name}'s parameters") from None
        return {"name": name, "params": cfg.model_dump()}


class ComposerConfig(StrategyConfig):
    children: tuple[ChildSpec, ...] = Field(
        default_factory=lambda: tuple(ChildSpec.model_validate({"name": n}) for n in ("sma_cross", "rsi_reversion")),
        description="The strategies to allot capital among, two or more: [{name: sma_cross, params: {...}}, ...].")
    selector: Literal["thompson", "equal"] = Field(
        "thompson", description="thompson: shares from Thompson draws on trailing returns; equal: 1/K each.")
    seed: int = Field(7, description="Seed of the one random generator the Thompson draws come from.")
    rebalance: int = Field(21, ge=1, description="Sessions between allocation draws (the first is on the first session).")
    window: int = Field(63, ge=2, description="Trailing daily returns of each child's sub-book the posterior is built on.")
    draws: int = Field(1000, ge=1, description="Thompson draws per rebalance; a child's share is the fraction it wins.")

    @model_validator(mode="after")
    def _two_or_more(self) -> ComposerConfig:
        if len(self.children) < 2:
            raise ValueError(f"needs two or more children, got {len(self.children)}; "
                             "e.g. children: [{name: sma_cross}, {name: rsi_reversion}]")
        return self

    def labels(self) -> list[str]:
        """A unique label per child: its name, with #2, #3 ... for repeats."""
        out: list[str] = []
        for child in self.children:
            n = sum(1 for c in out if c.split("#")[0] == child.name)
            out.append(child.name if n == 0 else f"{child.name}#{n + 1}")
        return out


class _Prefixed(Mapping[str, list[float]]):
    """One symbol's indicators of one child, stored in the run's indicators under ``prefix``."""

    def __init__(self, values: Mapping[str, list[float]], prefix: str) -> None:
        self._values, self._prefix = values, prefix

    def __getitem__(self, name: str) -> list[float]:
        return self._values[self._prefix + name]

    def __iter__(self) -> Iterator[str]:
        return (k[len(self._prefix):] for k in self._values if k.startswith(self._prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _ChildIndicators(Mapping[str, Mapping[str, list[float]]]):
    def __init__(self, parent: HostState, prefix: str) -> None:
        self._parent, self._prefix = parent, prefix

    def __getitem__(self, symbol: str) -> Mapping[str, list[float]]:
        return _Prefixed(self._parent.ind[symbol], self._prefix)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parent.ind)

    def __len__(self) -> int:
        return len(self._parent.ind)


class SubBook:
    """A child's virtual account over the run's host: what its :class:`Context` reads and calls."""

    def __init__(self, parent: HostState, strategy: Strategy[Any], label: str, prefix: str, cash: Decimal) -> None:
        self.parent, self.strategy, self.label = parent, strategy, label
        self.name = f"{parent.name}/{label}"
        self.log = logging.getLogger(f"algotrade.strategy.{self.name}")
        self.ind = _ChildIndicators(parent, prefix)
        self.cash = cash
        self.positions: dict[str, int] = {}
        self.orders: list[Order] = []
        self.open: list[Order] = []
        self.fills: list[Fill] = []
        #: schedules the child asked for since the composer last moved them to the run's host
        #: (which evaluates them, live too, and calls them through :meth:`scheduled`)
        self.schedules: list[tuple[Schedule, set[int]]] = []
        self.evaluation_start: int | None = None
        self._rested_at = -1  # the bar resting orders were last filled against
        self.ctx = Context(self)

    # --- HostState: the run's bars, read through the parent (a live run appends to them) ---------
    @property
    def bars(self) -> Bars:
        return self.parent.bars

    @property
    def i(self) -> int:
        return self.parent.i

    @property
    def lists(self) -> Mapping[str, Mapping[str, list[float]]]:
        return self.parent.lists

    @property
    def sizing(self) -> AnySizing:
        return self.parent.sizing

    def account_cash(self) -> float:
        return float(self.cash)

    def account_value(self) -> Decimal:
        i = self.i
        with localcontext(EXACT):
            return self.cash + sum((Decimal(q) * exact(self.lists[s]["close"][i]) for s, q in self.positions.items() if q),
                                   Decimal(0))

    def new_order(self, symbol: str, quantity: int, limit: float | None, stop: float | None) -> Order | None:
        if symbol not in self.lists:
            raise StrategyError(f"unknown symbol {symbol!r}", strategy=self.name, date=self.bars.dates[self.i], symbol=symbol)
        if quantity == 0:
            return None
        kind: OrderType = "limit" if limit is not None else "stop" if stop is not None else "market"
        order = Order(len(self.orders) + 1, symbol, quantity, kind, self.bars.dates[self.i], limit, stop)
        self.orders.append(order)
        self.open.append(order)
        return order

    def cancel(self, order: Order) -> None:
        if order.is_open:
            order.status = "cancelled"
            order.reason = "cancelled by strategy"
            self.open.remove(order)

    # --- driven by the composer -------------------------------------------------------------------
    def call(self, hook: Any, *args: Any) -> None:
        """A hook of the child's, with its errors named after the child (and the bar)."""
        try:
            hook(self.ctx, *args)
        except AlgotradeError:
            raise
        except Exception as exc:
            date: dt.date | str = self.bars.dates[self.i] if 0 <= self.i < len(self.bars) else "start"
            raise StrategyError(f"{type(exc).__name__}: {exc}", strategy=self.name, date=date, symbol="-") from exc

    def fill_resting(self) -> None:
        """Fill the limit and stop orders of earlier bars that this bar reaches (once per bar)."""
        i = self.i
        if self._rested_at == i:
            return
        if self._rested_at < 0:  # the first bar: the sub-book starts with the account's value
            self.cash = self.parent.account_value()
        self._rested_at = i
        for order in [o for o in self.open if o.type != "market" and o.created < self.bars.dates[i]]:
            price = self._resting_price(order, i)
            if price is not None:
                self._fill(order, price)

    def scheduled(self, callback: Any) -> Any:
        """``callback`` as the run's host calls it on a scheduled bar: on the child's own context,
        after the bar's resting orders filled (the host runs schedules before on_bar)."""

        def run(_ctx: Context) -> None:
            self.fill_resting()
            self.call(callback)

        return run

    def run_bar(self) -> None:
        """Fill resting orders against this bar, run the child's on_bar, then fill its market
        orders (the scheduled callbacks' too) at this bar's close."""
        i = self.i
        self.fill_resting()
        self.call(self.strategy.on_bar)
        for order in [o for o in self.open if o.type == "market"]:
            self._fill(order, self.lists[order.symbol]["close"][i])

    def _resting_price(self, order: Order, i: int) -> float | None:
        a = self.lists[order.symbol]
        o, h, low = a["open"][i], a["high"][i], a["low"][i]
        buy = order.quantity > 0
        if order.type == "limit" and order.limit is not None:
            if buy and low <= order.limit:
                return min(o, order.limit)
            if not buy and h >= order.limit:
                return max(o, order.limit)
        if order.type == "stop" and order.stop is not None:
            if buy and h >= order.stop:
                return max(o, order.stop)
            if not buy and low <= order.stop:
                return min(o, order.stop)
        return None

    def _fill(self, order: Order, price: float) -> None:
        with localcontext(EXACT):
            cash = self.cash - Decimal(order.quantity) * exact(price)
        self.open.remove(order)
        if order.quantity > 0 and cash < 0:
            order.status, order.reason = "rejected", "not enough cash in the child's sub-book"
            return
        self.cash = cash
        date = self.bars.dates[self.i]
        order.status, order.filled, order.fill_price, order.fill_date = "filled", order.quantity, price, date
        self.positions[order.symbol] = self.positions.get(order.symbol, 0) + order.quantity
        fill = Fill(order.id, date, order.symbol, order.quantity, price, 0.0)
        self.fills.append(fill)
        self.call(self.strategy.on_fill, fill)


class Composer(Strategy[ComposerConfig]):
    """Run several strategies on virtual sub-books; allot capital by Thompson sampling (or equally)."""

    config_class = ComposerConfig

    def __init__(self, config: ComposerConfig | None = None) -> None:
        super().__init__(config)
        self.labels = self.config.labels()
        self.children: list[Strategy[Any]] = []
        for child in self.config.children:
            cls = resolve_strategy(child.name)
            self.children.append(cls(cls.config_class.model_validate(child.params)))
        self.books: list[SubBook] = []
        #: per rebalance: the session and each child's capital share
        self.allocations: list[tuple[dt.date, list[float]]] = []
        self._values: list[list[Decimal]] = []  # per session seen: each sub-book's value at the close
        self._scale: list[Decimal] = [Decimal(0)] * len(self.children)
        self._target: dict[str, int] = {}
        self._rng = np.random.default_rng(self.config.seed)

    def _prefix(self, k: int) -> str:
        return f"{self.labels[k]}."

    def indicators(self) -> dict[str, Indicator]:
        """Every child's indicators, each under its label, so the run computes them once."""
        return {self._prefix(k) + name: spec for k, child in enumerate(self.children)
                for name, spec in child.indicators().items()}

    def on_start(self, ctx: Context) -> None:
        host = ctx.host  # the run's host: the sub-books read its bars and indicators
        # each sub-book starts with the account's value at the first bar it trades (a live account
        # may not be known yet at the start): a child trades as it would alone with the whole account
        self.books = [SubBook(host, child, self.labels[k], self._prefix(k), Decimal(0))
                      for k, child in enumerate(self.children)]
        for book in self.books:
            book.call(book.strategy.on_start)
        self._forward_schedules(ctx)

    def _forward_schedules(self, ctx: Context) -> None:
        """Hand the schedules children asked for to the run's host, which decides their bars (a
        live run re-decides them as sessions arrive) and calls them before this on_bar."""
        for book in self.books:
            while book.schedules:
                sched, _hits = book.schedules.pop(0)
                ctx.schedule(book.scheduled(sched.callback), sched.rule)

    def on_bar(self, ctx: Context) -> None:
        for book in self.books:
            book.run_bar()
        self._forward_schedules(ctx)
        self._values.append([book.account_value() for book in self.books])
        if (len(self._values) - 1) % self.config.rebalance == 0:
            self._rebalance(ctx)
        self._net_orders(ctx)

    def on_stop(self, ctx: Context) -> None:
        for book in self.books:
            book.call(book.strategy.on_stop)

    def _rebalance(self, ctx: Context) -> None:
        values = np.array(self._values, dtype=float)
        rewards = trailing_returns(values, len(values) - 1, self.config.window)
        shares = allocate(rewards, self.config.selector, self._rng, self.config.draws)
        real = exact(ctx.portfolio_value)
        with localcontext(EXACT):
            self._scale = [exact(float(s)) * real / v if v > 0 else Decimal(0)
                           for s, v in zip(shares, self._values[-1], strict=True)]
        self.allocations.append((ctx.date, [float(s) for s in shares]))

    def _net_orders(self, ctx: Context) -> None:
        """Send one real order per symbol whose netted target changed (sells first: the host sorts)."""
        for symbol in ctx.symbols:
            with localcontext(EXACT):
                total = sum((Decimal(b.positions.get(symbol, 0)) * s for b, s in zip(self.books, self._scale, strict=True)),
                            Decimal(0))
            target = int(total.to_integral_value(rounding=ROUND_DOWN))
            if target != self._target.get(symbol, 0) and not ctx.has_open_orders(symbol):
                self._target[symbol] = target
                ctx.order_target_shares(symbol, target)

    def result_tables(self) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        """allocations.csv: each rebalance's session and every child's capital share."""
        return {"allocations": (["date", *self.labels], [(str(d), *s) for d, s in self.allocations])}
