"""Pairs trading: long one leg and short the other when their spread is stretched, out when it comes back.

The ingredients are the chapter 12 recipes, imported rather than copied: the hedge ratio by a
Kalman filter (``r05``: :class:`KalmanHedge`) or by rolling OLS (``r04``: :func:`rolling_hedge`),
the spread's z-score and the entry/exit/stop rules (``r06``: :func:`zscore_last`,
:func:`next_position`), and, with ``select: true``, the pairs themselves (``r07``:
:func:`select_pairs`, Engle-Granger tests of every pair of ``data.symbols`` with a
multiple-testing correction).

Per pair ``[Y, X]`` and bar ``k``: the hedge line ``(beta, alpha)`` from the closes up to ``k``
(the filter stepped with bar ``k``; or the least-squares fit on bars ``k - window + 1 .. k``), the
spread ``s = Y - alpha - beta * X``, its z-score over the last ``z_window`` spreads, and r06's
position: ``+1`` long the spread (long Y, short X), ``-1`` short it (short Y, long X), ``0`` flat.
Spreads count from the bar the hedge is ready (rolling OLS: its first full window; Kalman: after
``warmup`` bars, while the wide prior settles). Selecting (``select: true``, or no ``pairs``), the
pairs are chosen on the bar ``formation_bars - 1`` from the closes of bars ``0 .. formation_bars - 1`` (greedily by
corrected p-value, each symbol in one pair at most); their hedges are then replayed over those
past bars, so a selected pair's state is the one it would have had if configured, and nothing
trades before bar ``formation_bars``. Every estimate, z-score and order on bar ``k`` is thus a
function of bars ``<= k`` alone: causal by construction.

Orders: both legs on the same bar, integer shares. Entering, the Y leg is ``capital / pairs`` of the
portfolio value (whole shares of Y at the close) and the X leg is ``beta`` times as many shares
(``neutral: beta``: the spread itself, the hedge the z-score measures) or the same dollar value
(``neutral: dollar``); no entry while ``beta <= 0``. An exit closes both legs. A book that lost a leg
(e.g. a short refused by ``broker.short_margin``) is closed on the next bar. No order for a pair
while one of its legs has an order pending. The sale is placed before the buy, so both engines
fill it first and its proceeds count for the buy's cash check alike.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from algotrade.core.errors import ConfigError
from algotrade.core.strategy import Context, Strategy, StrategyConfig
from recipes.ch12_pairs_trading.r04_rolling_ols import rolling_hedge
from recipes.ch12_pairs_trading.r05_kalman_hedge import KalmanHedge
from recipes.ch12_pairs_trading.r06_zscore_rules import check_bands, next_position, zscore_last
from recipes.ch12_pairs_trading.r07_pair_selection import select_pairs


class PairsConfig(StrategyConfig):
    pairs: tuple[tuple[str, str], ...] = Field(
        (), description="The pairs to trade, [[Y, X], ...]: Y is regressed on X (each symbol in one pair at most)."
    )
    select: bool | None = Field(
        None, description="Choose the pairs from data.symbols on the formation window (r07); unset: when pairs is empty."
    )
    formation_bars: int = Field(252, ge=50, le=5000, description="select: the first bars the selection tests; trading starts after them.")
    correction: Literal["bonferroni", "fdr_bh"] = Field("bonferroni", description="select: the multiple-testing correction.")
    level: float = Field(0.01, gt=0, lt=1, description="select: keep pairs whose corrected p-value is at most this.")
    max_pairs: int = Field(3, ge=1, le=50, description="select: at most this many pairs, lowest corrected p-value first.")
    hedge: Literal["kalman", "rolling_ols"] = Field("kalman", description="Hedge ratio: a Kalman filter (r05) or rolling OLS (r04).")
    window: int = Field(60, ge=3, le=5000, description="rolling_ols: bars in each least-squares fit.")
    delta: float = Field(1e-7, gt=0, lt=1, description="kalman: how fast the hedge line may drift (Q = delta / (1 - delta)).")
    obs_var: float = Field(1.0, gt=0, description="kalman: the observation noise R, in squared dollars.")
    warmup: int = Field(60, ge=1, le=5000, description="kalman: bars the filter runs before its spreads count.")
    z_window: int = Field(20, ge=2, le=1000, description="Spreads in the z-score's mean and standard deviation.")
    entry_z: float = Field(2.0, description="Open when |z| reaches this (short the spread above, long it below).")
    exit_z: float = Field(0.5, description="Close when the spread is back inside this.")
    stop_z: float = Field(4.0, description="Stop out beyond this on the losing side; no re-entry until |z| < entry_z.")
    capital: float = Field(0.5, gt=0, le=2, description="Fraction of portfolio value for the Y legs, shared equally by the pairs.")
    neutral: Literal["beta", "dollar"] = Field("beta", description="X leg: beta x the Y shares (beta) or the Y leg's dollar value (dollar).")

    @field_validator("pairs", mode="before")
    @classmethod
    def _pair_shape(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            for i, pair in enumerate(value):
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise ValueError(f"pairs[{i}] is {pair!r}; each pair is two symbols [Y, X], e.g. pairs: [[Y, X]]")
        return value

    @model_validator(mode="after")
    def _check(self) -> PairsConfig:
        check_bands(self.entry_z, self.exit_z, self.stop_z)
        if self.select is not None and self.select == bool(self.pairs):
            raise ValueError(
                f"give either pairs or select: true (got pairs {[list(p) for p in self.pairs]} and select: "
                f"{str(self.select).lower()}); e.g. pairs: [[Y, X]], or select: true to choose them from data.symbols"
            )
        seen: dict[str, int] = {}
        for i, (y, x) in enumerate(self.pairs):
            if y == x:
                raise ValueError(f"pairs[{i}] is [{y}, {x}]: a pair needs two different symbols")
            for symbol in (y, x):
                if symbol in seen:
                    raise ValueError(f"pairs[{i}]: {symbol!r} is already in pairs[{seen[symbol]}]; "
                                     "give each symbol one pair (their positions would mix)")
                seen[symbol] = i
        return self

    @property
    def ready_bar(self) -> int:
        """The first bar whose hedge estimate counts: its spread enters the z-score from there."""
        return self.window - 1 if self.hedge == "rolling_ols" else self.warmup - 1

    @property
    def first_trade_bar(self) -> int:
        """The first bar that can order: the first z-score (and, with select, the first bar after formation)."""
        first_z = self.ready_bar + self.z_window - 1
        return max(first_z, self.formation_bars) if self.selecting else first_z

    @property
    def selecting(self) -> bool:
        """Whether the pairs are chosen from the data (select: true, or no pairs given)."""
        return not self.pairs if self.select is None else self.select


@dataclass(frozen=True)
class PairBar:
    bar: int
    date: dt.date
    beta: float  # NaN until the hedge is ready
    alpha: float
    z: float  # NaN until z_window spreads exist (or when they are flat)
    target: int  # r06's position after this bar: +1 long the spread, -1 short it, 0 flat


class _Pair:
    """One pair's hedge, spreads and r06 state, stepped once per bar with the closes up to it."""

    def __init__(self, y: str, x: str, cfg: PairsConfig) -> None:
        self.y, self.x, self.cfg = y, x, cfg
        self.kalman = KalmanHedge(cfg.delta, cfg.obs_var) if cfg.hedge == "kalman" else None
        self.spreads: list[float] = []
        self.target, self.stopped = 0, False
        self.rows: list[PairBar] = []

    def step(self, bar: int, date: dt.date, ys: np.ndarray, xs: np.ndarray) -> PairBar:
        """Bar ``bar``, given the closes up to it (the last element is bar ``bar``'s)."""
        cfg = self.cfg
        if self.kalman is not None:
            beta, alpha = self.kalman.update(float(ys[-1]), float(xs[-1]))
        elif len(ys) >= cfg.window:
            b, a = rolling_hedge(ys[-cfg.window:], xs[-cfg.window:], cfg.window)
            beta, alpha = float(b[-1]), float(a[-1])
        else:
            beta = alpha = math.nan
        z = math.nan
        if bar >= cfg.ready_bar:
            self.spreads.append(float(ys[-1]) - alpha - beta * float(xs[-1]))
            z = zscore_last(self.spreads[-cfg.z_window:], cfg.z_window)
        self.target, self.stopped = next_position(self.target, self.stopped, z, cfg.entry_z, cfg.exit_z, cfg.stop_z)
        row = PairBar(bar, date, beta if bar >= cfg.ready_bar else math.nan, alpha if bar >= cfg.ready_bar else math.nan,
                      z, self.target)
        self.rows.append(row)
        return row


def choose_pairs(closes: pd.DataFrame, cfg: PairsConfig) -> list[tuple[str, str, float]]:
    """r07's corrected selection on ``closes``: ``(y, x, corrected p)`` kept, best first, each symbol once."""
    table = select_pairs(closes, cfg.level)
    kept = table[table[cfg.correction]].sort_values([f"{cfg.correction}_p", "y", "x"], kind="stable")
    chosen: list[tuple[str, str, float]] = []
    used: set[str] = set()
    for y, x, p in zip(kept["y"], kept["x"], kept[f"{cfg.correction}_p"], strict=True):
        if y in used or x in used or len(chosen) >= cfg.max_pairs:
            continue
        chosen.append((str(y), str(x), float(p)))
        used.update((y, x))
    return chosen


def _order_legs(ctx: Context, targets: dict[str, int]) -> None:
    """Order both legs to their target shares on this bar, the sale first: every engine then fills
    the sale before the buy it may pay for (Zipline fills sales first whatever the order placed)."""
    for symbol in sorted(targets, key=lambda s: targets[s] - ctx.position(s) > 0):
        ctx.order_target_shares(symbol, targets[symbol])


class Pairs(Strategy[PairsConfig]):
    """Trade the z-score of each pair's hedged spread: both legs together, in and out (r04-r07)."""

    config_class = PairsConfig

    def __init__(self, config: PairsConfig | None = None) -> None:
        super().__init__(config)
        self.pairs: list[_Pair] = []
        self.selected: list[tuple[str, str, float]] = []

    def on_start(self, ctx: Context) -> None:
        cfg = self.config
        self.selected = []
        missing = sorted({s for p in cfg.pairs for s in p} - set(ctx.symbols))
        if missing:
            close = [s for s in ctx.symbols if s.casefold() == missing[0].casefold()]
            close = close or difflib.get_close_matches(missing[0], ctx.symbols, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"strategy.params.pairs: {missing[0]!r} is not in data.symbols "
                              f"({', '.join(ctx.symbols)}); {hint}pairs name symbols as data.symbols spells them")
        if cfg.selecting and len(ctx.symbols) < 2:
            raise ConfigError(f"strategy.params.select: data.symbols has {len(ctx.symbols)} symbol; "
                              "selection needs at least 2 to pair: add symbols")
        self.pairs = [_Pair(y, x, cfg) for y, x in cfg.pairs]

    def _select(self, ctx: Context) -> None:
        k = ctx.bar_index
        closes = pd.DataFrame({s: ctx.history(s, "close", k + 1) for s in ctx.symbols})
        self.selected = choose_pairs(closes, self.config)
        self.pairs = [_Pair(y, x, self.config) for y, x, _ in self.selected]
        ctx.log.info("pairs selected on bars 0..%d (%s <= %g): %s", k, self.config.correction, self.config.level,
                     ", ".join(f"{y}~{x} (p {p:.2g})" for y, x, p in self.selected) or "none")
        dates = ctx.host.bars.dates
        for pair in self.pairs:  # replay the formation bars: the state a configured pair would have
            ys, xs = closes[pair.y].to_numpy(), closes[pair.x].to_numpy()
            for j in range(k):
                pair.step(j, dates[j], ys[: j + 1], xs[: j + 1])

    def on_bar(self, ctx: Context) -> None:
        cfg = self.config
        k = ctx.bar_index
        if cfg.selecting and k == cfg.formation_bars - 1:
            self._select(ctx)
        if k >= cfg.first_trade_bar:
            ctx.mark_evaluation_start()
        n = cfg.window if cfg.hedge == "rolling_ols" else 1
        for pair in self.pairs:
            pair.step(k, ctx.date, ctx.history(pair.y, "close", n), ctx.history(pair.x, "close", n))
            if k >= cfg.first_trade_bar and not (ctx.has_open_orders(pair.y) or ctx.has_open_orders(pair.x)):
                self._trade(ctx, pair)

    def _trade(self, ctx: Context, pair: _Pair) -> None:
        held_y, held_x = ctx.position(pair.y), ctx.position(pair.x)
        book = 0 if held_y == held_x == 0 else 1 if held_y > 0 > held_x else -1 if held_y < 0 < held_x else None
        if book is None or (book != 0 and book != pair.target):  # a lost leg, or the rules say out
            _order_legs(ctx, {pair.y: 0, pair.x: 0})
            return
        if book != 0 or pair.target == 0:
            return
        row = pair.rows[-1]
        py, px = ctx.price(pair.y), ctx.price(pair.x)
        shares_y = int(self.config.capital / len(self.pairs) * ctx.portfolio_value / py)
        shares_x = round(row.beta * shares_y) if self.config.neutral == "beta" else int(shares_y * py / px)
        if not row.beta > 0 or shares_y <= 0 or shares_x <= 0:
            return  # no hedge to put on: a non-positive beta, or too little money for a share
        _order_legs(ctx, {pair.y: pair.target * shares_y, pair.x: -pair.target * shares_x})

    def on_stop(self, ctx: Context) -> None:
        for pair in self.pairs:
            trades = sum(1 for a, b in zip(pair.rows, pair.rows[1:], strict=False) if b.target and b.target != a.target)
            ctx.log.info("%s~%s (%s): last beta %.4f, %d entries signalled", pair.y, pair.x, self.config.hedge,
                         pair.rows[-1].beta if pair.rows else math.nan, trades)
