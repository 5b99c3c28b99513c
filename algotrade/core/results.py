"""Results of a run: the tables written to disk and the metrics computed from them.

Every engine's run produces the same files, from the records the StrategyHost kept:
trades.csv, orders.csv, equity.csv, risk_events.csv (every order a risk check cut, refused or
halted), risk.csv (gross and net exposure and the portfolio's 1-day VaR and CVaR at each bar's
close), metrics.json (plus config.yaml, run.json, report.html written by algotrade.backtest.run).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.core.host import StrategyHost
from algotrade.core.risk import VarLimit
from algotrade.core.var import VarModel, portfolio_var

TRADE_COLUMNS = ["date", "symbol", "quantity", "price", "commission", "order_id"]
ORDER_COLUMNS = [
    "id", "created", "symbol", "quantity", "type", "limit", "stop", "status", "reason",
    "filled", "fill_date", "fill_price", "commission", "tag",
]
RISK_EVENT_COLUMNS = ["date", "symbol", "rule", "value", "limit", "action", "requested", "final", "reason"]
RISK_COLUMNS = ["date", "gross_exposure", "net_exposure", "positions", "var", "cvar"]


@dataclass(frozen=True)
class Tables:
    trades: pd.DataFrame
    orders: pd.DataFrame
    equity: pd.DataFrame
    #: row of ``equity`` from which results count (a strategy's warm-up or training bars come before)
    evaluation_start: int = 0
    risk_events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RISK_EVENT_COLUMNS))
    #: per bar: gross/net exposure (fractions of equity), positions held, 1-day VaR and CVaR
    risk: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RISK_COLUMNS))
    #: how ``risk``'s VaR was estimated: the run's ``risk.var`` model, else the default one
    var_model: VarModel = field(default_factory=VarModel)
    #: tables a strategy adds to the results (``result_tables()``; e.g. the composer's allocations), by file stem
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: each session's borrow fee of the shorts held at its close: (date, fee), exact (core/costs.py CashBook)
    borrow_fees: tuple[tuple[str, Decimal], ...] = ()


def risk_events_frame(host: StrategyHost) -> pd.DataFrame:
    """The host's risk events (every order a risk check cut or refused, every halt) as risk_events.csv has them."""
    return pd.DataFrame(
        [(str(e.date), e.symbol, e.rule, e.value, e.limit, e.action, e.requested, e.final, e.reason)
         for e in host.risk_events],
        columns=RISK_EVENT_COLUMNS,
    )


def tables(host: StrategyHost) -> Tables:
    trades = pd.DataFrame(
        [(str(f.date), f.symbol, f.quantity, f.price, f.commission, f.order_id) for f in host.fills],
        columns=TRADE_COLUMNS,
    )
    orders = pd.DataFrame(
        [
            (o.id, str(o.created), o.symbol, o.quantity, o.type, o.limit, o.stop, o.status, o.reason,
             o.filled, str(o.fill_date) if o.fill_date else "", o.fill_price, o.commission, o.tag)
            for o in host.orders
        ],
        columns=ORDER_COLUMNS,
    )
    equity = pd.DataFrame(host.equity, columns=["date", "cash", "equity"])
    equity.insert(2, "positions_value", equity["equity"] - equity["cash"])
    equity["date"] = equity["date"].astype(str)
    events = risk_events_frame(host)
    model = next((c.model for c in host.risk_checks if isinstance(c, VarLimit)), VarModel())
    fees = tuple((str(d), f) for d, f in host.book.borrow_fees) if host.book is not None else ()
    return Tables(trades, orders, equity, host.evaluation_start or 0, events, risk_series(host, model), model,
                  strategy_tables(host), fees)


def strategy_tables(host: StrategyHost) -> dict[str, pd.DataFrame]:
    """The strategy's own tables, if it has any: ``result_tables()`` -> {stem: (columns, rows)}."""
    made = getattr(host.strategy, "result_tables", None)
    return {stem: pd.DataFrame(rows, columns=columns) for stem, (columns, rows) in made().items()} if made else {}


def risk_series(host: StrategyHost, model: VarModel) -> pd.DataFrame:
    """Gross and net exposure and the 1-day VaR/CVaR (``model``) of the positions held at each
    bar's close, as fractions of that bar's equity; VaR and CVaR are NaN before there is enough
    history (algotrade/core/var.py); the same function the VaR limit decides with."""
    closes = {s: np.asarray(host.lists[s]["close"], dtype=float) for s in host.lists}
    rows = []
    for i, ((date, _cash, value), held) in enumerate(zip(host.equity, host.holdings, strict=True)):
        prices = {s: float(closes[s][i]) for s in held}
        signed = [q * prices[s] for s, q in held.items()]
        gross = sum(abs(v) for v in signed) / value if value > 0 else math.nan
        net = sum(signed) / value if value > 0 else math.nan
        got = portfolio_var(model, held, prices, value, closes, i)
        var, cvar = got if got is not None else (math.nan, math.nan)
        rows.append((str(date), gross, net, len(held), var, cvar))
    return pd.DataFrame(rows, columns=RISK_COLUMNS)


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def round_trips(trades: pd.DataFrame) -> list[float]:
    """Profit of each closed round trip (FIFO per symbol), commissions included."""
    pnl: list[float] = []
    lots: dict[str, list[list[float]]] = {}
    for row in trades.itertuples(index=False):
        qty, price, comm = int(row.quantity), float(row.price), float(row.commission)
        book = lots.setdefault(row.symbol, [])
        per_share_comm = comm / abs(qty) if qty else 0.0
        while qty and book and (book[0][0] > 0) != (qty > 0):
            lot = book[0]
            take = int(min(abs(qty), abs(lot[0])))
            sign = 1 if lot[0] > 0 else -1
            pnl.append(sign * take * (price - lot[1]) - take * (per_share_comm + lot[2]))
            lot[0] -= sign * take
            qty += sign * take
            if lot[0] == 0:
                book.pop(0)
        if qty:
            book.append([float(qty), price, per_share_comm])
    return pnl


def metrics(tbl: Tables, cash: float, benchmark: pd.Series | None = None) -> dict[str, Any]:
    """Performance metrics; empyrical-reloaded where it has the metric.

    ``benchmark`` is a close-price series of the benchmark symbol on the same sessions; without
    it alpha and beta are not computed (None), rather than measured against zero returns.
    """
    import empyrical as ep

    warmup = tbl.evaluation_start
    if warmup:
        cash = float(tbl.equity["equity"].iloc[warmup - 1])
        evaluated = tbl.equity.iloc[warmup:]
        first = evaluated["date"].iloc[0]
        tbl = Tables(tbl.trades[tbl.trades["date"] >= first], tbl.orders, evaluated, 0,
                     tbl.risk_events[tbl.risk_events["date"] >= first], tbl.risk.iloc[warmup:], tbl.var_model,
                     tbl.extra, tuple(f for f in tbl.borrow_fees if f[0] >= first))
    equity = tbl.equity.set_index(pd.to_datetime(tbl.equity["date"]))["equity"]
    returns = equity.pct_change().fillna(equity.iloc[0] / cash - 1 if len(equity) else 0.0)
    wealth = equity / equity.cummax()
    drawdown = wealth - 1
    # longest stretch below a previous peak, in sessions
    below = (drawdown < 0).to_numpy()
    longest = run = 0
    for flag in below:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    trips = round_trips(tbl.trades)
    notional = float((tbl.trades["quantity"].abs() * tbl.trades["price"]).sum()) if len(tbl.trades) else 0.0
    years = max(len(equity) / 252, 1e-9)
    final = float(equity.iloc[-1]) if len(equity) else cash
    out = {
        "start": str(tbl.equity["date"].iloc[0]) if len(equity) else None,
        "end": str(tbl.equity["date"].iloc[-1]) if len(equity) else None,
        "sessions": len(equity),
        "warmup_sessions": warmup,
        "initial_cash": cash,
        "final_equity": final,
        "total_return": final / cash - 1,
        "annual_return": _finite(ep.annual_return(returns)),
        "annual_volatility": _finite(ep.annual_volatility(returns)),
        "sharpe": _finite(ep.sharpe_ratio(returns)),
        "sortino": _finite(ep.sortino_ratio(returns)),
        "calmar": _finite(ep.calmar_ratio(returns)),
        "max_drawdown": _finite(float(drawdown.min())) if len(drawdown) else 0.0,
        "max_drawdown_duration_sessions": longest,
        "trade_count": len(tbl.trades),
        "round_trips": len(trips),
        "win_rate": (sum(p > 0 for p in trips) / len(trips)) if trips else None,
        "turnover_annual": notional / float(equity.mean()) / years if len(equity) else 0.0,
        "exposure": float((tbl.equity["positions_value"].abs() / tbl.equity["equity"]).mean()) if len(equity) else 0.0,
        "total_commission": float(tbl.trades["commission"].sum()) if len(tbl.trades) else 0.0,
        "total_borrow_fees": float(sum((f for _, f in tbl.borrow_fees), Decimal(0))),
        "orders_blocked": int((tbl.orders["status"] == "blocked").sum()),
        "orders_rejected": int((tbl.orders["status"] == "rejected").sum()),
        "risk_events": len(tbl.risk_events),
        **{f"risk_events_{a}": int((tbl.risk_events["action"] == a).sum()) for a in ("resized", "refused", "halted")},
        "max_var": _finite(float(tbl.risk["var"].max())) if tbl.risk["var"].notna().any() else None,
        "max_gross_exposure": _finite(float(tbl.risk["gross_exposure"].max())) if len(tbl.risk) else None,
        "var_model": tbl.var_model.describe(),
        "alpha": None,
        "beta": None,
    }
    if benchmark is not None and len(equity) > 2:
        bench = benchmark.reindex(equity.index).pct_change().fillna(0.0)
        alpha, beta = ep.alpha_beta(returns, bench)
        out["alpha"], out["beta"] = _finite(alpha), _finite(beta)
    return out


def monthly_returns(tbl: Tables) -> pd.DataFrame:
    """Year x month table of returns."""
    equity = tbl.equity.set_index(pd.to_datetime(tbl.equity["date"]))["equity"]
    month_end = equity.groupby([equity.index.year, equity.index.month]).last()
    first = float(equity.iloc[0]) if len(equity) else np.nan
    rets = month_end.pct_change()
    if len(rets):
        rets.iloc[0] = month_end.iloc[0] / first - 1
    table = rets.unstack()
    table.index.name, table.columns.name = "year", "month"
    return table


def write(tbl: Tables, stats: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tbl.trades.to_csv(folder / "trades.csv", index=False)
    tbl.orders.to_csv(folder / "orders.csv", index=False)
    tbl.equity.to_csv(folder / "equity.csv", index=False)
    tbl.risk_events.to_csv(folder / "risk_events.csv", index=False)
    tbl.risk.to_csv(folder / "risk.csv", index=False)
    for stem, frame in tbl.extra.items():
        frame.to_csv(folder / f"{stem}.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps(stats, indent=2) + "\n")
