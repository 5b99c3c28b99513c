"""The risk part of report.html and compare.html: gross/net exposure and 1-day VaR/CVaR plots over
time (results' risk.csv) and the table of risk events (risk_events.csv: every order a risk check
cut, refused or halted, with its rule, value and limit)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.ticker import PercentFormatter

from algotrade.report import report_format as fmt
from algotrade.report.plots import _figure, _header, scroll, time_axis

_GROSS, _NET, _VAR, _CVAR = "#1f77b4", "#ff7f0e", "#d62728", "#7a1d1d"
_DASHES = ("-", "--", ":")


def _name(run: str, what: str) -> str:
    return f"{run} {what}" if run else what


def risk_figures(series: Sequence[tuple[str, pd.DataFrame]], model: str) -> list[Any]:
    """Two time plots: gross and net exposure, and VaR and CVaR, as fractions of equity; one line
    style per run (``series``: run name, its risk.csv; ``model``: how the VaR was estimated, words)."""
    exposure, ax = _figure(2.8)
    dates: pd.DatetimeIndex = pd.DatetimeIndex([])
    for (run, df), dash in zip(series, _DASHES * 3, strict=False):
        idx = pd.DatetimeIndex(pd.to_datetime(df["date"]))
        dates = idx
        ax.plot(idx, df["gross_exposure"].to_numpy(dtype=float), color=_GROSS, lw=2.4, alpha=0.45, ls=dash,
                label=_name(run, "gross"))
        ax.plot(idx, df["net_exposure"].to_numpy(dtype=float), color=_NET, lw=1.1, ls=dash, label=_name(run, "net"))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    time_axis(ax, dates)
    _header(ax, "Gross and net exposure (% of equity)")

    var_fig, ax = _figure(2.8)
    for (run, df), dash in zip(series, _DASHES * 3, strict=False):
        idx = pd.DatetimeIndex(pd.to_datetime(df["date"]))
        ax.plot(idx, df["var"].to_numpy(dtype=float), color=_VAR, lw=1.1, ls=dash, label=_name(run, "VaR"))
        ax.plot(idx, df["cvar"].to_numpy(dtype=float), color=_CVAR, lw=0.9, ls=dash, label=_name(run, "CVaR"))
    ax.set_xlim(*exposure.axes[0].get_xlim())  # the exposure plot's time axis
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    time_axis(ax, dates)
    _header(ax, f"VaR and CVaR of the positions held (% of equity): {model}")
    return [exposure, var_fig]


RISK_ALTS = ("gross and net exposure", "VaR and CVaR")


#: how each rule's value and limit read: a count, dollars, a multiple of equity, else a fraction of it
_COUNTS, _DOLLARS, _TIMES = {"max_positions", "long_only"}, {"max_order_notional"}, {"max_gross_leverage", "max_net_exposure"}


def _rule_value(rule: str, value: Any) -> str:
    if not fmt.finite(value):
        return "n/a"
    if rule in _COUNTS:
        return fmt.count(int(value))
    if rule in _DOLLARS:
        return fmt.money(value)
    if rule in _TIMES:
        return f"{fmt.ratio(value)}\u00d7"
    return fmt.pct(value, 2)


def _event_cell(column: str, value: Any, rule: str) -> str:
    if column in ("value", "limit"):
        return f"<td>{html.escape(_rule_value(rule, value))}</td>"
    if column in ("requested", "final"):
        return f"<td>{fmt.count(int(value), signed=True)}</td>"
    if column == "reason":
        return f"<td class=wrap>{html.escape(str(value))}</td>"
    return f"<td class=l>{html.escape(str(value))}</td>"


def events_table(events: pd.DataFrame, limit: int = 200) -> str:
    """The risk events as an HTML table (the first ``limit``), with a count by rule and action."""
    if not len(events):
        return "<p>None: no order was cut, refused or halted by a risk check.</p>"
    counts = events.groupby(["rule", "action"]).size()
    summary = ", ".join(f"{rule} {action} {n}" for (rule, action), n in counts.items())
    shown = events.head(limit)
    cols = list(shown.columns)
    head = "".join(f"<th{'' if c in ('value', 'limit', 'requested', 'final') else ' class=l'}>{html.escape(c)}</th>"
                   for c in cols)
    body = "".join("<tr>" + "".join(_event_cell(c, v, str(row.rule)) for c, v in zip(cols, row, strict=True)) + "</tr>"
                   for row in shown.itertuples(index=False))
    more = f"<p class=sub>{len(events) - limit} more in risk_events.csv</p>" if len(events) > limit else ""
    return (f"<p class=sub>{html.escape(summary)}</p>" + scroll(f"<table class=risk-events><tr>{head}</tr>{body}</table>")
            + more)
