"""Pure tables between algotrade's execution model and Zipline's (no engine import)."""

from __future__ import annotations

from algotrade.config import BrokerConfig
from algotrade.errors import ConfigError

#: fill model -> the bar field a market order placed on bar T fills at, on bar T+1
FILL_FIELD: dict[str, str] = {"next_close": "close", "next_open": "open"}

#: algotrade order types Zipline runs here; others are refused, never approximated
SUPPORTED_ORDER_TYPES = frozenset({"market"})

BUNDLE_PREFIX = "algotrade-"


def bundle_name(data_hash: str) -> str:
    """One bundle per (data, calendar): the name carries the hash of both."""
    return f"{BUNDLE_PREFIX}{data_hash}"


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
