"""How a signal strategy acts on its +1 / -1 / 0 signal, long-only or long/short (one rule for all).

Long-only (the default): +1 enters long when flat, -1 closes a long. Long/short (``long_only:
false``): +1 holds a long and -1 a short of the same weight; a position on the other side is
first covered (its own order, so a flip pays two commissions, each with its own per-order
minimum, on every engine), then the new side is entered, both on the same bar.
"""

from __future__ import annotations

from pydantic import Field

from algotrade.core.strategy import Context

#: left out of the dumped params while true, so the config ids of long-only runs stay what they were
LONG_ONLY = Field(
    True, exclude_if=lambda v: v is True, description="true: long or flat. false: the opposite signal goes short with the same weight (cover, then short)."
)


def follow(ctx: Context, symbol: str, signal: float, weight: float, long_only: bool) -> None:
    position = ctx.position(symbol)
    if long_only:
        if position == 0 and signal > 0:
            ctx.enter(symbol, weight)
        elif position > 0 and signal < 0:
            ctx.exit(symbol)
        return
    side = 1 if signal > 0 else -1 if signal < 0 else 0
    if side == 0 or position * side > 0:
        return
    if position:
        ctx.exit(symbol)
    order = ctx.enter(symbol, side * weight)  # targets side x weight from the current position ...
    if order is not None and position:
        order.quantity += position  # ... of which the exit above already sells/buys back `position`
        if order.quantity == 0:
            ctx.cancel(order)
