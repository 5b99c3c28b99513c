"""Read-only registries of strategies, engines and brokers, named by lazy import strings.

Strategies are listed here; engines and brokers come from the entry points of the installed
distributions (groups ``algotrade.engines`` and ``algotrade.brokers``: this project's own
adapters are registered in its pyproject.toml, and another package may register its own engine
without editing algotrade). Nothing here imports a strategy module or an engine until it is
looked up, so ``algotrade --help`` stays fast. Code is named either by a short alias listed here or by an import path of
the form ``package.module:Class``; :func:`resolve` is the one function that turns either into
an object.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from algotrade.core.errors import ConfigError

STRATEGIES: Mapping[str, str] = MappingProxyType(
    {
        "bollinger_breakout": "algotrade.strategies.bollinger_breakout:BollingerBreakout",
        "composer": "algotrade.strategies.composer:Composer",
        "momentum_rebalance": "algotrade.strategies.momentum_rebalance:MomentumRebalance",
        "pairs": "algotrade.strategies.pairs:Pairs",
        "pfopt_rebalance": "algotrade.strategies.pfopt_rebalance:PfoptRebalance",
        "regime_momentum": "algotrade.strategies.regime_momentum:RegimeMomentum",
        "rsi_reversion": "algotrade.strategies.rsi_reversion:RsiReversion",
        "sma_cross": "algotrade.strategies.sma_cross:SmaCross",
        "xgb_walkforward": "algotrade.strategies.xgb_walkforward:XgbWalkForward",
    }
)

#: entry-point groups that name engine and broker adapters as ``name = "package.module:Class"``
#: (this project's own in pyproject.toml; any installed distribution may add to them)
ENGINE_GROUP = "algotrade.engines"
BROKER_GROUP = "algotrade.brokers"

_PLANNED = "planned (adapter not written yet)"


@functools.cache
def registered(group: str) -> Mapping[str, str]:
    """name -> "package.module:Class" of every entry point in ``group`` of the installed
    distributions, by name (the first one found of a name wins), read from their metadata:
    importing none of them."""
    from importlib.metadata import entry_points

    found: dict[str, str] = {}
    for point in entry_points(group=group):
        found.setdefault(point.name, f"{point.module}:{point.attr}")
    return MappingProxyType(dict(sorted(found.items())))


def engines() -> Mapping[str, str]:
    """engine name -> its adapter class, as an import string."""
    return registered(ENGINE_GROUP)


def brokers() -> Mapping[str, str]:
    """broker name -> its adapter class, as an import string."""
    return registered(BROKER_GROUP)


def __getattr__(name: str) -> Any:
    if name == "ENGINES":
        return engines()
    if name == "BROKERS":
        return brokers()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    known = tuple(engines())
    if name not in known:
        raise ValueError(
            f"{name!r} is not a known engine{suggest(name, known)} "
            f"known engines: {', '.join(sorted(known))}"
        )
    return name


def adapter_status(target: str) -> tuple[str, str]:
    """('installed' | 'missing package P' | 'planned ...', the package it runs on) of an adapter
    named by an import string, importing only its (light) module, not the engine or client.

    The adapter's module may define ``requirements()``: the import names of the package it needs,
    alternatives in the order they are tried; the first one installed is the one it runs on.
    """
    module = target.partition(":")[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        return _PLANNED, ""
    try:
        needs = getattr(importlib.import_module(module), "requirements", None)
    except Exception as exc:  # a broken third-party adapter is listed, with why, not a crash
        return f"unavailable (importing {module} failed: {type(exc).__name__}: {exc})", ""
    names: tuple[str, ...] = tuple(needs()) if callable(needs) else ()
    if not names:
        return "installed", ""
    hit = next((n for n in names if importlib.util.find_spec(n) is not None), None)
    return ("installed", hit) if hit else (f"missing package {names[0]}", names[0])


def engine_status(name: str) -> str:
    """'installed', 'missing <package>' or 'planned' — without importing the engine."""
    return adapter_status(engines()[name])[0]


def broker_status(name: str) -> tuple[str, str]:
    """('installed' | 'missing package P' | 'planned ...', the client package) — importing no client."""
    return adapter_status(brokers()[name])


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

    check, package = adapter_status(engines()[name])
    if check.startswith("planned"):
        raise ConfigError(
            f"engine: {name!r} has no adapter in this version of algotrade yet; "
            f"use one of: {', '.join(n for n in engines() if engine_status(n) == 'installed')}"
        )
    if check != "installed":
        raise EngineNotInstalled(engine=name, package=package)
    return resolve(name, "engine", engines())


def resolve_broker(name: str) -> Any:
    """The broker adapter class registered as ``name`` (``ib``: the IB adapter's broker)."""
    return resolve(name, "broker", brokers())


def broker_part(name: str, path: str) -> Any:
    """What the package of broker ``name``'s adapter provides besides the broker, at ``path``
    below it: ``broker_part("ib", "gateway.control.send")`` is the IB gateway simulator's
    ``send``. ``paper --simulate`` reaches its simulator this way, so that the core names no
    adapter module (the ``gateway`` commands are the adapter's own: ``adapters/ib/commands.py``)."""
    package = brokers()[name].partition(":")[0]
    module, _, attr = f"{package}.{path}".rpartition(".")
    return resolve(f"{module}:{attr}", f"broker {name}", {})
