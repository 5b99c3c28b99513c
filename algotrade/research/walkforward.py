"""Walk-forward windows, the in-sample choice of parameters, and the stitched out-of-sample equity.

Each window lays out consecutive sessions as::

    train [a .. b] | purge (b .. b+purge] | warm-up | test [t .. t+test-1]

Every point of the sweep runs on the train window alone; the best by the sweep's metric is then
run on warm-up + test, with results counted from the test window's first session. The purge gap
is seen by no run of that window, and the test run never sees a bar of its train window.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from algotrade.core.config import WalkForwardConfig
from algotrade.core.errors import ConfigError


@dataclass(frozen=True)
class Window:
    """One walk-forward window, as rows of the loaded sessions (inclusive) and their dates."""

    index: int
    train: tuple[int, int]
    purge: tuple[int, int]  # (first, last); empty (first > last) when purge is 0
    warmup: tuple[int, int]  # (first, last); empty when warm-up is 0
    test: tuple[int, int]
    dates: tuple[dt.date, ...]

    def day(self, row: int) -> dt.date:
        return self.dates[row]

    @property
    def train_dates(self) -> tuple[dt.date, dt.date]:
        return self.dates[self.train[0]], self.dates[self.train[1]]

    @property
    def test_dates(self) -> tuple[dt.date, dt.date]:
        return self.dates[self.test[0]], self.dates[self.test[1]]

    @property
    def run_start(self) -> dt.date:
        """First session the test run sees: the start of its warm-up (after the purge gap)."""
        return self.dates[self.warmup[0] if self.warmup[0] <= self.warmup[1] else self.test[0]]

    def describe(self) -> dict[str, Any]:
        purge = (self.dates[self.purge[0]], self.dates[self.purge[1]]) if self.purge[0] <= self.purge[1] else None
        return {
            "window": self.index,
            "train_start": str(self.train_dates[0]), "train_end": str(self.train_dates[1]),
            "purge": [str(purge[0]), str(purge[1])] if purge else None,
            "run_start": str(self.run_start),
            "test_start": str(self.test_dates[0]), "test_end": str(self.test_dates[1]),
        }


def windows(dates: Sequence[dt.date], cfg: WalkForwardConfig, warmup: int) -> list[Window]:
    """Every full window that fits in ``dates`` (a tail shorter than a test window is not used)."""
    n = len(dates)
    step = cfg.step or cfg.test
    out: list[Window] = []
    k = 0
    while True:
        a = 0 if cfg.mode == "anchored" else k * step
        b = cfg.train - 1 + k * step
        purge = (b + 1, b + cfg.purge)
        warm = (b + cfg.purge + 1, b + cfg.purge + warmup)
        t0 = b + cfg.purge + warmup + 1
        test = (t0, t0 + cfg.test - 1)
        if test[1] >= n:
            break
        out.append(Window(k, (a, b), purge, warm, test, tuple(dates)))
        k += 1
    if not out:
        need = cfg.train + cfg.purge + warmup + cfg.test
        raise ConfigError(
            f"walkforward: train {cfg.train} + purge {cfg.purge} + warm-up {warmup} + test {cfg.test} = {need} "
            f"sessions, but the data has {n}; shorten them or load more data (data.start/end)"
        )
    return out


def eligible(metrics: dict[str, Any] | None, metric: str, min_trades: int) -> bool:
    """A finished run may be chosen: its metric is a number and it traded often enough."""
    if not metrics:
        return False
    value = metrics.get(metric)
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return int(metrics.get("trade_count") or 0) >= min_trades


def choose(
    candidates: Sequence[tuple[int, dict[str, Any] | None]], metric: str, goal: str, min_trades: int
) -> int | None:
    """The best candidate ``(order, metrics)`` by ``metric`` (ties: the lowest order), or None."""
    best: tuple[float, int] | None = None
    for order, stats in candidates:
        if not eligible(stats, metric, min_trades):
            continue
        assert stats is not None
        value = float(stats[metric])
        score = (-value if goal == "max" else value, order)
        if best is None or score < best:
            best = score
    return None if best is None else best[1]


def chain(segments: Sequence[tuple[Sequence[dt.date], Sequence[float]]], cash: float) -> tuple[list[dt.date], list[float]]:
    """Stitch out-of-sample equity: each segment is (evaluated dates, [equity before, *equity on
    those dates]); its daily returns are chained onto the equity reached so far, from ``cash``."""
    dates: list[dt.date] = []
    values: list[float] = []
    level = cash
    for seg_dates, seg_values in segments:
        if len(seg_values) != len(seg_dates) + 1:
            raise ValueError("a segment needs the equity before its first date plus one value per date")
        for day, prev, cur in zip(seg_dates, seg_values[:-1], seg_values[1:], strict=True):
            level *= cur / prev if prev else 1.0
            dates.append(day)
            values.append(level)
    return dates, values


def warmup_sessions(lookbacks: Sequence[int]) -> int:
    """Default warm-up: the largest indicator lookback plus one (so that a strategy comparing
    today's indicator with yesterday's has both on the first test session)."""
    return max(lookbacks, default=0) + 1


def lookback_of(strategy_name: str, params: dict[str, Any], resolve: Callable[[str], Any]) -> int:
    cls = resolve(strategy_name)
    strategy = cls(cls.config_class.model_validate(params))
    return max((spec.lookback for spec in strategy.indicators().values()), default=0)
