"""compare.html: engines side by side in one self-contained page."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from algotrade.compare import Comparison, RunFolder, metrics_side_by_side
from algotrade.report import CSS, _png, plt  # report.py selects the Agg backend first


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def _overlay(runs: list[RunFolder]) -> str:
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    base = None
    for r, style in zip(runs, ("-", "--", ":"), strict=False):
        eq = r.equity.set_index(pd.to_datetime(r.equity["date"]))["equity"]
        ax.plot(eq.index, eq.to_numpy(), ls=style, lw=1.2, label=r.engine)
        if base is None:
            base = eq
        else:
            ax2.plot(eq.index, (eq - base).to_numpy(), lw=1, label=f"{r.engine} - {runs[0].engine}")
    ax.set_title("Equity curves overlaid")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    ax2.set_title("Equity difference ($)")
    ax2.grid(alpha=0.3)
    if len(runs) > 1:
        ax2.legend(loc="upper left")
    return _png(fig)


def _table(frame: pd.DataFrame, highlight: str | None = None, limit: int = 400) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.head(limit).iterrows():
        style = ""
        if highlight and bool(row.get(highlight)):
            style = ' style="background:#ffd7d7"'
        elif "match" in row and row["match"] is False:
            style = ' style="background:#fff3d6"'
        cells = "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row)
        body.append(f"<tr{style}>{cells}</tr>")
    more = f"<p class=sub>{len(frame) - limit} more rows in the CSV</p>" if len(frame) > limit else ""
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def render_compare(comparison: Comparison, runs: list[RunFolder], summary: dict[str, Any], title: str) -> str:
    verdict = (
        "<p style='color:#1a7f37;font-weight:bold'>The engines agree: identical trades, final equity within "
        f"{summary['final_equity_rel_diff']:.1e} relative.</p>"
        if comparison.agree
        else f"<p style='color:#b42318;font-weight:bold'>The engines differ, first at trade row "
        f"{summary['first_difference_row']}. Each difference is explained below.</p>"
    )
    diffs = pd.DataFrame([d.__dict__ for d in comparison.differences], columns=["row", "category", "explanation"])
    diffs["row"] = diffs["row"] + 1
    metrics = metrics_side_by_side(runs)
    if len(runs) == 2:
        a, b = (runs[0].engine, runs[1].engine)
        metrics["difference"] = [
            (y - x) if isinstance(x, int | float) and isinstance(y, int | float) and x is not None and y is not None else None
            for x, y in zip(metrics[a], metrics[b], strict=True)
        ]
    metrics = metrics.astype(object).map(_cell).reset_index()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><h1>{html.escape(title)}</h1>
<div class=sub>engines {", ".join(summary["engines"])} &middot; config id {summary["config_id"]} &middot;
tolerance: prices {summary["tolerance"]["price_rtol"]:g}, final equity {summary["tolerance"]["equity_rtol"]:g} relative</div>
{verdict}
<h2>Equity</h2>{_overlay(runs)}
<h2>Differences ({len(diffs)})</h2>{_table(diffs) if len(diffs) else "<p>None.</p>"}
<h2>Metrics side by side</h2>{_table(metrics)}
<h2>Trades side by side</h2>{_table(comparison.trades_diff, highlight="first_difference")}
</body></html>
"""
