"""Pure tables between algotrade's live model and the TWS API (no client import)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from algotrade.core.symbols import SymbolRule

#: TWS order status -> algotrade's broker-order status (None: still working)
STATUS: dict[str, str | None] = {
    "PendingSubmit": None,
    "ApiPending": None,
    "PreSubmitted": None,
    "Submitted": None,
    "PendingCancel": None,
    "Filled": "filled",
    "Cancelled": "cancelled",
    "ApiCancelled": "cancelled",
    "Inactive": "rejected",
}

#: algotrade order type -> TWS orderType
ORDER_TYPE: dict[str, str] = {"market": "MKT", "limit": "LMT", "stop": "STP"}

#: ports of TWS and IB Gateway; paper is the default everywhere
PAPER_PORTS = frozenset({7497, 4002})
LIVE_PORTS = frozenset({7496, 4001})

#: IB error codes about the connection to IB's servers (the socket to TWS stays up)
CONNECTIVITY = {1100: "lost", 1101: "restored, data lost", 1102: "restored, data kept", 2110: "lost to TWS"}

#: IB error codes that end an order without a fill
ORDER_REJECTIONS = frozenset({103, 104, 105, 106, 107, 109, 110, 111, 113, 116, 117, 118, 119, 120, 121, 122,
                              123, 124, 125, 126, 129, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141,
                              201, 202, 203})


def rejection_reason(entries: Iterable[tuple[int, str]]) -> str | None:
    """Why IB rejected an order, from its log's (errorCode, message) entries: the text after
    "reason:" of the last rejecting error (``Error 201, reqId 7: Order rejected - reason:X`` ->
    ``X``, the broker's own words, as the backtest gives them), else ``IB code: message``; None
    when no error ended it (202 is IB's confirmation of a cancel, not a rejection)."""
    for code, message in reversed(list(entries)):
        if code in ORDER_REJECTIONS and code != 202:
            text = re.sub(r", contract: \w+\(.*$", "", re.sub(r"^(?:Error|Warning) -?\d+, reqId -?\d+: ", "", message))
            why = re.split(r"reason:", text, maxsplit=1, flags=re.IGNORECASE)
            return why[1].strip() if len(why) == 2 and why[1].strip() else f"IB {code}: {text}"
    return None


def action(quantity: int) -> str:
    return "BUY" if quantity > 0 else "SELL"


def signed(side: str, shares: float) -> int:
    """Executions report an unsigned size and a side: BOT (bought) or SLD (sold)."""
    return round(shares) if side in ("BOT", "BUY") else -round(shares)


def status_of(tws_status: str) -> str | None:
    return STATUS.get(tws_status)


def ib_symbol(symbol: str) -> str:
    """IB's spelling of a US stock symbol: upper case, a share class after one space
    (``brk.b``, ``BRK_B``, ``BRK-B``, ``BRK/B`` -> ``BRK B``)."""
    return " ".join(re.sub(r"[./_-]", " ", symbol.upper()).split())


#: IB's symbols. Two user symbols with one IB spelling are one contract at IB: refused, never
#: renamed (a renamed symbol would be another security or none). IbBroker asks IB for each
#: symbol under this spelling and reports it back under the user's; the gateway simulator lists
#: its data's symbols under it too, as IB would.
SYMBOLS = SymbolRule("IB", spell=ib_symbol, key=ib_symbol, rename=False)
