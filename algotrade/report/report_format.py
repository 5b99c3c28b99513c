"""How every HTML report shows a number: money, percents, ratios, counts, and float noise as zero.

One set of rules for report.html, compare.html, burnin.html and sweep.html, so the same metric
reads the same everywhere. Nothing here imports pandas or matplotlib.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

#: values that differ by at most this much relative to their size are equal: the last bits of a float
NOISE_RTOL = 1e-9

#: how each known metric is labelled; unknown keys are shown as their name in words
LABELS = {
    "start": "Start", "end": "End", "sessions": "Sessions", "warmup_sessions": "Warm-up sessions",
    "initial_cash": "Initial equity", "final_equity": "Final equity", "total_return": "Total return",
    "annual_return": "Annual return (CAGR)", "annual_volatility": "Annual volatility", "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio", "calmar": "Calmar ratio", "max_drawdown": "Max drawdown",
    "max_drawdown_duration_sessions": "Longest drawdown (sessions)", "trade_count": "Fills",
    "round_trips": "Round trips", "win_rate": "Win rate (round trips)", "turnover_annual": "Turnover per year",
    "exposure": "Exposure (mean invested)", "total_commission": "Commission paid",
    "total_borrow_fees": "Borrow fees paid (shorts)",
    "orders_blocked": "Orders blocked (risk)", "orders_rejected": "Orders rejected", "alpha": "Alpha (annual)",
    "beta": "Beta", "risk_events": "Risk events", "risk_events_resized": "Risk events: orders resized",
    "risk_events_refused": "Risk events: orders refused", "risk_events_halted": "Risk events: halts",
    "max_var": "Max 1-day VaR", "max_gross_exposure": "Max gross exposure", "var_model": "VaR model",
}
_MONEY = {"initial_cash", "final_equity", "total_commission", "total_borrow_fees"}
_SIGNED_PCT = {"total_return", "annual_return", "max_drawdown", "alpha"}
_PCT = {"annual_volatility", "win_rate", "exposure", "max_var"}
_RATIO = {"sharpe", "sortino", "calmar", "beta"}
_TIMES = {"turnover_annual"}

_DIGIT = re.compile(r"[1-9]")


def finite(x: Any) -> bool:
    """A real number that can be shown (not None, NaN, infinite, a bool or a string)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _unsigned_zero(text: str) -> str:
    """``-0.00`` / ``+0.0%`` as ``0.00`` / ``0.0%``: a value that rounds to zero has no sign."""
    return text[1:] if text[:1] in "+-" and not _DIGIT.search(text) else text


def money(x: Any, decimals: int = 2) -> str:
    """``1,234,567.89``; ``n/a`` for a missing value."""
    return _unsigned_zero(f"{x:,.{decimals}f}") if finite(x) else "n/a"


def signed_money(x: Any, decimals: int = 2) -> str:
    """``+1,234.56`` / ``-0.50`` / ``0.00`` (a difference of money)."""
    return _unsigned_zero(f"{x:+,.{decimals}f}") if finite(x) else "n/a"


def pct(x: Any, digits: int = 2, signed: bool = False) -> str:
    """A fraction as a percentage, ``+12.34%`` when signed; no sign on values that round to zero."""
    if not finite(x):
        return "n/a"
    return _unsigned_zero(f"{x:+.{digits}%}" if signed else f"{x:.{digits}%}")


def ratio(x: Any, digits: int = 2) -> str:
    return _unsigned_zero(f"{x:,.{digits}f}") if finite(x) else "n/a"


def bps(x: Any, digits: int = 2) -> str:
    """Basis points: ``1.25 bp``."""
    return f"{ratio(x, digits)} bp" if finite(x) else "n/a"


def count(x: Any, signed: bool = False) -> str:
    """A whole number with thousands separators (``+1,200`` when signed)."""
    if not finite(x):
        return "n/a"
    return _unsigned_zero(f"{round(x):+,}" if signed else f"{round(x):,}")


def sci(x: Any) -> str:
    """A tolerance or a tiny relative size: ``1e-9``, ``2.3e-7`` (not ``1e-09``)."""
    if not finite(x):
        return "n/a"
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.1e}".split("e")
    mantissa = mantissa.removesuffix(".0")
    return f"{mantissa}e{int(exponent)}"


def number(x: Any) -> str:
    """Any other number: integers with separators, floats with 2 decimals (4 significant digits when small)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return str(x)
    if not finite(x):
        return "n/a"
    if isinstance(x, numbers.Integral):
        return count(x)
    v = float(x)
    if v.is_integer() and abs(v) >= 1:
        return count(v)
    if abs(v) >= 1 or abs(v) < 1e-12:
        return _unsigned_zero(f"{v:,.2f}")
    return _unsigned_zero(f"{v:.4g}") if abs(v) >= 1e-4 else sci(v)


def param(x: Any) -> str:
    """A parameter value as a person types it: ``10``, ``0.005``, ``2.5``, ``SPX``; a computed or drawn
    float (``0.30000000000000004``, ``1.1882634567``) with 4 significant digits, never in e-notation."""
    if isinstance(x, float) and math.isfinite(x):
        typed = repr(x)
        if "e" not in typed and len(typed.partition(".")[2]) <= 4:
            return typed
        if abs(x) >= 1000:
            return f"{x:,.2f}"
        return format(Decimal(repr(float(f"{x:.4g}"))), "f")
    if isinstance(x, list | tuple):
        return "[" + ", ".join(param(v) for v in x) + "]"
    if isinstance(x, dict):  # a nested parameter (the composer's children): as in the YAML file
        return "{" + ", ".join(f"{k}: {param(v)}" for k, v in x.items()) + "}"
    return str(x)


_PARAM_IN_LABEL = re.compile(r"=(-?\d+\.\d+(?:e[-+]?\d+)?)(?![\w.])", re.IGNORECASE)


def param_label(text: str) -> str:
    """A point's label (``fast=5 nbdev=1.188257``) with each float value shown by :func:`param`."""
    return _PARAM_IN_LABEL.sub(lambda m: "=" + param(float(m.group(1))), text)


def params(values: dict[str, Any]) -> str:
    """``fast=10, slow=30``."""
    return ", ".join(f"{k}={param(v)}" for k, v in values.items())


def label(key: str) -> str:
    return LABELS.get(key, key.replace("_", " ").capitalize())


def _kind(key: str) -> str:
    if key in _MONEY:
        return "money"
    if key in _SIGNED_PCT:
        return "signed_pct"
    if key in _PCT:
        return "pct"
    if key in _RATIO:
        return "ratio"
    if key in _TIMES:
        return "times"
    if "duration" in key or "sessions" in key or key.endswith(("_count", "count")):
        return "count"
    if "return" in key or "drawdown" in key:
        return "signed_pct"
    if any(w in key for w in ("volatility", "win_rate", "exposure", "tracking_error")):
        return "pct"
    if "equity" in key or "cash" in key or "commission" in key:
        return "money"
    return "number"


def metric(key: str, value: Any) -> str:
    """A metric of metrics.json (or sweep.csv) as a person reads it."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    kind = _kind(key)
    if kind == "money":
        return money(value)
    if kind == "signed_pct":
        return pct(value, 2, signed=True)
    if kind == "pct":
        return pct(value, 2)
    if kind == "ratio":
        return ratio(value)
    if kind == "times":
        return f"{ratio(value)}\u00d7"
    if kind == "count" and float(value).is_integer():
        return count(value)
    return number(value)


def is_noise(difference: float, scale: float, rtol: float = NOISE_RTOL) -> bool:
    """True when ``difference`` is float rounding of values of size ``scale``."""
    return abs(difference) <= rtol * abs(scale)


def denoise(differences: Sequence[float], scales: Sequence[float], rtol: float = NOISE_RTOL) -> list[float]:
    """Each difference, or 0.0 where it is float noise relative to its scale (NaN stays NaN)."""
    return [d if not math.isfinite(d) or not is_noise(d, s, rtol) else 0.0
            for d, s in zip(differences, scales, strict=True)]


def all_noise(differences: Iterable[float], scales: Iterable[float], rtol: float = NOISE_RTOL) -> bool:
    """True when every finite difference is float noise (an empty or all-NaN series is identical too)."""
    return all(not math.isfinite(d) or is_noise(d, s, rtol) for d, s in zip(differences, scales, strict=True))


def metric_difference(key: str, a: Any, b: Any) -> str:
    """``b - a`` in the metric's own unit, signed; float noise is 0; empty when either is not a number."""
    if not (finite(a) and finite(b)):
        return "" if a == b or a is None or b is None else "differs"
    diff = b - a
    if is_noise(diff, max(abs(a), abs(b))):
        diff = 0
    kind = _kind(key)
    if kind == "money":
        return signed_money(diff)
    if kind in ("signed_pct", "pct"):
        return pct(diff, 2, signed=True)
    if kind == "count" and float(diff).is_integer():
        return count(diff, signed=True)
    if kind == "times":
        return f"{_unsigned_zero(f'{diff:+,.2f}')}\u00d7"
    if kind == "ratio":
        return _unsigned_zero(f"{diff:+,.2f}")
    if diff == 0:
        return "0"
    return _unsigned_zero(f"{diff:+,.2f}") if abs(diff) >= 0.005 else ("+" if diff > 0 else "-") + sci(abs(diff))


_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])-?(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+)(?!\w|\.\d)", re.IGNORECASE)


def humanize(text: str) -> str:
    """Prose with numbers in it (an explanation, a reason): raw floats such as ``1154.0500000001``
    or ``2.91038e-11`` become ``1,154.05`` and ``2.9e-11``, so do prices such as ``1154.05``; short
    decimals (``51.2 bp``, ``0.25``), integers, dates and identifiers are left as written."""

    def one(m: re.Match[str]) -> str:
        text = m.group()
        x = float(text)
        if "e" in text.lower():
            return number(x)
        decimals = len(text.split(".")[1])
        if abs(x) >= 1:
            return money(x) if decimals > 2 or abs(x) >= 1000 else text
        return number(x) if decimals > 4 else text

    return _NUMBER_IN_TEXT.sub(one, text)
