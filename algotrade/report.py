"""report.html: one self-contained page (plots inlined as PNG) that opens offline."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from algotrade.config import Experiment
from algotrade.data import Market
from algotrade.results import Tables, monthly_returns

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.sub{color:#666;font-size:13px} img{max-width:100%} table{border-collapse:collapse;font-size:12px}
td,th{padding:3px 8px;border:1px solid #e3e3e3;text-align:right} th{background:#f6f6f6}
td.l,th.l{text-align:left} .grid{display:grid;grid-template-columns:1fr 1fr;gap:8px 24px}
.strip{display:flex;gap:12px;margin:14px 0} .kpi{background:#f4f6f8;border-radius:6px;padding:8px 14px}
.kpi b{display:block;font-size:18px} .kpi span{font-size:12px;color:#666}
"""


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _equity_plots(tbl: Tables) -> tuple[str, str]:
    eq = tbl.equity.set_index(pd.to_datetime(tbl.equity["date"]))
    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.plot(eq.index, eq["equity"], color="#1f77b4", lw=1.3, label="equity")
    ax.axhline(float(eq["equity"].iloc[0]), color="#999", lw=0.8, ls="--", label="starting cash")
    ax.set_title("Equity curve")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    equity_img = _png(fig)
    dd = eq["equity"] / eq["equity"].cummax() - 1
    fig, ax = plt.subplots(figsize=(11, 2.4))
    ax.fill_between(dd.index, dd.to_numpy() * 100, 0, color="#d62728", alpha=0.5)
    ax.set_title("Drawdown (%)")
    ax.grid(alpha=0.3)
    return equity_img, _png(fig)


def _price_plots(market: Market, tbl: Tables, limit: int = 4) -> str:
    out = []
    trades = tbl.trades.assign(date=pd.to_datetime(tbl.trades["date"]))
    for symbol in list(market.frames)[:limit]:
        close = market.frames[symbol]["close"]
        fig, ax = plt.subplots(figsize=(11, 3.2))
        ax.plot(close.index, close.to_numpy(), color="#444", lw=0.9, label=f"{symbol} close")
        mine = trades[trades["symbol"] == symbol]
        buys, sells = mine[mine["quantity"] > 0], mine[mine["quantity"] < 0]
        ax.scatter(buys["date"], buys["price"], marker="^", color="#2ca02c", s=36, zorder=3, label=f"buy ({len(buys)})")
        ax.scatter(sells["date"], sells["price"], marker="v", color="#d62728", s=36, zorder=3, label=f"sell ({len(sells)})")
        ax.set_title(f"{symbol}: price with trades")
        ax.xaxis.set_major_locator(mdates.AutoDateLocator())
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3)
        out.append(_png(fig))
    if len(market.frames) > limit:
        out.append(f"<p class=sub>{len(market.frames) - limit} more symbols not plotted.</p>")
    return "\n".join(out)


def _monthly_table(tbl: Tables) -> str:
    table = monthly_returns(tbl)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    head = "".join(f"<th>{m}</th>" for m in months) + "<th>year</th>"
    rows = []
    for year, row in table.iterrows():
        cells = []
        compounded = 1.0
        for m in range(1, 13):
            v = row.get(m)
            if v is None or pd.isna(v):
                cells.append("<td></td>")
                continue
            compounded *= 1 + v
            shade = min(abs(v) / 0.08, 1.0)
            color = f"rgba(44,160,44,{shade:.2f})" if v > 0 else f"rgba(214,39,40,{shade:.2f})"
            cells.append(f'<td style="background:{color}">{v:+.1%}</td>')
        cells.append(f"<td><b>{compounded - 1:+.1%}</b></td>")
        rows.append(f"<tr><th>{year}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if any(w in key for w in ("return", "drawdown", "volatility", "win_rate", "exposure")) and "duration" not in key:
            return f"{value:+.2%}" if "return" in key or "drawdown" in key else f"{value:.2%}"
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"
    return html.escape(str(value))


def _metrics_table(stats: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td class=l>{html.escape(k)}</td><td>{_fmt(k, v)}</td></tr>" for k, v in stats.items())
    return f"<table>{rows}</table>"


def _trades_table(tbl: Tables, limit: int = 200) -> str:
    t = tbl.trades.head(limit)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in t.itertuples(index=False)
    )
    more = f"<p class=sub>{len(tbl.trades) - limit} more in trades.csv</p>" if len(tbl.trades) > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _strip(stats: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.1%}"

    items = [
        ("total return", pct(stats["total_return"])),
        ("annual return", pct(stats["annual_return"])),
        ("Sharpe", "n/a" if stats["sharpe"] is None else f"{stats['sharpe']:.2f}"),
        ("max drawdown", pct(stats["max_drawdown"])),
        ("trades", str(stats["trade_count"])),
        ("final equity", f"{stats['final_equity']:,.0f}"),
    ]
    return "<div class=strip>" + "".join(f"<div class=kpi><b>{v}</b><span>{k}</span></div>" for k, v in items) + "</div>"


def render(exp: Experiment, market: Market, tbl: Tables, stats: dict[str, Any], engine: str) -> str:
    equity_img, dd_img = _equity_plots(tbl)
    title = f"{exp.name}: {exp.strategy.name} on {engine}"
    params = ", ".join(f"{k}={v}" for k, v in exp.strategy.params.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class=sub>{html.escape(params)} &middot; {html.escape(", ".join(market.frames))} &middot;
{stats['start']} to {stats['end']} ({stats['sessions']} sessions) &middot; fill {exp.broker.fill}
&middot; config id {exp.config_id}</div>
{_strip(stats)}
<h2>Equity</h2>{equity_img}
<h2>Drawdown</h2>{dd_img}
<h2>Price and trades</h2>{_price_plots(market, tbl)}
<div class=grid><div><h2>Metrics</h2>{_metrics_table(stats)}</div>
<div><h2>Monthly returns</h2>{_monthly_table(tbl)}</div></div>
<h2>Trades</h2>{_trades_table(tbl)}
</body></html>
"""


def write_report(path: Path, exp: Experiment, market: Market, tbl: Tables, stats: dict[str, Any], engine: str) -> None:
    path.write_text(render(exp, market, tbl, stats, engine), encoding="utf-8")
