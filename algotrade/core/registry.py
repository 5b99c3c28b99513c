"""Read-only registries of strategies and engines, named by lazy import strings.

Nothing here imports a strategy module or an engine until it is looked up, so ``algotrade
--help`` stays fast. Code is named either by a short alias listed here or by an import path of
the form ``package.module:Class``; :func:`resolve` is the one function that turns either into
an object.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from algotrade.core.errors import ConfigError

STRATEGIES: Mapping[str, str] = MappingProxyType(
    {
        "bollinger_breakout": "algotrade.strategies.bollinger_breakout:BollingerBreakout",
        "momentum_rebalance": "algotrade.strategies.momentum_rebalance:MomentumRebalance",
        "pfopt_rebalance": "algotrade.strategies.pfopt_rebalance:PfoptRebalance",
        "rsi_reversion": "algotrade.strategies.rsi_reversion:RsiReversion",
        "sma_cross": "algotrade.strategies.sma_cross:SmaCross",
        "xgb_walkforward": "algotrade.strategies.xgb_walkforward:XgbWalkForward",
    }
)

# engine name -> (adapter import string, the Python package the engine needs)
ENGINES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "backtrader": ("adapters.backtrader:BacktraderEngine", "backtrader"),
        "zipline": ("adapters.zipline:ZiplineEngine", "zipline"),
    }
)

# engines whose adapter exists in this checkout; the others are listed as "planned"
_ADAPTER_MODULES = {"backtrader": "adapters.backtrader", "zipline": "adapters.zipline"}

# broker name -> (adapter import string, a function naming the client packages it can use, in order)
BROKERS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "ib": ("adapters.ib:IbBroker", "adapters.ib.client:client_names"),
    }
)


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """A ' did you mean ...?' fragment, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ";"


def resolve(spec: str, kind: str, aliases: Mapping[str, str]) -> Any:
    """Resolve a short alias or ``package.module:Name`` to the object it names."""
    target = aliases.get(spec, spec)
    if ":" not in target:
        known = ", ".join(sorted(aliases))
        raise ConfigError(
            f"{kind} {spec!r} is not known{suggest(spec, tuple(aliases))} "
            f"known: {known}; or name one as package.module:Class"
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"{kind} {spec!r}: cannot import module {module_name!r} ({exc.msg}); "
            "check the spelling of the import path"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(
            f"{kind} {spec!r}: module {module_name!r} has no attribute {attr!r}"
        ) from None


def resolve_strategy(spec: str) -> Any:
    return resolve(spec, "strategy", STRATEGIES)


def check_engine_name(name: str) -> str:
    if name not in ENGINES:
        raise ValueError(
            f"{name!r} is not a known engine{suggest(name, tuple(ENGINES))} "
            f"known engines: {', '.join(sorted(ENGINES))}"
        )
    return name


def engine_status(name: str) -> str:
    """'installed', 'missing <package>' or 'planned' — without importing the engine."""
    _, package = ENGINES[name]
    if importlib.util.find_spec(_ADAPTER_MODULES[name].split(".")[0]) is None:
        return "planned"
    try:
        adapter_found = importlib.util.find_spec(_ADAPTER_MODULES[name]) is not None
    except ModuleNotFoundError:
        adapter_found = False
    if not adapter_found:
        return "planned (adapter not written yet)"
    if importlib.util.find_spec(package) is None:
        return f"missing package {package}"
    return "installed"


def broker_status(name: str) -> tuple[str, str]:
    """('installed' | 'missing package P' | 'planned ...', the client package) — importing no client."""
    target, clients = BROKERS[name]
    module = target.partition(":")[0]
    if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
        return "planned (adapter not written yet)", ""
    names: tuple[str, ...] = resolve(clients, "broker client", {})()
    found = next((n for n in names if importlib.util.find_spec(n) is not None), None)
    return ("installed", found) if found else (f"missing package {names[0]}", names[0])


def installed_version(package: str) -> str | None:
    """'<distribution> <version>' of the installed distribution that provides ``package``."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    for dist in packages_distributions().get(package, [package]):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return None


def resolve_engine(name: str) -> Any:
    from algotrade.core.errors import EngineNotInstalled

    check = engine_status(name)
    if check.startswith("planned"):
        raise ConfigError(
            f"engine: {name!r} has no adapter in this version of algotrade yet; "
            f"use one of: {', '.join(n for n in ENGINES if engine_status(n) == 'installed')}"
        )
    if check != "installed":
        raise EngineNotInstalled(engine=name, package=ENGINES[name][1])
    return resolve(name, "engine", {k: v[0] for k, v in ENGINES.items()})
