"""Backtrader adapter: runs any algotrade strategy on Backtrader's Cerebro.

The engine loads only when BacktraderEngine is looked up, so the pure mapping tables import without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BacktraderEngine"]


def requirements() -> tuple[str, ...]:
    """The package this adapter runs on (algotrade engines lists it as missing without it)."""
    return ("backtrader",)


def __getattr__(name: str) -> Any:
    if name == "BacktraderEngine":
        from adapters.backtrader.engine import BacktraderEngine

        return BacktraderEngine
    raise AttributeError(name)
