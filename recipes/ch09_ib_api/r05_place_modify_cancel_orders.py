"""Orders through the TWS API: market, limit and stop; modify a limit, cancel a stop; fills and commissions.

``ib.placeOrder(contract, order)`` sends an order and returns at once with a ``Trade``: the
contract, the order (now carrying its ``orderId``), its ``orderStatus`` and, as they arrive, its
``fills`` and ``log``. Nothing waits for the market: the trade object is updated whenever the
client's loop runs. The three everyday order types:

* ``MarketOrder(action, quantity)`` — fill now at whatever the market gives (here, at the next
  session's close: the experiment's ``fill: next_close`` model, as in the backtests);
* ``LimitOrder(action, quantity, lmtPrice)`` — buy at or below (sell at or above) a price;
* ``StopOrder(action, quantity, stopPrice)`` — becomes a market order once the price trades
  through the stop (a protective stop-loss under a long position).

**orderRef.** Every order carries a free-text ``orderRef`` that IB keeps on the order and
copies onto each execution: algotrade's live runner puts its journal key there
(``run:strategy:seq``), so that every fill can be matched to the decision that made it even
after a crash. **Modify** by changing the order object and placing it again under the same
``orderId``; **cancel** with ``ib.cancelOrder(order)`` (TWS confirms with status ``Cancelled``
and error 202, "Order Canceled", which is information, not a failure).

**Fills.** Each execution arrives as ``execDetails`` followed by its ``commissionReport``;
ib_async joins them in a ``Fill(contract, execution, commissionReport, time)``. A fill without
its commission is not complete yet; ``ib.fills()`` lists them all and ``ib.reqExecutions()``
asks TWS again (what a restarted program does).

The script: session 1, a market buy of SPX and a limit buy of IXIC far below the market (it
rests); session 2, the limit is raised through the market (modified) and a protective stop is
placed under the SPX position; then the stop is cancelled before it could trigger.

What to look at: the statuses of the four orders, each fill's price, commission and orderRef,
and the modification (one order id, two limit prices).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from ib_async import LimitOrder, MarketOrder, Order, Stock, StopOrder, Trade

from recipes.ch09_ib_api import out_dir
from recipes.ch09_ib_api.r01_connect_and_account_summary import Session, ib_session

REF = "ch09-r05"


# --------------------------------------------------------------------------------------------
# ingredients


def place(s: Session, contract: Any, order: Order, ref: str) -> Trade:
    """Place ``order`` under ``orderRef=ref`` and wait until TWS acknowledged it."""
    order.orderRef = ref
    trade = s.ib.placeOrder(contract, order)
    s.wait(lambda: trade.orderStatus.status not in ("PendingSubmit", ""), what=f"{ref} to be acknowledged")
    return trade


def modify_limit(s: Session, trade: Trade, price: float) -> Trade:
    """Move a working limit order's price: the same order id, placed again."""
    trade.order.lmtPrice = price
    again = s.ib.placeOrder(trade.contract, trade.order)
    s.wait(lambda: any(e.message == "Modify" or e.status == "Submitted" for e in again.log[1:]), what="the modify")
    return again


def cancel(s: Session, trade: Trade) -> None:
    s.ib.cancelOrder(trade.order)
    s.wait(lambda: trade.orderStatus.status == "Cancelled", what=f"{trade.order.orderRef} to be cancelled")


def fills_frame(trades: list[Trade]) -> pd.DataFrame:
    """One row per execution with its commission report."""
    rows = [
        {"orderRef": t.order.orderRef, "orderId": f.execution.orderId, "symbol": f.contract.symbol,
         "side": f.execution.side, "shares": f.execution.shares, "price": f.execution.price,
         "commission": f.commissionReport.commission, "execution orderRef": f.execution.orderRef,
         "time": f.execution.time}
        for t in trades for f in t.fills
    ]
    return pd.DataFrame(rows)


def round_tick(price: float, tick: float = 0.01) -> float:
    return round(round(price / tick) * tick, 2)


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    with ib_session() as s:
        ib = s.ib
        spx, ixic = ib.qualifyContracts(*(Stock(sym, "SMART", "USD") for sym in s.symbols))
        last = {c.symbol: t.last if t.last == t.last else t.close for c, t in zip((spx, ixic), ib.reqTickers(spx, ixic),
                                                                              strict=True)}
        print("last prices: " + ", ".join(f"{k} {v:,.2f}" for k, v in last.items()))

        # session 1: a market buy, and a limit buy 10% under the market (it rests)
        market = place(s, spx, MarketOrder("BUY", 10), f"{REF}:market")
        limit = place(s, ixic, LimitOrder("BUY", 20, round_tick(0.9 * last[ixic.symbol])), f"{REF}:limit")
        first_limit = limit.order.lmtPrice
        print(f"placed: market #{market.order.orderId} {market.orderStatus.status}, "
              f"limit #{limit.order.orderId} at {first_limit:,.2f} {limit.orderStatus.status}")
        s.advance(until=lambda: market.isDone() and all(f.commissionReport.execId for f in market.fills))
        print(f"after a session: market {market.orderStatus.status} at {market.orderStatus.avgFillPrice:,.2f}, "
              f"limit {limit.orderStatus.status}")

        # session 2: raise the limit through the market; protect the SPX position with a stop
        modify_limit(s, limit, round_tick(1.02 * last[ixic.symbol]))
        print(f"limit #{limit.order.orderId} modified: {first_limit:,.2f} -> {limit.order.lmtPrice:,.2f}")
        stop_price = round_tick(0.85 * market.orderStatus.avgFillPrice)
        stop = place(s, spx, StopOrder("SELL", 10, stop_price), f"{REF}:stop")
        s.advance(until=lambda: limit.isDone() and all(f.commissionReport.execId for f in limit.fills))
        print(f"after a session: limit {limit.orderStatus.status} at {limit.orderStatus.avgFillPrice:,.2f}, "
              f"stop at {stop_price:,.2f} {stop.orderStatus.status}")

        # then: the stop is no longer wanted
        cancel(s, stop)
        said = [(code, msg) for req_id, code, msg in s.errors if req_id == stop.order.orderId]
        print(f"stop #{stop.order.orderId} {stop.orderStatus.status}; TWS said: "
              + "; ".join(f"error {code} {msg!r}" for code, msg in said))

        trades = [market, limit, stop]
        fills = fills_frame(trades)
        print("\nfills (execDetails + commissionReport):")
        print(fills.drop(columns=["time"]).to_string(index=False))
        again = ib.reqExecutions()
        print(f"reqExecutions returns {len(again)} executions, orderRefs {sorted({f.execution.orderRef for f in again})}")
        path = folder / "fills.csv"
        fills.to_csv(path, index=False)
        print(f"table: {path}")
        return {
            "simulated": s.simulated,
            "statuses": {t.order.orderRef: t.orderStatus.status for t in trades},
            "order_ids": {t.order.orderRef: t.order.orderId for t in trades},
            "limit_prices": (first_limit, limit.order.lmtPrice),
            "fills": fills,
            "executions": len(again),
            "cancel_errors": [code for code, _ in said],
            "commission_total": float(fills["commission"].sum()),
            "table": path,
        }


if __name__ == "__main__":
    main()
