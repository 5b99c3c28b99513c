"""The execution audit: orders, fills and an end-of-day snapshot, straight out of the journal's SQLite.

A live run must be able to answer, at any later time and without the broker: what did we decide,
what did we send, what was filled at what price and cost, and what did the account look like at
each close? algotrade's order journal (:mod:`algotrade.live.journal`) is written for exactly this:
an append-only SQLite file in which every order's **intent** is committed *before* it is sent,
and every broker **event** (submitted with the broker's id, fill with its exec id, price and
commission, cancel request, closure) after. The live runner also writes a **bars** row for each
bar it processed, with the account (cash, value) it sized against.

Because it is plain SQLite, the audit needs nothing but ``sqlite3`` and SQL. This page runs the
chapter's SMA crossover on SPX and IXIC through :class:`~adapters.ib.broker.IbBroker` and the
gateway simulator (as in r01), then, reading only the file:

1. **Orders** — one row per intent: orderRef, decision date, symbol, signed quantity, type, the
   broker's order id, filled quantity and final status.
2. **Fills** — one row per execution: exec id, orderRef, date, quantity, price, commission,
   notional.
3. **End of day** — one row per session: cash and account value at the close, the positions
   implied by the fills up to that day, the day's fills and commissions. Written to CSV and
   plotted (``eod_equity.png``).
4. **Cross-checks** — the journal's positions against the broker's, its fills against the
   broker's executions (same exec ids, same commissions), and every order either filled or
   closed with a reason.

What to look at: an order table where every row has a broker id and a status, commissions that
add up on both sides, and an EOD table whose last row matches the account the broker reports.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from algotrade.core.config import symbols_text
from recipes.ch10_live_deployment import out_dir
from recipes.ch10_live_deployment.r01_broker_adapter_contract import (
    experiment,
    fresh_journal,
    run_on_simulator,
)

RUN_ID = "audit"

ORDERS_SQL = """
SELECT i.order_ref, i.created AS decided, i.symbol, i.quantity, i.type,
       (SELECT broker_id FROM events e WHERE e.order_ref = i.order_ref AND e.kind = 'submitted'
          ORDER BY e.id DESC LIMIT 1) AS broker_id,
       (SELECT COALESCE(SUM(quantity), 0) FROM events e WHERE e.order_ref = i.order_ref AND e.kind = 'fill') AS filled,
       COALESCE((SELECT status FROM events e WHERE e.order_ref = i.order_ref AND e.kind = 'closed'),
                CASE WHEN (SELECT COALESCE(SUM(quantity), 0) FROM events e
                           WHERE e.order_ref = i.order_ref AND e.kind = 'fill') = i.quantity
                     THEN 'filled' ELSE 'open' END) AS status
FROM intents i WHERE i.run_id = ? ORDER BY i.strategy, i.seq
"""

FILLS_SQL = """
SELECT e.exec_id, e.order_ref, e.date, e.symbol, e.quantity, e.price, e.commission,
       e.quantity * e.price AS notional
FROM events e JOIN intents i ON i.order_ref = e.order_ref
WHERE e.kind = 'fill' AND i.run_id = ? ORDER BY e.id
"""

BARS_SQL = "SELECT date, cash, value FROM bars WHERE run_id = ? AND done = 1 ORDER BY idx"


# --------------------------------------------------------------------------------------------
# ingredients


def audit_tables(path: Path, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Orders, fills and bars of one run, read from a journal file with plain SQL."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        orders = pd.read_sql_query(ORDERS_SQL, db, params=(run_id,))
        fills = pd.read_sql_query(FILLS_SQL, db, params=(run_id,))
        bars = pd.read_sql_query(BARS_SQL, db, params=(run_id,))
    return orders, fills, bars


def eod_snapshot(fills: pd.DataFrame, bars: pd.DataFrame, symbols: tuple[str, ...]) -> pd.DataFrame:
    """One row per session: cash, value, positions from the fills so far, the day's fills and fees."""
    signed = fills.pivot_table(index="date", columns="symbol", values="quantity", aggfunc="sum")
    signed = signed.reindex(columns=list(symbols)).fillna(0)
    daily = fills.groupby("date").agg(fills=("exec_id", "count"), commission=("commission", "sum"))
    eod = bars.set_index("date")
    held = signed.reindex(eod.index.union(signed.index)).fillna(0).cumsum().reindex(eod.index)
    eod = eod.join(held.astype(int)).join(daily)
    eod[["fills", "commission"]] = eod[["fills", "commission"]].fillna(0)
    eod["fills"] = eod["fills"].astype(int)
    return eod


def plot(eod: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    index = pd.to_datetime(eod.index)
    ax.plot(index, eod["value"], label="account value")
    ax.plot(index, eod["cash"], label="cash", alpha=0.7)
    days = eod["fills"] > 0
    ax.scatter(index[days], eod["value"][days], marker="|", s=120, color="black", label="fills")
    ax.set_ylabel("USD")
    ax.set_title("end-of-day snapshot from the order journal")
    ax.legend()
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    exp, market = experiment()
    path = folder / "audit" / "journal.sqlite"
    journal = fresh_journal(path)
    host, executions, sim = run_on_simulator(exp, market, journal, run_id=RUN_ID, client_id=44)
    journal.close()
    final = {s: p.quantity for s, p in sim.account.positions.items() if p.quantity}
    print(f"ran {exp.strategy.name} on {symbols_text(exp.data.symbols)} through IB to {sim.current_date}; journal {path}")

    orders, fills, bars = audit_tables(path, RUN_ID)
    eod = eod_snapshot(fills, bars, exp.data.symbols)
    print(f"\norders ({len(orders)}):")
    print(orders.head(6).to_string(index=False))
    print(f"\nfills ({len(fills)}):")
    print(fills.head(6).round(2).to_string(index=False))
    print("\nend of day, the last sessions:")
    print(eod.tail(5).round(2).to_string())

    journal_positions = {s: int(q) for s, q in eod.iloc[-1][list(exp.data.symbols)].items() if q}
    ib_commission = sum(f.commissionReport.commission for f in executions)
    checks = {
        "positions match the broker": journal_positions == final,
        "exec ids match the broker": sorted(fills["exec_id"]) == sorted(f.execution.execId for f in executions),
        "commissions match the broker": abs(float(fills["commission"].sum()) - ib_commission) < 1e-9,
        "every order has a broker id": bool(orders["broker_id"].notna().all()),
        "every order is filled or closed": bool((orders["status"] != "open").all()),
        "last value matches the broker": abs(float(eod["value"].iloc[-1]) - sim.account.net_liquidation()) < 0.01,
    }
    print("\ncross-checks against the broker:")
    for name, ok in checks.items():
        print(f"  {name:<34} {ok}")
    for name, frame in (("orders", orders), ("fills", fills), ("eod_snapshot", eod)):
        frame.to_csv(folder / f"{name}.csv", index=name == "eod_snapshot")
    png = plot(eod, folder / "eod_equity.png")
    print(f"tables: {folder / 'orders.csv'}, {folder / 'fills.csv'}, {folder / 'eod_snapshot.csv'}\nplot: {png}")
    return {
        "orders": orders,
        "fills": fills,
        "eod": eod,
        "checks": checks,
        "broker_positions": final,
        "host_fills": len(host.fills),
        "journal": path,
        "plot": png,
    }


if __name__ == "__main__":
    main()
