"""Multi-asset momentum: each month hold the top-N symbols by trailing return, equally weighted.

The ranking is the cookbook's ingredient (recipe ``ch05_zipline.r03_pipeline_momentum_factor``,
:func:`momentum_weights`); this strategy feeds it TA-Lib rates of change and turns its weights
into orders on a schedule.
"""

from __future__ import annotations

import math

from pydantic import Field

from algotrade.core.indicators import ROC, Indicator
from algotrade.core.strategy import Context, Strategy, StrategyConfig
from recipes.ch05_zipline.r03_pipeline_momentum_factor import momentum_weights


class MomentumRebalanceConfig(StrategyConfig):
    lookback: int = Field(126, ge=2, description="Trailing return window in bars.")
    top_n: int = Field(2, ge=1, description="How many symbols to hold.")
    absolute: bool = Field(True, description="Hold only symbols whose trailing return is positive.")
    rule: str = Field("month_start", pattern="^(month_start|week_start|month_end)$",
                      description="When to rebalance: month_start, week_start or month_end.")


class MomentumRebalance(Strategy[MomentumRebalanceConfig]):
    """Rank by trailing return; hold the top N equally, rebalanced on a schedule."""

    config_class = MomentumRebalanceConfig

    def indicators(self) -> dict[str, Indicator]:
        return {"mom": ROC(self.config.lookback)}

    def on_start(self, ctx: Context) -> None:
        ctx.schedule(self.rebalance, self.config.rule)

    def rebalance(self, ctx: Context) -> None:
        scores = {s: ctx.indicator(s, "mom") for s in ctx.symbols}
        if all(math.isnan(v) for v in scores.values()) or any(ctx.has_open_orders(s) for s in ctx.symbols):
            return  # nothing ranked yet, or last rebalance's orders still pending
        weights = momentum_weights(scores, self.config.top_n, self.config.absolute)
        for symbol in ctx.symbols:
            if symbol in weights:
                ctx.enter(symbol, weights[symbol])
            elif ctx.position(symbol) != 0:
                ctx.exit(symbol)
