"""Hand-written stubs shared by tests (no mocking framework)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from algotrade.core.strategy import Bars, Order


def write_experiment(folder: Path, name: str = "t", **sections: Any) -> Path:
    """Write an experiment file built from the quickstart with some sections replaced."""
    doc: dict[str, Any] = {
        "name": name,
        "data": {"source": "sample", "symbols": ["SPX"], "start": "2005-01-03", "end": "2012-12-31"},
        "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
        "engine": "backtrader",
    }
    doc.update(sections)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def write_csv(path: Path, rows: list[tuple[str, float, float, float, float, float]]) -> Path:
    lines = ["Date,Open,High,Low,Close,Volume"] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def simple_bars(closes: list[float], symbol: str = "X", start: dt.date = dt.date(2020, 1, 1)) -> Bars:
    c = np.asarray(closes, dtype=np.float64)
    dates = tuple(start + dt.timedelta(days=i) for i in range(len(c)))
    return Bars(dates, {symbol: {"open": c, "high": c, "low": c, "close": c, "volume": np.zeros_like(c)}})


class RecordingPort:
    """A BrokerPort that fills nothing by itself: it records what the host sends."""

    def __init__(self, cash: float = 100_000.0) -> None:
        self._cash = cash
        self._value = cash
        self.sent: list[Order] = []
        self.cancelled: list[Order] = []

    def cash(self) -> float:
        return self._cash

    def value(self) -> float:
        return self._value

    def submit(self, order: Order) -> None:
        self.sent.append(order)

    def cancel(self, order: Order) -> None:
        self.cancelled.append(order)
