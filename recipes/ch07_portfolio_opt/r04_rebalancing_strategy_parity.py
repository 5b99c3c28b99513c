"""The optimiser rebalancing a portfolio in a backtest: native Backtrader and algotrade, trade for trade.

r01-r03 built ``target_weights``: closes in, cleaned weights out. Here it runs inside two
backtests of the same monthly rebalancing strategy, on the data and broker of
``experiments/pfopt_rebalance.yaml``:

1. **Native Backtrader.** A plain ``bt.Strategy``, written the way a Backtrader user would:
   at the first bar of each month (or week), once ``lookback`` bars exist, it reads each data's
   last closes with ``data.close.get(size=lookback)``, calls ``target_weights``, turns the
   weights into whole shares with r02's rule, ``trunc(target_percent * w * value / close)`` with
   the broker's value, and sends the differences with r02's ``rebalance_orders`` (sells first),
   as ``Order.Close`` orders (filled at the next bar's close) for ``fill: next_close`` or
   market orders (the next open) for ``next_open``. Fills are logged in ``notify_order``.
2. **algotrade.** The production strategy ``pfopt_rebalance`` (algotrade/strategies) calls the
   very same ``target_weights`` on ``ctx.history`` closes and ``ctx.enter(symbol, w)``; the host
   does the share rounding and the sells-first ordering, and the strategy runs unchanged on
   Backtrader and on Zipline.

Both versions feed the optimiser the same float64 closes, and the optimiser is deterministic
(a named solver, cleaned and rounded weights), so the trade lists must be *equal*: same dates,
symbols, signed quantities and prices. That is what ``native_trades`` (this recipe's parity
hook, run by ``algotrade recipes --check``) and tests/test_recipes_ch07.py check.

What to look at: the trade counts and final equity of the three runs, the parity verdicts, the
time each run takes (most of it is the optimiser; the first run also pays CVXPY's one-time
warm-up), and ``rebalancing_parity.png`` (the equity
curves on top of each other, and the weights chosen at each rebalance).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import backtrader as bt
import pandas as pd

from algotrade.core.config import (
    BrokerConfig,
    Experiment,
    PercentCommission,
    PerShareCommission,
    TargetPercentSizing,
    load_experiment,
    symbols_text,
)
from algotrade.core.data import Market, load_market
from recipes.ch07_portfolio_opt import out_dir
from recipes.ch07_portfolio_opt.r01_mu_sigma_estimates import closes_frame
from recipes.ch07_portfolio_opt.r02_efficient_frontier_to_orders import rebalance_orders, shares_by_trunc
from recipes.ch07_portfolio_opt.r03_hrp_allocation import target_weights

WRAPPED_BY = "pfopt_rebalance"
EXPERIMENT = "experiments/pfopt_rebalance.yaml"
ENGINE = "backtrader"

ROOT = Path(__file__).resolve().parents[2]
EXECTYPE = {"next_close": bt.Order.Close, "next_open": bt.Order.Market}

Trade = tuple[dt.date, str, int, float]


# --------------------------------------------------------------------------------------------
# ingredients


class NativePfoptRebalance(bt.Strategy):  # type: ignore[misc]
    """Monthly (or weekly) rebalancing to ``target_weights``, in plain Backtrader."""

    params = (
        ("lookback", 126),
        ("method", "max_sharpe"),
        ("weight_bounds", (0.0, 1.0)),
        ("covariance", "ledoit_wolf"),
        ("gamma", 0.0),
        ("risk_free_rate", 0.0),
        ("rule", "month_start"),
        ("target_percent", 0.95),
        ("fill", "next_close"),
    )

    def __init__(self) -> None:
        if self.p.rule not in ("month_start", "week_start"):
            raise ValueError(f"rule {self.p.rule!r}: use month_start or week_start")
        self.exectype = EXECTYPE[self.p.fill]
        self.pending: dict[Any, Any] = {}  # data -> its live order
        self.fills: list[tuple[dt.date, str, int, float, float]] = []  # date, symbol, qty, price, commission
        self.values: list[tuple[dt.date, float]] = []  # the broker's value at each bar's close
        self.decisions: dict[dt.date, dict[str, float]] = {}  # rebalance date -> weights

    def notify_order(self, order: Any) -> None:
        if order.status in (order.Partial, order.Completed):
            # one record per execution bit, at the price the broker charged
            for bit in order.executed.iterpending():
                day = bt.num2date(bit.dt).date()
                self.fills.append((day, order.data._name, int(bit.size), float(bit.price), float(bit.comm)))
        if not order.alive():
            self.pending.pop(order.data, None)

    def new_period(self) -> bool:
        """True on the first bar of a month (month_start) or an ISO week (week_start)."""
        if len(self) == 1:
            return True
        today, before = self.data0.datetime.date(0), self.data0.datetime.date(-1)
        if self.p.rule == "month_start":
            return bool((today.year, today.month) != (before.year, before.month))
        return bool(today.isocalendar()[:2] != before.isocalendar()[:2])

    def next(self) -> None:
        self.values.append((self.data0.datetime.date(0), float(self.broker.getvalue())))
        if not self.new_period() or self.pending or len(self) < self.p.lookback:
            return
        closes = {d._name: d.close.get(size=self.p.lookback) for d in self.datas}
        weights = target_weights(
            closes_frame(closes), self.p.method, tuple(self.p.weight_bounds), self.p.covariance,
            self.p.gamma, self.p.risk_free_rate,
        )
        self.decisions[self.data0.datetime.date(0)] = weights
        prices = {d._name: float(d.close[0]) for d in self.datas}
        target = shares_by_trunc(weights, prices, float(self.broker.getvalue()), gross=self.p.target_percent)
        current = {d._name: int(self.getposition(d).size) for d in self.datas}
        by_name = {d._name: d for d in self.datas}
        for symbol, quantity in rebalance_orders(current, target):
            data = by_name[symbol]
            place = self.buy if quantity > 0 else self.sell
            self.pending[data] = place(data=data, size=abs(quantity), exectype=self.exectype)


class PerShareComm(bt.CommInfoBase):  # type: ignore[misc]
    """So much per share, at least ``minimum`` per order (IB style)."""

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED), ("minimum", 0.0))

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        return max(abs(size) * self.p.commission, self.p.minimum) if size else 0.0


def make_cerebro(frames: Mapping[str, pd.DataFrame], broker: BrokerConfig) -> bt.Cerebro:
    """A Cerebro over the frames, with the experiment's cash and commission (no slippage)."""
    if broker.slippage != "none":
        raise ValueError("this recipe's native version models no slippage: set broker.slippage: none")
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(broker.cash)
    cerebro.broker.set_checksubmit(False)  # cash is checked once, when the order fills
    c = broker.commission
    if isinstance(c, PercentCommission):
        cerebro.broker.addcommissioninfo(bt.CommInfoBase(
            commission=c.percent, percabs=True, stocklike=True, commtype=bt.CommInfoBase.COMM_PERC))
    elif isinstance(c, PerShareCommission):
        cerebro.broker.addcommissioninfo(PerShareComm(commission=c.per_share, minimum=c.minimum))
    for symbol, frame in frames.items():
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None), name=symbol)
    return cerebro


@dataclass(frozen=True)
class NativeRun:
    fills: list[tuple[dt.date, str, int, float, float]]
    values: list[tuple[dt.date, float]]
    decisions: dict[dt.date, dict[str, float]]
    final_value: float


def run_native(exp: Experiment, market: Market) -> NativeRun:
    """The native strategy with the experiment's parameters and broker, over the market's frames."""
    from algotrade.strategies.pfopt_rebalance import PfoptRebalanceConfig

    if not isinstance(exp.sizing, TargetPercentSizing):
        raise ValueError("the native version sizes by target_percent: set sizing: {target_percent: ...}")
    # the wrapper's config only resolves the parameters (defaults included), as the wrapper reads them
    params = PfoptRebalanceConfig.model_validate(exp.strategy.params).model_dump()
    cerebro = make_cerebro(market.frames, exp.broker)
    cerebro.addstrategy(NativePfoptRebalance, target_percent=exp.sizing.target_percent, fill=exp.broker.fill,
                        **params)
    (strategy,) = cerebro.run(runonce=True, preload=True)
    return NativeRun(strategy.fills, strategy.values, strategy.decisions, float(cerebro.broker.getvalue()))


def native_trades(exp: Experiment, market: Market) -> list[Trade]:
    """Parity hook: the native run's fills as (date, symbol, signed quantity, price)."""
    return [(d, s, q, p) for d, s, q, p, _ in run_native(exp, market).fills]


def first_difference(a: list[Trade], b: list[Trade]) -> int | None:
    """Index of the first differing trade (or the shorter length), None when the lists are equal."""
    if a == b:
        return None
    return next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def plot(values: Mapping[str, pd.Series], decisions: pd.DataFrame, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for (name, series), style in zip(values.items(), ("-", "--", ":"), strict=False):
        top.plot(series.index, series.to_numpy(), style, lw=1.2, label=name)
    top.set_ylabel("portfolio value")
    top.set_title("the same optimiser, three backtests: native Backtrader and algotrade on two engines")
    top.legend()
    bottom.stackplot(decisions.index, decisions.T.to_numpy(), labels=list(decisions.columns), step="post")
    bottom.set_ylabel("target weight")
    bottom.legend(ncol=len(decisions.columns), fontsize=8, loc="upper left")
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.backtest.run import execute
    from algotrade.core.registry import engine_status

    folder = out_dir(out)
    exp = load_experiment(ROOT / EXPERIMENT, ("output.report=false",))
    market = load_market(exp.data)
    print(f"{EXPERIMENT}: {exp.strategy.params}")
    print(f"{symbols_text(list(market.frames))}, {market.dates[0].date()} .. {market.dates[-1].date()}, "
          f"cash {exp.broker.cash:,.0f}, fill {exp.broker.fill}, sizing {exp.sizing.model_dump()}")

    t0 = time.perf_counter()
    native = run_native(exp, market)
    timings = {"native backtrader": time.perf_counter() - t0}
    trades: dict[str, list[Trade]] = {"native backtrader": [(d, s, q, p) for d, s, q, p, _ in native.fills]}
    finals = {"native backtrader": native.values[-1][1]}
    values = {"native backtrader": pd.Series(dict(native.values))}
    engines = [e for e in ("backtrader", "zipline") if engine_status(e) == "installed"]
    blocked = 0
    for engine in engines:
        t0 = time.perf_counter()
        host, _ = execute(exp, market, engine)
        name = f"algotrade {engine}"
        timings[name] = time.perf_counter() - t0
        trades[name] = [(f.date, f.symbol, f.quantity, f.price) for f in host.fills]
        finals[name] = host.equity[-1][2]  # the value at the last bar's close
        values[name] = pd.Series({d: v for d, _, v in host.equity})
        blocked += sum(o.status == "blocked" for o in host.orders)

    print(f"\n{'run':<20} {'trades':>6} {'final value':>15} {'seconds':>8}")
    for name in trades:
        print(f"{name:<20} {len(trades[name]):>6} {finals[name]:>15,.2f} {timings[name]:>8.2f}")
    reference = trades["native backtrader"]
    verdicts: dict[str, str] = {}
    for name in trades:
        if name == "native backtrader":
            continue
        k = first_difference(reference, trades[name])
        rel = abs(finals[name] - finals["native backtrader"]) / finals["native backtrader"]
        verdicts[name] = "identical" if k is None else f"DIFFERENT from trade {k + 1}"
        print(f"native backtrader vs {name}: trades {verdicts[name]}, final value relative difference {rel:.1e}")
    print(f"orders blocked by risk checks in the algotrade runs: {blocked}")

    decisions = pd.DataFrame(native.decisions).T
    print(f"\n{len(decisions)} rebalances; the last three target weights:")
    print(decisions.tail(3).to_string())
    fill_days = sorted({t[0] for t in reference})
    if len(fill_days) > 1:
        print(f"\nthe second rebalance's fills (sells first), on {fill_days[1]}:")
        for _, symbol, quantity, price in (t for t in reference if t[0] == fill_days[1]):
            print(f"  {symbol} {quantity:+6d} @ {price:.2f}")

    path = plot(values, decisions, folder / "rebalancing_parity.png")
    print(f"plot: {path}")
    return {
        "engines": engines,
        "trades": {n: len(t) for n, t in trades.items()},
        "final_value": finals,
        "verdicts": verdicts,
        "identical": all(v == "identical" for v in verdicts.values()),
        "blocked": blocked,
        "rebalances": len(decisions),
        "timings": timings,
        "plot": path,
    }


if __name__ == "__main__":
    main()
