"""Bollinger band breakout: buy a close above the upper band, exit below the middle.

With ``long_only: false`` the mirror rule trades the other side: a close below the lower band
goes short, a close back above the middle covers (the same cookbook rule on the negated prices
and bands). A bar that exits a long and breaks the lower band flips to the short (cover, then
short: algotrade/core/sides.py).

The decision rule is the cookbook's: ``recipes/ch03_vectorized/r05_oscillator_signals.py``
(:func:`bollinger_breakout_signal`), called here on each bar's close and bands.
"""

from __future__ import annotations

from pydantic import Field

from algotrade.core.indicators import BollingerBand, Indicator
from algotrade.core.sides import LONG_ONLY, follow
from algotrade.core.strategy import Context, Strategy, StrategyConfig
from recipes.ch03_vectorized.r05_oscillator_signals import bollinger_breakout_signal


class BollingerBreakoutConfig(StrategyConfig):
    period: int = Field(20, ge=2, description="Moving-average period of the bands.")
    nbdev: float = Field(2.0, gt=0, le=5, description="Band width in standard deviations.")
    long_only: bool = LONG_ONLY


class BollingerBreakout(Strategy[BollingerBreakoutConfig]):
    """Buy when the close crosses above the upper band; sell when it crosses below the middle."""

    config_class = BollingerBreakoutConfig

    def indicators(self) -> dict[str, Indicator]:
        p, k = self.config.period, self.config.nbdev
        bands: dict[str, Indicator] = {"upper": BollingerBand(p, k, "upper"), "middle": BollingerBand(p, k, "middle")}
        return bands if self.config.long_only else {**bands, "lower": BollingerBand(p, k, "lower")}

    def on_bar(self, ctx: Context) -> None:
        weight = 1.0 / len(ctx.symbols)
        for symbol in ctx.symbols:
            if ctx.has_open_orders(symbol):
                continue
            close, close_prev = ctx.price(symbol), ctx.history(symbol, "close", 2)[0]
            middle, middle_prev = ctx.indicator(symbol, "middle"), ctx.indicator(symbol, "middle", 1)
            upper, upper_prev = ctx.indicator(symbol, "upper"), ctx.indicator(symbol, "upper", 1)
            signal = bollinger_breakout_signal(close, upper, middle, close_prev, upper_prev, middle_prev)
            position = ctx.position(symbol)
            if self.config.long_only:
                if position == 0 and signal > 0:
                    ctx.enter(symbol, weight)
                elif position > 0 and signal < 0:
                    ctx.exit(symbol)
                continue
            lower, lower_prev = ctx.indicator(symbol, "lower"), ctx.indicator(symbol, "lower", 1)
            # the mirror rule: +1 a close crossing below the lower band, -1 one crossing back above the middle
            mirror = bollinger_breakout_signal(-close, -lower, -middle, -close_prev, -lower_prev, -middle_prev)
            side = 1 if position > 0 else -1 if position < 0 else 0
            if (side > 0 and signal < 0) or (side < 0 and mirror < 0):
                side = 0
            if side == 0:
                side = 1 if signal > 0 else -1 if mirror > 0 else 0
            if side == 0 and position:
                ctx.exit(symbol)
            elif side:
                follow(ctx, symbol, side, weight, long_only=False)
