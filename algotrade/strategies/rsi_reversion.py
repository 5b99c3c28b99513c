"""Mean reversion on the RSI: buy oversold, sell overbought (long-only), or also short overbought
(``long_only: false``, algotrade/core/sides.py).

The decision rule is the cookbook's: ``recipes/ch03_vectorized/r05_oscillator_signals.py``
(:func:`rsi_reversion_signal`), called here on each bar's RSI.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from algotrade.core.indicators import RSI, Indicator
from algotrade.core.sides import LONG_ONLY, follow
from algotrade.core.strategy import Context, Strategy, StrategyConfig
from recipes.ch03_vectorized.r05_oscillator_signals import rsi_reversion_signal


class RsiReversionConfig(StrategyConfig):
    period: int = Field(14, ge=2, description="RSI period (Wilder).")
    oversold: float = Field(30.0, gt=0, lt=100, description="Enter when the RSI falls below this.")
    overbought: float = Field(70.0, gt=0, lt=100, description="Exit when the RSI rises above this.")
    long_only: bool = LONG_ONLY

    @model_validator(mode="after")
    def _levels(self) -> RsiReversionConfig:
        if self.oversold >= self.overbought:
            raise ValueError(
                f"oversold ({self.oversold}) must be below overbought ({self.overbought}); e.g. 30 and 70"
            )
        return self


class RsiReversion(Strategy[RsiReversionConfig]):
    """Buy when the RSI is below `oversold`; sell when it is above `overbought`."""

    config_class = RsiReversionConfig

    def indicators(self) -> dict[str, Indicator]:
        return {"rsi": RSI(self.config.period)}

    def on_bar(self, ctx: Context) -> None:
        weight = 1.0 / len(ctx.symbols)
        oversold, overbought = self.config.oversold, self.config.overbought
        for symbol in ctx.symbols:
            if ctx.has_open_orders(symbol):
                continue
            signal = rsi_reversion_signal(ctx.indicator(symbol, "rsi"), oversold, overbought)
            follow(ctx, symbol, signal, weight, self.config.long_only)
