"""burnin.html: a paper burn-in against its shadow backtest, in one self-contained page."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from algotrade.core.config import Experiment
from algotrade.core.host import StrategyHost
from algotrade.core.shell import command
from algotrade.report import report_format as fmt
from algotrade.report.run_report import equity_comparison, head, scroll


def _equity_plot(paper: StrategyHost, shadow: StrategyHost) -> str:
    pe, se = paper.equity[paper.live_from:], shadow.equity[shadow.live_from:]  # from the first traded session
    p = pd.Series([v for _, _, v in pe], index=pd.to_datetime([d for d, _, _ in pe]), dtype=float)
    s = pd.Series([v for _, _, v in se], index=pd.to_datetime([d for d, _, _ in se]), dtype=float)
    s = s.reindex(p.index)
    return equity_comparison([("paper (through IB)", p), ("shadow backtest", s)], base=1,
                             title="Equity: paper vs its shadow backtest on the same bars",
                             difference_title="Tracking difference ($): paper minus the shadow backtest")


def _gate_value(gate: str, value: Any) -> str:
    """A gate's measure or limit in its unit: sessions and trades counted, tracking error in percent, slippage in bp."""
    if "tracking_error" in gate:
        return fmt.pct(value, 2)
    if "bps" in gate:
        return fmt.bps(value)
    return fmt.count(value) if fmt.finite(value) and float(value).is_integer() else fmt.number(value)


def _gates(result: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(measure, measured, required, passed) for each gate: ``min_X`` and ``max_X`` judge the measure ``X``."""
    measured = result.get("measured", {})
    rows = []
    for gate, limit in result.get("gates", {}).items():
        bound, _, name = gate.partition("_")
        value = measured.get(name)
        if bound not in ("min", "max") or value is None or limit is None:  # None: a gate switched off
            continue
        ok = fmt.finite(value) and (value >= limit if bound == "min" else value <= limit)
        rows.append((name, _gate_value(name, value), f"{'at least' if bound == 'min' else 'at most'} "
                     f"{_gate_value(name, limit)}", bool(ok)))
    return rows


def live_command(experiment_file: str | Path | None, overrides: Sequence[str], folder: Path, exp: Experiment) -> str:
    """The ``algotrade live`` command that picks this burn-in up (the same file, overrides and output folder)."""
    parts = ["live", str(experiment_file) if experiment_file else "X.yaml"]
    for item in overrides:
        parts += ["--set", item]
    default = Path(exp.output.dir) / exp.name / "paper"
    if folder.resolve() != default.resolve():
        parts += ["--out", str(folder.parent.parent)]
    parts.append("--confirm-live")
    return command(*parts)


def _paper_command(experiment_file: str | Path | None, overrides: Sequence[str], folder: Path, exp: Experiment,
                   mode: str, sessions: int | None = None) -> str:
    parts = ["paper", str(experiment_file) if experiment_file else "X.yaml"]
    for item in overrides:
        parts += ["--set", item]
    if folder.resolve() != (Path(exp.output.dir) / exp.name / "paper").resolve():
        parts += ["--out", str(folder.parent.parent)]
    if mode == "simulate":
        parts.append("--simulate")
    elif sessions:
        parts += ["--sessions", str(sessions)]
    return command(*parts)


def next_steps(exp: Experiment, result: dict[str, Any], folder: Path, experiment_file: str | Path | None = None,
               overrides: Sequence[str] = ()) -> list[str]:
    """What the operator does next, as HTML list items: go live after a GO, fix each failed gate after a NO-GO."""
    mode = result.get("mode", "paper")
    file = str(experiment_file) if experiment_file else "X.yaml"
    live, kill = html.escape(command("live")), html.escape(command("kill", file))
    if mode == "live":
        if result["verdict"] == "go":
            return ["The live run tracked its shadow backtest within every gate; nothing to do."]
        return [f"The live run left the bounds its burn-in set. To stop it trading now: "
                f"<code>{html.escape(command('kill', file, '--live'))}</code> (halts the run, cancels its orders, flattens at IB)."]
    if result["verdict"] == "go":
        return [
            f"Every gate passed: <code>{live}</code> accepts exactly this configuration "
            f"(config id {html.escape(str(result['config_id']))}). To trade it with real money, start a live TWS "
            "(port 7496) or IB Gateway (4001), set <code>ALGOTRADE_IB_PORT</code> and the live account id in "
            "<code>ALGOTRADE_IB_ACCOUNT</code>, then run<br>"
            f"<code>{html.escape(live_command(experiment_file, overrides, folder, exp))}</code>",
        ]
    gates = result.get("gates", {})
    steps = []
    for name, shown, required, ok in _gates(result):
        if ok:
            continue
        if name == "sessions":
            more = gates["min_sessions"]
            how = (f"widen <code>data.start</code> .. <code>data.end</code> to at least {fmt.count(more)} sessions "
                   "(the simulator replays that range)" if mode == "simulate" else
                   f"run <code>{html.escape(_paper_command(experiment_file, overrides, folder, exp, mode, more))}"
                   "</code>: it resumes from its journal and stops after that many sessions in total")
            steps.append(f"<b>sessions</b>: {shown} ran, {required} needed: {how}.")
        elif name == "trades":
            steps.append(f"<b>trades</b>: {shown} made, {required} needed: run more sessions (as above), or, if the "
                         "strategy is meant to trade this rarely, lower <code>burnin.min_trades</code>.")
        elif name == "tracking_error":
            steps.append(f"<b>tracking error</b> {shown}, {required} allowed: the paper equity drifted from the "
                         "shadow backtest. Compare the fills below with the backtest's and make "
                         "<code>broker.fill</code>, <code>broker.commission</code> and <code>broker.slippage</code> "
                         "model the paper account.")
        elif name == "slippage_bps":
            steps.append(f"<b>slippage</b> {shown}, {required} allowed: fills were worse than the backtest's. Model "
                         "it in <code>broker.slippage</code> so the backtest expects it, or raise "
                         "<code>burnin.max_slippage_bps</code> if that cost is acceptable.")
        elif name == "unreconciled":
            steps.append(f"<b>unreconciled</b>: {shown} mismatches between the journal and the broker, {required} "
                         f"allowed. Read them in <code>{html.escape(str(folder / 'journal.sqlite'))}</code>, flatten "
                         f"with <code>{kill}</code>, and fix the cause before a new burn-in.")
        else:
            steps.append(f"<b>{html.escape(name)}</b>: {shown}, {required} needed: change the run, or the gate in "
                         "the experiment's <code>burnin:</code> section if it is wrong for this strategy.")
    if result.get("halted"):
        from algotrade.live.halts import halt_text, is_kill_halt

        halted = str(result["halted"])
        steps.append(f"The run was {html.escape(fmt.humanize(halt_text(halted)))}."
                     + (f" It stays halted: trade again with <code>bin/algotrade resume {file}"
                        f"{' --live' if mode == 'live' else ''}</code>." if is_kill_halt(halted) else ""))
    if not steps:  # a gate this page does not know failed: its reasons say which
        steps.extend(html.escape(fmt.humanize(r)) for r in result.get("reasons", []))
    steps.append(f"Then run the burn-in again: <code>{html.escape(_paper_command(experiment_file, overrides, folder, exp, mode))}"
                 f"</code>. <code>{live}</code> refuses this configuration until a burn-in of it passes; a "
                 "changed experiment has a new config id and needs its own burn-in.")
    return steps


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    if not rows:
        return "<p>None.</p>"
    cls = [" class=l" if i < left else "" for i in range(len(header))]
    head_row = "".join(f"<th{c}>{html.escape(h)}</th>" for c, h in zip(cls, header, strict=True))
    body = "".join("<tr>" + "".join(f"<td{c}>{v}</td>" for c, v in zip(cls, r, strict=True)) + "</tr>" for r in rows)
    return scroll(f"<table><tr>{head_row}</tr>{body}</table>")


def _fills_table(fills: list[dict[str, Any]], limit: int = 300) -> str:
    rows = [(html.escape(str(f["date"])), html.escape(str(f["symbol"])), fmt.count(f["quantity"], signed=True),
             fmt.money(f["paper"]), fmt.money(f["backtest"]),
             fmt.ratio(f["bps"]))
            for f in fills[:limit]]
    more = f"<p class=sub>{len(fills) - limit} more in burnin.json</p>" if len(fills) > limit else ""
    return _table(("date", "symbol", "quantity", "paper price", "backtest price", "slippage (bp)"), rows, left=2) + more


def render_burnin(exp: Experiment, result: dict[str, Any], paper: StrategyHost, shadow: StrategyHost,
                  folder: Path | None = None, experiment_file: str | Path | None = None,
                  overrides: Sequence[str] = ()) -> str:
    go = result["verdict"] == "go"
    color = "#1a7f37" if go else "#b42318"
    folder = folder if folder is not None else Path(exp.output.dir) / exp.name / result.get("mode", "paper")
    reasons = "".join(f"<li>{html.escape(fmt.humanize(r))}</li>" for r in result.get("reasons", []))
    steps = "".join(f"<li>{s}</li>" for s in next_steps(exp, result, folder, experiment_file, overrides))
    gates = [(html.escape(name), shown, html.escape(required), "passed" if ok else "<b class=neg>failed</b>")
             for name, shown, required, ok in _gates(result)]
    final = result.get("final_equity", {})
    summary = [
        ("paper fills", fmt.count(result["paper_fills"])),
        ("backtest fills", fmt.count(result["backtest_fills"])),
        ("fills identical to the backtest", "yes" if result["fills_equal_backtest"] else
         f"no, first difference at fill {result.get('first_difference')}"),
        ("final equity, paper", fmt.money(final.get("paper"))),
        ("final equity, backtest", fmt.money(final.get("backtest"))),
        *[(f"positions at the end, {side}", ", ".join(f"{sym} {fmt.count(q, signed=True)}" for sym, q in held.items())
           or "none") for side, held in result.get("positions", {}).items()],
        *([("borrow fees, backtest (the paper's are in its cash)", fmt.money(result["borrow_fees_backtest"]))]
          if exp.broker.borrow_fee_bps else []),
        ("rejects", fmt.count(result["rejects"])),
        ("cancels", fmt.count(result["cancels"])),
        ("disconnects", fmt.count(result["disconnects"])),
        ("missed bars", fmt.count(result["missed_bars"])),
    ]
    title = f"Paper burn-in: {exp.name} ({result['mode']})"
    return f"""{head(f"burn-in: {exp.name}")}
<body><h1>{html.escape(title)}</h1>
<div class=sub>{html.escape(exp.strategy.name)} {html.escape(fmt.params(exp.strategy.params))} &middot;
config id {result['config_id']}</div>
<p style="color:{color};font-size:20px;font-weight:bold">Verdict: {result['verdict'].upper()}</p>
{f"<ul>{reasons}</ul>" if reasons else ""}
<h2>Next</h2><ol class=next>{steps}</ol>
<h2>Equity</h2>{_equity_plot(paper, shadow)}
<h2>Gates</h2>{_table(("measure", "measured", "required", "result"), gates)}
<h2>Run</h2>{_table(("item", "value"), [(html.escape(k), v) for k, v in summary])}
<h2>Fill-by-fill slippage against the backtest</h2>{_fills_table(result.get('fill_slippage', []))}
</body></html>
"""


def write_burnin_html(path: Path, exp: Experiment, result: dict[str, Any], paper: StrategyHost,
                      shadow: StrategyHost, *, experiment_file: str | Path | None = None,
                      overrides: Sequence[str] = ()) -> None:
    path.write_text(render_burnin(exp, result, paper, shadow, path.parent, experiment_file, overrides),
                    encoding="utf-8")
