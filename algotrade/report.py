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
from matplotlib.ticker import FuncFormatter, PercentFormatter

from algotrade.config import Experiment
from algotrade.data import Market
from algotrade.results import Tables, monthly_returns

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.sub{color:#666;font-size:13px} img{max-width:100%;height:auto} table{border-collapse:collapse;font-size:12px}
td,th{padding:3px 8px;border:1px solid #e3e3e3;text-align:right} th{background:#f6f6f6}
td.l,th.l{text-align:left} .grid{display:grid;grid-template-columns:minmax(280px,auto) 1fr;gap:8px 32px}
.strip{display:flex;flex-wrap:wrap;gap:12px;margin:14px 0} .kpi{background:#f4f6f8;border-radius:6px;padding:8px 14px}
.kpi>b{display:block;font-size:18px} .kpi>span{font-size:12px;color:#666}
.pos{color:#1a7f37} .neg{color:#b42318} td.buy{color:#1a7f37} td.sell{color:#b42318}
table.monthly{width:100%} table.monthly td{padding:3px 5px} table.metrics td.l{color:#444}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
"""

#: every plot of report.html has this width and these margins (inches), so their time axes line up
FIG_WIDTH = 11.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 0.85, 0.15, 0.42, 0.38
_DPI = 144  # saved at 1.5x and shown at 96 dpi: sharp on high-density screens too

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_BUY, _SELL, _EQUITY = "#2ca02c", "#d62728", "#1f77b4"


def _png(fig: Any, *, tight: bool = True, dpi: int = 96) -> str:
    """The figure as an inline <img>; ``tight=False`` keeps the figure's own margins (aligned plots)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    width = round(fig.get_figwidth() * 96) if not tight else None
    plt.close(fig)
    size = f' width="{width}"' if width else ""
    return f'<img alt="plot"{size} src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _figure(height: float) -> tuple[Any, Any]:
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, height))
    fig.subplots_adjust(
        left=_LEFT / FIG_WIDTH, right=1 - _RIGHT / FIG_WIDTH, top=1 - _TOP / height, bottom=_BOTTOM / height
    )
    ax.grid(alpha=0.3)
    ax.margins(x=0.01)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _header(ax: Any, title: str, legend: bool = True) -> None:
    """Title on the left and legend on the right, both above the axes: the legend never hides data."""
    ax.set_title(title, loc="left", fontsize=11)
    if legend:
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=4, frameon=False, fontsize=9, borderaxespad=0.2)


def _aligned_png(fig: Any) -> str:
    return _png(fig, tight=False, dpi=_DPI)


_thousands = FuncFormatter(lambda x, _pos: f"{x:,.0f}")


def _equity_plots(tbl: Tables) -> tuple[str, str]:
    eq = tbl.equity.set_index(pd.to_datetime(tbl.equity["date"]))
    start = min(tbl.evaluation_start, max(len(eq) - 1, 0))
    fig, ax = _figure(3.6)
    ax.plot(eq.index, eq["equity"], color=_EQUITY, lw=1.3, label="equity")
    base = float(eq["equity"].iloc[start - 1]) if start else float(eq["equity"].iloc[0])
    ax.axhline(base, color="#888", lw=0.8, ls="--", label="starting equity")
    invested = (eq["positions_value"].abs() > 0).to_numpy()
    if invested.any():
        ax.fill_between(eq.index, 0, 1, where=invested, step="post", transform=ax.get_xaxis_transform(),
                        color=_EQUITY, alpha=0.09, lw=0, label="invested")
    if start:
        ax.axvspan(eq.index[0], eq.index[start], color="#999", alpha=0.15, lw=0, label="warm-up")
    ax.yaxis.set_major_formatter(_thousands)
    _header(ax, "Equity curve")
    equity_img = _aligned_png(fig)

    evaluated = eq["equity"].iloc[start:]
    dd = evaluated / evaluated.cummax() - 1
    fig, ax = _figure(2.4)
    ax.fill_between(dd.index, dd.to_numpy(), 0, color=_SELL, alpha=0.45, lw=0)
    ax.plot(dd.index, dd.to_numpy(), color=_SELL, lw=0.6)
    ax.set_xlim(*ax.get_xlim())
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if len(dd) and dd.min() < 0:
        worst = dd.idxmin()
        ax.set_ylim(dd.min() * 1.25, 0.005)
        ax.annotate(f"max {dd.min():.1%} on {worst:%Y-%m-%d}", xy=(worst, dd.min()), xytext=(8, 2),
                    textcoords="offset points", fontsize=9, color="#7a1d1d", va="bottom")
    _header(ax, "Drawdown from the previous peak", legend=False)
    return equity_img, _aligned_png(fig)


def _price_plots(market: Market, tbl: Tables, limit: int = 4) -> str:
    out = []
    trades = tbl.trades.assign(date=pd.to_datetime(tbl.trades["date"]))
    for symbol in list(market.frames)[:limit]:
        close = market.frames[symbol]["close"]
        fig, ax = _figure(3.2)
        ax.plot(close.index, close.to_numpy(), color="#444", lw=0.9, label=f"{symbol} close")
        mine = trades[trades["symbol"] == symbol]
        buys, sells = mine[mine["quantity"] > 0], mine[mine["quantity"] < 0]
        marker = {"s": 42, "zorder": 3, "edgecolors": "white", "linewidths": 0.3}
        ax.scatter(buys["date"], buys["price"], marker="^", color=_BUY, label=f"buy ({len(buys)})", **marker)
        ax.scatter(sells["date"], sells["price"], marker="v", color=_SELL, label=f"sell ({len(sells)})", **marker)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator())
        ax.yaxis.set_major_formatter(_thousands)
        _header(ax, f"{symbol}: close with fills")
        out.append(_aligned_png(fig))
    if len(market.frames) > limit:
        out.append(f"<p class=sub>{len(market.frames) - limit} more symbols not plotted.</p>")
    return "\n".join(out)


def _pct(v: float, digits: int = 1) -> str:
    """Signed percentage, without a sign on values that round to zero (no "-0.0%")."""
    text = f"{v:+.{digits}%}"
    return text[1:] if float(text[1:-1]) == 0 else text


def _shade(v: float, full: float) -> str:
    alpha = min(abs(v) / full, 1.0) * 0.85
    return f"rgba(44,160,44,{alpha:.2f})" if v > 0 else f"rgba(214,39,40,{alpha:.2f})"


def _monthly_table(tbl: Tables) -> str:
    table = monthly_returns(tbl)
    head = "".join(f"<th>{m}</th>" for m in MONTHS) + "<th>Year</th>"
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
            cells.append(f'<td style="background:{_shade(v, 0.08)}">{_pct(v)}</td>')
        year_ret = compounded - 1
        cells.append(f'<td style="background:{_shade(year_ret, 0.3)}"><b>{_pct(year_ret)}</b></td>')
        rows.append(f"<tr><th>{year}</th>{''.join(cells)}</tr>")
    return f"<table class=monthly><tr><th></th>{head}</tr>{''.join(rows)}</table>"


#: how each known metric is labelled and formatted; unknown keys fall back to _fmt's rules
LABELS = {
    "start": "Start", "end": "End", "sessions": "Sessions", "warmup_sessions": "Warm-up sessions",
    "initial_cash": "Initial equity", "final_equity": "Final equity", "total_return": "Total return",
    "annual_return": "Annual return (CAGR)", "annual_volatility": "Annual volatility", "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio", "calmar": "Calmar ratio", "max_drawdown": "Max drawdown",
    "max_drawdown_duration_sessions": "Longest drawdown (sessions)", "trade_count": "Fills",
    "round_trips": "Round trips", "win_rate": "Win rate (round trips)", "turnover_annual": "Turnover per year",
    "exposure": "Exposure (mean invested)", "total_commission": "Commission paid",
    "orders_blocked": "Orders blocked (risk)", "orders_rejected": "Orders rejected", "alpha": "Alpha (annual)",
    "beta": "Beta",
}
_MONEY = {"initial_cash", "final_equity", "total_commission"}
_SIGNED_PCT = {"total_return", "annual_return", "max_drawdown", "alpha"}
_PCT = {"annual_volatility", "win_rate", "exposure"}
_RATIO = {"sharpe", "sortino", "calmar", "beta"}


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return html.escape(str(value))
    if key in _MONEY:
        return f"{value:,.2f}"
    if key in _SIGNED_PCT:
        return _pct(value, 2)
    if key in _PCT:
        return f"{value:.2%}"
    if key in _RATIO:
        return f"{value:.2f}"
    if key == "turnover_annual":
        return f"{value:.2f}\u00d7"
    if isinstance(value, int):
        return f"{value:,}"
    if any(w in key for w in ("return", "drawdown", "volatility", "win_rate", "exposure")) and "duration" not in key:
        return _pct(value, 2) if "return" in key or "drawdown" in key else f"{value:.2%}"
    return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"


def _metrics_table(stats: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><td class=l title="{html.escape(k)}">{html.escape(LABELS.get(k, k.replace("_", " ").capitalize()))}'
        f"</td><td>{_fmt(k, v)}</td></tr>"
        for k, v in stats.items()
    )
    return f"<table class=metrics>{rows}</table>"


def _cell(column: str, value: Any) -> str:
    if column == "quantity":
        side = "buy" if value > 0 else "sell"
        return f'<td class={side} title="{side}">{value:+,}</td>'
    if column in ("date", "symbol"):
        return f"<td class=l>{html.escape(str(value))}</td>"
    if isinstance(value, float):
        return f"<td>{value:,.2f}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _trades_table(tbl: Tables, limit: int = 200) -> str:
    t = tbl.trades.head(limit)
    head = "".join(f"<th{' class=l' if c in ('date', 'symbol') else ''}>{html.escape(c)}</th>" for c in t.columns)
    body = "".join(
        "<tr>" + "".join(_cell(c, v) for c, v in zip(t.columns, row, strict=True)) + "</tr>"
        for row in t.itertuples(index=False)
    )
    more = f"<p class=sub>{len(tbl.trades) - limit} more in trades.csv</p>" if len(tbl.trades) > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _strip(stats: dict[str, Any]) -> str:
    def signed(x: float | None, text: str) -> str:
        if x is None:
            return "n/a"
        return f"<span class={'pos' if x > 0 else 'neg' if x < 0 else ''}>{text}</span>"

    def pct(key: str) -> str:
        x = stats.get(key)
        return signed(x, "n/a" if x is None else _pct(x))

    sharpe = stats.get("sharpe")
    win = stats.get("win_rate")
    items = [
        ("total return", pct("total_return")),
        ("CAGR", pct("annual_return")),
        ("Sharpe", "n/a" if sharpe is None else f"{sharpe:.2f}"),
        ("max drawdown", pct("max_drawdown")),
        (f"fills, {stats.get('round_trips', 0)} round trips", f"{stats['trade_count']:,}"),
        ("win rate", "n/a" if win is None else f"{win:.0%}"),
        ("final equity", f"{stats['final_equity']:,.0f}"),
    ]
    return "<div class=strip>" + "".join(f"<div class=kpi><b>{v}</b><span>{k}</span></div>" for k, v in items) + "</div>"


def render(exp: Experiment, market: Market, tbl: Tables, stats: dict[str, Any], engine: str) -> str:
    equity_img, dd_img = _equity_plots(tbl)
    title = f"{exp.name}: {exp.strategy.name} on {engine}"
    params = ", ".join(f"{k}={v}" for k, v in exp.strategy.params.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
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
