"""algotrade: cookbook trading strategies that run unchanged on several engines.

The public names below load lazily, so that ``import algotrade`` (and ``algotrade --help``)
imports no engine, no pandas and no numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ATR": "algotrade.indicators",
    "AlgotradeError": "algotrade.errors",
    "Bar": "algotrade.strategy",
    "BollingerBand": "algotrade.indicators",
    "BrokerError": "algotrade.errors",
    "ConfigError": "algotrade.errors",
    "Context": "algotrade.host",
    "DataError": "algotrade.errors",
    "EMA": "algotrade.indicators",
    "Experiment": "algotrade.config",
    "Fill": "algotrade.strategy",
    "Order": "algotrade.strategy",
    "ROC": "algotrade.indicators",
    "RSI": "algotrade.indicators",
    "SMA": "algotrade.indicators",
    "Strategy": "algotrade.strategy",
    "StrategyConfig": "algotrade.strategy",
    "StrategyError": "algotrade.errors",
    "TransientBrokerError": "algotrade.errors",
    "load_experiment": "algotrade.config",
    "load_market": "algotrade.data",
    "run_experiment": "algotrade.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'algotrade' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
