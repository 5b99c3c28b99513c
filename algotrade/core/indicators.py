"""Indicators declared up front by a strategy and computed once, with TA-Lib, for every engine.

Computing each indicator once over the validated bars (rather than inside each engine) is what
makes engines agree: exact ties between moving averages are common with 2-decimal prices, and
different summation orders break them differently. TA-Lib's functions are causal — the value at
bar k depends only on bars up to k — which ``tests/test_lookahead.py`` checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import talib

Arrays = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Indicator:
    """Base: ``compute(bars)`` returns one float64 array aligned with the bars."""

    def compute(self, bars: Arrays) -> np.ndarray:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} does not define compute()")

    @property
    def lookback(self) -> int:
        """Bars needed before the first valid value."""
        return 0


@dataclass(frozen=True)
class SMA(Indicator):
    period: int
    field: str = "close"

    def compute(self, bars: Arrays) -> np.ndarray:
        x = np.asarray(bars[self.field], dtype=np.float64)
        if self.period == 1:  # the price itself; TA-Lib's SMA needs a period of at least 2
            return x.copy()
        return talib.SMA(x, timeperiod=self.period)

    @property
    def lookback(self) -> int:
        return self.period - 1


@dataclass(frozen=True)
class EMA(Indicator):
    period: int
    field: str = "close"

    def compute(self, bars: Arrays) -> np.ndarray:
        return talib.EMA(np.asarray(bars[self.field], dtype=np.float64), timeperiod=self.period)

    @property
    def lookback(self) -> int:
        return self.period - 1


@dataclass(frozen=True)
class RSI(Indicator):
    period: int = 14
    field: str = "close"

    def compute(self, bars: Arrays) -> np.ndarray:
        return talib.RSI(np.asarray(bars[self.field], dtype=np.float64), timeperiod=self.period)

    @property
    def lookback(self) -> int:
        return self.period


@dataclass(frozen=True)
class BollingerBand(Indicator):
    """One band of TA-Lib's BBANDS: ``band`` is upper, middle or lower."""

    period: int = 20
    nbdev: float = 2.0
    band: str = "upper"
    field: str = "close"

    def compute(self, bars: Arrays) -> np.ndarray:
        upper, middle, lower = talib.BBANDS(
            np.asarray(bars[self.field], dtype=np.float64),
            timeperiod=self.period,
            nbdevup=self.nbdev,
            nbdevdn=self.nbdev,
            matype=talib.MA_Type.SMA,
        )
        return {"upper": upper, "middle": middle, "lower": lower}[self.band]

    @property
    def lookback(self) -> int:
        return self.period - 1


@dataclass(frozen=True)
class ROC(Indicator):
    """Rate of change in percent over ``period`` bars."""

    period: int
    field: str = "close"

    def compute(self, bars: Arrays) -> np.ndarray:
        return talib.ROC(np.asarray(bars[self.field], dtype=np.float64), timeperiod=self.period)

    @property
    def lookback(self) -> int:
        return self.period


@dataclass(frozen=True)
class ATR(Indicator):
    period: int = 14

    def compute(self, bars: Arrays) -> np.ndarray:
        return talib.ATR(
            np.asarray(bars["high"], dtype=np.float64),
            np.asarray(bars["low"], dtype=np.float64),
            np.asarray(bars["close"], dtype=np.float64),
            timeperiod=self.period,
        )

    @property
    def lookback(self) -> int:
        return self.period


def compute_all(specs: Mapping[str, Indicator], bars: Arrays) -> dict[str, np.ndarray]:
    """Every declared indicator over one symbol's bars."""
    return {name: spec.compute(bars) for name, spec in specs.items()}


__all__ = ["ATR", "EMA", "RSI", "ROC", "SMA", "BollingerBand", "Indicator", "compute_all"]
