"""`algotrade compare`: one experiment on several engines, side by side, every difference explained.

Each engine writes its usual ``<out>/<name>/<engine>/`` folder; the comparison goes to
``<out>/<name>/compare/``: trades_diff.csv, differences.csv, metrics.csv, compare.json and
compare.html. Engines *agree* when their trade lists are identical in date, symbol and quantity,
fill prices match to 1e-9 relative and final equity to 1e-6 relative.

A difference is classified by looking at the evidence both runs left behind:

* ``data`` — the engines did not see the same bars (data hash or repairs differ);
* ``fill timing`` — same trade on another session, or at the other end of the bar (open vs close);
* ``rounding`` — same trade, share counts one apart;
* ``cash`` — one engine rejected an order for want of cash, the other filled it;
* ``risk`` — one engine's risk checks blocked an order;
* ``costs`` — same fill, different commission, or a price moved by a slippage-sized amount;
* ``calendar`` — a trade on a session the other engine did not have;
* ``corporate action`` — a split or dividend event in one run only;
* ``float`` — prices equal but for the last bits (within tolerance, listed for completeness);
* ``follow-on`` — every difference after the first real one inherits its cause.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

PRICE_RTOL = 1e-9
EQUITY_RTOL = 1e-6


@dataclass(frozen=True)
class RunFolder:
    engine: str
    trades: pd.DataFrame
    orders: pd.DataFrame
    equity: pd.DataFrame
    metrics: dict[str, Any]
    run: dict[str, Any]
    #: risk_events.csv and risk.csv (None: a results folder written before they existed)
    risk_events: pd.DataFrame | None = None
    risk: pd.DataFrame | None = None

    @classmethod
    def read(cls, folder: Path) -> RunFolder:
        run = json.loads((folder / "run.json").read_text())
        optional = {name: pd.read_csv(folder / f"{name}.csv", dtype={"date": str, "symbol": str})
                    for name in ("risk_events", "risk") if (folder / f"{name}.csv").is_file()}
        return cls(
            run["engine"],
            pd.read_csv(folder / "trades.csv", dtype={"date": str, "symbol": str}),
            pd.read_csv(folder / "orders.csv", dtype={"created": str, "symbol": str, "fill_date": str}),
            pd.read_csv(folder / "equity.csv", dtype={"date": str}),
            json.loads((folder / "metrics.json").read_text()),
            run,
            optional.get("risk_events"),
            optional.get("risk"),
        )


@dataclass(frozen=True)
class Difference:
    row: int
    category: str
    explanation: str


@dataclass(frozen=True)
class Comparison:
    a: RunFolder
    b: RunFolder
    trades_diff: pd.DataFrame
    differences: list[Difference]
    equity_rel_diff: float

    @property
    def first_difference(self) -> int | None:
        real = [d.row for d in self.differences if d.category != "float"]
        return min(real) if real else None

    @property
    def agree(self) -> bool:
        return self.first_difference is None and self.equity_rel_diff <= EQUITY_RTOL


def _rel(x: float, y: float) -> float:
    return abs(x - y) / max(abs(x), abs(y), 1e-300)


def _session_index(run: RunFolder) -> dict[str, int]:
    return {d: i for i, d in enumerate(run.equity["date"])}


def _explain_pair(ta: Any, tb: Any, a: RunFolder, b: RunFolder, bars: dict[str, pd.DataFrame] | None) -> Difference | None:
    """Why two trades at the same position of both lists differ (None when they match)."""
    same_key = ta.date == tb.date and ta.symbol == tb.symbol
    if same_key and ta.quantity == tb.quantity:
        if _rel(ta.price, tb.price) <= PRICE_RTOL:
            if ta.price != tb.price:
                return Difference(-1, "float", f"prices {ta.price!r} and {tb.price!r} differ only in the last bits")
            if not math.isclose(ta.commission, tb.commission, rel_tol=1e-9, abs_tol=1e-9):
                return Difference(-1, "costs", f"commission {ta.commission} on {a.engine} vs {tb.commission} on {b.engine}: the commission models differ")
            return None
        where = _bar_field(bars, ta.symbol, ta.date, ta.price), _bar_field(bars, tb.symbol, tb.date, tb.price)
        if where[0] and where[1] and where[0] != where[1]:
            return Difference(-1, "fill timing", f"{a.engine} filled at the bar's {where[0]}, {b.engine} at its {where[1]}: the fill models differ (next_open vs next_close)")
        bps = abs(ta.price - tb.price) / min(ta.price, tb.price) * 1e4
        return Difference(-1, "costs", f"fill prices {ta.price} vs {tb.price} ({bps:.1f} bp apart) on the same bar: slippage models differ")
    if ta.symbol == tb.symbol and ta.date == tb.date:
        if abs(ta.quantity - tb.quantity) <= 1:
            return Difference(-1, "rounding", f"{ta.quantity} vs {tb.quantity} shares: share counts rounded differently")
        return Difference(-1, "sizing", f"{ta.quantity} vs {tb.quantity} shares on the same day: the portfolio value used for sizing differed")
    if ta.symbol == tb.symbol and ta.quantity == tb.quantity:
        ia, ib = _session_index(a).get(ta.date), _session_index(b).get(tb.date)
        if ia is not None and ib is not None and abs(ia - ib) == 1:
            return Difference(-1, "fill timing", f"the same order filled on {ta.date} on {a.engine} and {tb.date} on {b.engine}: one session apart")
    return None


def _bar_field(bars: dict[str, pd.DataFrame] | None, symbol: str, date: str, price: float) -> str | None:
    if not bars or symbol not in bars or date not in bars[symbol].index:
        return None
    row = bars[symbol].loc[date]
    for field in ("open", "close"):
        if _rel(float(row[field]), price) <= PRICE_RTOL:
            return field
    return None


def _explain_missing(trade: Any, have: RunFolder, lack: RunFolder) -> Difference:
    """Why ``lack`` has no trade where ``have`` has ``trade``."""
    orders = lack.orders
    near = orders[(orders["symbol"] == trade.symbol) & (orders["quantity"] * trade.quantity > 0)]
    rejected = near[near["status"] == "rejected"]
    blocked = near[near["status"] == "blocked"]
    if len(rejected) and (rejected["reason"].fillna("").str.contains("cash")).any():
        return Difference(-1, "cash", f"{lack.engine} rejected a {trade.symbol} order for want of cash ({rejected['created'].iloc[-1]}); {have.engine} filled it on {trade.date}")
    if len(blocked):
        return Difference(-1, "risk", f"{lack.engine}'s risk checks blocked a {trade.symbol} order: {blocked['reason'].iloc[-1]}")
    if trade.date not in set(lack.equity["date"]):
        return Difference(-1, "calendar", f"{trade.date} is a session on {have.engine} but not on {lack.engine}: the calendars differ")
    return Difference(-1, "follow-on", f"{have.engine} traded {trade.quantity} {trade.symbol} on {trade.date}; {lack.engine} did not: its state had already diverged")


def compare_runs(a: RunFolder, b: RunFolder, bars: dict[str, pd.DataFrame] | None = None) -> Comparison:
    """Side-by-side trades of two runs and the classified differences."""
    n = max(len(a.trades), len(b.trades))
    rows: list[dict[str, Any]] = []
    differences: list[Difference] = []
    data_note = None
    if a.run.get("data_hash") != b.run.get("data_hash"):
        data_note = Difference(0, "data", f"the engines saw different bars (data hash {a.run.get('data_hash')} vs {b.run.get('data_hash')}; repairs {a.run['data'].get('repairs')} vs {b.run['data'].get('repairs')})")
    diverged = False
    for k in range(n):
        ta = a.trades.iloc[k] if k < len(a.trades) else None
        tb = b.trades.iloc[k] if k < len(b.trades) else None
        diff: Difference | None
        if ta is not None and tb is not None:
            diff = _explain_pair(ta, tb, a, b, bars)
        elif ta is not None:
            diff = _explain_missing(ta, a, b)
        else:
            diff = _explain_missing(tb, b, a)
        if diff is not None and diverged and diff.category not in ("float",):
            diff = Difference(k, "follow-on", f"after the first difference: {diff.explanation}")
        if diff is not None:
            diff = Difference(k, diff.category, diff.explanation)
            differences.append(diff)
            if diff.category != "float":
                diverged = True
        row: dict[str, Any] = {"row": k + 1}
        for tag, t in ((a.engine, ta), (b.engine, tb)):
            for col in ("date", "symbol", "quantity", "price", "commission"):
                row[f"{tag}_{col}"] = None if t is None else t[col]
        row["match"] = diff is None or diff.category == "float"
        row["category"] = "" if diff is None else diff.category
        row["first_difference"] = False
        rows.append(row)
    if data_note and (differences or a.metrics["final_equity"] != b.metrics["final_equity"]):
        differences.insert(0, data_note)
    table = pd.DataFrame(rows)
    real = [d.row for d in differences if d.category != "float"]
    if real and len(table):
        table.loc[min(real), "first_difference"] = True
    fa, fb = a.metrics["final_equity"], b.metrics["final_equity"]
    return Comparison(a, b, table, differences, _rel(fa, fb))


def metrics_side_by_side(runs: list[RunFolder]) -> pd.DataFrame:
    keys = list(runs[0].metrics)
    return pd.DataFrame({r.engine: [r.metrics.get(k) for k in keys] for r in runs}, index=pd.Index(keys, name="metric"))
