"""Contracts and qualification: from a symbol to the conId IB trades, and what an unknown one does.

An order or a data request names its instrument with a ``Contract``. Written by hand, a contract
is a *description* (``Stock("SPY", "SMART", "USD")``: a stock, routed by IB's smart router, in
dollars); IB identifies every instrument by one number, the ``conId``. ``qualifyContracts``
asks TWS for the contract details of each description (``reqContractDetails``) and, when the
answer is unique, fills the contract object in place: conId, primary exchange, local symbol,
trading class. Qualify once, keep the result, and send orders with it: a qualified contract
can no longer be ambiguous.

1. **Qualify.** ``ib.qualifyContracts(*contracts)`` returns the qualified ones. The same
   instrument can also be asked for by conId alone, ``Contract(conId=...)``, which is how
   a stored position is re-identified.
2. **Contract details.** ``ib.reqContractDetails(contract)`` gives the rest of what IB knows:
   the long name, the minimum tick, the valid exchanges, the order types, trading hours...
3. **Unknown or wrong.** A symbol IB does not know gets error 200 ("No security definition has
   been found for the request"). ib_async reports it through ``errorEvent`` (and logs it), and
   ``qualifyContracts`` leaves that contract out (recent ib_async versions return ``None`` in
   its place); the page collects the code and carries on with the contracts that did qualify.
   A futures contract (``Future("ES", "202406", "CME")``) goes the same way here: the simulator
   serves stocks only, while a paper TWS would qualify it (as it would options and combos).

What to look at: the conIds (the simulator numbers its symbols from 1001 in alphabetical order),
the details of each stock, and the error codes the unknown requests produced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ib_async import Contract, Future, Stock

from recipes.ch09_ib_api.r01_connect_and_account_summary import Session, ib_session

UNKNOWN = "NOSUCHSYM"


# --------------------------------------------------------------------------------------------
# ingredients


def qualify(s: Session, contracts: list[Contract]) -> tuple[list[Contract], list[tuple[str, int, str]]]:
    """Qualify ``contracts``; returns the qualified ones and, for each that failed, (description,
    error code, message) from the errors the request produced."""
    seen = len(s.errors)
    result = s.ib.qualifyContracts(*contracts)
    ok = [c for c in result if c is not None and c.conId]
    failed_ids = {id(c) for c in contracts} - {id(c) for c in ok}
    errors = [e for e in s.errors[seen:] if e[1] not in (2104, 2106, 2158)]
    failed = []
    for c in contracts:
        if id(c) in failed_ids:
            code, message = (errors[0][1], errors[0][2]) if errors else (0, "not qualified")
            if errors:
                errors.pop(0)
            failed.append((f"{c.secType} {c.symbol} {c.lastTradeDateOrContractMonth}".strip(), code, message))
    return ok, failed


def details_row(s: Session, contract: Contract) -> dict[str, Any]:
    """The contract details a page would show for one qualified contract."""
    (d,) = s.ib.reqContractDetails(contract)
    c = d.contract
    return {
        "symbol": c.symbol, "conId": c.conId, "secType": c.secType, "primaryExchange": c.primaryExchange,
        "currency": c.currency, "longName": d.longName, "minTick": d.minTick,
        "validExchanges": d.validExchanges, "orderTypes": len(d.orderTypes.split(",")) if d.orderTypes else 0,
    }


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    # this page saves no file of its own (``out`` is accepted, as on every page)
    with ib_session() as s:
        stocks = [Stock(sym, "SMART", "USD") for sym in s.symbols]
        print("before: " + "; ".join(repr(c) for c in stocks))
        qualified, _ = qualify(s, stocks)
        print("after:  " + "; ".join(f"{c.symbol} conId={c.conId} primaryExchange={c.primaryExchange}" for c in qualified))
        con_ids = {c.symbol: c.conId for c in qualified}

        # the same instrument by conId alone
        by_id = Contract(conId=qualified[0].conId)
        s.ib.qualifyContracts(by_id)
        print(f"Contract(conId={by_id.conId}) qualifies to {by_id.secType} {by_id.symbol}")

        rows = [details_row(s, c) for c in qualified]
        print("\ncontract details:")
        for r in rows:
            print(f"  {r['symbol']:<5} conId {r['conId']}  {r['secType']} {r['currency']}  min tick {r['minTick']}  "
                  f"long name {r['longName']!r}  exchanges {r['validExchanges']}")

        unknown = [Stock(UNKNOWN, "SMART", "USD")]
        if s.simulated:
            unknown.append(Future("ES", "202406", "CME"))
        _, failed = qualify(s, unknown)
        print("\nnot qualified:")
        for what, code, message in failed:
            print(f"  {what}: error {code}: {message}")
        return {
            "simulated": s.simulated,
            "con_ids": con_ids,
            "by_con_id": by_id.symbol,
            "details": rows,
            "failed": failed,
            "error_codes": [code for _, code, _ in failed],
        }


if __name__ == "__main__":
    main()
