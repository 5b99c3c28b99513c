"""The engine adapter's contract: what ``algotrade run``, ``compare`` and ``sweep`` call.

An adapter is registered under a name in the ``algotrade.engines`` entry-point group of its
distribution (``toy = "toy_engine:ToyEngine"``) and found through :mod:`algotrade.core.registry`;
algotrade imports it only when an experiment names it. The adapter's module may define
``requirements()``, the import names of the package it runs on, for ``algotrade engines``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from algotrade.core.config import BrokerConfig
    from algotrade.core.data import Market
    from algotrade.core.host import StrategyHost


class Engine(Protocol):
    """One backtest of a :class:`StrategyHost` over a market: the adapter is made with no
    arguments, then ``run`` fills the host's orders bar by bar under the broker's fill model,
    commission and slippage (``host`` keeps the positions, cash and trades that become the
    results). ``info`` (optional) is written into run.json as ``engine_info``.

    Optional class-level hooks, for engines that need something prepared outside one run:

    - ``prewarm(markets)``: called once by ``algotrade sweep`` in the parent process, before any
      worker starts, with every distinct market slice the engine's runs will use (zipline
      ingests a bundle per slice here);
    - ``worker_env()``: environment variables the sweep's worker processes need (zipline: its
      ``ZIPLINE_ROOT``).
    """

    name: str

    def versions(self) -> Mapping[str, str]: ...

    def run(self, host: StrategyHost, market: Market, broker: BrokerConfig) -> None: ...


def prewarm(engine: Any, markets: Sequence[Market]) -> None:
    """Call an engine class's optional ``prewarm`` hook."""
    hook = getattr(engine, "prewarm", None)
    if hook is not None and markets:
        hook(markets)


def worker_env(engine: Any) -> dict[str, str]:
    """An engine class's optional ``worker_env`` hook, or no variables."""
    hook = getattr(engine, "worker_env", None)
    return dict(hook()) if hook is not None else {}
