"""RSI signals in Backtrader: a SignalStrategy long/short, and the long-only version in next().

Backtrader has a second way to write a strategy: instead of deciding in ``next()``, you hand it
a *signal line* — positive means long, negative short, zero nothing — and ``bt.SignalStrategy``
sends the orders. This recipe builds that line from the RSI and trades it both ways:

1. **A signal line from chapter 3's function.** :func:`rsi_reversion_signal` is written with
   plain operators (``(rsi < oversold) * 1 - (rsi > overbought) * 1``), and Backtrader lines
   overload those operators, so calling it on ``bt.talib.RSI(data.close)`` returns a new *line*:
   +1 while the RSI is below 30, -1 while it is above 70. ``main`` checks it is bit for bit the
   numpy signal of chapter 3.
2. **Long/short.** ``signal_add(bt.SIGNAL_LONGSHORT, line)``: +1 goes long (covering a short
   first), -1 goes short (selling the long first). The position is never flat once the first
   signal came. A sizer decides the share count: :class:`TargetPercentSizer` buys
   ``trunc(95 % of the account value / close)``.
3. **Long only.** ``bt.SIGNAL_LONG`` takes +1 to buy and -1 only to *close* the long. That is
   exactly ``algotrade.strategies.rsi_reversion``.
4. **Where SignalStrategy stops.** It always sends ``Market`` orders, which fill at the next
   bar's *open*. To fill at the next close instead, write the rule in ``next()`` —
   :class:`RsiReversion` does, with any fill model, and is the version the parity check runs.

What to look at: the signal line equal to chapter 3's array; the long-only SignalStrategy making
the very same trades as the ``next()`` version; and what shorting the overbought readings did to
the result on the NASDAQ Composite, 2003-2018 (it rose almost fivefold).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import backtrader as bt
import numpy as np

from recipes.ch03_vectorized.r02_vectorized_backtest_with_costs import settings_from_experiment
from recipes.ch03_vectorized.r05_oscillator_signals import (
    OVERBOUGHT,
    OVERSOLD,
    RSI_PERIOD,
    rsi_reversion_signal,
    rsi_signals,
)
from recipes.ch04_backtrader.r01_pandasdata_sma_strategy import (
    Fill,
    LoggedStrategy,
    make_cerebro,
    run_experiment_natively,
)

if TYPE_CHECKING:
    from algotrade.core.config import Experiment
    from algotrade.core.data import Market

WRAPPED_BY = "rsi_reversion"
EXPERIMENT = "experiments/rsi_reversion.yaml"
ENGINE = "backtrader"

SIGNAL_KINDS = {"long": bt.SIGNAL_LONG, "longshort": bt.SIGNAL_LONGSHORT}


# --------------------------------------------------------------------------------------------
# ingredients


def rsi_signal_line(data: Any, period: int = RSI_PERIOD, oversold: float = OVERSOLD,
                    overbought: float = OVERBOUGHT) -> Any:
    """+1 / -1 / 0 as a Backtrader line: chapter 3's function applied to the RSI line."""
    return rsi_reversion_signal(bt.talib.RSI(data.close, timeperiod=period), oversold, overbought)


class TargetPercentSizer(bt.Sizer):  # type: ignore[misc]
    """Whole shares worth ``percent`` of the account value at the current close."""

    params = (("percent", 0.95),)

    def _getsizing(self, comminfo: Any, cash: float, data: Any, isbuy: bool) -> int:
        return math.trunc(self.p.percent * self.broker.getvalue() / data.close[0])


class RsiSignals(bt.SignalStrategy):  # type: ignore[misc]
    """The RSI signal line traded by Backtrader's SignalStrategy (market orders: next open)."""

    params = (("period", RSI_PERIOD), ("oversold", OVERSOLD), ("overbought", OVERBOUGHT), ("kind", "long"))

    def __init__(self) -> None:
        self.signal = rsi_signal_line(self.data, self.p.period, self.p.oversold, self.p.overbought)
        self.signal_add(SIGNAL_KINDS[self.p.kind], self.signal)
        self.fills: list[Fill] = []

    def notify_order(self, order: Any) -> None:
        if order.status in (order.Partial, order.Completed):
            for bit in order.executed.iterpending():
                self.fills.append((bt.num2date(bit.dt).date(), order.data._name, int(bit.size), float(bit.price)))


class RsiReversion(LoggedStrategy):
    """Long-only RSI reversion decided in ``next()``: buy below ``oversold``, sell above ``overbought``."""

    params = (("period", RSI_PERIOD), ("oversold", OVERSOLD), ("overbought", OVERBOUGHT))

    def __init__(self) -> None:
        super().__init__()
        self.rsi = {d: bt.talib.RSI(d.close, timeperiod=self.p.period) for d in self.datas}

    def next(self) -> None:
        for d in self.datas:
            if d in self.pending:
                continue
            signal = rsi_reversion_signal(self.rsi[d][0], self.p.oversold, self.p.overbought)
            size = self.getposition(d).size
            if size == 0 and signal > 0:
                self.enter(d)
            elif size > 0 and signal < 0:
                self.exit(d)


# --------------------------------------------------------------------------------------------
# parity hook


def native_trades(exp: Experiment, market: Market) -> list[Fill]:
    """The fills of :class:`RsiReversion` run natively on Backtrader with the experiment's settings."""
    _, strat = run_experiment_natively(RsiReversion, exp, market)
    return list(strat.fills)


# --------------------------------------------------------------------------------------------
# the page


def short_entries(fills: list[Fill]) -> int:
    """How many fills took the position from flat or long to short."""
    count, position = 0, 0
    for _, _, quantity, _ in fills:
        count += position >= 0 > position + quantity
        position += quantity
    return count


def run_signal_strategy(exp: Experiment, market: Market, kind: str) -> tuple[float, RsiSignals]:
    settings = settings_from_experiment(exp)
    cerebro = make_cerebro(market.frames, cash=settings["cash"], costs=settings["costs"])
    cerebro.addstrategy(RsiSignals, kind=kind, **exp.strategy.params)
    cerebro.addsizer(TargetPercentSizer, percent=settings["target_percent"])
    (strat,) = cerebro.run(runonce=True, preload=True)
    return float(cerebro.broker.getvalue()), strat


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.core.config import load_experiment
    from algotrade.core.data import load_market

    # this page saves no file of its own (``out`` is accepted, as on every page)
    root = Path(__file__).resolve().parents[2]
    exp = load_experiment(root / EXPERIMENT)  # IXIC 2003-2018, next-open fills, IB-style costs
    market = load_market(exp.data)
    (symbol, frame), = market.frames.items()

    cerebro, long_only = run_experiment_natively(RsiReversion, exp, market)
    long_only_value = float(cerebro.broker.getvalue())
    signal_long_value, signal_long = run_signal_strategy(exp, market, "long")
    long_short_value, long_short = run_signal_strategy(exp, market, "longshort")

    line = np.asarray(signal_long.signal.array[: len(frame)])
    line_equals_array = bool(np.array_equal(line, rsi_signals(frame["close"].to_numpy(), **exp.strategy.params)))
    same_trades = signal_long.fills == long_only.fills
    shorts = short_entries(long_short.fills)
    buy_hold = exp.broker.cash * frame["close"].iloc[-1] / frame["close"].iloc[0]

    print(f"RSI({RSI_PERIOD}) {OVERSOLD:g}/{OVERBOUGHT:g} on {symbol} {frame.index[0].date()} .. "
          f"{frame.index[-1].date()}, $0.005/share (min $1) + 2 bp, fills at the next open")
    print(f"signal line from chapter 3's function == chapter 3's numpy signal: {line_equals_array}")
    print(f"long only, next():              {len(long_only.fills):3d} fills, final value {long_only_value:12,.2f}")
    print(f"long only, SignalStrategy LONG: {len(signal_long.fills):3d} fills, final value {signal_long_value:12,.2f}"
          f"  (same trades: {same_trades})")
    print(f"long/short, SIGNAL_LONGSHORT:   {len(long_short.fills):3d} fills, final value {long_short_value:12,.2f}"
          f"  ({shorts} times short)")
    print(f"buy and hold:                               final value {buy_hold:12,.2f}")
    return {
        "line_equals_array": line_equals_array,
        "long_only_fills": len(long_only.fills),
        "long_only_value": long_only_value,
        "signal_long_same_trades": same_trades,
        "long_short_fills": len(long_short.fills),
        "long_short_value": long_short_value,
        "short_entries": shorts,
        "buy_hold_value": float(buy_hold),
    }


if __name__ == "__main__":
    main()
