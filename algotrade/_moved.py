"""Old import paths of the modules that moved into algotrade's subpackages (issue 15).

``import algotrade.config`` (or ``from algotrade.strategy import Strategy``) still works: a
meta-path finder answers each old name below with the module at its new path, so the old name
and the new one are the same module object (same classes, same functions, monkeypatching either
patches both). Code in this repository uses the new paths; this table is for users, recipes and
notebooks written before the move. It imports nothing until an old name is imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import MappingProxyType, ModuleType

_ROOMS = {
    "core": ("config", "constraints", "costs", "data", "errors", "host", "indicators", "listing", "registry",
             "results", "risk", "sessions", "shell", "strategy", "symbols", "synthetic", "validation"),
    "backtest": ("compare", "compare_report", "run"),
    "research": ("executors", "ray_join", "snooping", "sweep", "sweep_analysis", "sweep_plan", "sweep_report",
                 "walkforward"),
    "live": ("broker", "burnin_report", "journal", "live_guard", "paper", "reconcile"),
}

#: old module path -> the module's path now
MOVED = MappingProxyType(
    {f"algotrade.{name}": f"algotrade.{room}.{name}" for room, names in _ROOMS.items() for name in names}
    | {"algotrade.report_format": "algotrade.report.report_format"}
)


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(MOVED[spec.name])
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The module is executed already, at its new path; the import machinery has just set its
        ``__spec__`` to the old name's: give it back its own."""
        module.__spec__ = self._specs.pop(module.__spec__.name if module.__spec__ else "", module.__spec__)


def install() -> None:
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
