"""Portfolio-optimiser rebalancing: on a schedule, hold the weights PyPortfolioOpt finds.

The weights come from the cookbook's ``target_weights`` (recipes/ch07_portfolio_opt, r03), fed
with each symbol's last ``lookback`` closes from ``ctx.history``; the strategy only wraps that
function. The whole portfolio is scaled by the experiment's sizing: with
``sizing: {target_percent: p}`` a symbol of weight ``w`` is targeted at ``p * w`` of portfolio
value (``ctx.enter(symbol, w)``), so ``p`` is the gross exposure and ``1 - p`` stays in cash
for costs and price moves until the fill. (With ``fixed_shares: n``, ``enter`` holds
``round(n * w)`` shares of each symbol.) Whole shares are truncated, and position-reducing orders
are sent first, by the host, as for every strategy.

A rebalance is skipped, and the positions kept, when the estimates cannot be made: a symbol whose
close did not move over the lookback (its variance is zero, so correlations are undefined), or an
optimiser that finds no solution on the estimates.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pypfopt.exceptions import OptimizationError

from algotrade.core.errors import ConfigError
from algotrade.core.strategy import Context, Strategy, StrategyConfig
from recipes.ch07_portfolio_opt.r01_mu_sigma_estimates import closes_frame
from recipes.ch07_portfolio_opt.r02_efficient_frontier_to_orders import check_bounds
from recipes.ch07_portfolio_opt.r03_hrp_allocation import target_weights


class PfoptRebalanceConfig(StrategyConfig):
    lookback: int = Field(126, ge=20, description="Closes per symbol the estimates use, in bars.")
    method: Literal["max_sharpe", "min_volatility", "hrp"] = Field(
        "max_sharpe", description="Optimiser: max_sharpe, min_volatility or hrp (hierarchical risk parity)."
    )
    weight_bounds: tuple[float, float] = Field(
        (0.0, 1.0), description="Lowest and highest weight of one symbol (max_sharpe, min_volatility)."
    )
    covariance: Literal["sample", "ledoit_wolf"] = Field(
        "ledoit_wolf", description="Covariance estimate: sample or ledoit_wolf (shrunk)."
    )
    gamma: float = Field(0.0, ge=0, description="L2 regularisation towards equal weights (0: none).")
    risk_free_rate: float = Field(0.0, description="Annual risk-free rate for max_sharpe.")
    rule: Literal["month_start", "week_start"] = Field(
        "month_start", description="When to rebalance: month_start or week_start."
    )

    @model_validator(mode="after")
    def _check(self) -> PfoptRebalanceConfig:
        low, high = self.weight_bounds
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"weight_bounds {list(self.weight_bounds)}: need 0 <= low < high <= 1 (long only)")
        if self.method == "hrp" and (self.weight_bounds != (0.0, 1.0) or self.gamma != 0.0):
            raise ValueError(
                "weight_bounds and gamma apply to max_sharpe and min_volatility; hrp has neither: "
                "remove them or choose another method"
            )
        return self


class PfoptRebalance(Strategy[PfoptRebalanceConfig]):
    """Re-estimate, re-optimise and rebalance to the optimiser's weights on a schedule."""

    config_class = PfoptRebalanceConfig

    def on_start(self, ctx: Context) -> None:
        n = len(ctx.symbols)
        if n < 2:
            raise ConfigError(
                f"strategy pfopt_rebalance: data.symbols has {n} symbol ({', '.join(ctx.symbols)}); "
                "an optimiser needs at least 2 to weigh against each other: add symbols"
            )
        if self.config.method != "hrp":
            try:
                check_bounds(self.config.weight_bounds, n)
            except ValueError as exc:
                raise ConfigError(f"strategy.params.weight_bounds: {exc}") from None
        ctx.schedule(self.rebalance, self.config.rule)

    def weights(self, ctx: Context) -> dict[str, float] | None:
        """Target weights from the last ``lookback`` closes, or None until there are that many."""
        n = self.config.lookback
        closes = {s: ctx.history(s, "close", n) for s in ctx.symbols}
        if any(len(c) < n for c in closes.values()):
            return None
        frame = closes_frame(closes)
        flat = [s for s in frame.columns if frame[s].nunique() == 1]
        if flat:
            ctx.log.info("%s: %s did not move over the last %d closes; rebalance skipped", ctx.date, ", ".join(flat), n)
            return None
        c = self.config
        try:
            return target_weights(frame, c.method, c.weight_bounds, c.covariance, c.gamma, c.risk_free_rate)
        except OptimizationError as exc:
            ctx.log.warning("%s: the optimiser found no weights (%s); rebalance skipped", ctx.date, exc)
            return None

    def rebalance(self, ctx: Context) -> None:
        if any(ctx.has_open_orders(s) for s in ctx.symbols):
            return
        weights = self.weights(ctx)
        if weights is None:
            return
        for symbol in ctx.symbols:
            ctx.enter(symbol, weights[symbol])
