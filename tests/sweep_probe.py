"""A strategy for sweep tests: the SMA crossover, made slow or made to fail on purpose.

Named in experiment files as ``tests.sweep_probe:SweepProbe`` (the tests run from the project root).
"""

from __future__ import annotations

import time

from pydantic import Field

from algotrade.core.strategy import Context
from algotrade.strategies.sma_cross import SmaCross, SmaCrossConfig


class SweepProbeConfig(SmaCrossConfig):
    delay: float = Field(0.0, ge=0, description="Seconds to sleep before the first bar (a slow point).")
    fail: bool = Field(False, description="Raise on the sixth bar (a point that fails at run time).")


class SweepProbe(SmaCross):
    """SmaCross that can be slow (delay) or fail at run time (fail)."""

    config_class = SweepProbeConfig

    def on_start(self, ctx: Context) -> None:
        cfg = self.config
        assert isinstance(cfg, SweepProbeConfig)
        if cfg.delay:
            time.sleep(cfg.delay)

    def on_bar(self, ctx: Context) -> None:
        cfg = self.config
        assert isinstance(cfg, SweepProbeConfig)
        if cfg.fail and ctx.bar_index == 5:
            raise RuntimeError("planted failure")
        super().on_bar(ctx)
