"""A scripted IB client, run under the frozen ib_insync (or ib_async) against the gateway simulator.

    .venv-insync/bin/python tests/insync/client.py HOST PORT SYMBOL [--client ib_insync|ib_async]

It connects, qualifies SYMBOL as STK/SMART/USD, reads the daily history, buys 10 shares with a
market order tagged with an orderRef, waits for the fill and its commission report, and prints
one JSON document with what the client saw. Any ERROR logged by the client library (a message it
could not decode) is reported too, so a layout mistake cannot pass silently.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("symbol")
    parser.add_argument("--client", default="ib_insync", choices=["ib_insync", "ib_async"])
    parser.add_argument("--client-id", type=int, default=7)
    args = parser.parse_args(argv)

    ib_mod = importlib.import_module(args.client)
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    logging.getLogger().setLevel(logging.WARNING)

    ib = ib_mod.IB()
    ib.RequestTimeout = 10
    out: dict[str, object] = {"client": args.client, "version": ib_mod.__version__}
    ib.connect(args.host, args.port, clientId=args.client_id, timeout=10)
    out["server_version"] = ib.client.serverVersion()
    out["accounts"] = ib.managedAccounts()
    (contract,) = ib.qualifyContracts(ib_mod.Stock(args.symbol, "SMART", "USD"))
    out["conId"] = contract.conId
    bars = ib.reqHistoricalData(contract, endDateTime="", durationStr="1 Y", barSizeSetting="1 day",
                                whatToShow="TRADES", useRTH=True, formatDate=1)
    out["bars"] = len(bars)
    out["last_bar"] = [str(bars[-1].date), bars[-1].open, bars[-1].high, bars[-1].low, bars[-1].close] if bars else None
    order = ib_mod.MarketOrder("BUY", 10)
    order.orderRef = "insync-test:sma_cross:1"
    trade = ib.placeOrder(contract, order)
    ib.waitOnUpdate(timeout=2)
    out["status_after_place"] = trade.orderStatus.status
    print(json.dumps({"placed": trade.order.orderId}), file=sys.stderr, flush=True)
    # the test advances the simulator's clock; wait for the fill (and its commission report)
    for _ in range(100):
        if trade.orderStatus.status == "Filled" and trade.fills and trade.fills[-1].commissionReport.execId:
            break
        ib.waitOnUpdate(timeout=0.2)
    out["status"] = trade.orderStatus.status
    out["fills"] = [
        {"shares": f.execution.shares, "price": f.execution.price, "orderRef": f.execution.orderRef,
         "commission": f.commissionReport.commission}
        for f in trade.fills
    ]
    out["positions"] = [(p.contract.symbol, p.position) for p in ib.positions()]
    ib.disconnect()
    out["errors"] = errors.records
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
