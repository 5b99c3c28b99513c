"""Engine results as returns, positions and transactions; a parity check; a small tearsheet.

A backtest engine's own output format is its business: Backtrader has analyzers, Zipline a
performance DataFrame, pyfolio wants three tables. algotrade writes the same results folder for
every engine (``trades.csv``, ``equity.csv``, ``orders.csv``, ``metrics.json``, ``run.json``),
and from it this recipe builds the three tables every tearsheet starts from:

* **returns** — daily returns of the account's equity (the first day against the starting cash);
* **positions** — shares held in each symbol at each close (the running sum of the signed trade
  quantities), their value at the close, and cash;
* **transactions** — one row per fill: date, symbol, signed amount, price, commission.

It runs the quickstart (an SMA(10/30) crossover on the S&P 500, 2005-2012) on Backtrader and on
Zipline through ``algotrade.backtest.run.compare_experiment`` — or reads two result folders you pass
in — and checks **parity** with the project's tolerances (``algotrade.backtest.compare``): identical
transactions (date, symbol, amount; prices to 1e-9 relative), identical positions, daily returns
equal to 1e-9, final equity within 1e-6 relative. Each engine is also checked against *itself*:
the positions' value rebuilt from the transactions and the closes must equal the positions value
the engine recorded.

The **tearsheet** reuses this chapter's ingredients — the metrics of recipe 01 next to those in
``metrics.json``, the drawdown table of recipe 02, the 99 % VaR/CVaR of recipe 03 — plus monthly
returns and round trips, written to ``tearsheet.txt`` and ``tearsheet.png``.

What to look at: the parity lines, and the tearsheet: a long-only crossover that is in the
market a little more than half the time, with less than half the index's drawdown over the same
years and a Sharpe ratio only modestly better.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algotrade.backtest.compare import EQUITY_RTOL, PRICE_RTOL, RunFolder
from algotrade.core.config import load_experiment
from algotrade.core.data import load_market
from algotrade.core.results import round_trips
from recipes.ch08_performance_risk import out_dir
from recipes.ch08_performance_risk.r01_return_risk_metrics import METRICS, metrics_by_hand
from recipes.ch08_performance_risk.r02_drawdowns_and_rolling_risk import (
    drawdown_series,
    drawdown_table,
    rolling_sharpe,
)
from recipes.ch08_performance_risk.r03_var_cvar import historical_var_cvar

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "quickstart.yaml"
RETURNS_ATOL = 1e-9


@dataclass(frozen=True)
class EngineResults:
    """One engine's run as the three tables of a tearsheet."""

    engine: str
    folder: Path
    returns: pd.Series
    positions: pd.DataFrame  # shares per symbol at each close
    position_values: pd.DataFrame  # value per symbol at each close, and cash
    transactions: pd.DataFrame
    equity: pd.DataFrame
    metrics: dict[str, Any]
    round_trips: list[float]  # profit of each closed round trip


# --------------------------------------------------------------------------------------------
# ingredients


def to_returns(run: RunFolder) -> pd.Series:
    equity = run.equity.set_index(pd.to_datetime(run.equity["date"]))["equity"]
    returns = equity.pct_change()
    returns.iloc[0] = equity.iloc[0] / run.metrics["initial_cash"] - 1
    return returns.rename(run.engine)


def to_transactions(run: RunFolder) -> pd.DataFrame:
    t = run.trades
    return pd.DataFrame({
        "symbol": t["symbol"].to_numpy(),
        "amount": t["quantity"].astype(int).to_numpy(),
        "price": t["price"].astype(float).to_numpy(),
        "commission": t["commission"].astype(float).to_numpy(),
    }, index=pd.DatetimeIndex(pd.to_datetime(t["date"]), name="date"))


def to_positions(transactions: pd.DataFrame, sessions: pd.DatetimeIndex, symbols: list[str]) -> pd.DataFrame:
    """Shares held at each session's close: the running sum of the amounts traded up to that day."""
    per_day = transactions.groupby([transactions.index, "symbol"])["amount"].sum().unstack(fill_value=0)
    per_day = per_day.reindex(index=sessions, columns=symbols, fill_value=0)
    return per_day.cumsum().astype(int)


def closes_of(folder: Path) -> pd.DataFrame | None:
    """The closes a run saw, from its own config.yaml (None when its data cannot be loaded here)."""
    try:
        market = load_market(load_experiment(folder / "config.yaml").data)
    except Exception:  # a folder from elsewhere, its data not on this machine: skip the value check
        return None
    return pd.DataFrame({s: f["close"] for s, f in market.frames.items()})


def read_engine(folder: Path) -> tuple[EngineResults, pd.DataFrame | None]:
    """A results folder as the three tables (and the closes the run saw, when they can be loaded)."""
    run = RunFolder.read(folder)
    returns = to_returns(run)
    sessions = pd.DatetimeIndex(returns.index, name="date")
    transactions = to_transactions(run)
    symbols = list(run.run["data"]["symbols"])
    positions = to_positions(transactions, sessions, symbols)
    closes = closes_of(folder)
    equity = run.equity.set_index(sessions)
    if closes is not None:
        values = positions * closes.reindex(index=sessions, columns=symbols)
    else:
        values = pd.DataFrame(np.nan, index=sessions, columns=symbols)
    values["cash"] = equity["cash"]
    trips = round_trips(run.trades)
    return EngineResults(run.engine, folder, returns, positions, values, transactions, equity, run.metrics, trips), closes


def parity(a: EngineResults, b: EngineResults) -> dict[str, Any]:
    """The project's parity rules applied to the three tables."""
    ta, tb = a.transactions, b.transactions
    same_keys = len(ta) == len(tb) and bool(
        (ta.index == tb.index).all() and (ta["symbol"].to_numpy() == tb["symbol"].to_numpy()).all()
        and (ta["amount"].to_numpy() == tb["amount"].to_numpy()).all()
    )
    price_rel = float(np.max(np.abs(ta["price"].to_numpy() - tb["price"].to_numpy()) / tb["price"].to_numpy())) if same_keys and len(ta) else float("nan")
    ra, rb = a.returns.align(b.returns)
    fa, fb = a.metrics["final_equity"], b.metrics["final_equity"]
    equity_rel = abs(fa - fb) / max(abs(fa), abs(fb))
    out = {
        "transactions_same": same_keys,
        "price_max_rel_diff": price_rel,
        "positions_same": a.positions.equals(b.positions),
        "returns_max_abs_diff": float((ra - rb).abs().max()),
        "final_equity_rel_diff": float(equity_rel),
    }
    out["agree"] = bool(
        out["transactions_same"] and (not len(ta) or price_rel <= PRICE_RTOL) and out["positions_same"]
        and out["returns_max_abs_diff"] <= RETURNS_ATOL and equity_rel <= EQUITY_RTOL
    )
    return out


def self_consistency(e: EngineResults) -> float:
    """Largest |positions value rebuilt from transactions x closes - positions value recorded|, in currency."""
    rebuilt = e.position_values.drop(columns="cash").sum(axis=1, min_count=1)
    return float((rebuilt - e.equity["positions_value"]).abs().max())


def monthly_table(returns: pd.Series) -> pd.DataFrame:
    monthly = (1 + returns).groupby([returns.index.year, returns.index.month]).prod() - 1
    table = monthly.unstack()
    table.index.name, table.columns.name = "year", "month"
    return table


def tearsheet_text(name: str, engines: list[EngineResults], check: dict[str, Any], benchmark: pd.Series | None,
                   consistency: dict[str, float]) -> str:
    first = engines[0]
    r = first.returns
    lines = [f"{name}: {' vs '.join(e.engine for e in engines)}, {r.index[0].date()} .. {r.index[-1].date()} ({len(r)} sessions)", ""]
    lines.append("parity (algotrade.backtest.compare tolerances: prices 1e-9 relative, final equity 1e-6 relative)")
    lines += [f"  {k:<24}{v}" for k, v in check.items()]
    lines += [f"  self-consistency {k}: positions value rebuilt from transactions x closes, max error {v:.2e}"
              for k, v in consistency.items()]
    lines += ["", "metrics (recipe 01, by hand) and metrics.json (empyrical)"]
    table = pd.DataFrame({e.engine: metrics_by_hand(e.returns.to_numpy()) for e in engines})
    json_keys = {"cagr": "annual_return", "annual_volatility": "annual_volatility", "sharpe": "sharpe",
                 "sortino": "sortino", "max_drawdown": "max_drawdown", "calmar": "calmar"}
    table[f"metrics.json ({first.engine})"] = [first.metrics.get(json_keys.get(m, ""), np.nan) for m in METRICS]
    if benchmark is not None:
        table["buy and hold"] = pd.Series(metrics_by_hand(benchmark.reindex(r.index).fillna(0.0).to_numpy()))
    lines.append(table.to_string(float_format=lambda x: f"{x:.4f}"))
    var, cvar = historical_var_cvar(r.to_numpy(), 0.99)
    lines += ["", f"one-day 99% historical VaR {var:.2%}, CVaR {cvar:.2%} of equity (recipe 03)"]
    trips = first.round_trips
    exposure = (first.equity["positions_value"].abs() / first.equity["equity"]).mean()
    lines.append(f"transactions {len(first.transactions)}, round trips {len(trips)}, won {sum(p > 0 for p in trips)}, "
                 f"mean P&L per round trip {np.mean(trips) if trips else 0:,.2f}, time in the market {exposure:.0%}")
    lines += ["", "drawdowns (recipe 02)"]
    dd = drawdown_table(r)
    lines.append(dd.assign(**{c: dd[c].dt.date for c in ("peak", "trough", "recovery")}).to_string(
        index=False, float_format=lambda x: f"{x:.3f}"))
    lines += ["", "monthly returns (%)"]
    lines.append((monthly_table(r) * 100).to_string(float_format=lambda x: f"{x:6.1f}"))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None, folders: tuple[Path, Path] | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    if folders is None:
        from algotrade.backtest.run import compare_experiment, compare_text

        result = compare_experiment(EXPERIMENT, ("backtrader", "zipline"), out=folder / "runs")
        print(compare_text(result))
        folders = (result.runs[0].folder, result.runs[1].folder)
    loaded = [read_engine(Path(f)) for f in folders]
    engines = [e for e, _ in loaded]
    closes = loaded[0][1]
    name = Path(folders[0]).parent.name  # <out>/<experiment name>/<engine>/

    a, b = engines
    print(f"\nreturns: {len(a.returns)} sessions; positions: {a.positions.shape[1]} symbol(s); "
          f"transactions: {len(a.transactions)} on {a.engine}, {len(b.transactions)} on {b.engine}")
    print(a.transactions.head(4).to_string())
    check = parity(a, b)
    consistency = {e.engine: self_consistency(e) for e in engines}
    print("parity: " + ", ".join(f"{k} {v}" for k, v in check.items()))
    print("self-consistency (currency): " + ", ".join(f"{k} {v:.2e}" for k, v in consistency.items()))

    benchmark = closes.iloc[:, 0].pct_change().fillna(0.0) if closes is not None else None
    text = tearsheet_text(name, engines, check, benchmark, consistency)
    (folder / "tearsheet.txt").write_text(text)
    print("\n" + "\n".join(text.splitlines()[11:24]))
    path = plot(engines, benchmark, closes, folder / "tearsheet.png")
    print(f"tearsheet: {folder / 'tearsheet.txt'}\nplot: {path}")
    return {
        "engines": [e.engine for e in engines],
        "sessions": len(a.returns),
        "transactions": {e.engine: len(e.transactions) for e in engines},
        "parity": check,
        "self_consistency": consistency,
        "metrics": {e.engine: metrics_by_hand(e.returns.to_numpy()) for e in engines},
        "metrics_json": {e.engine: e.metrics for e in engines},
        "tearsheet": folder / "tearsheet.txt",
        "plot": path,
    }


def plot(engines: list[EngineResults], benchmark: pd.Series | None, closes: pd.DataFrame | None, path: Path) -> Path:
    from matplotlib.figure import Figure

    a, b = engines
    fig = Figure(figsize=(11, 11), layout="constrained")
    ax = fig.subplot_mosaic([["equity", "equity"], ["diff", "diff"], ["dd", "dd"], ["sharpe", "months"]],
                            height_ratios=[2, 0.8, 1, 1.4])
    for e, style in ((a, "-"), (b, "--")):
        ax["equity"].plot(e.equity.index, e.equity["equity"], style, lw=0.9, label=e.engine)
    if benchmark is not None:
        start = a.metrics["initial_cash"]
        ax["equity"].plot(benchmark.index, start * (1 + benchmark).cumprod(), lw=0.7, color="grey", label="buy and hold")
    if closes is not None:
        held = a.positions.iloc[:, 0] > 0
        ax["equity"].fill_between(a.equity.index, 0, 1, where=held.to_numpy(), transform=ax["equity"].get_xaxis_transform(),
                                  color="tab:green", alpha=0.07, label="in the market")
    ax["equity"].legend(fontsize=8)
    ax["equity"].set_title("equity")
    ax["diff"].plot(a.equity.index, a.equity["equity"] - b.equity["equity"], lw=0.8, color="tab:red")
    ax["diff"].set_title(f"equity difference, {a.engine} - {b.engine}")
    for e in (a,):
        dd = drawdown_series(e.returns) * 100
        ax["dd"].fill_between(dd.index, dd, 0, alpha=0.4, label=e.engine)
    if benchmark is not None:
        bdd = drawdown_series(benchmark) * 100
        ax["dd"].plot(bdd.index, bdd, lw=0.6, color="grey", label="buy and hold")
    ax["dd"].legend(fontsize=8)
    ax["dd"].set_title("drawdown %")
    rs = rolling_sharpe(a.returns)
    ax["sharpe"].plot(rs.index, rs, lw=0.7, color="tab:purple")
    ax["sharpe"].axhline(0, color="grey", lw=0.5)
    ax["sharpe"].set_title("rolling 126-session Sharpe")
    months = monthly_table(a.returns) * 100
    lim = np.nanmax(np.abs(months.to_numpy()))
    im = ax["months"].imshow(months.to_numpy(), cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
    ax["months"].set_yticks(range(len(months)), months.index, fontsize=7)
    ax["months"].set_xticks(range(12), list("JFMAMJJASOND"), fontsize=7)
    ax["months"].set_title("monthly returns %")
    fig.colorbar(im, ax=ax["months"], shrink=0.8)
    fig.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    main()
