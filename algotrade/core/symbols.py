"""One mapping between the user's symbols and each engine's, and back.

Users name symbols as their data does: ``nvda``, ``BRK.B`` next to ``BRK_B``, ``^GSPC``,
``EUR=X``, ``日経``. algotrade and Backtrader tell any two strings apart; other engines
normalise names before they compare them (Zipline upper-cases a symbol and splits it at the
first ``.``, ``/``, ``-`` or ``_`` into company and share class, so ``BRK.B``, ``BRK_B`` and
``brk-b`` are one asset to it), and a broker knows each security under one spelling of its own.

Each engine declares a :class:`SymbolRule` (in its adapter's pure mapping module): how it spells
a symbol and what it tells apart. :func:`map_symbols` turns the user's symbols into unique
engine symbols under that rule and keeps the way back, so every record a run writes carries the
user's spelling. When two user symbols are one symbol to the engine, a backtest engine (whose
bundle is ours) gets the later one renamed, ``BRK_B`` → ``BRK_B#2``; a broker, where the name
is a real security, refuses the pair in one line instead.

Pure: no engine import, no pandas.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

from algotrade.core.errors import ConfigError

#: what separates a renamed symbol from its number (kept by every rule below)
MARK = "#"


def _same(symbol: str) -> str:
    return symbol


@dataclass(frozen=True)
class SymbolRule:
    """How one engine spells symbols and which spellings it tells apart.

    ``spell``: the engine's own spelling of a user's symbol (what it stores and reports; applying
    it twice changes nothing). ``key``: two engine spellings with one key are one symbol to the
    engine. ``rename``: True when a colliding symbol may be given another engine name (a backtest
    on data we write), False when the name must stay the security's real one (a broker).
    """

    engine: str
    spell: Callable[[str], str] = _same
    key: Callable[[str], Hashable] = _same
    rename: bool = True


#: an engine that tells every string apart and keeps it as given (Backtrader, algotrade itself)
VERBATIM = SymbolRule("algotrade")


@dataclass(frozen=True)
class SymbolMap:
    """The user's symbols and their engine symbols, both ways, in the user's order."""

    rule: SymbolRule
    to_engine: Mapping[str, str]
    to_user: Mapping[str, str]

    def engine(self, user_symbol: str) -> str:
        return self.to_engine[user_symbol]

    def user(self, engine_symbol: str) -> str:
        return self.to_user[engine_symbol]

    @property
    def renamed(self) -> dict[str, str]:
        """The user's symbols the engine knows under another name, with that name."""
        return {u: e for u, e in self.to_engine.items() if e != u}


def check_names(symbols: Iterable[str]) -> None:
    """Refuse what no engine can name: a blank symbol."""
    for k, symbol in enumerate(symbols, 1):
        if not isinstance(symbol, str) or not symbol.strip():
            raise ConfigError(f"data.symbols: symbol {k} is blank ({symbol!r}); give every symbol a name")


def map_symbols(symbols: Iterable[str], rule: SymbolRule = VERBATIM) -> SymbolMap:
    """Unique engine symbols for ``symbols`` under ``rule``, and the way back.

    The first user symbol of each engine key keeps the engine's spelling of it; a later one with
    the same key is renamed ``<spelling>#2`` (``#3`` ...) when ``rule.rename`` allows, and refused
    in one line otherwise. Deterministic: the same symbols in the same order map the same way.
    """
    users = list(symbols)
    check_names(users)
    if len(set(users)) != len(users):
        twice = sorted({s for s in users if users.count(s) > 1})
        raise ConfigError(f"data.symbols: listed twice: {', '.join(map(repr, twice))}; list each once")
    owner: dict[Hashable, str] = {}  # engine key -> the user symbol that holds it
    to_engine: dict[str, str] = {}
    for user in users:
        spelled = rule.spell(user)
        if rule.spell(spelled) != spelled:
            raise ConfigError(
                f"data.symbols: {user!r} has no stable spelling on {rule.engine} "
                f"({spelled!r} becomes {rule.spell(spelled)!r}); rename the symbol"
            )
        key = rule.key(spelled)
        if key not in owner:
            owner[key] = user
            to_engine[user] = spelled
    for user in users:
        if user in to_engine:
            continue
        spelled = rule.spell(user)
        first = owner[rule.key(spelled)]
        if not rule.rename:
            raise ConfigError(
                f"data.symbols: {first!r} and {user!r} are the same symbol {spelled!r} on {rule.engine}; "
                "list only one of them"
            )
        n = 2
        while rule.key(f"{spelled}{MARK}{n}") in owner:
            n += 1
        name = f"{spelled}{MARK}{n}"
        if rule.spell(name) != name:  # pragma: no cover - every rule here keeps the mark and digits
            raise ConfigError(f"data.symbols: {user!r} cannot be renamed on {rule.engine}; rename the symbol")
        owner[rule.key(name)] = user
        to_engine[user] = name
    ordered = {u: to_engine[u] for u in users}
    return SymbolMap(rule, ordered, {e: u for u, e in ordered.items()})
