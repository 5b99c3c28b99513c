"""How many shares an entry buys: the experiment's (or the strategy's) sizing method, computed once
in the core from the bars up to and including the decision bar, so every engine and the live runner
send the same orders. The formulas are the cookbook's (recipes/ch11_risk_sizing r01-r06), imported:

* fixed_shares: ``round(shares * weight)`` (ties to even)
* fixed_cash: ``cash * weight`` dollars
* target_percent: ``percent * weight * equity`` dollars
* vol_target: ``min(annual / (std(r, ddof=1) * sqrt(252)), max_leverage) * weight * equity`` dollars,
  ``r`` the last ``window`` daily returns
* kelly: ``clip(fraction * mean(r) / var(r, ddof=1), 0, cap) * weight * equity`` dollars
* risk_per_trade: ``floor(equity * risk * weight / (atr_mult * ATR(atr_window)))`` shares, capped at
  ``equity * max_leverage / close``; its stop is ``close - atr_mult * ATR`` (:func:`stop_level`)

A short (negative weight) is the mirror image of a long: the same size, negated (Kelly on the
short's negated returns), its risk_per_trade stop above the entry.

Dollars become shares with :func:`algotrade.core.strategy.shares_for_value` at the decision bar's close.
"""

from __future__ import annotations

from decimal import Decimal

from algotrade.core.config import (
    AnySizing,
    Experiment,
    FixedCashSizing,
    FixedSharesSizing,
    PerSymbolSizing,
    RiskPerTradeSizing,
    SizingMethod,
    StopsConfig,
    TargetPercentSizing,
    VolTargetSizing,
)
from algotrade.core.costs import EXACT, exact
from algotrade.core.errors import ConfigError
from recipes.ch11_risk_sizing.r01_fixed_shares import fixed_shares
from recipes.ch11_risk_sizing.r02_fixed_cash import fixed_cash_value
from recipes.ch11_risk_sizing.r03_target_percent import target_percent_value
from recipes.ch11_risk_sizing.r04_volatility_target import vol_target_fraction
from recipes.ch11_risk_sizing.r05_fractional_kelly import kelly_fraction
from recipes.ch11_risk_sizing.r06_risk_per_trade import atr_stop_level, risk_per_trade_shares, wilder_atr

__all__ = ["Entry", "check_symbols", "entry_size", "method_for", "resolve", "run_stops", "stop_level"]


def resolve(exp: Experiment) -> AnySizing:
    """The sizing a run uses: the strategy's own (``strategy.sizing``) wins over the experiment's
    ``sizing``; a per_symbol entry must name a symbol of ``data.symbols``."""
    sizing = exp.strategy.sizing if exp.strategy.sizing is not None else exp.sizing
    check_symbols(sizing, tuple(exp.data.symbols))
    return sizing


def method_for(sizing: AnySizing, symbol: str) -> SizingMethod:
    """The one method that sizes ``symbol``: its per_symbol entry, else the default."""
    if isinstance(sizing, PerSymbolSizing):
        return sizing.per_symbol.get(symbol, sizing.default)
    return sizing


def check_symbols(sizing: AnySizing, symbols: tuple[str, ...]) -> None:
    """A per_symbol entry must name a symbol of the run (a typo would silently use the default)."""
    if isinstance(sizing, PerSymbolSizing):
        unknown = sorted(set(sizing.per_symbol) - set(symbols))
        if unknown:
            raise ConfigError(
                f"sizing.per_symbol: {', '.join(unknown)} not in data.symbols ({', '.join(symbols)}); "
                "use the symbols exactly as data.symbols lists them"
            )


class Entry:
    """Sizes one entry: what an entry needs from the bars seen so far (closes, highs, lows up to
    the decision bar) and the account value."""

    def __init__(self, high: list[float], low: list[float], close: list[float], i: int, equity: Decimal) -> None:
        self.high, self.low, self.close, self.i, self.equity = high, low, close, i, equity

    def seen(self, series: list[float], n: int) -> list[float]:
        """The last ``n`` values up to and including the decision bar."""
        return series[max(0, self.i + 1 - n): self.i + 1]

    def atr(self, window: int) -> float:
        # Wilder's ATR is recursive: it depends on every bar seen (as TA-Lib's does on its input)
        n = self.i + 1
        return wilder_atr(self.seen(self.high, n), self.seen(self.low, n), self.seen(self.close, n), window)


def entry_size(method: SizingMethod, entry: Entry, weight: float) -> int | Decimal:
    """Shares (an ``int``) for the methods that give shares, else the dollars to hold (a ``Decimal``,
    made shares by ``shares_for_value`` at the decision bar's close).

    A short (``weight < 0``) is sized as the mirror of a long of ``|weight|``, negated: the same
    shares or dollars for fixed_shares, fixed_cash, target_percent, vol_target and risk_per_trade
    (whose stop then rests above the entry, :func:`stop_level`), and Kelly on the short's own
    returns (the negated ones: a rising market gives a short no stake)."""
    side = -1 if weight < 0 else 1
    size = _unsigned_size(method, entry, abs(weight), side)
    return -size if side < 0 else size


def _unsigned_size(method: SizingMethod, entry: Entry, weight: float, side: int) -> int | Decimal:
    if isinstance(method, FixedSharesSizing):
        return fixed_shares(method.fixed_shares, weight)
    if isinstance(method, FixedCashSizing):
        return fixed_cash_value(method.fixed_cash, weight)
    if isinstance(method, TargetPercentSizing):
        return target_percent_value(method.target_percent, entry.equity, weight)
    if isinstance(method, RiskPerTradeSizing):
        p = method.risk_per_trade
        return risk_per_trade_shares(float(entry.equity), entry.close[entry.i], entry.atr(p.atr_window),
                                     p.risk * weight, p.atr_mult, p.max_leverage)
    if isinstance(method, VolTargetSizing):
        v = method.vol_target
        fraction = vol_target_fraction(entry.seen(entry.close, v.window + 1), v.window, v.annual, v.max_leverage)
    else:
        k = method.kelly
        fraction = kelly_fraction(entry.seen(entry.close, k.window + 1), k.window, k.fraction, k.cap, side)
    return EXACT.multiply(EXACT.multiply(exact(fraction), exact(weight)), entry.equity)


def stop_level(method: SizingMethod, entry: Entry, side: int = 1) -> float | None:
    """The protective stop a risk_per_trade entry implies (``close - atr_mult * ATR`` for a long,
    ``close + atr_mult * ATR`` for a short, ``side=-1``), else None. The stops part attaches the
    exit at this level (algotrade/core/exits.py, which takes the side from the position)."""
    if not isinstance(method, RiskPerTradeSizing):
        return None
    p = method.risk_per_trade
    return atr_stop_level(entry.close[entry.i], entry.atr(p.atr_window), p.atr_mult, side)



def run_stops(exp: Experiment) -> StopsConfig | None:
    """The protective exits a run places: the experiment's ``stops:``, plus the stop a
    risk_per_trade sizing sizes against (``atr_stop: atr_mult``, ``atr_window``) unless ``stops``
    names a stop of its own (stop_loss or atr_stop: explicit keys win). The exit rests ``atr_mult``
    ATRs (of the entry decision's bar) below the entry fill, from the bar after it, on every engine
    and live: the ``stops.atr_stop`` rule of algotrade/core/exits.py."""
    sizing = resolve(exp)
    methods = [sizing.default, *sizing.per_symbol.values()] if isinstance(sizing, PerSymbolSizing) else [sizing]
    implied = {(m.risk_per_trade.atr_mult, m.risk_per_trade.atr_window) for m in methods
               if isinstance(m, RiskPerTradeSizing)}
    stops = exp.stops
    if not implied or (stops is not None and (stops.stop_loss is not None or stops.atr_stop is not None)):
        return stops
    if len(implied) > 1:
        raise ConfigError(
            "sizing: risk_per_trade methods with different atr_mult/atr_window imply different stops; "
            "set stops.atr_stop and stops.atr_window once for the run"
        )
    (mult, window), = implied
    base = stops.model_dump(exclude_none=True) if stops is not None else {}
    return StopsConfig.model_validate({**base, "atr_stop": mult, "atr_window": window})
