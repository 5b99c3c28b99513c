"""Crossover of a fast and a slow simple moving average of the close: long-only, or long/short
with ``long_only: false`` (algotrade/core/sides.py).

The decision rule is the cookbook's: ``recipes/ch03_vectorized/r01_ma_crossover_signals.py``
(:func:`crossover`), called here on each bar's floats.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from algotrade.core.indicators import SMA, Indicator
from algotrade.core.sides import LONG_ONLY, follow
from algotrade.core.strategy import Context, Strategy, StrategyConfig
from recipes.ch03_vectorized.r01_ma_crossover_signals import crossover


class SmaCrossConfig(StrategyConfig):
    fast: int = Field(10, ge=1, description="Fast SMA period; 1 means the close itself.")
    slow: int = Field(30, ge=2, description="Slow SMA period.")
    long_only: bool = LONG_ONLY

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossConfig:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow}); e.g. fast: 10, slow: 30")
        return self


class SmaCross(Strategy[SmaCrossConfig]):
    """Buy when the fast SMA crosses above the slow one; sell when it crosses back below."""

    config_class = SmaCrossConfig

    def indicators(self) -> dict[str, Indicator]:
        return {"fast": SMA(self.config.fast), "slow": SMA(self.config.slow)}

    def on_bar(self, ctx: Context) -> None:
        weight = 1.0 / len(ctx.symbols)
        for symbol in ctx.symbols:
            if ctx.has_open_orders(symbol):
                continue  # no new order while one is pending
            fast, slow = ctx.indicator(symbol, "fast"), ctx.indicator(symbol, "slow")
            fast_prev, slow_prev = ctx.indicator(symbol, "fast", 1), ctx.indicator(symbol, "slow", 1)
            # +1 cross up, -1 cross down, 0 otherwise (and during warm-up, while values are NaN)
            signal = crossover(fast, slow, fast_prev, slow_prev)
            follow(ctx, symbol, signal, weight, self.config.long_only)
