"""report.html: one self-contained page (plots inlined as PNG) that opens offline."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from itertools import cycle
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, Formatter, FuncFormatter, PercentFormatter

from algotrade.core.config import Experiment, symbols_text
from algotrade.core.data import Market
from algotrade.core.results import Tables, monthly_returns
from algotrade.report import report_format as fmt

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px;overflow-wrap:anywhere} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.sub{color:#666;font-size:13px} img{max-width:100%;height:auto} table{border-collapse:collapse;font-size:12px}
p,li,.sub{overflow-wrap:break-word} code{overflow-wrap:anywhere}
.scroll{max-width:100%;overflow-x:auto} .note{color:#555;font-size:13px;margin:2px 0 10px}
td,th{padding:3px 8px;border:1px solid #e3e3e3;text-align:right;white-space:nowrap} th{background:#f6f6f6}
td.l,th.l{text-align:left} th.c{text-align:center} td.wrap{white-space:normal;min-width:16em;text-align:left}
.grid{display:grid;grid-template-columns:minmax(280px,auto) 1fr;gap:8px 32px} .grid>div{min-width:0}
.strip{display:flex;flex-wrap:wrap;gap:12px;margin:14px 0} .kpi{background:#f4f6f8;border-radius:6px;padding:8px 14px}
.kpi>b{display:block;font-size:18px} .kpi>span{font-size:12px;color:#666}
.pos{color:#1a7f37} .neg{color:#b42318} td.buy{color:#1a7f37} td.sell{color:#b42318}
table.monthly{width:100%} table.monthly td{padding:3px 5px} table.metrics td.l{color:#444}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
"""

#: every time plot has this width and, within a page, the same left and right margins (inches), so
#: their time axes line up; fit_margins widens them where a label would not fit
FIG_WIDTH = 11.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 0.85, 0.3, 0.42, 0.38
_PAD = 0.06  # inches kept free between any label and the edge of its image
_DPI = 144  # saved at 1.5x and shown at 96 dpi: sharp on high-density screens too

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_BUY, _SELL, _EQUITY = "#2ca02c", "#d62728", "#1f77b4"
#: the colour of a difference line (compare.html, burnin.html); float noise is drawn as a flat line
DIFF_COLOUR = "#d62728"
_DIFF_COLOURS = (DIFF_COLOUR, "#9467bd", "#8c564b")


def head(title: str) -> str:
    """The start of every report page: offline, styled, and laid out for the screen it is read on."""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">\n'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>")


def scroll(table: str) -> str:
    """A table in its own box that scrolls sideways when it is wider than the page (the page never does)."""
    return f"<div class=scroll>{table}</div>"


def _png(fig: Any, *, tight: bool = True, dpi: int = 96, alt: str = "plot") -> str:
    """The figure as an inline <img>; ``tight=False`` keeps the figure's own margins (aligned plots)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    width = round(fig.get_figwidth() * 96) if not tight else None
    plt.close(fig)
    size = f' width="{width}"' if width else ""
    return (f'<img alt="{html.escape(alt)}"{size} '
            f'src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">')


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


def time_axis(ax: Any, dates: Sequence[Any]) -> None:
    """Date ticks that suit the span: each session of a very short run (no weekend or holiday ticks,
    no hours), otherwise calendar ticks; labelled concisely (``2012``, ``Dec``, ``24``)."""
    index = pd.DatetimeIndex(dates)
    if 0 < len(index) <= 12:
        locator: Any = FixedLocator(mdates.date2num(index.to_pydatetime()))
    else:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=True))


class _MoneyTicks(Formatter):
    """Money on an axis, with as many decimals as the tick spacing needs (0 or 2), never an offset or 1e-11."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return fmt.money(x, 0)

    def format_ticks(self, values: Any) -> list[str]:
        steps = np.abs(np.diff(np.asarray(values, dtype=float)))
        step = float(np.min(steps)) if len(steps) else 0.0
        decimals = 0 if step >= 10 or step == 0 else min(6, max(2, math.ceil(-math.log10(step))))
        return [fmt.money(v, decimals) for v in values]


def fit_margins(figs: Sequence[Any]) -> None:
    """Widen the margins of ``figs`` until every tick label, title, legend and annotation lies inside
    its figure. The left and right margins stay the same for all of them, so their axes line up."""
    for _ in range(4):
        boxes = [(fig, *fig.get_size_inches(), fig.get_tightbbox()) for fig in figs]
        left = max(f.subplotpars.left * w + max(0.0, _PAD - b.x0) for f, w, _h, b in boxes)
        right = max((1 - f.subplotpars.right) * w + max(0.0, b.x1 - (w - _PAD)) for f, w, _h, b in boxes)
        changed = False
        for fig, w, h, box in boxes:
            bottom = fig.subplotpars.bottom * h + max(0.0, _PAD - box.y0)
            top = (1 - fig.subplotpars.top) * h + max(0.0, box.y1 - (h - _PAD))
            new = (left / w, 1 - right / w, 1 - top / h, bottom / h)
            old = (fig.subplotpars.left, fig.subplotpars.right, fig.subplotpars.top, fig.subplotpars.bottom)
            if any(abs(a - b) > 1e-6 for a, b in zip(new, old, strict=True)):
                fig.subplots_adjust(left=new[0], right=new[1], top=new[2], bottom=new[3])
                changed = True
        if not changed:
            return


def aligned_pngs(figs: Sequence[Any], alts: Sequence[str]) -> list[str]:
    """Figures drawn with :func:`_figure`, fitted together and saved as <img> tags."""
    fit_margins(figs)
    return [_png(fig, tight=False, dpi=_DPI, alt=alt) for fig, alt in zip(figs, alts, strict=True)]


_thousands = FuncFormatter(lambda x, _pos: fmt.money(x, 0))


def _equity_figures(tbl: Tables) -> list[Any]:
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
    time_axis(ax, eq.index)
    _header(ax, "Equity curve")

    evaluated = eq["equity"].iloc[start:]
    dd = evaluated / evaluated.cummax() - 1
    fig2, ax = _figure(2.4)
    ax.fill_between(dd.index, dd.to_numpy(), 0, color=_SELL, alpha=0.45, lw=0)
    ax.plot(dd.index, dd.to_numpy(), color=_SELL, lw=0.6)
    ax.set_xlim(*fig.axes[0].get_xlim())  # the equity curve's time axis, warm-up included
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    time_axis(ax, eq.index)
    if len(dd) and dd.min() < 0:
        worst = dd.idxmin()
        ax.set_ylim(dd.min() * 1.25, -dd.min() * 0.04)
        right_half = mdates.date2num(worst) > sum(ax.get_xlim()) / 2
        ax.annotate(f"max {fmt.pct(dd.min(), 1)} on {worst:%Y-%m-%d}", xy=(worst, dd.min()),
                    xytext=(-8 if right_half else 8, 2), textcoords="offset points", fontsize=9, color="#7a1d1d",
                    va="bottom", ha="right" if right_half else "left")
    else:
        ax.set_ylim(-0.01, 0.001)
    _header(ax, "Drawdown from the previous peak", legend=False)
    return [fig, fig2]


def _price_figures(market: Market, tbl: Tables, limit: int = 4) -> list[Any]:
    figs = []
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
        time_axis(ax, close.index)
        ax.yaxis.set_major_formatter(_thousands)
        _header(ax, f"{symbol}: close with fills")
        figs.append(fig)
    return figs


def _signed_amount(x: float) -> str:
    """A difference of money: ``+250.00``, or ``+4e-4`` when it is real but below a cent."""
    return fmt.signed_money(x) if abs(x) >= 0.005 else ("+" if x > 0 else "-") + fmt.sci(abs(x))


def _differences(curve: pd.Series, base: pd.Series, index: pd.Index) -> tuple[np.ndarray, bool]:
    """``curve - base`` on each session of ``index`` with float noise as 0 (NaN where either is
    missing), and whether all of it was noise."""
    a, b = curve.reindex(index).to_numpy(dtype=float), base.reindex(index).to_numpy(dtype=float)
    diff, scale = a - b, np.fmax(np.abs(a), np.abs(b))
    return np.asarray(fmt.denoise(list(diff), list(scale)), dtype=float), fmt.all_noise(diff, scale)


def equity_comparison(curves: Sequence[tuple[str, pd.Series]], *, base: int, title: str,
                      difference_title: str) -> str:
    """Equity curves overlaid, then each one's difference from ``curves[base]`` on the same time axis.

    A difference that is float noise on every session (within 1e-9 of equity) is drawn as a flat
    zero line and said to be identical, never as a barcode of 1e-11 spikes; a real difference is
    drawn with the noise between its real moves shown as 0."""
    index = curves[0][1].index
    for _, s in curves[1:]:
        index = index.union(s.index)
    fig, ax = _figure(3.6)
    for (name, s), style in zip(curves, cycle(("-", "--", ":", "-.")), strict=False):
        ax.plot(s.index, s.to_numpy(), ls=style, lw=1.3 if style == "-" else 1.1, label=name)
    ax.yaxis.set_major_formatter(_thousands)
    time_axis(ax, index)
    _header(ax, title)

    if len(curves) < 2:
        return aligned_pngs([fig], ["equity curves"])[0]
    base_name, base_curve = curves[base]
    fig2, ax2 = _figure(2.2)
    ax2.axhline(0, color="#888", lw=0.8, zorder=1)
    notes: list[tuple[str, str]] = []  # (css class, text)
    largest: list[float] = []
    colours = cycle(_DIFF_COLOURS)
    for i, (name, s) in enumerate(curves):
        if i == base:
            continue
        diff, identical = _differences(s, base_curve, index)
        colour = next(colours)
        what = f"{name} \u2212 {base_name}"
        if not np.isfinite(diff).any():
            notes.append(("note", f"{what}: no session in common."))
        elif identical:
            ax2.plot(index, np.zeros(len(index)), color=colour, lw=1.4, label=f"{what}: identical")
            notes.append(("note identical", f"{what}: identical within {fmt.sci(fmt.NOISE_RTOL)} of equity on "
                                            "every session (what is left is float rounding, drawn as 0)."))
        else:
            ax2.plot(index, diff, color=colour, lw=1.1, label=what)
            k = int(np.nanargmax(np.abs(diff)))
            largest.append(abs(diff[k]))
            notes.append(("note", f"{what}: largest difference {_signed_amount(diff[k])} on {index[k]:%Y-%m-%d}; "
                                  f"{int(np.count_nonzero(np.nan_to_num(diff)))} of {len(diff)} sessions differ by "
                                  f"more than {fmt.sci(fmt.NOISE_RTOL)} of equity."))
    if largest:
        ax2.yaxis.set_major_formatter(_MoneyTicks())
    else:
        ax2.set_ylim(-1, 1)
        ax2.set_yticks([0.0])
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda _x, _p: "0.00"))
        said = (f"identical within {fmt.sci(fmt.NOISE_RTOL)} of equity on every session"
                if any(c == "note identical" for c, _ in notes) else "no session in common")
        ax2.text(0.5, 0.68, said, transform=ax2.transAxes, ha="center", va="center", fontsize=10, color="#555")
    ax2.set_xlim(*ax.get_xlim())
    time_axis(ax2, index)
    _header(ax2, difference_title, legend=len(curves) > 2 or bool(largest))
    imgs = aligned_pngs([fig, fig2], ["equity curves", "equity difference"])
    return imgs[0] + imgs[1] + "".join(f"<p class='{c}'>{html.escape(t)}</p>" for c, t in notes)


def _pct(v: Any, digits: int = 1) -> str:
    """Signed percentage, without a sign on values that round to zero (no "-0.0%")."""
    return fmt.pct(v, digits, signed=True)


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
    return scroll(f"<table class=monthly><tr><th></th>{head}</tr>{''.join(rows)}</table>")


def _metrics_table(stats: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><td class=l title="{html.escape(k)}">{html.escape(fmt.label(k))}'
        f"</td><td>{html.escape(fmt.metric(k, v))}</td></tr>"
        for k, v in stats.items()
    )
    return scroll(f"<table class=metrics>{rows}</table>")


def _cell(column: str, value: Any) -> str:
    if column == "quantity":
        side = "buy" if value > 0 else "sell"
        return f'<td class={side} title="{side}">{fmt.count(value, signed=True)}</td>'
    if column in ("date", "symbol"):
        return f"<td class=l>{html.escape(str(value))}</td>"
    if column.endswith("_id"):
        return f"<td class=id>{html.escape(str(value))}</td>"
    if isinstance(value, float):
        return f"<td>{fmt.money(value)}</td>"
    return f"<td>{html.escape(fmt.number(value))}</td>"


def _trades_table(tbl: Tables, limit: int = 200) -> str:
    t = tbl.trades.head(limit)
    head = "".join(f"<th{' class=l' if c in ('date', 'symbol') else ''}>{html.escape(c)}</th>" for c in t.columns)
    body = "".join(
        "<tr>" + "".join(_cell(c, v) for c, v in zip(t.columns, row, strict=True)) + "</tr>"
        for row in t.itertuples(index=False)
    )
    more = f"<p class=sub>{len(tbl.trades) - limit} more in trades.csv</p>" if len(tbl.trades) > limit else ""
    return scroll(f"<table><tr>{head}</tr>{body}</table>") + more


def kpis(items: Sequence[tuple[str, str]]) -> str:
    """A strip of headline numbers: (html value, label) pairs."""
    return ("<div class=strip>" + "".join(f"<div class=kpi><b>{v}</b><span>{html.escape(k)}</span></div>"
                                          for v, k in items) + "</div>")


def _strip(stats: dict[str, Any]) -> str:
    def signed(key: str) -> str:
        x = stats.get(key)
        if not fmt.finite(x):
            return "n/a"
        text = _pct(x)
        return f"<span class={'pos' if text[0] == '+' else 'neg' if text[0] == '-' else ''}>{text}</span>"

    win = stats.get("win_rate")
    return kpis([
        (signed("total_return"), "total return"),
        (signed("annual_return"), "CAGR"),
        (fmt.ratio(stats.get("sharpe")), "Sharpe"),
        (signed("max_drawdown"), "max drawdown"),
        (fmt.count(stats["trade_count"]), f"fills, {fmt.count(stats.get('round_trips', 0))} round trips"),
        ("n/a" if not fmt.finite(win) else fmt.pct(win, 0), "win rate"),
        (fmt.money(stats["final_equity"]), "final equity"),
    ])


def render(exp: Experiment, market: Market, tbl: Tables, stats: dict[str, Any], engine: str) -> str:
    figs = _equity_figures(tbl) + _price_figures(market, tbl)
    imgs = aligned_pngs(figs, ["equity curve", "drawdown", *(f"{s} close with fills" for s in list(market.frames)[:4])])
    equity_img, dd_img, price_imgs = imgs[0], imgs[1], imgs[2:]
    if len(market.frames) > 4:
        price_imgs.append(f"<p class=sub>{len(market.frames) - 4} more symbols not plotted.</p>")
    title = f"{exp.name}: {exp.strategy.name} on {engine}"
    return f"""{head(title)}
<body>
<h1>{html.escape(title)}</h1>
<div class=sub>{html.escape(fmt.params(exp.strategy.params))} &middot; {html.escape(symbols_text(list(market.frames)))} &middot;
{stats['start']} to {stats['end']} ({fmt.count(stats['sessions'])} sessions) &middot; fill {exp.broker.fill}
&middot; config id {exp.config_id}</div>
{_strip(stats)}
<h2>Equity</h2>{equity_img}
<h2>Drawdown</h2>{dd_img}
<h2>Price and trades</h2>{"".join(price_imgs)}
<div class=grid><div><h2>Metrics</h2>{_metrics_table(stats)}</div>
<div><h2>Monthly returns</h2>{_monthly_table(tbl)}</div></div>
<h2>Trades</h2>{_trades_table(tbl)}
</body></html>
"""


def write_report(path: Path, exp: Experiment, market: Market, tbl: Tables, stats: dict[str, Any], engine: str) -> None:
    path.write_text(render(exp, market, tbl, stats, engine), encoding="utf-8")
