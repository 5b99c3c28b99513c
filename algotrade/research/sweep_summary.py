"""The summary ``algotrade sweep`` prints at the end: what ran, the best point, snooping, walk-forward."""

from __future__ import annotations

from typing import Any

from algotrade.research.sweep_result import SweepResult


def summary_text(result: SweepResult) -> str:
    s = result.summary
    exp = result.experiment
    assert exp.sweep is not None
    metric = exp.sweep.metric
    lines = [
        f"{exp.name}: {len(result.plan.grid)} grid runs"
        + (f" + {len(result.plan.train) + len(result.plan.windows) * len(result.plan.engines)} walk-forward runs"
           f" ({len(result.plan.windows)} windows)" if result.plan.windows else "")
        + f" on {', '.join(result.plan.engines)} ({s['executor']}{' at ' + s['address'] if s.get('address') else ''},"
        f" {s['workers']} workers)",
        f"  ran {s['ran']}, resumed {s['resumed']}, failed {s['failed']} in {s['seconds']:.1f} s"
        + (f" ({s['runs_per_s']:.1f} runs/s while running)" if s.get("runs_per_s") else ""),
    ]
    best = s.get("best")
    if best:
        lines.append(
            f"  best by {metric}: {best['label']}  {metric} {_fmt(best['value'])}  total return {_pct(best['total_return'])}"
            f"  max drawdown {_pct(best['max_drawdown'])}  trades {best['trade_count']}  (config id {best['config_id']})"
        )
        lines.append(f"  re-run it alone, with its report ({best['rerun_report']}):")
        lines.append(f"    {best['rerun']}")
    elif not result.interrupted:
        lines.append(f"  no grid run is eligible to be the best (ok, a {metric}, at least {exp.sweep.min_trades} trades)")
    spa = s.get("spa")
    if spa:
        import textwrap

        lines += textwrap.wrap(f"data snooping: {spa['sentence']}", 110, initial_indent="  ", subsequent_indent="    ")
    wf = s.get("walkforward")
    if wf:
        for engine, w in wf.items():
            lines.append(
                f"  walk-forward on {engine}: {w['windows']} windows, out-of-sample {metric} {_fmt(w['oos_metric'])}"
                f" (in-sample mean {_fmt(w['is_metric_mean'])}); stitched return {_pct(w['oos_total_return'])}"
            )
    lines.append(f"  table   {result.table_path} (and sweep.parquet; one row per run)")
    if not result.interrupted:
        lines.append(f"  report  {result.report_path}")
    return "\n".join(lines)


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:+.2%}"


__all__ = ["summary_text"]
