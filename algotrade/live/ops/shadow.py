"""The shadow backtest, run as the paper run goes: a second live runner fed the same bars, through
the in-memory broker with the backtest's fill rule (and the experiment's costs) and an in-memory
journal, stepped after each paper step (never between a bar and its orders). Its equity at each
session is what the end-of-run shadow backtest (``execute(exp, market, "backtrader", live_from)``)
reports for it; the divergence is |paper - shadow| / shadow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from algotrade.core.config import Experiment
from algotrade.core.host import StrategyHost


class Shadow:
    """The incremental shadow backtest of one run."""

    def __init__(self, exp: Experiment, live_from: int = 0) -> None:
        from algotrade.live.broker import InMemoryBroker, LiveRunner, backtest_rule
        from algotrade.live.journal import Journal

        self.broker = InMemoryBroker(config=exp.broker, fill_rule=backtest_rule(exp.broker.fill))
        self.runner = LiveRunner.from_experiment(exp, self.broker, Journal(":memory:"), run_id="shadow",
                                                 clock=lambda: dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        self.runner.warm_up(live_from)
        self.failed: str | None = None

    @property
    def host(self) -> StrategyHost:
        return self.runner.host

    def step(self, date: dt.date, bars: Mapping[str, Any]) -> float | None:
        """The bar through the shadow's market, then its runner; its equity at the session (None in
        warm-up, or once the shadow failed: a shadow never stops the run it watches)."""
        if self.failed is not None:
            return None
        try:
            self.broker.on_bar(date, bars)
            self.runner.step(date, bars)
        except Exception as exc:
            self.failed = f"{type(exc).__name__}: {exc}"
            return None
        if len(self.host.bars) <= self.runner.live_from or not self.host.equity:
            return None
        return float(self.host.equity[-1][2])

    def close(self) -> None:
        self.runner.journal.close()
