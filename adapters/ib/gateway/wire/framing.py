"""TWS API framing, the handshake, and the tables of IB's message ids and layout server versions.

Every message is a 4-byte big-endian length followed by ASCII fields, each ending in NUL; field 0
is the message id. The only exceptions are the client's ``API\\0`` greeting and the server's
two-field handshake reply.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from typing import Any

#: The highest server version the simulator speaks; a client gets min(this, its maximum).
MAX_SERVER_VERSION = 178
#: The lowest client maximum accepted (ib_insync and ib_async both start at 157).
MIN_SERVER_VERSION = 157

# server versions at which a layout changes (names as in ibapi/server_versions.py)
SV_DURATION = 159
SV_POST_TO_ATS = 160
SV_AUTO_CANCEL_PARENT = 162
SV_FRACTIONAL_SIZE_SUPPORT = 163
SV_SIZE_RULES = 164
SV_ADVANCED_ORDER_REJECT = 166
SV_PEGBEST_PEGMID_OFFSETS = 170
SV_BOND_ISSUERID = 176
SV_FA_PROFILE_DESUPPORT = 177
SV_PENDING_PRICE_REVISION = 178

UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1

# incoming (client -> server) message ids
class In:
    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCT_DATA = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_HISTORICAL_DATA = 20
    CANCEL_HISTORICAL_DATA = 25
    REQ_CURRENT_TIME = 49
    REQ_REAL_TIME_BARS = 50
    CANCEL_REAL_TIME_BARS = 51
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_HEAD_TIMESTAMP = 87
    CANCEL_HEAD_TIMESTAMP = 90
    REQ_PNL = 92
    CANCEL_PNL = 93
    REQ_PNL_SINGLE = 94
    CANCEL_PNL_SINGLE = 95
    REQ_COMPLETED_ORDERS = 99


# outgoing (server -> client) message ids
class Out:
    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    HISTORICAL_DATA = 17
    CURRENT_TIME = 49
    REAL_TIME_BARS = 50
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    TICK_REQ_PARAMS = 81
    HEAD_TIMESTAMP = 88
    HISTORICAL_DATA_UPDATE = 90
    PNL = 94
    PNL_SINGLE = 95
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


class WireError(ValueError):
    """A message that does not follow the protocol."""


# --------------------------------------------------------------------------------------------
# framing


def fmt(value: Any) -> str:
    """One field as text: None and unset numbers -> '', bools -> '0'/'1', floats round-trip."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return "" if value == UNSET_INTEGER else str(value)
    if isinstance(value, float):
        if value == UNSET_DOUBLE or math.isnan(value):
            return ""
        if math.isinf(value):
            return "Infinite"
        return repr(value)
    return str(value)


def frame(fields: Iterable[Any]) -> bytes:
    """Length-prefixed, NUL-terminated fields."""
    payload = "".join(fmt(f) + "\0" for f in fields).encode("ascii", errors="backslashreplace")
    return struct.pack(">I", len(payload)) + payload


def split_fields(payload: bytes) -> list[str]:
    """The fields of one message payload (without the length prefix)."""
    parts = payload.decode("ascii", errors="backslashreplace").split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def unframe(data: bytes) -> tuple[list[list[str]], bytes]:
    """Split a byte stream into complete messages; returns (messages, rest)."""
    out = []
    while len(data) >= 4:
        (n,) = struct.unpack(">I", data[:4])
        if len(data) < 4 + n:
            break
        out.append(split_fields(data[4 : 4 + n]))
        data = data[4 + n :]
    return out, data


def parse_greeting(payload: bytes) -> tuple[int, int, str]:
    """The client's version range ``v157..178[ +PACEAPI]`` -> (min, max, options)."""
    text = payload.decode("ascii", errors="replace").strip("\0")
    head, _, options = text.partition(" ")
    if not head.startswith("v"):
        raise WireError(f"bad API greeting {text!r}: expected 'vMIN..MAX'")
    lo, sep, hi = head[1:].partition("..")
    try:
        low = int(lo)
        high = int(hi) if sep else low
    except ValueError:
        raise WireError(f"bad API greeting {text!r}: versions are not numbers") from None
    return low, high, options


def negotiate(client_max: int, server_max: int = MAX_SERVER_VERSION) -> int:
    return min(client_max, server_max)


def handshake_reply(version: int, conn_time: str) -> list[Any]:
    """The server's two-field reply: version and connection time."""
    return [version, conn_time]
