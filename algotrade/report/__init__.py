"""HTML pages: the run's report.html and what every page shares (page head, figures, number
formats). Imports only the core; each job's own page (compare, sweep, burn-in) lives with its job."""

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    """``algotrade.report`` was one module, the run's report: its names (``write_report``, ``head``,
    ...) still import from here, lazily, so importing the package stays light."""
    if name.startswith("__"):
        raise AttributeError(name)
    run_report = importlib.import_module("algotrade.report.run_report")
    try:
        return getattr(run_report, name)
    except AttributeError:
        raise AttributeError(f"module 'algotrade.report' has no attribute {name!r}") from None
