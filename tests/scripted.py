"""A strategy that follows a script of orders: for tests that need exact, chosen trades.

``strategy: {name: tests.scripted:Scripted, params: {steps: [[2, A, percent, 1.0], ...]}}`` places,
on bar 2, ``ctx.order_target_percent("A", 1.0)``. Actions: ``shares`` (order_target_shares),
``value`` (order_target_value), ``percent`` (order_target_percent), ``enter`` (ctx.enter with the
amount as weight), ``exit``, and ``order`` (a signed number of shares). A step is skipped while
an order for its symbol is still pending, as a careful strategy would.
"""

from __future__ import annotations

from typing import Literal

from algotrade.core.strategy import Context, Strategy, StrategyConfig

Action = Literal["shares", "value", "percent", "enter", "exit", "order"]


class ScriptedConfig(StrategyConfig):
    steps: tuple[tuple[int, str, Action, float], ...] = ()


class Scripted(Strategy[ScriptedConfig]):
    config_class = ScriptedConfig

    def on_bar(self, ctx: Context) -> None:
        for bar, symbol, action, amount in self.config.steps:
            if bar != ctx.bar_index or ctx.has_open_orders(symbol):
                continue
            if action == "shares":
                ctx.order_target_shares(symbol, int(amount))
            elif action == "value":
                ctx.order_target_value(symbol, amount)
            elif action == "percent":
                ctx.order_target_percent(symbol, amount)
            elif action == "enter":
                ctx.enter(symbol, amount)
            elif action == "exit":
                ctx.exit(symbol)
            else:
                ctx.order(symbol, int(amount))
