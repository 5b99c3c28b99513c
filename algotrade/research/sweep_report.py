"""sweep.html: one self-contained page (plots inlined as PNG) about a finished sweep."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from algotrade.core.config import symbols_text
from algotrade.core.shell import command
from algotrade.report import report_format as fmt
from algotrade.report.run_report import _figure, _header, _png, scroll, time_axis
from algotrade.report.run_report import head as page_head
from algotrade.research.snooping import ALPHA

if TYPE_CHECKING:
    from algotrade.research.sweep_analysis import Analysis
    from algotrade.research.sweep_result import SweepResult

_IS, _OOS, _EQUITY, _BENCH = "#9aa5b1", "#1f77b4", "#1f77b4", "#888888"


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _num(x: Any, pct: bool = False, metric: str = "") -> str:
    if not fmt.finite(x):
        return "n/a"
    return fmt.pct(x, 2, signed=True) if pct else fmt.metric(metric, x)


def _how_it_ran(s: dict[str, Any]) -> str:
    """``local executor, 2 workers: ran 137, resumed 0 in 10.65 s (12.86 runs/s)``."""
    speed = f" ({fmt.ratio(s['runs_per_s'])} runs/s)" if fmt.finite(s.get("runs_per_s")) else ""
    seconds = f" in {fmt.ratio(s['run_seconds'])} s" if fmt.finite(s.get("run_seconds")) else ""
    return (f"{s['executor']} executor, {fmt.count(s['workers'])} workers: ran {fmt.count(s['ran'])}, "
            f"resumed {fmt.count(s['resumed'])}{seconds}{speed}")


def _sort_key(value: Any) -> tuple[int, Any]:
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value))


def heatmap_names(result: SweepResult) -> tuple[str, ...]:
    sweep = result.experiment.sweep
    assert sweep is not None
    if sweep.heatmap:
        return tuple(n.rsplit(".", 1)[-1] for n in sweep.heatmap)
    return sweep.short_names[:2]


def _heatmap(result: SweepResult, engine: str) -> tuple[str, str]:
    sweep = result.experiment.sweep
    assert sweep is not None
    metric, goal = sweep.metric, sweep.goal
    names = heatmap_names(result)
    rows = [r for r in result.rows if r["phase"] == "grid" and r["engine"] == engine]
    frame = pd.DataFrame(rows)
    frame[metric] = pd.to_numeric(frame[metric], errors="coerce")
    frame.loc[~frame["eligible"].astype(bool), metric] = np.nan
    others = [n for n in sweep.short_names if n not in names]
    note = (f" Each cell shows the {'best' if goal == 'max' else 'lowest'} {metric} over "
            f"{', '.join(others)}." if others else "")
    if len(names) == 1:
        x = names[0]
        agg = frame.groupby(x, sort=False)[metric].agg("max" if goal == "max" else "min")
        agg = agg.reindex(sorted(agg.index, key=_sort_key))
        fig, ax = _figure(3.2)
        ax.plot([str(i) for i in agg.index], agg.to_numpy(), marker="o", color=_OOS)
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        _header(ax, f"{metric} by {x} ({engine})", legend=False)
        return _png(fig), note
    x, y = names[1], names[0]
    if sweep.method == "random" and not others:
        xs, ys = pd.to_numeric(frame[x], errors="coerce"), pd.to_numeric(frame[y], errors="coerce")
        if xs.notna().all() and ys.notna().all():  # drawn points: a scatter, not a sparse grid
            fig, ax = _figure(4.2)
            ok = frame[metric].notna()
            ax.scatter(xs[~ok], ys[~ok], marker="x", color="#999", label="not eligible")
            art = ax.scatter(xs[ok], ys[ok], c=frame.loc[ok, metric], cmap="RdYlGn" if goal == "max" else "RdYlGn_r",
                             s=60, edgecolors="#333", linewidths=0.5)
            fig.colorbar(art, ax=ax, label=metric, fraction=0.04)
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            _header(ax, f"{metric} of each drawn point ({engine})", legend=bool((~ok).any()))
            return _png(fig), note
    table = frame.pivot_table(index=y, columns=x, values=metric, aggfunc="max" if goal == "max" else "min", dropna=False)
    table = table.reindex(index=sorted(table.index, key=_sort_key), columns=sorted(table.columns, key=_sort_key))
    data = table.to_numpy(dtype=float)
    height = max(2.8, 0.45 * len(table.index) + 1.6)
    fig, ax = plt.subplots(figsize=(min(11.0, 1.1 * len(table.columns) + 3), height))
    cmap = plt.get_cmap("RdYlGn" if goal == "max" else "RdYlGn_r").with_extremes(bad="#eeeeee")
    finite = data[np.isfinite(data)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    low = -vmax if finite.size and finite.min() < 0 else (float(finite.min()) if finite.size else 0.0)
    image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, aspect="auto", vmin=low, vmax=vmax or 1.0)
    ax.set_xticks(range(len(table.columns)), [fmt.param(c) for c in table.columns])
    ax.set_yticks(range(len(table.index)), [fmt.param(i) for i in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if math.isfinite(data[i, j]):
                ax.text(j, i, fmt.metric(metric, float(data[i, j])), ha="center", va="center", fontsize=9)
    fig.colorbar(image, ax=ax, label=metric, fraction=0.04)
    ax.set_title(f"{metric} by {y} and {x} ({engine}); grey: excluded by a constraint, failed, or not eligible",
                 loc="left", fontsize=10)
    return _png(fig), note


def _is_oos_plot(analysis: Analysis, metric: str) -> str:
    fig, ax = _figure(3.2)
    width = 0.38 / max(len(analysis.walkforward), 1)
    for k, wf in enumerate(analysis.walkforward):
        xs = np.arange(len(wf.windows))
        isv = [w["is_metric"] if w["is_metric"] is not None else np.nan for w in wf.windows]
        oos = [w["oos_metric"] if w["oos_metric"] is not None else np.nan for w in wf.windows]
        shift = (2 * k) * width
        ax.bar(xs - width / 2 + shift, isv, width, color=_IS, label=f"in-sample, chosen ({wf.engine})")
        ax.bar(xs + width / 2 + shift, oos, width, color=_OOS, label=f"out-of-sample ({wf.engine})")
        ax.set_xticks(xs, [f"w{w['window']}\n{w['test_start'][:7]}" for w in wf.windows])
    ax.axhline(0, color="#444", lw=0.8)
    ax.set_ylabel(metric)
    _header(ax, f"{metric} per window")
    return _png(fig)


def _stitched_plot(analysis: Analysis) -> str:
    fig, ax = _figure(3.6)
    for wf in analysis.walkforward:
        ax.plot(wf.dates, wf.equity, lw=1.3, label=f"out-of-sample ({wf.engine})")
    wf0 = analysis.walkforward[0]
    if wf0.benchmark:
        ax.plot(wf0.dates, wf0.benchmark, color=_BENCH, lw=1.0, ls="--", label="buy and hold")
    for i, w in enumerate(wf0.windows):
        if i % 2 == 0:
            ax.axvspan(pd.Timestamp(w["test_start"]), pd.Timestamp(w["test_end"]), color="#999", alpha=0.08, lw=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt.money(v, 0)))
    time_axis(ax, analysis.walkforward[0].dates)
    _header(ax, "Stitched out-of-sample equity")
    return _png(fig)


def write_sweep_report(result: SweepResult, analysis: Analysis) -> None:
    from algotrade.research.sweep_result import rerun_command

    exp = result.experiment
    sweep = exp.sweep
    assert sweep is not None
    metric = sweep.metric
    plan = result.plan
    s = result.summary
    first = plan.engines[0]
    parts: list[str] = []
    sub = (f"{exp.strategy.name} on {symbols_text(exp.data.symbols)} ({exp.data.source}, "
           f"{exp.data.start or 'first bar'} .. {exp.data.end or 'last bar'}); engines {', '.join(plan.engines)}; "
           f"{len(plan.points)} points ({sweep.method}); ranked by {metric} ({'higher' if sweep.goal == 'max' else 'lower'}"
           f" is better, at least {sweep.min_trades} trades)")
    parts.append(f"<h1>{_esc(exp.name)}: parameter sweep</h1><div class='sub'>{_esc(sub)}</div>")
    spa = analysis.spa
    kpis = [
        (f"{s['ok']}/{s['runs']}", "runs ok"),
        (str(s["failed"]), "failed"),
        (_num(analysis.best["value"], metric=metric) if analysis.best else "n/a", f"best {metric}"),
        (f"{spa.pvalue:.2f}" if spa else "n/a", "SPA p-value"),
    ]
    for wf in analysis.walkforward:
        kpis.append((_num(wf.stats.get("oos_metric"), metric=metric), f"out-of-sample {metric} ({wf.engine})"))
    parts.append("<div class='strip'>" + "".join(f"<div class='kpi'><b>{_esc(v)}</b><span>{_esc(k)}</span></div>"
                                                  for v, k in kpis) + "</div>")

    parts.append("<h2>The best run</h2>")
    if analysis.best:
        b = analysis.best
        parts.append(
            f"<p>By {_esc(metric)} on {_esc(b['engine'])}: <b>{_esc(fmt.param_label(b['label']))}</b> — {metric} {_num(b['value'], metric=metric)}, "
            f"total return {_num(b['total_return'], True)}, max drawdown {_num(b['max_drawdown'], True)}, "
            f"{b['trade_count']} trades (config id <code>{_esc(b['config_id'])}</code>).</p>"
            f"<p>Every run is an ordinary <code>{_esc(command('run'))}</code>; this one re-runs alone, writing its results and "
            f"report to <code>{_esc(b['rerun_report'])}</code>, with<br><code>{_esc(b['rerun'])}</code></p>"
        )
    else:
        parts.append("<p>No run is eligible to be the best (finished, with a metric, and enough trades).</p>")

    parts.append("<h2>Is the best just luck? (data snooping)</h2>")
    if spa:
        verdict = "pos" if spa.pvalue < ALPHA else "neg"
        parts.append(f"<p class='{verdict}'><b>{_esc(spa.sentence())}</b></p>")
        parts.append(
            "<p>Trying many parameter sets and keeping the best is a search for luck as much as for skill: "
            "with enough tries, one looks good by chance. Hansen's Superior Predictive Ability test "
            f"(<code>arch.bootstrap.SPA</code>) bootstraps the daily returns of all {spa.runs} runs together "
            f"and asks how often a best result at least as good as this one would appear if none of them truly "
            f"beat {_esc(spa.benchmark)}. That frequency is the p-value: below {ALPHA:.2f} the best is unlikely "
            "to be luck alone; above it, do not trust it.</p>"
        )
    else:
        parts.append(f"<p>{_esc(analysis.spa_note)}</p>")

    parts.append(f"<h2>{_esc(metric)} across the grid</h2>")
    img, note = _heatmap(result, first)
    parts.append(img + (f"<p class='sub'>{_esc(note)}</p>" if note else ""))

    ranked = sorted((r for r in result.rows if r["phase"] == "grid" and r["rank"] is not None and r["engine"] == first),
                    key=lambda r: r["rank"])[:15]
    if ranked:
        names = list(sweep.short_names)
        head = "".join(f"<th>{_esc(c)}</th>" for c in ["rank", *names, metric, "total return", "max drawdown",
                                                         "trades"]) + "<th class='l'>config id</th>"
        body = []
        for r in ranked:
            cells = [str(r["rank"]), *(_esc(fmt.param(r[n])) for n in names), _num(r[metric], metric=metric), _num(r["total_return"], True),
                     _num(r["max_drawdown"], True), str(r["trade_count"])]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + f"<td class='l'><code>{_esc(r['config_id'])}</code></td></tr>")
        parts.append(f"<h2>Top runs ({_esc(first)})</h2>" + scroll(f"<table><tr>{head}</tr>{''.join(body)}</table>"))

    if analysis.walkforward:
        wf_cfg = exp.walkforward
        assert wf_cfg is not None
        parts.append("<h2>Walk-forward: chosen in-sample, judged out-of-sample</h2>")
        parts.append(
            f"<p>{len(plan.windows)} {wf_cfg.mode} windows: each point runs on a train window of {wf_cfg.train} "
            f"sessions; the best by {_esc(metric)} then runs on the next test window of {wf_cfg.test} sessions, "
            f"after a purge gap of {wf_cfg.purge} sessions (seen by no run of that window) and {plan.warmup} sessions "
            "that only warm its indicators up. Test results count from the test window's first session, so no "
            "out-of-sample result uses data the parameters were chosen on. The test windows' returns are chained "
            "into one equity curve.</p>"
        )
        for wf in analysis.walkforward:
            st = wf.stats
            parts.append(
                f"<p><b>{_esc(wf.engine)}</b>: out-of-sample {metric} {_num(st.get('oos_metric'), metric=metric)} against an "
                f"in-sample mean of {_num(st.get('is_metric_mean'), metric=metric)}; stitched total return "
                f"{_num(st.get('total_return'), True)}, max drawdown {_num(st.get('max_drawdown'), True)}, "
                f"{st.get('trade_count')} trades.</p>"
            )
        parts.append("<h3>In-sample vs out-of-sample, per window</h3>" + _is_oos_plot(analysis, metric))
        parts.append("<h3>Stitched out-of-sample equity</h3>" + _stitched_plot(analysis))
        head = "".join(f"<th>{c}</th>" for c in ["window", "engine", "train", "purge", "test", "chosen",
                                                  f"in-sample {metric}", f"out-of-sample {metric}", "OOS return"])
        body = []
        for wf in analysis.walkforward:
            for w in wf.windows:
                purge = f"{w['purge'][0]} .. {w['purge'][1]}" if w["purge"] else "none"
                cells = [str(w["window"]), _esc(w["engine"]), f"{w['train_start']} .. {w['train_end']}", purge,
                         f"{w['test_start']} .. {w['test_end']}", _esc(fmt.param_label(w["chosen"] or "none eligible")),
                         _num(w["is_metric"], metric=metric), _num(w["oos_metric"], metric=metric), _num(w["oos_total_return"], True)]
                body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append(scroll(f"<table><tr>{head}</tr>{''.join(body)}</table>"))

    failed = [r for r in result.rows if r["status"] == "failed"]
    if failed:
        head = "<tr><th>phase</th><th>window</th><th class='l'>point</th><th>engine</th><th class='l'>error</th></tr>"
        rows_html = "".join(
            f"<tr><td>{_esc(r['phase'])}</td><td>{'' if r['window'] is None else r['window']}</td>"
            f"<td class='l'>{_esc(fmt.param_label(plan.points[r['point']].label()) if r['point'] is not None else '')}</td>"
            f"<td>{_esc(r['engine'])}</td><td class='l'>{_esc(r['error'])}</td></tr>"
            for r in failed[:50]
        )
        parts.append(f"<h2>Failed runs ({len(failed)})</h2>" + scroll(f"<table>{head}{rows_html}</table>"))

    example = next((r for r in result.rows if r["status"] == "ok"), None)
    parts.append("<h2>Files</h2>")
    parts.append(
        "<p><code>sweep.csv</code> and <code>sweep.parquet</code>: one row per run (phase grid, train or test; the "
        "swept values; status; metrics; seconds; its folder; the error of a failed run). <code>points.jsonl</code>: "
        "the record a restarted sweep resumes from. <code>runs/&lt;config id&gt;/&lt;engine&gt;/</code>: each run's "
        f"results, exactly as <code>{_esc(command('run'))}</code> writes them; its <code>config.yaml</code> re-runs it alone"
        + (f", e.g. <code>{_esc(rerun_command(result.folder, example))}</code>" if example else "") + ".</p>"
    )
    parts.append(f"<p class='sub'>{_esc(_how_it_ran(s))}</p>")
    page = f"{page_head(f'{exp.name} sweep')}<body>{''.join(parts)}</body></html>\n"
    tmp = result.report_path.with_name("sweep.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(result.report_path)
