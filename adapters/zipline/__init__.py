"""Zipline-reloaded adapter: runs any algotrade strategy through run_algorithm on a real bundle.

The engine loads only when ZiplineEngine is looked up, so the pure mapping tables import without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ZiplineEngine"]


def requirements() -> tuple[str, ...]:
    """The package this adapter runs on (algotrade engines lists it as missing without it)."""
    return ("zipline",)


def __getattr__(name: str) -> Any:
    if name == "ZiplineEngine":
        from adapters.zipline.engine import ZiplineEngine

        return ZiplineEngine
    raise AttributeError(name)
