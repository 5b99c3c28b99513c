"""The building blocks of every report page: the page head and style, inline PNGs, and time plots
of one width whose axes line up down a page (report.html, compare.html, burnin.html, sweeps)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FixedLocator

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
