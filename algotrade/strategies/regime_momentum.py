"""Long/flat momentum, traded only while a walk-forward Gaussian HMM says the market is calm.

The ingredients are the chapter 13 recipes, imported rather than copied: the HMM, its features
and its calm-first ordering (``r01``), the walk-forward labeller (``r02``: :class:`WalkForwardHMM`)
and the rule (``r03``: :func:`regime_momentum_position`).

Causality, by construction. Each symbol has its own :class:`WalkForwardHMM`, stepped once per bar
with the closes up to that bar. It refits every ``refit_every`` bars on the ``train_bars``
observations before the refit bar (bars seen so far, never the current one), and labels each bar
with the forward-filtered probabilities of the model fitted before it (the position follows the
probability of a tradable regime, with optional hysteresis: ``enter_prob`` / ``exit_prob``); the refit bars depend only
on the bar's index. So the label of bar ``k``, and every order placed on it, is a function of the
bars up to ``k`` alone, the same floats in the same order on every engine. Nothing trades before
the first labelled bar (``vol_window + train_bars``): results count from there.

Cost: the HMM fits. Each costs a few tens of milliseconds for ``n_iter`` EM iterations on
``train_bars`` rows; between refits a bar costs one filter step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import Field, model_validator

from algotrade.core.regimes import HmmConfig
from algotrade.core.strategy import Context, Strategy
from recipes.ch13_regimes.r02_walk_forward_regimes import WalkForwardHMM
from recipes.ch13_regimes.r03_regime_filtered_momentum import (
    regime_momentum_position,
    tradable_probability,
    trailing_return,
)


class RegimeMomentumConfig(HmmConfig):
    lookback: int = Field(126, ge=1, le=1000, description="Momentum: long while the return over this many bars is positive.")
    max_regime: int = Field(0, ge=0, description="Tradable regimes: 0 .. this (0: the calm regime only).")
    enter_prob: float = Field(0.5, gt=0, lt=1, description="Enter when the filtered probability of a tradable regime is above this.")
    exit_prob: float | None = Field(
        None, gt=0, lt=1, description="Exit when that probability falls below this (default: enter_prob); lower: hysteresis."
    )

    @model_validator(mode="after")
    def _check(self) -> RegimeMomentumConfig:
        if self.max_regime >= self.n_states:
            raise ValueError(
                f"max_regime ({self.max_regime}) must be below n_states ({self.n_states}): regimes are 0 .. "
                f"{self.n_states - 1}; use max_regime: {self.n_states - 2} or fewer to stand aside in the most turbulent"
            )
        if self.exit_prob is not None and self.exit_prob > self.enter_prob:
            raise ValueError(
                f"exit_prob ({self.exit_prob}) is above enter_prob ({self.enter_prob}); "
                f"it must be at most the entry threshold, e.g. exit_prob: {round(1 - self.enter_prob, 6)}"
            )
        return self


@dataclass(frozen=True)
class RegimeLabel:
    bar: int
    date: dt.date
    label: int  # the most probable regime (0: the calmest)
    tradable: float  # filtered probability of the regimes 0 .. max_regime


class RegimeMomentum(Strategy[RegimeMomentumConfig]):
    """Long while the trailing return is positive and the walk-forward HMM says the market is calm."""

    config_class = RegimeMomentumConfig

    def __init__(self, config: RegimeMomentumConfig | None = None) -> None:
        super().__init__(config)
        self._reset()

    def _reset(self) -> None:
        self.labellers: dict[str, WalkForwardHMM] = {}
        self.labels: dict[str, list[RegimeLabel]] = {}

    def on_start(self, ctx: Context) -> None:
        self._reset()
        for symbol in ctx.symbols:
            self.labellers[symbol] = self.config.labeller()
            self.labels[symbol] = []

    def on_bar(self, ctx: Context) -> None:
        cfg = self.config
        k = ctx.bar_index
        if k >= cfg.first_label_bar:
            ctx.mark_evaluation_start()  # the first labelled bar: results count from here
        weight = 1.0 / len(ctx.symbols)
        for symbol in ctx.symbols:
            wf = self.labellers[symbol]
            label = wf.step(ctx.history(symbol, "close", cfg.vol_window + 1))
            if label < 0:
                continue
            tradable = tradable_probability(wf.probs[-1], cfg.max_regime)
            self.labels[symbol].append(RegimeLabel(k, ctx.date, label, tradable))
            if ctx.has_open_orders(symbol):
                continue
            momentum = trailing_return(ctx.history(symbol, "close", cfg.lookback + 1), cfg.lookback)
            held = ctx.position(symbol) > 0
            target = regime_momentum_position(int(held), tradable, momentum, cfg.enter_prob, cfg.exit_prob)
            if target and not held:
                ctx.enter(symbol, weight)
            elif held and not target:
                ctx.exit(symbol)

    def on_stop(self, ctx: Context) -> None:
        for symbol, labels in self.labels.items():
            if not labels:
                continue
            wf = self.labellers[symbol]
            calm = sum(1 for r in labels if r.tradable > self.config.enter_prob)
            ctx.log.info("%s: %d fits, labelled from %s (bar %d), tradable regime likelier than %.2f on %.0f%% of %d bars",
                         symbol, len(wf.fits), labels[0].date, labels[0].bar, self.config.enter_prob, 100 * calm / len(labels),
                         len(labels))
