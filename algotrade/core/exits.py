"""Protective exits (``stops:``): their levels and the one rule by which every engine fills them.

A protective exit is one algotrade order of type ``"exit"``: ``stop`` is the stop level (or None),
``limit`` the take-profit level (or None), ``tag`` names the rule (stop_loss, atr_stop, trailing,
take_profit, or bracket for a stop with a take-profit) and the quantity closes the whole position.
The levels are the cookbook's (recipes/ch11_risk_sizing r10-r12, imported, never copied), and
:func:`exit_fill` is recipe 10's trigger rule with algotrade's slippage: every engine's fill path
calls it (Backtrader's broker, Zipline's blotter, the gateway simulator), none re-implements it.
docs/engine-parity.md, "Stops", states the rule.

:class:`ExitBook` is the host's side: it follows each position's entry (average fill price, the
ATR on the entry decision's bar, the extreme close since entry) and, at each bar's flush, creates,
ratchets, resizes or cancels the position's resting exit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from algotrade.core.config import StopsConfig
from algotrade.core.costs import slipped
from algotrade.core.strategy import Bar, Order
from recipes.ch11_risk_sizing.r10_stop_loss import atr_stop_level, stop_loss_level, touch_price
from recipes.ch11_risk_sizing.r11_take_profit import take_profit_level
from recipes.ch11_risk_sizing.r12_trailing_stop import ratchet, trailing_level

EXIT_TAGS = ("stop_loss", "atr_stop", "trailing", "take_profit", "bracket")


def exit_fill(order: Order, bar: Bar, slip: float = 0.0) -> tuple[float, str] | None:
    """Where a resting exit fills on ``bar``: (price, "stop" | "limit"), or None if it does not.

    The order closes a long when it sells (stop below, take-profit above) and a short when it
    buys. Gaps through a level fill at the open, a touched level at the level, a bar touching
    both at the stop; the price is then slipped against the order like a market fill's."""
    side = 1 if order.quantity < 0 else -1
    hit = touch_price(bar.open, bar.high, bar.low, order.stop, order.limit, side)
    if hit is None:
        return None
    return slipped(hit[0], order.quantity, slip), hit[1]


def exit_tag(stops: StopsConfig) -> str:
    """The tag of the exits ``stops`` places: bracket when a stop and a take-profit go together."""
    has_stop = stops.stop_loss is not None or stops.atr_stop is not None or stops.trailing is not None
    if has_stop and stops.take_profit is not None:
        return "bracket"
    if stops.trailing is not None:
        return "trailing"
    if stops.atr_stop is not None:
        return "atr_stop"
    return "stop_loss" if stops.stop_loss is not None else "take_profit"


def exit_levels(stops: StopsConfig, side: int, entry: float, atr: float, extreme: float,
                resting: float | None = None) -> tuple[float | None, float | None]:
    """(stop, take-profit) of a position of ``side`` (+1 long, -1 short) entered at ``entry``.

    ``atr``: the ATR on the entry decision's bar (NaN before it is ready: no ATR stop yet);
    ``extreme``: the highest close since entry (lowest, short). With several stop rules the
    tightest wins; ``resting``: the stop now resting, which an update never loosens."""
    candidates = []
    if stops.stop_loss is not None:
        candidates.append(stop_loss_level(entry, stops.stop_loss, side))
    if stops.atr_stop is not None and math.isfinite(atr):
        candidates.append(atr_stop_level(entry, atr, stops.atr_stop, side))
    if stops.trailing is not None:
        candidates.append(trailing_level(extreme, stops.trailing, side))
    stop = None
    for level in candidates:
        stop = ratchet(stop, level, side)
    if stop is not None and resting is not None:
        stop = ratchet(resting, stop, side)
    elif stop is None:
        stop = resting
    limit = take_profit_level(entry, stops.take_profit, side) if stops.take_profit is not None else None
    return stop, limit


def true_range_atr(high: Sequence[float], low: Sequence[float], close: Sequence[float], window: int,
                   k: int) -> float:
    """ATR(window) on bar ``k`` from the bars up to it (TA-Lib's Wilder ATR, as the ATR indicator)."""
    import talib

    if k + 1 <= window:
        return math.nan
    a = talib.ATR(np.asarray(high[: k + 1], dtype=np.float64), np.asarray(low[: k + 1], dtype=np.float64),
                  np.asarray(close[: k + 1], dtype=np.float64), timeperiod=window)
    return float(a[-1])


@dataclass
class _Entry:
    """What a position's exit is computed from."""

    side: int
    shares: int
    cost: float  # sum of signed fill quantity x price of the fills that built the position
    atr: float
    extreme: float
    exit: Order | None = None

    @property
    def price(self) -> float:
        return self.cost / self.shares


class ExitBook:
    """The host's protective exits: one resting ``"exit"`` order per open position."""

    def __init__(self, stops: StopsConfig, lists: Mapping[str, Mapping[str, list[float]]],
                 dates: Callable[[], Sequence[dt.date]]) -> None:
        self.stops = stops
        self.tag = exit_tag(stops)
        self.lists = lists
        self.dates = dates
        self.entries: dict[str, _Entry] = {}

    def is_exit(self, order: Order) -> bool:
        return order.type == "exit"

    def on_fill(self, order: Order, quantity: int, price: float, position_before: int) -> None:
        """Follow the position's entry through a fill (position_before: the shares before it)."""
        sym = order.symbol
        after = position_before + quantity
        entry = self.entries.get(sym)
        if after == 0 or (position_before and (after > 0) != (position_before > 0)):
            self.entries.pop(sym, None)  # flat, or flipped: a flip's new side starts below
            entry = None
            position_before = 0
            quantity = after
        if after == 0:
            return
        if entry is None:
            atr = math.nan
            if self.stops.atr_stop is not None:
                lists = self.lists[sym]
                k = self._index(order.created)
                atr = true_range_atr(lists["high"], lists["low"], lists["close"], self.stops.atr_window, k)
            self.entries[sym] = _Entry(1 if after > 0 else -1, after, quantity * price, atr, math.nan)
        elif abs(after) > abs(position_before):  # grown: the entry price is the average of its fills
            entry.shares, entry.cost = after, entry.cost + quantity * price
        else:  # reduced: same entry price, fewer shares
            entry.cost, entry.shares = entry.price * after, after

    def _index(self, date: dt.date) -> int:
        dates = self.dates()
        lo, hi = 0, len(dates)
        while lo < hi:  # the last session on or before ``date``
            mid = (lo + hi) // 2
            if dates[mid] <= date:
                lo = mid + 1
            else:
                hi = mid
        return max(lo - 1, 0)

    def update(self, i: int, positions: Mapping[str, int], pending: Mapping[str, int],
               new: Callable[[str, int, float | None, float | None, str], Order],
               cancel: Callable[[Order], None], modify: Callable[[Order], None]) -> None:
        """At bar ``i``'s flush: each position's exit created, ratcheted, resized or cancelled.

        ``pending``: per symbol, the signed shares of the strategy's open orders (sent this bar or
        resting): an exit never closes more than the position will be once they fill, and a
        position the strategy is closing has none."""
        for sym in list(self.entries):
            entry = self.entries[sym]
            pos = positions.get(sym, 0)
            close = self.lists[sym]["close"][i]
            entry.extreme = close if math.isnan(entry.extreme) else (
                max(entry.extreme, close) if entry.side > 0 else min(entry.extreme, close))
            resting = entry.exit if entry.exit is not None and entry.exit.is_open else None
            target = pos + pending.get(sym, 0)
            if pos == 0 or target == 0 or (target > 0) != (pos > 0):
                if resting is not None:
                    cancel(resting)
                entry.exit = None
                continue
            size = -target if abs(target) < abs(pos) else -pos
            stop, limit = exit_levels(self.stops, entry.side, entry.price, entry.atr, entry.extreme,
                                      resting.stop if resting is not None else None)
            if stop is None and limit is None:
                continue
            if resting is not None and resting.quantity - resting.filled == size:
                if (stop, limit) != (resting.stop, resting.limit):
                    resting.stop, resting.limit = stop, limit
                    modify(resting)
                continue
            if resting is not None:
                cancel(resting)
            entry.exit = new(sym, size, limit, stop, self.tag)


__all__ = ["EXIT_TAGS", "ExitBook", "exit_fill", "exit_levels", "exit_tag", "true_range_atr"]
