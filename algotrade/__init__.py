"""algotrade: cookbook trading strategies that run unchanged on several engines.

The public names below load lazily, so that ``import algotrade`` (and ``algotrade --help``)
imports no engine, no pandas and no numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

from algotrade import _moved

_moved.install()  # old module paths (algotrade.config, algotrade.strategy, ...) keep working

_EXPORTS = {
    "ATR": "algotrade.core.indicators",
    "AlgotradeError": "algotrade.core.errors",
    "Bar": "algotrade.core.strategy",
    "BollingerBand": "algotrade.core.indicators",
    "BrokerError": "algotrade.core.errors",
    "ConfigError": "algotrade.core.errors",
    "Context": "algotrade.core.strategy",
    "DataError": "algotrade.core.errors",
    "EMA": "algotrade.core.indicators",
    "Experiment": "algotrade.core.config",
    "Fill": "algotrade.core.strategy",
    "Order": "algotrade.core.strategy",
    "ROC": "algotrade.core.indicators",
    "RSI": "algotrade.core.indicators",
    "SMA": "algotrade.core.indicators",
    "Strategy": "algotrade.core.strategy",
    "StrategyConfig": "algotrade.core.strategy",
    "StrategyError": "algotrade.core.errors",
    "TransientBrokerError": "algotrade.core.errors",
    "load_experiment": "algotrade.core.config",
    "load_market": "algotrade.core.data",
    "run_experiment": "algotrade.backtest.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'algotrade' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
