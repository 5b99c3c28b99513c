"""The burn-in's verdict: the paper run compared with its shadow backtest fill by fill and judged
against the experiment's gates (:func:`burnin_report`), and the verdicts already on file kept in
``burnin-history/`` (:func:`_keep_history`). Used by :mod:`algotrade.live.paper`, which
re-exports these names.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algotrade.core.config import Experiment
from algotrade.core.host import StrategyHost
from algotrade.live.halts import halt_text
from algotrade.live.live_guard import slippage_bps, tracking_error, verdict


def _fills(host: StrategyHost) -> list[tuple[str, str, int, float]]:
    return [(str(f.date), f.symbol, f.quantity, f.price) for f in host.fills]


def _held(host: StrategyHost) -> dict[str, int]:
    return {s: q for s, q in sorted(host.positions.items()) if q}


def burnin_report(exp: Experiment, paper: StrategyHost, shadow: StrategyHost, *, disconnects: int, missed_bars: int,
                  unreconciled: int, mode: str, restarts: int = 0, reconnects: int = 0,
                  outages: int = 0) -> dict[str, Any]:
    """Compare the paper run with its shadow backtest and judge it against the experiment's gates."""
    paper_fills, shadow_fills = _fills(paper), _fills(shadow)
    matched = [(p, s) for p, s in zip(paper_fills, shadow_fills, strict=False) if p[:3] == s[:3]]
    per_fill = [(p[2], p[3], s[3]) for p, s in matched]
    paper_eq = [v for _, _, v in paper.equity[paper.live_from:]]  # warm-up history is not judged
    shadow_eq = [v for _, _, v in shadow.equity[shadow.live_from:]][: len(paper_eq)]
    te = tracking_error(paper_eq, shadow_eq)
    slip = slippage_bps(per_fill) if per_fill else 0.0
    result = verdict(exp, exp.burnin, sessions=len(paper_eq), trades=len(paper_fills), tracking_error=te,
                     slippage_bps=slip, unreconciled=unreconciled, restarts=restarts, disconnects=disconnects,
                     outages=outages)
    statuses: dict[str, int] = {}
    for o in paper.orders:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    result.update({
        "mode": mode,
        "experiment": exp.name,
        "strategy": exp.strategy.name,
        "params": exp.strategy.params,
        "fills_equal_backtest": paper_fills == shadow_fills,
        "paper_fills": len(paper_fills),
        "backtest_fills": len(shadow_fills),
        "first_difference": next((k + 1 for k, (p, s) in enumerate(zip(paper_fills, shadow_fills, strict=False))
                                  if p != s), None if paper_fills == shadow_fills
                                 else min(len(paper_fills), len(shadow_fills)) + 1),
        "final_equity": {"paper": paper_eq[-1] if paper_eq else None, "backtest": shadow_eq[-1] if shadow_eq else None},
        "orders": statuses,
        # a short with its negative quantity; the broker debits a short's borrow fee from the paper
        # cash (so it is in the paper equity), the backtest's cash book counts it
        "positions": {"paper": _held(paper), "backtest": _held(shadow)},
        "borrow_fees_backtest": float(sum(f for _, f in shadow.book.borrow_fees)) if shadow.book is not None else 0.0,
        "rejects": statuses.get("rejected", 0),
        "cancels": statuses.get("cancelled", 0),
        "disconnects": disconnects,
        "restarts": restarts,
        "reconnects": reconnects,
        "outages": outages,
        "missed_bars": missed_bars,
        "fill_slippage": [{"date": p[0], "symbol": p[1], "quantity": p[2], "paper": p[3], "backtest": s[3],
                           "bps": (p[3] - s[3]) / s[3] * 1e4 * (1 if p[2] > 0 else -1)} for p, s in matched],
    })
    return result


def _stamp(result: Mapping[str, Any]) -> str:
    return str(result["written_at"]).replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")


def _keep_history(folder: Path, result: Mapping[str, Any]) -> Path | None:
    """Archive the verdict on file (and its page) into ``burnin-history/`` before a new one is
    written; returns its path when the new run is *shorter* than it (then the new verdict goes
    into the history only, and burnin.json keeps the longer run's)."""
    current = folder / "burnin.json"
    if not current.is_file():
        return None
    try:
        old = json.loads(current.read_text())
        old_sessions = int(old["measured"]["sessions"])
        stamp = _stamp(old) if old.get("written_at") else f"{dt.datetime.fromtimestamp(current.stat().st_mtime, dt.UTC):%Y-%m-%dT%H%M%SZ}"
    except (OSError, ValueError, KeyError, TypeError):
        old_sessions, stamp = -1, f"{dt.datetime.fromtimestamp(current.stat().st_mtime, dt.UTC):%Y-%m-%dT%H%M%SZ}"
    history = folder / "burnin-history"
    history.mkdir(exist_ok=True)
    if not (history / f"{stamp}.json").exists():
        shutil.copy2(current, history / f"{stamp}.json")
        page = folder / "burnin.html"
        if page.is_file():
            shutil.copy2(page, history / f"{stamp}.html")
    return current if int(result["measured"]["sessions"]) < old_sessions else None


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def summary_text(result: Any, again: str | None = None) -> str:
    """The run's summary (of a :class:`~algotrade.live.paper.PaperResult`); ``again`` is the command that resumes a stopped run (default: "the same command")."""
    b = result.burnin
    lines = [
        (f"live run of {b['experiment']}: against its shadow backtest, gates say {b['verdict'].upper()}"
         if b["mode"] == "live" else
         f"paper burn-in of {b['experiment']} ({b['mode']}): verdict {b['verdict'].upper()}") + f" (config id {b['config_id']})",
        f"  sessions {len(result.paper.equity) - result.paper.live_from}   paper fills {b['paper_fills']}   backtest fills {b['backtest_fills']}   "
        f"identical: {'yes' if b['fills_equal_backtest'] else 'no, first difference at fill ' + str(b['first_difference'])}",
        f"  final equity paper {_money(b['final_equity']['paper'])}   backtest {_money(b['final_equity']['backtest'])}",
        f"  rejects {b['rejects']}   cancels {b['cancels']}   disconnects {b['disconnects']}   missed bars {b['missed_bars']}",
    ]
    lines += [f"  gate failed: {r}" for r in b.get("reasons", [])]
    if b.get("halted"):
        lines.append(f"  {halt_text(b['halted'])}")
    if b.get("restarts") or b.get("reconnects"):
        lines.append(f"  restarts {b.get('restarts', 0)}   reconnects {b.get('reconnects', 0)}")
    if result.interrupted:
        how = (f"a simulated burn-in starts afresh: run it again with {again}" if again else
               "a simulated burn-in starts afresh: run the same command again") if b["mode"] == "simulate" else (
               f"the journal keeps every step: resume with {again}" if again else
               "the journal keeps every step: run the same command to resume")
        lines.append(f"  stopped by {result.interrupted} before the end; {how}")
    written = result.written or result.folder / "burnin.json"
    if result.kept_verdict is not None:
        lines.append(f"  this run is shorter than the verdict on file, which is kept: {result.kept_verdict}")
    lines.append(f"  verdict  {written}")
    lines.append(f"  report   {written.with_suffix('.html')}")
    return "\n".join(lines)

