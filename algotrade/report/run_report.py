"""report.html: one self-contained page (plots inlined as PNG) that opens offline."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from itertools import cycle
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.ticker import Formatter, FuncFormatter, PercentFormatter

from algotrade.core.config import Experiment, symbols_text
from algotrade.core.data import Market
from algotrade.core.results import Tables, monthly_returns
from algotrade.report import report_format as fmt
from algotrade.report.plots import (  # the page's building blocks, importable from here as before
    _BUY,
    _DIFF_COLOURS,
    _EQUITY,
    _SELL,
    MONTHS,
    _figure,
    _header,
    aligned_pngs,
    head,
    scroll,
    time_axis,
)
from algotrade.report.plots import DIFF_COLOUR as DIFF_COLOUR
from algotrade.report.plots import _png as _png
from algotrade.report.plots import fit_margins as fit_margins
from algotrade.report.plots import plt as plt
from algotrade.report.risk_report import RISK_ALTS, events_table, risk_figures


class _MoneyTicks(Formatter):
    """Money on an axis, with as many decimals as the tick spacing needs (0 or 2), never an offset or 1e-11."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return fmt.money(x, 0)

    def format_ticks(self, values: Any) -> list[str]:
        steps = np.abs(np.diff(np.asarray(values, dtype=float)))
        step = float(np.min(steps)) if len(steps) else 0.0
        decimals = 0 if step >= 10 or step == 0 else min(6, max(2, math.ceil(-math.log10(step))))
        return [fmt.money(v, decimals) for v in values]


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


def _allocation_figures(tbl: Tables) -> list[Any]:
    """A strategy's allocations table (the composer's ``allocations.csv``): each child's capital
    share, held from one rebalance to the next, stacked; none when the run has no such table."""
    alloc = tbl.extra.get("allocations")
    if alloc is None or alloc.empty:
        return []
    children = [c for c in alloc.columns if c not in ("date", "regime")]
    x = [*pd.to_datetime(alloc["date"]), pd.Timestamp(tbl.equity["date"].iloc[-1])]
    fig, ax = _figure(2.6)
    ax.stackplot(x, *[[*alloc[c], alloc[c].iloc[-1]] for c in children], labels=children, step="post", alpha=0.75)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    time_axis(ax, x)
    title = f"Capital share of each child ({len(alloc)} draws)"
    if "regime" in alloc.columns:  # a regime selector: hatch the draws made in a turbulent regime
        for k, regime in enumerate(alloc["regime"]):
            if regime > 0:
                ax.axvspan(x[k], x[k + 1], facecolor="none", edgecolor="0.2", hatch="//", lw=0)
        title += "; hatched: drawn in a turbulent regime"
    _header(ax, title)
    return [fig]


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


def positions_table(market: Market, tbl: Tables) -> str:
    """The positions held at the end of the run (a short with its negative quantity), each at the
    last close, and the exposure they make as fractions of equity: gross (longs plus |shorts|) and
    net (longs minus |shorts|), at the end and on average over the run (risk.csv has every bar)."""
    held = tbl.trades.groupby("symbol", sort=True)["quantity"].sum() if len(tbl.trades) else pd.Series(dtype=int)
    held = held[held != 0]
    last = pd.Timestamp(tbl.equity["date"].iloc[-1]) if len(tbl.equity) else None
    equity = float(tbl.equity["equity"].iloc[-1]) if len(tbl.equity) else math.nan
    rows, values = [], {"long": 0.0, "short": 0.0}
    for symbol, quantity in held.items():
        frame = market.frames.get(str(symbol))
        closes = frame["close"][frame.index <= last].dropna() if frame is not None and last is not None else None
        close = float(closes.iloc[-1]) if closes is not None and len(closes) else math.nan
        side, value = ("long" if quantity > 0 else "short"), int(quantity) * close
        values[side] += abs(value)
        weight = value / equity if equity > 0 else math.nan
        rows.append(f"<tr><td class=l>{html.escape(str(symbol))}</td><td class=l>{side}</td>"
                    f"<td class={'buy' if quantity > 0 else 'sell'} title={side}>{fmt.count(quantity, signed=True)}</td>"
                    f"<td>{fmt.money(close)}</td><td>{fmt.money(value)}</td><td>{_pct(weight)}</td></tr>")
    gross = (values["long"] + values["short"]) / equity if equity > 0 else math.nan
    net = (values["long"] - values["short"]) / equity if equity > 0 else math.nan
    risk = tbl.risk
    mean_gross = float(risk["gross_exposure"].mean()) if len(risk) else math.nan
    mean_net = float(risk["net_exposure"].mean()) if len(risk) else math.nan
    note = (f"<p class=sub>Exposure at the end: gross {fmt.pct(gross, 1)}, net {_pct(net)} of equity "
            f"(long {fmt.money(values['long'])}, short {fmt.money(values['short'])}); over the run: mean gross "
            f"{fmt.pct(mean_gross, 1)}, mean net {_pct(mean_net)}.</p>")
    if not rows:
        return "<p class=sub>No position held at the end.</p>" + note
    head = ("<tr><th class=l>symbol</th><th class=l>side</th><th>quantity</th><th>last close</th>"
            "<th>market value</th><th>of equity</th></tr>")
    return scroll(f"<table class=positions>{head}{''.join(rows)}</table>") + note


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
    alloc_figs = _allocation_figures(tbl)
    figs = (_equity_figures(tbl) + risk_figures([("", tbl.risk)], tbl.var_model.describe()) + _price_figures(market, tbl)
            + alloc_figs)
    imgs = aligned_pngs(figs, ["equity curve", "drawdown", *RISK_ALTS,
                               *(f"{s} close with fills" for s in list(market.frames)[:4]),
                               *["capital share of each child"] * len(alloc_figs)])
    alloc_imgs = imgs[len(imgs) - len(alloc_figs):]
    imgs = imgs[:len(imgs) - len(alloc_figs)]
    equity_img, dd_img, exposure_img, var_img, price_imgs = imgs[0], imgs[1], imgs[2], imgs[3], imgs[4:]
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
{"<h2>Allocations</h2>" + "".join(alloc_imgs) if alloc_imgs else ""}
<h2>Exposure</h2>{exposure_img}
<h2>Positions at the end</h2>{positions_table(market, tbl)}
<h2>Value at risk</h2>{var_img}
<h2>Risk events ({len(tbl.risk_events)})</h2>{events_table(tbl.risk_events)}
<h2>Price and trades</h2>{"".join(price_imgs)}
<div class=grid><div><h2>Metrics</h2>{_metrics_table(stats)}</div>
<div><h2>Monthly returns</h2>{_monthly_table(tbl)}</div></div>
<h2>Trades</h2>{_trades_table(tbl)}
</body></html>
"""


def write_report(path: Path, exp: Experiment, market: Market, tbl: Tables, stats: dict[str, Any], engine: str) -> None:
    path.write_text(render(exp, market, tbl, stats, engine), encoding="utf-8")
