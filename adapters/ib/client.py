"""The one import shim: ib_async (maintained, the default install) or ib_insync (frozen).

Both expose the same ib_insync API; ``ALGOTRADE_IB_CLIENT=ib_insync`` forces the old one.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from algotrade.core.errors import EngineNotInstalled

CLIENTS = ("ib_async", "ib_insync")


def client_names() -> tuple[str, ...]:
    """The client packages to try, in order (``ALGOTRADE_IB_CLIENT`` names the only one)."""
    wanted = os.environ.get("ALGOTRADE_IB_CLIENT", "")
    return (wanted,) if wanted else CLIENTS


def ib_module() -> ModuleType:
    names = client_names()
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise EngineNotInstalled(engine="ib", package=names[0])
