"""burnin.html: a paper burn-in against its shadow backtest, in one self-contained page."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from algotrade.config import Experiment
from algotrade.host import StrategyHost
from algotrade.report import CSS, _png, plt


def _equity_plot(paper: StrategyHost, shadow: StrategyHost) -> str:
    pe, se = paper.equity[paper.live_from:], shadow.equity[shadow.live_from:]  # from the first traded session
    p = pd.Series([v for _, _, v in pe], index=pd.to_datetime([d for d, _, _ in pe]))
    s = pd.Series([v for _, _, v in se], index=pd.to_datetime([d for d, _, _ in se]))
    s = s.reindex(p.index)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot(p.index, p.to_numpy(), lw=1.3, label="paper (through IB)")
    ax.plot(s.index, s.to_numpy(), lw=1.0, ls="--", label="shadow backtest")
    ax.set_title("Equity: paper vs its shadow backtest on the same bars", loc="left")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    ax2.plot(p.index, (p - s).to_numpy(), lw=1.0, color="#d62728")
    ax2.set_title("Tracking difference ($)", loc="left")
    ax2.grid(alpha=0.3)
    return _png(fig)


def _table(rows: list[dict[str, Any]], limit: int = 300) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(f'{v:.2f}' if isinstance(v, float) else str(v))}</td>" for v in r.values())
        + "</tr>" for r in rows[:limit]
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_burnin(exp: Experiment, result: dict[str, Any], paper: StrategyHost, shadow: StrategyHost) -> str:
    go = result["verdict"] == "go"
    color = "#1a7f37" if go else "#b42318"
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in result.get("reasons", []))
    measured = [{"measure": k, "value": v} for k, v in result.get("measured", {}).items()]
    gates = [{"gate": k, "limit": v} for k, v in result.get("gates", {}).items()]
    summary = [
        {"item": "paper fills", "value": result["paper_fills"]},
        {"item": "backtest fills", "value": result["backtest_fills"]},
        {"item": "fills identical to the backtest", "value": "yes" if result["fills_equal_backtest"] else "no"},
        {"item": "rejects", "value": result["rejects"]},
        {"item": "cancels", "value": result["cancels"]},
        {"item": "disconnects", "value": result["disconnects"]},
        {"item": "missed bars", "value": result["missed_bars"]},
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>burn-in: {html.escape(exp.name)}</title><style>{CSS}</style></head>
<body><h1>Paper burn-in: {html.escape(exp.name)} ({html.escape(result['mode'])})</h1>
<div class=sub>{html.escape(exp.strategy.name)} {html.escape(str(exp.strategy.params))} &middot; config id {result['config_id']}</div>
<p style="color:{color};font-size:20px;font-weight:bold">Verdict: {result['verdict'].upper()}</p>
{f"<ul>{reasons}</ul>" if reasons else "<p>Every gate passed; `algotrade live` accepts this configuration (with --confirm).</p>"}
<h2>Equity</h2>{_equity_plot(paper, shadow)}
<div class=grid><div><h2>Measured</h2>{_table(measured)}</div><div><h2>Gates</h2>{_table(gates)}</div></div>
<h2>Run</h2>{_table(summary)}
<h2>Fill-by-fill slippage against the backtest</h2>{_table(result.get('fill_slippage', []))}
</body></html>
"""


def write_burnin_html(path: Path, exp: Experiment, result: dict[str, Any], paper: StrategyHost,
                      shadow: StrategyHost) -> None:
    path.write_text(render_burnin(exp, result, paper, shadow), encoding="utf-8")
