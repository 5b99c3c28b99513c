"""An external signal feed: precomputed scores as an extra line, traded top-N long/short.

Models are usually trained and run outside the backtester: a notebook or a batch job writes one
score per symbol and day — a predicted return, a probability, a factor value. Backtrader does not
need to know how it was made; it needs the score *on the feed*, next to the prices, so that
``next()`` can read it like the close. This recipe does that in three steps:

1. **The scores.** One column per symbol, aligned to the price rows. The value on day t must be
   known at day t's close (the strategy trades on it at the next bar), so any model output must
   be shifted to the day it became available before it is attached. Our stand-in for a model is
   six-month momentum that skips the last week, ``close[t-5] / close[t-126] - 1`` — causal by
   construction, and a classic cross-sectional predictor.
2. **A feed with one more line.** Subclass ``bt.feeds.PandasData``, declare ``lines =
   ("signal",)`` and map it with ``params = (("signal", -1),)``: -1 means "find the column by its
   name". In the strategy, ``data.signal[0]`` is today's score.
3. **Top-N long/short.** At the first session of each week the strategy ranks the symbols by
   score, holds the best ``n`` long and the worst ``n`` short, each with ``95 % / (2n)`` of the
   account, and sends the orders that reduce a position before those that add to one (the sales
   pay for the purchases). Whole shares, fills at the next close, 5 bp commission. Targets are
   recomputed every week, so every holding is trimmed or topped up to its weight each time.

The data are eight synthetic symbols with alternating bull and bear regimes (chapter 1's
generator, as in ``experiments/momentum_rebalance.yaml``), where momentum has something to find.

What to look at: that the line read inside ``next()`` is the column we attached, the rebalance
and trade counts, the long/short portfolio against long-only top-N and an equal-weight buy-and-hold
of all eight, and ``external_signal_feed.png``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import backtrader as bt
import pandas as pd

from recipes.ch04_backtrader import out_dir
from recipes.ch04_backtrader.r01_pandasdata_sma_strategy import EXECTYPE, Fill

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH")
LOOKBACK, SKIP = 126, 5
TOP_N = 2
CASH = 1_000_000.0


# --------------------------------------------------------------------------------------------
# ingredients


def momentum_score(close: pd.Series, lookback: int = LOOKBACK, skip: int = SKIP) -> pd.Series:
    """The return from ``lookback`` bars ago to ``skip`` bars ago: known at each day's close."""
    return close.shift(skip) / close.shift(lookback) - 1.0


def with_signal(frame: pd.DataFrame, score: pd.Series) -> pd.DataFrame:
    """The price frame with the score attached as a ``signal`` column, on the same rows."""
    return frame.assign(signal=score.reindex(frame.index))


class SignalData(bt.feeds.PandasData):  # type: ignore[misc]
    """PandasData with one more line, ``signal``, read from the column of that name."""

    lines = ("signal",)
    params = (("signal", -1),)


class TopNLongShort(bt.Strategy):  # type: ignore[misc]
    """Each week: long the ``n`` best scores, short the ``n`` worst (or only long)."""

    params = (("n", TOP_N), ("exposure", 0.95), ("long_short", True), ("fill", "next_close"))

    def __init__(self) -> None:
        self.exectype = EXECTYPE[self.p.fill]
        self.pending: dict[int, Any] = {}  # order ref -> live order
        self.fills: list[Fill] = []
        self.rebalances = 0
        self.first_scores: dict[str, float] = {}  # the first ranking, to show on the page
        self.first_day: Any = None

    def notify_order(self, order: Any) -> None:
        if order.status in (order.Partial, order.Completed):
            for bit in order.executed.iterpending():
                self.fills.append((bt.num2date(bit.dt).date(), order.data._name, int(bit.size), float(bit.price)))
        if not order.alive():
            self.pending.pop(order.ref, None)

    def new_week(self) -> bool:
        day = self.data0.datetime.date(0)
        return len(self) == 1 or day.isocalendar()[:2] != self.data0.datetime.date(-1).isocalendar()[:2]

    def next(self) -> None:
        if not self.new_week() or self.pending:
            return
        scores = {d: d.signal[0] for d in self.datas if not math.isnan(d.signal[0])}
        if len(scores) < 2 * self.p.n:
            return  # the scores are still warming up
        if not self.first_scores:
            self.first_scores = {d._name: s for d, s in scores.items()}
            self.first_day = self.data0.datetime.date(0)
        ranked = sorted(scores, key=lambda d: (-scores[d], d._name))
        legs = 2 if self.p.long_short else 1
        weight = self.p.exposure / (legs * self.p.n)
        targets = dict.fromkeys(ranked[: self.p.n], weight)
        if self.p.long_short:
            targets.update(dict.fromkeys(ranked[-self.p.n:], -weight))
        value = self.broker.getvalue()
        reducing, adding = [], []
        for d in self.datas:
            held = self.getposition(d).size
            target = math.trunc(targets.get(d, 0.0) * value / d.close[0])
            if target != held:
                (reducing if abs(target) < abs(held) else adding).append((d, target - held))
        for d, delta in reducing + adding:  # sales first: they pay for the purchases
            order = (self.buy if delta > 0 else self.sell)(data=d, size=abs(delta), exectype=self.exectype)
            self.pending[order.ref] = order
        self.rebalances += 1


# --------------------------------------------------------------------------------------------
# the page


def load_synthetic() -> dict[str, pd.DataFrame]:
    from algotrade.core.config import DataConfig
    from algotrade.core.data import load_market

    cfg = DataConfig.model_validate({
        "source": "synthetic", "symbols": list(SYMBOLS), "start": "2010-01-04", "end": "2017-12-29",
        "synthetic": {"seed": 11, "correlation": 0.4, "regimes": 4},
    })
    return load_market(cfg).frames


def run(frames: dict[str, pd.DataFrame], long_short: bool) -> tuple[TopNLongShort, pd.Series, dict[str, Any]]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(CASH)
    cerebro.broker.set_checksubmit(False)
    cerebro.broker.setcommission(commission=0.0005)
    for symbol, frame in frames.items():
        cerebro.adddata(SignalData(dataname=frame, openinterest=None), name=symbol)
    cerebro.addstrategy(TopNLongShort, long_short=long_short)
    cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="daily", timeframe=bt.TimeFrame.Days)
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    (strat,) = cerebro.run(runonce=True, preload=True)
    equity = CASH * (1 + pd.Series(strat.analyzers.daily.get_analysis())).cumprod()
    years = len(equity) / 252
    stats = {
        "final_value": float(cerebro.broker.getvalue()),
        "annual_return": float((equity.iloc[-1] / CASH) ** (1 / years) - 1),
        "max_drawdown_pct": float(strat.analyzers.drawdown.get_analysis()["max"]["drawdown"]),
        "rebalances": strat.rebalances,
        "fills": len(strat.fills),
    }
    return strat, equity, stats


def plot(curves: dict[str, pd.Series], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5), layout="constrained")
    ax = fig.subplots()
    for label, equity in curves.items():
        ax.plot(equity.index, equity, lw=0.9, label=label)
    ax.set_ylabel("equity ($)")
    ax.set_title(f"weekly top-{TOP_N} on an external momentum score, 8 synthetic symbols")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    prices = load_synthetic()
    frames = {s: with_signal(f, momentum_score(f["close"])) for s, f in prices.items()}

    long_short, ls_equity, ls = run(frames, long_short=True)
    _, lo_equity, lo = run(frames, long_short=False)
    closes = pd.DataFrame({s: f["close"] for s, f in prices.items()})
    buy_hold = CASH * (closes / closes.iloc[0]).mean(axis=1)

    first_day = long_short.first_day
    from_frame = {s: float(f.loc[pd.Timestamp(first_day), "signal"]) for s, f in frames.items()}
    line_is_column = long_short.first_scores == from_frame

    print(f"{len(frames)} synthetic symbols {closes.index[0].date()} .. {closes.index[-1].date()}; score: "
          f"{LOOKBACK}-day momentum skipping {SKIP} days, attached as a 'signal' line")
    print(f"first weekly ranking ({first_day}): " + ", ".join(
        f"{s} {v:+.1%}" for s, v in sorted(long_short.first_scores.items(), key=lambda kv: -kv[1])))
    print(f"data.signal[0] inside next() == the frame's column: {line_is_column}")
    for label, stats in (("long/short", ls), ("long only", lo)):
        print(f"{label:10s} top-{TOP_N}: {stats['rebalances']} rebalances, {stats['fills']} fills, final value "
              f"{stats['final_value']:14,.2f}, annual {stats['annual_return']:+.2%}, max drawdown "
              f"{stats['max_drawdown_pct']:.1f}%")
    bh_annual = float((buy_hold.iloc[-1] / CASH) ** (252 / len(buy_hold)) - 1)
    print(f"equal-weight buy and hold: final value {buy_hold.iloc[-1]:14,.2f}, annual {bh_annual:+.2%}")
    path = plot({"long/short": ls_equity, "long only": lo_equity, "buy and hold (equal weight)": buy_hold},
                folder / "external_signal_feed.png")
    print(f"plot: {path}")
    return {"line_is_column": line_is_column, "long_short": ls, "long_only": lo,
            "buy_hold_final_value": float(buy_hold.iloc[-1]), "buy_hold_annual": bh_annual, "plot": path}


if __name__ == "__main__":
    main()
