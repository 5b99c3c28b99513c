"""compare.html: engines side by side in one self-contained page."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from algotrade.backtest.compare import EQUITY_RTOL, PRICE_RTOL, Comparison, RunFolder, metrics_side_by_side
from algotrade.report import report_format as fmt
from algotrade.report.risk_report import RISK_ALTS, events_table, risk_figures
from algotrade.report.run_report import (  # run_report selects the Agg backend first
    aligned_pngs,
    equity_comparison,
    head,
    scroll,
)

_TRADE_FIELDS = ("date", "symbol", "quantity", "price", "commission")


def _overlay(runs: list[RunFolder]) -> str:
    curves = [(r.engine, r.equity.set_index(pd.to_datetime(r.equity["date"]))["equity"]) for r in runs]
    others = " and ".join(r.engine for r in runs[1:]) or runs[0].engine
    return equity_comparison(curves, base=0, title="Equity curves overlaid",
                             difference_title=f"Equity difference ($): {others} minus {runs[0].engine}")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _prices(a: Any, b: Any) -> tuple[str, str]:
    """Two fill prices with 2 decimals, or with as many more (up to 8) as it takes to show that they differ."""
    if _blank(a) or _blank(b) or a == b:
        return ("" if _blank(a) else fmt.money(a)), ("" if _blank(b) else fmt.money(b))
    for decimals in range(2, 9):
        x, y = fmt.money(a, decimals), fmt.money(b, decimals)
        if x != y or fmt.is_noise(a - b, max(abs(a), abs(b))):
            return x, y
    return x, y


def _trade_cell(field: str, value: Any, shown: str | None = None) -> str:
    if _blank(value):
        return "<td></td>"
    if field in ("date", "symbol"):
        return f"<td class=l>{html.escape(str(value))}</td>"
    if field == "quantity":
        side = "buy" if value > 0 else "sell"
        return f"<td class={side}>{fmt.count(value, signed=True)}</td>"
    return f"<td>{shown if shown is not None else fmt.money(value)}</td>"


def _trades_table(comparison: Comparison, limit: int = 400) -> str:
    """Both trade lists side by side, one group of columns per engine; the first real difference in red."""
    engines = (comparison.a.engine, comparison.b.engine)
    frame = comparison.trades_diff
    top = ("<tr><th rowspan=2>row</th>" + "".join(f"<th class=c colspan={len(_TRADE_FIELDS)}>{html.escape(e)}</th>"
                                                  for e in engines)
           + "<th rowspan=2>match</th><th rowspan=2 class=l>category</th></tr>")
    sub = "<tr>" + "".join(f"<th{' class=l' if f in ('date', 'symbol') else ''}>{f}</th>"
                           for _ in engines for f in _TRADE_FIELDS) + "</tr>"
    body = []
    for _, row in frame.head(limit).iterrows():
        style = ""
        if bool(row.get("first_difference")):
            style = ' style="background:#ffd7d7"'
        elif not bool(row.get("match", True)):
            style = ' style="background:#fff3d6"'
        pa, pb = _prices(row.get(f"{engines[0]}_price"), row.get(f"{engines[1]}_price"))
        cells = [f"<td>{fmt.count(row['row'])}</td>"]
        for engine, price in zip(engines, (pa, pb), strict=True):
            cells += [_trade_cell(f, row.get(f"{engine}_{f}"), price if f == "price" else None) for f in _TRADE_FIELDS]
        cells.append(f"<td>{'yes' if bool(row.get('match')) else 'no'}</td>")
        category = "" if _blank(row.get("category")) else str(row.get("category"))
        if bool(row.get("first_difference")):
            category += " (first difference)"
        cells.append(f"<td class=l>{html.escape(category)}</td>")
        body.append(f"<tr{style}>{''.join(cells)}</tr>")
    more = f"<p class=sub>{len(frame) - limit} more rows in trades_diff.csv</p>" if len(frame) > limit else ""
    return scroll(f"<table>{top}{sub}{''.join(body)}</table>") + more


def _metrics_table(runs: list[RunFolder]) -> str:
    metrics = metrics_side_by_side(runs)
    engines = [r.engine for r in runs]
    two = len(runs) == 2
    head_row = ("<tr><th class=l>metric</th>" + "".join(f"<th>{html.escape(e)}</th>" for e in engines)
                + (f"<th>difference ({html.escape(engines[1])} \u2212 {html.escape(engines[0])})</th>" if two else "")
                + "</tr>")
    body = []
    for key, row in metrics.iterrows():
        values = [None if _blank(row[e]) else row[e] for e in engines]
        cells = "".join(f"<td>{html.escape(fmt.metric(str(key), v))}</td>" for v in values)
        if two:
            cells += f"<td>{html.escape(fmt.metric_difference(str(key), values[0], values[1]))}</td>"
        body.append(f"<tr><td class=l title='{html.escape(str(key))}'>{html.escape(fmt.label(str(key)))}</td>{cells}</tr>")
    return scroll(f"<table class=metrics>{head_row}{''.join(body)}</table>")


def _differences_table(comparison: Comparison) -> str:
    rows = "".join(
        f"<tr><td>{fmt.count(d.row + 1)}</td><td class=l>{html.escape(d.category)}</td>"
        f"<td class=wrap>{html.escape(fmt.humanize(d.explanation))}</td></tr>"
        for d in comparison.differences
    )
    return scroll(f"<table><tr><th>row</th><th class=l>category</th><th class=l>explanation</th></tr>{rows}</table>")


def _verdict(comparison: Comparison, summary: dict[str, Any]) -> str:
    if not comparison.agree:
        return (f"<p style='color:#b42318;font-weight:bold'>The engines differ, first at trade row "
                f"{summary['first_difference_row']}. Each difference is explained below.</p>")
    rel = summary["final_equity_rel_diff"]
    equity = (f"final equity identical within {fmt.sci(fmt.NOISE_RTOL)} relative"
              if rel <= fmt.NOISE_RTOL else
              f"final equity {fmt.sci(rel)} apart (relative), within the {fmt.sci(summary['tolerance']['equity_rtol'])}"
              " tolerance")
    return f"<p style='color:#1a7f37;font-weight:bold'>The engines agree: identical trades, {equity}.</p>"


def _risk(runs: list[RunFolder]) -> str:
    """Each engine's exposure and VaR/CVaR overlaid, and its risk events (one table when they agree)."""
    series = [(r.engine, r.risk) for r in runs if r.risk is not None]
    if not series:
        return "<p>No risk.csv in these results folders (written by an older algotrade).</p>"
    model = str(runs[0].metrics.get("var_model", "1-day VaR"))
    exposure, var = aligned_pngs(risk_figures(series, model), RISK_ALTS)
    tables = [(r.engine, r.risk_events) for r in runs if r.risk_events is not None]
    first = tables[0][1]
    if all(t.equals(first) for _, t in tables[1:]):
        engines = " and ".join(e for e, _ in tables)
        events = f"<p class=sub>Identical on {html.escape(engines)}.</p>{events_table(first)}"
    else:
        events = "".join(f"<h3>{html.escape(e)} ({len(t)})</h3>{events_table(t)}" for e, t in tables)
    return f"<h2>Exposure</h2>{exposure}<h2>Value at risk</h2>{var}<h2>Risk events</h2>{events}"


def render_compare(comparison: Comparison, runs: list[RunFolder], summary: dict[str, Any], title: str) -> str:
    tolerance = summary["tolerance"]
    differences = _differences_table(comparison) if comparison.differences else "<p>None.</p>"
    return f"""{head(title)}
<body><h1>{html.escape(title)}</h1>
<div class=sub>engines {", ".join(summary["engines"])} &middot; config id {summary["config_id"]} &middot;
tolerance: prices {fmt.sci(tolerance["price_rtol"])}, final equity {fmt.sci(tolerance["equity_rtol"])} relative</div>
{_verdict(comparison, summary)}
<h2>Equity</h2>{_overlay(runs)}
<h2>Differences ({len(comparison.differences)})</h2>{differences}
{_risk(runs)}
<h2>Metrics side by side</h2>{_metrics_table(runs)}
<h2>Trades side by side</h2>
<p class=sub>The first real difference is in red, later rows that do not match in amber.</p>
{_trades_table(comparison)}
</body></html>
"""


def write_comparison(comparison: Comparison, runs: list[RunFolder], folder: Path, title: str) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    comparison.trades_diff.to_csv(folder / "trades_diff.csv", index=False)
    pd.DataFrame([d.__dict__ for d in comparison.differences], columns=["row", "category", "explanation"]).to_csv(
        folder / "differences.csv", index=False
    )
    metrics_side_by_side(runs).to_csv(folder / "metrics.csv")
    counts: dict[str, int] = {}
    for d in comparison.differences:
        counts[d.category] = counts.get(d.category, 0) + 1
    summary = {
        "engines": [r.engine for r in runs],
        "agree": comparison.agree,
        "trades": {r.engine: len(r.trades) for r in runs},
        "first_difference_row": None if comparison.first_difference is None else comparison.first_difference + 1,
        "differences_by_category": counts,
        "final_equity": {r.engine: r.metrics["final_equity"] for r in runs},
        "final_equity_rel_diff": comparison.equity_rel_diff,
        "tolerance": {"price_rtol": PRICE_RTOL, "equity_rtol": EQUITY_RTOL},
        "config_id": runs[0].run.get("config_id"),
        "data_hash": {r.engine: r.run.get("data_hash") for r in runs},
    }
    (folder / "compare.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder / "compare.html").write_text(render_compare(comparison, runs, summary, title), encoding="utf-8")
    return summary
