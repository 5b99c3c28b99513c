"""Long-only Bollinger band breakout: buy a close above the upper band, exit below the middle.

The decision rule is the cookbook's: ``recipes/ch03_vectorized/r05_oscillator_signals.py``
(:func:`bollinger_breakout_signal`), called here on each bar's close and bands.
"""

from __future__ import annotations

from pydantic import Field

from algotrade.core.indicators import BollingerBand, Indicator
from algotrade.core.strategy import Context, Strategy, StrategyConfig
from recipes.ch03_vectorized.r05_oscillator_signals import bollinger_breakout_signal


class BollingerBreakoutConfig(StrategyConfig):
    period: int = Field(20, ge=2, description="Moving-average period of the bands.")
    nbdev: float = Field(2.0, gt=0, le=5, description="Band width in standard deviations.")


class BollingerBreakout(Strategy[BollingerBreakoutConfig]):
    """Buy when the close crosses above the upper band; sell when it crosses below the middle."""

    config_class = BollingerBreakoutConfig

    def indicators(self) -> dict[str, Indicator]:
        p, k = self.config.period, self.config.nbdev
        return {"upper": BollingerBand(p, k, "upper"), "middle": BollingerBand(p, k, "middle")}

    def on_bar(self, ctx: Context) -> None:
        weight = 1.0 / len(ctx.symbols)
        for symbol in ctx.symbols:
            if ctx.has_open_orders(symbol):
                continue
            close, close_prev = ctx.price(symbol), ctx.history(symbol, "close", 2)[0]
            upper, upper_prev = ctx.indicator(symbol, "upper"), ctx.indicator(symbol, "upper", 1)
            middle, middle_prev = ctx.indicator(symbol, "middle"), ctx.indicator(symbol, "middle", 1)
            signal = bollinger_breakout_signal(close, upper, middle, close_prev, upper_prev, middle_prev)
            position = ctx.position(symbol)
            if position == 0 and signal > 0:
                ctx.enter(symbol, weight)
            elif position > 0 and signal < 0:
                ctx.exit(symbol)
