"""Errors typed by what the operator must do.

Only ``algotrade.cli`` maps these to exit codes; everything else raises them. Each class has a
message template so that messages read the same wherever they are raised, and every message
names the field, the bad value and the fix.
"""

from __future__ import annotations

from typing import Any


class AlgotradeError(Exception):
    """Root of every error algotrade raises on purpose."""

    exit_code = 1
    template = "{message}"

    def __init__(self, message: str = "", **fields: Any) -> None:
        self.fields = fields
        text = self.template.format(message=message, **fields) if fields or message else message
        super().__init__(text)


class ConfigError(AlgotradeError):
    """The experiment file (or a --set override) is wrong: fix the YAML."""

    exit_code = 2


class DataError(AlgotradeError):
    """The market data is unusable as given: fix the data or the data section."""

    exit_code = 2


class BrokerError(AlgotradeError):
    """The broker or engine refused or failed."""

    exit_code = 5  # 3 is a NO-GO verdict of `algotrade paper` / `live`


class TransientBrokerError(BrokerError):
    """A broker failure that is worth retrying (disconnects, pacing)."""


class StrategyError(AlgotradeError):
    """A bug in strategy code, wrapped with the bar and symbol where it happened."""

    exit_code = 4
    template = "strategy {strategy} failed on {date} ({symbol}): {message}"


class ClusterError(AlgotradeError):
    """A compute cluster (Ray) is unreachable or refuses to let us join: start it, or fix its
    address or credentials; nothing in the experiment file is wrong."""

    exit_code = 5


class EngineNotInstalled(ConfigError):
    """The experiment names an engine whose package is not installed."""

    template = (
        "engine {engine!r} needs the Python package {package!r}, which is not installed; "
        "run bin/algotrade once to set up the project environment, or pip install {package}"
    )


__all__ = [
    "AlgotradeError",
    "BrokerError",
    "ClusterError",
    "ConfigError",
    "DataError",
    "EngineNotInstalled",
    "StrategyError",
    "TransientBrokerError",
]
