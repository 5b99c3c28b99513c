"""Pure tables between algotrade's execution model and Zipline's (no engine import)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from algotrade.core.config import BrokerConfig
from algotrade.core.errors import ConfigError
from algotrade.core.symbols import SymbolRule

#: fill model -> the bar field a market order placed on bar T fills at, on bar T+1
FILL_FIELD: dict[str, str] = {"next_close": "close", "next_open": "open"}

#: algotrade order types Zipline runs here; others are refused, never approximated
#: ("exit": a protective exit, carried as a market order and filled by algotrade.core.exits.exit_fill)
SUPPORTED_ORDER_TYPES = frozenset({"market", "exit"})

BUNDLE_PREFIX = "algotrade-"

#: zipline.assets.asset_writer: the delimiters between a company symbol and its share class
SHARE_CLASS_DELIMITERS = re.compile(r"[./\-_]")


def asset_key(symbol: str) -> tuple[str, str]:
    """What Zipline's asset finder tells apart: the upper-cased symbol split at its first
    delimiter into (company, share class) (``split_delimited_symbol``), so BRK.B, BRK_B, brk-b
    and BRK/B are one asset to it; the asset writer stores the symbol upper-cased."""
    parts = SHARE_CLASS_DELIMITERS.split(symbol.upper(), maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


#: Zipline's symbols: stored upper-case, looked up by (company, share class)
SYMBOLS = SymbolRule("zipline", spell=str.upper, key=asset_key, rename=True)


def bundle_name(data_hash: str, calendar_name: str, symbols: Iterable[str]) -> str:
    """One bundle per (data, zipline calendar, asset symbols): the name carries a hash of them.

    The data hash covers the frames, the user's symbols and the calendar the user named; the
    zipline calendar's name adds the calendar the bundle was written for (a ranged one names its
    range), which zipline stores in the bundle and looks up again when it reads it; the symbols
    are the engine symbols the bundle's assets carry.
    """
    text = json.dumps([data_hash, calendar_name, *symbols])
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{BUNDLE_PREFIX}{key}"


def check_broker(broker: BrokerConfig) -> None:
    if broker.fill not in FILL_FIELD:  # pragma: no cover - the config already restricts it
        raise ConfigError(f"broker.fill: {broker.fill!r} cannot be expressed on zipline; use next_close or next_open")


def refuse_order_type(kind: str) -> str | None:
    if kind in SUPPORTED_ORDER_TYPES:
        return None
    return (
        f"{kind} orders are not supported on the zipline engine in this version "
        "(its trigger rules differ from Backtrader's and would be approximated); use market orders"
    )
