"""Positions, portfolio and PnL: what the account holds and what it has made, as IB computes it.

After trading, three views of the same holdings answer different questions:

* ``ib.positions()`` — ``Position(account, contract, position, avgCost)`` from ``reqPositions``:
  how many shares, at what average cost (IB's ``avgCost`` includes the commissions paid). The
  cheapest view, and the one to reconcile a journal with.
* ``ib.portfolio()`` — ``PortfolioItem`` rows from the account updates: position, market price
  and value, average cost, unrealized and realized PnL per contract, marked by TWS.
* ``ib.reqPnL(account)`` — a live ``PnL`` object (daily, unrealized and realized PnL of the whole
  account) that TWS updates as prices move; ``ib.reqPnLSingle(account, "", conId)`` the same for
  one position. Both stay subscribed until ``cancelPnL`` / ``cancelPnLSingle``.

The page buys SPX and IXIC, lets ten sessions pass while recording the PnL objects after each,
then sells half of the SPX position, so that realized PnL appears next to the unrealized.

What to look at: the average cost against the fill price (the commission is in it), the
portfolio's market value = position x market price, the account's unrealized PnL = the sum of
the per-position ones, and the realized PnL after the partial sale. ``pnl_path.png`` plots the
PnL path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from ib_async import MarketOrder, Stock

from recipes.ch09_ib_api import out_dir
from recipes.ch09_ib_api.r01_connect_and_account_summary import Session, ib_session
from recipes.ch09_ib_api.r05_place_modify_cancel_orders import place

REF = "ch09-r06"
BUY = {"SPX": 20, "IXIC": 10, "SPY": 20, "QQQ": 10}
HOLD_SESSIONS = 10


# --------------------------------------------------------------------------------------------
# ingredients


def positions_frame(s: Session) -> pd.DataFrame:
    rows = [{"symbol": p.contract.symbol, "conId": p.contract.conId, "position": p.position, "avgCost": p.avgCost}
            for p in s.ib.positions() if p.position]
    return pd.DataFrame(rows).set_index("symbol") if rows else pd.DataFrame()


def portfolio_frame(s: Session) -> pd.DataFrame:
    rows = [{"symbol": p.contract.symbol, "position": p.position, "marketPrice": p.marketPrice,
             "marketValue": p.marketValue, "averageCost": p.averageCost, "unrealizedPNL": p.unrealizedPNL,
             "realizedPNL": p.realizedPNL} for p in s.ib.portfolio()]
    return pd.DataFrame(rows).set_index("symbol") if rows else pd.DataFrame()


def buy_and_wait(s: Session, contract: Any, quantity: int, ref: str) -> Any:
    """A market order, waited for until it is filled with its commission report."""
    action = "BUY" if quantity > 0 else "SELL"
    trade = place(s, contract, MarketOrder(action, abs(quantity)), ref)
    s.advance(until=lambda: trade.isDone() and all(f.commissionReport.execId for f in trade.fills))
    return trade


def plot(path_frame: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    for col in ("dailyPnL", "unrealizedPnL", "realizedPnL"):
        ax.plot(path_frame.index, path_frame[col], marker="o", label=col)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("USD")
    ax.set_title("reqPnL after each session")
    ax.legend()
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    with ib_session() as s:
        ib = s.ib
        account = s.account
        contracts = ib.qualifyContracts(*(Stock(sym, "SMART", "USD") for sym in s.symbols))
        # both buys are acknowledged before the session passes, so they fill on the same bar
        buys = [place(s, c, MarketOrder("BUY", BUY[c.symbol]), f"{REF}:buy-{c.symbol}") for c in contracts]
        s.advance(until=lambda: all(t.isDone() and t.fills and t.fills[-1].commissionReport.execId for t in buys))
        fill_price = {t.contract.symbol: t.orderStatus.avgFillPrice for t in buys}

        pnl = ib.reqPnL(account)
        singles = {c.symbol: ib.reqPnLSingle(account, "", c.conId) for c in contracts}
        s.wait(lambda: pnl.unrealizedPnL == pnl.unrealizedPnL and all(p.position for p in singles.values()),
               what="the PnL subscriptions")
        path_rows = []
        for _ in range(HOLD_SESSIONS if s.simulated else 1):
            s.advance()
            s.ib.sleep(0.02)
            when = s.sim.current_date if s.sim is not None else pd.Timestamp.now().date()
            path_rows.append({"date": pd.Timestamp(when), "dailyPnL": pnl.dailyPnL,
                              "unrealizedPnL": pnl.unrealizedPnL, "realizedPnL": pnl.realizedPnL})

        positions = positions_frame(s)
        print("positions (reqPositions):")
        print(positions.to_string())
        print("fill prices: " + ", ".join(f"{k} {v:,.2f}" for k, v in fill_price.items()))
        held = portfolio_frame(s)
        print("\nportfolio (account updates):")
        print(held.round(2).to_string())
        per_position = sum(p.unrealizedPnL for p in singles.values())
        held_pnl = {"daily": pnl.dailyPnL, "unrealized": pnl.unrealizedPnL, "realized": pnl.realizedPnL}
        print(f"\nreqPnL: daily {pnl.dailyPnL:,.2f}  unrealized {pnl.unrealizedPnL:,.2f}  realized {pnl.realizedPnL:,.2f}"
              f"   (sum of reqPnLSingle unrealized {per_position:,.2f})")

        # sell half the first position: realized PnL appears
        first = contracts[0]
        half = -BUY[first.symbol] // 2
        sale = buy_and_wait(s, first, half, f"{REF}:sell-half")
        s.ib.sleep(0.02)
        when = s.sim.current_date if s.sim is not None else pd.Timestamp.now().date()
        path_rows.append({"date": pd.Timestamp(when), "dailyPnL": pnl.dailyPnL,
                          "unrealizedPnL": pnl.unrealizedPnL, "realizedPnL": pnl.realizedPnL})
        realized = sum(f.commissionReport.realizedPNL for f in sale.fills)
        print(f"sold {-half} {first.symbol} at {sale.orderStatus.avgFillPrice:,.2f}: realized {realized:,.2f} "
              f"(commission report); reqPnL realized now {pnl.realizedPnL:,.2f}")
        after = positions_frame(s)
        print("positions now: " + ", ".join(f"{k} {v:g}" for k, v in after["position"].items()))

        ib.cancelPnL(account)
        for c in contracts:
            ib.cancelPnLSingle(account, "", c.conId)
        path_frame = pd.DataFrame(path_rows).set_index("date")
        png = plot(path_frame, folder / "pnl_path.png")
        print(f"plot: {png}")
        return {
            "simulated": s.simulated,
            "positions": positions,
            "portfolio": held,
            "fill_price": fill_price,
            "pnl": {"daily": pnl.dailyPnL, "unrealized": pnl.unrealizedPnL, "realized": pnl.realizedPnL},
            "pnl_held": held_pnl,
            "unrealized_sum_single": per_position,
            "realized_on_sale": realized,
            "positions_after": after,
            "pnl_path": path_frame,
            "plot": png,
        }


if __name__ == "__main__":
    main()
