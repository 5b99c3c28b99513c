"""A meta-strategy: several strategies on virtual sub-books, capital allotted by a bandit.

Each child is any registered strategy with its own validated parameters. It runs on a
:class:`SubBook`: the same bars, indicators and sizing as the run, but its own virtual cash and
positions, so it trades exactly as it would alone with the whole account. Every ``rebalance``
sessions the composer draws each child's capital share from the last ``window`` daily returns of
the sub-books (``recipes/ch14_meta_strategies/r02_bandit_allocation.py``: Thompson sampling on a
Normal-Inverse-Gamma posterior, or equal shares) or by the market's regime (``r03_regime_allocation``:
a walk-forward HMM, chapter 13, on one of the run's symbols labels every session from past closes
only; ``regime`` takes the shares of ``regime_shares``' row for today's regime, ``regime_thompson``
draws from the trailing returns of the sessions in today's regime), and fixes, per child, the real dollars it stands
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
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from algotrade.core.costs import EXACT, exact
from algotrade.core.errors import ConfigError
from algotrade.core.indicators import Indicator
from algotrade.core.regimes import HmmConfig
from algotrade.core.registry import resolve_strategy
from algotrade.core.strategy import Context, Strategy, StrategyConfig
from algotrade.core.subbook import SubBook
from recipes.ch13_regimes.r02_walk_forward_regimes import WalkForwardHMM
from recipes.ch14_meta_strategies.r02_bandit_allocation import allocate, trailing_returns
from recipes.ch14_meta_strategies.r03_regime_allocation import allocate_by_regime, check_table

REGIME_SELECTORS = ("regime", "regime_thompson")


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


class RegimeSpec(HmmConfig):
    symbol: str | None = Field(None, description="The market series the HMM reads (one of data.symbols; default: the first).")


def _unset(v: Any) -> bool:
    return v is None


class ComposerConfig(StrategyConfig):
    children: tuple[ChildSpec, ...] = Field(
        default_factory=lambda: tuple(ChildSpec.model_validate({"name": n}) for n in ("sma_cross", "rsi_reversion")),
        description="The strategies to allot capital among, two or more: [{name: sma_cross, params: {...}}, ...].")
    selector: Literal["thompson", "equal", "regime", "regime_thompson"] = Field(
        "thompson", description="thompson: shares from Thompson draws on trailing returns; equal: 1/K each; "
        "regime: regime_shares' row for today's regime; regime_thompson: Thompson draws on the same-regime sessions.")
    regime: RegimeSpec | None = Field(
        None, exclude_if=_unset, description="The regime selectors' walk-forward HMM: {symbol, n_states, train_bars, "
        "refit_every, ...} (defaults: the first symbol, 2 regimes).")
    regime_shares: tuple[tuple[float, ...], ...] | None = Field(
        None, exclude_if=_unset, description="selector regime: one row of shares per regime (calm first), a share "
        "per child, each row summing to 1: [[0.8, 0.2], [0.2, 0.8]].")
    seed: int = Field(7, description="Seed of the one random generator the Thompson draws come from.")
    rebalance: int = Field(21, ge=1, description="Sessions between allocation draws (the first is on the first session).")
    window: int = Field(63, ge=2, description="Trailing daily returns of each child's sub-book the posterior is built on.")
    draws: int = Field(1000, ge=1, description="Thompson draws per rebalance; a child's share is the fraction it wins.")

    @model_validator(mode="after")
    def _two_or_more(self) -> ComposerConfig:
        if len(self.children) < 2:
            raise ValueError(f"needs two or more children, got {len(self.children)}; "
                             "e.g. children: [{name: sma_cross}, {name: rsi_reversion}]")
        if self.selector == "regime":
            if self.regime_shares is None:
                raise ValueError("selector regime needs regime_shares: one row per regime (calm first), a share per "
                                 f"child; e.g. regime_shares: {[[1.0] + [0.0] * (len(self.children) - 1)] * 2}")
            try:
                check_table(self.regime_shares, self.hmm.n_states, len(self.children))
            except ValueError as exc:
                raise ValueError(f"regime_shares: {exc}") from None
        elif self.regime_shares is not None:
            raise ValueError(f"regime_shares is read by selector regime only (selector is {self.selector}); "
                             "drop it or set selector: regime")
        if self.regime is not None and self.selector not in REGIME_SELECTORS:
            raise ValueError(f"regime is read by the regime selectors only (selector is {self.selector}); "
                             "drop it or set selector: regime or regime_thompson")
        return self

    @property
    def hmm(self) -> RegimeSpec:
        return self.regime if self.regime is not None else RegimeSpec.model_validate({})

    def labels(self) -> list[str]:
        """A unique label per child: its name, with #2, #3 ... for repeats."""
        out: list[str] = []
        for child in self.children:
            n = sum(1 for c in out if c.split("#")[0] == child.name)
            out.append(child.name if n == 0 else f"{child.name}#{n + 1}")
        return out


class Composer(Strategy[ComposerConfig]):
    """Run several strategies on virtual sub-books; allot capital by Thompson sampling, equally or by the market's regime."""

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
        #: the regime selectors: the market series' labeller, each session's label, each draw's label
        self._labeller: WalkForwardHMM | None = None
        self._regime_symbol = ""
        self.regimes: list[int] = []
        self.allocation_regimes: list[int] = []

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
        if self.config.selector in REGIME_SELECTORS:
            symbol = self.config.hmm.symbol or ctx.symbols[0]
            if symbol not in ctx.symbols:
                raise ConfigError(f"strategy.params.regime.symbol: {symbol!r} is not one of data.symbols "
                                  f"({', '.join(ctx.symbols)}); name the market series the regime is read from")
            self._labeller, self._regime_symbol = self.config.hmm.labeller(), symbol
            self.regimes, self.allocation_regimes = [], []
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
        if self._labeller is not None:  # every session's label, from the closes up to it
            self.regimes.append(self._labeller.step(ctx.history(self._regime_symbol, "close",
                                                                self._labeller.vol_window + 1)))
        if (len(self._values) - 1) % self.config.rebalance == 0:
            self._rebalance(ctx)
        self._net_orders(ctx)

    def on_stop(self, ctx: Context) -> None:
        for book in self.books:
            book.call(book.strategy.on_stop)

    def _rebalance(self, ctx: Context) -> None:
        values = np.array(self._values, dtype=float)
        rewards = trailing_returns(values, len(values) - 1, self.config.window)
        cfg = self.config
        if cfg.selector == "regime" or cfg.selector == "regime_thompson":
            i = len(values) - 1
            shares = allocate_by_regime(rewards, self.regimes, i, cfg.selector, self._rng, cfg.draws, cfg.regime_shares)
            self.allocation_regimes.append(self.regimes[i])
        else:
            shares = allocate(rewards, cfg.selector, self._rng, cfg.draws)
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
        """allocations.csv: each rebalance's session and every child's capital share (and, with a
        regime selector, the session's regime: -1 before the HMM's first fit, 0 the calmest)."""
        if self._labeller is None:
            return {"allocations": (["date", *self.labels], [(str(d), *s) for d, s in self.allocations])}
        rows = [(str(d), *s, r) for (d, s), r in zip(self.allocations, self.allocation_regimes, strict=True)]
        return {"allocations": (["date", *self.labels, "regime"], rows)}
