"""An SMA crossover written for Zipline: initialize, handle_data, explicit costs, data.history.

The classic first Zipline algorithm is two functions. ``initialize(context)`` runs once: it looks
up the assets and — this matters — sets the commission and slippage models, because Zipline's
defaults are *not* zero: 5 bp of slippage with a 10 % volume cap, and $0.001 a share. Zipline
lets you change them only inside ``initialize``. ``handle_data(context, data)`` then runs after
each session closes: it reads closes with ``data.history``, compares a fast and a slow moving
average and sends orders, which Zipline fills at the *next* session's close.

This recipe runs the quickstart experiment (SMA 10/30 on the S&P 500, 2005-2012, 95 % of the
account on each entry) natively on Zipline and makes exactly the trades that algotrade's
``sma_cross`` makes on its Zipline engine — same dates, share counts and prices. Five details
decide that, each a pitfall of its own:

1. **Warm-up.** ``data.history`` cannot reach before the bundle's first session (it raises a
   ``LookupError``). The simulation starts on the first session and ``handle_data`` waits until
   ``slow + 1`` closes exist — the first bar on which both today's and yesterday's slow average
   exist, exactly when algotrade's indicators become ready.
2. **Indicator arithmetic.** TA-Lib's SMA is a running sum: its value over the last 31 closes
   differs in the last bits from its value at the same bar over the whole series (on most bars
   here — the page counts them). With 2-decimal prices exact ties between the averages happen, and
   a tie broken the other way flips a crossover. So ``handle_data`` asks for the whole history
   since the bundle's first session and runs TA-Lib over it: the very same additions in the same
   order as algotrade's one computation. It costs ~20 % more time than a fixed 31-bar window.
3. **Prices read back.** The bundle stores thousandths; ``data.history`` and ``data.current``
   return ``uint32 * 0.001``, one ulp away from the decimal. Rounding to 3 decimals recovers the
   exact double (recipe 1).
4. **Fills and costs.** ``set_slippage`` gets a small model that fills every order completely at
   the next bar's close (or open, for ``fill: next_open``), moved by the experiment's basis
   points, with no volume cap; ``set_commission`` gets ``PerShare``/``PerDollar`` with the
   experiment's numbers (zero for the quickstart). For close fills without slippage Zipline's own
   ``FixedSlippage(spread=0)`` is equivalent but for the ulp of point 3.
5. **Sizing.** Zipline's ``order_target_percent`` values the account with a position bought today
   still at its fill price and rounds 99.9999 shares *up*. Here the share count is computed
   directly: ``trunc(0.95 * value / close)`` with the account marked at today's close.

What Zipline does differently and this recipe does not paper over: cash may go negative (an entry
sized at today's close and filled at a higher close tomorrow is paid for anyway — algotrade
rejects it), and a bar with zero volume never fills. Neither happens on the quickstart's data;
``native_trades`` would differ from algotrade where they do.

What to look at: the trade list, the count of SMA values that differ between window and full
history, the identical trade lists and final values, and ``sma_equity.png``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import talib

from adapters.zipline.bundle import ensure_bundle
from adapters.zipline.calendars import calendar_for
from algotrade.core.config import (
    BpsSlippage,
    BrokerConfig,
    Experiment,
    FixedSharesSizing,
    PercentCommission,
    PerShareCommission,
    RiskConfig,
    TargetPercentSizing,
    load_experiment,
)
from algotrade.core.data import Market, load_market
from recipes.ch05_zipline import out_dir, zipline_root

# parity hooks: this recipe is the native twin of algotrade's sma_cross on the zipline engine
WRAPPED_BY = "sma_cross"
EXPERIMENT = "experiments/quickstart.yaml"
ENGINE = "zipline"

ROOT = Path(__file__).resolve().parents[2]
Trade = tuple[Any, str, int, float]


# --------------------------------------------------------------------------------------------
# ingredients


def crossover(closes: np.ndarray, fast: int, slow: int) -> tuple[bool, bool]:
    """(crossed up, crossed down) on the last bar, from TA-Lib SMAs of ``closes`` (oldest first).

    A comparison with NaN is False, so nothing happens until both averages exist on the last
    two bars. ``fast == 1`` means the close itself (TA-Lib wants a period of at least 2).
    """
    f = closes if fast == 1 else talib.SMA(closes, timeperiod=fast)
    s = talib.SMA(closes, timeperiod=slow)
    up = bool(f[-1] > s[-1] and f[-2] <= s[-2])
    down = bool(f[-1] < s[-1] and f[-2] >= s[-2])
    return up, down


def window_vs_full_sma(closes: np.ndarray, period: int) -> int:
    """On how many bars TA-Lib's SMA over the last ``period`` closes differs from the full series'."""
    full = talib.SMA(closes, timeperiod=period)
    return sum(
        talib.SMA(closes[k + 1 - period : k + 1], timeperiod=period)[-1] != full[k]
        for k in range(period - 1, len(closes))
    )


def target_shares(value: float, weight: float, price: float) -> int:
    """Whole shares worth ``weight * value`` at ``price``, truncated toward zero."""
    return math.trunc(weight * value / price) if price > 0 else 0


def bar_fill_model(field: str = "close", bps: float = 0.0) -> Any:
    """A slippage model: fill the whole order at the bar's ``field``, ``bps`` against the order.

    Zipline calls it on the session after the order was placed. The price is rounded back to
    the 3 decimals the bundle stores; there is no volume cap (Zipline still skips bars with zero
    volume before it asks the model).
    """
    from zipline.finance.slippage import SlippageModel

    fraction = bps / 10_000

    class BarFill(SlippageModel):  # type: ignore[misc]
        def process_order(self, data: Any, order: Any) -> tuple[float, int]:
            price = round(float(data.current(order.asset, field)), 3)
            if fraction:
                price = price * (1 + fraction) if order.amount > 0 else price * (1 - fraction)
            return price, order.amount

    return BarFill()


def commission_model(broker: BrokerConfig) -> Any:
    """Zipline's built-in commission model for the experiment's ``broker.commission``."""
    from zipline.finance import commission

    c = broker.commission
    if isinstance(c, PerShareCommission):
        return commission.PerShare(cost=c.per_share, min_trade_cost=c.minimum)
    if isinstance(c, PercentCommission):
        return commission.PerDollar(cost=c.percent)
    return commission.PerShare(cost=0.0, min_trade_cost=0.0)


def sma_cross_algorithm(symbols: list[str], fast: int, slow: int, broker: BrokerConfig,
                        sizing: TargetPercentSizing | FixedSharesSizing) -> tuple[Any, Any]:
    """``initialize`` and ``handle_data`` of a long-only SMA crossover over ``symbols``."""
    from zipline.api import get_open_orders, order, set_commission, set_slippage, symbol

    weight = 1.0 / len(symbols)  # each symbol gets an equal share of the target

    def initialize(context: Any) -> None:
        context.assets = [symbol(s) for s in symbols]
        context.sessions_seen = 0
        # Zipline's defaults are 5 bp + volume cap and $0.001/share: say what we want instead
        set_slippage(bar_fill_model("open" if broker.fill == "next_open" else "close",
                                    broker.slippage.bps if isinstance(broker.slippage, BpsSlippage) else 0.0))
        set_commission(commission_model(broker))

    def handle_data(context: Any, data: Any) -> None:
        context.sessions_seen += 1
        if context.sessions_seen < slow + 1:
            return  # warm-up: today's and yesterday's slow SMA need slow + 1 closes
        # the whole history since the first session (see point 2), rounded back to thousandths
        closes = data.history(context.assets, "close", context.sessions_seen, "1d").round(3)
        today = closes.iloc[-1]
        positions = context.portfolio.positions
        value = context.portfolio.cash + sum(p.amount * today[a] for a, p in positions.items())
        for asset in context.assets:
            if get_open_orders(asset):
                continue  # no new order while one is pending
            up, down = crossover(closes[asset].to_numpy(), fast, slow)
            held = positions[asset].amount if asset in positions else 0
            if held == 0 and up:
                if isinstance(sizing, FixedSharesSizing):
                    shares = round(sizing.fixed_shares * weight)
                else:
                    shares = target_shares(value, sizing.target_percent * weight, today[asset])
                if shares:
                    order(asset, shares)
            elif held > 0 and down:
                order(asset, -held)

    return initialize, handle_data


def run_native(exp: Experiment, market: Market) -> pd.DataFrame:
    """Run the crossover with the experiment's parameters and broker on a bundle of ``market``."""
    if exp.risk != RiskConfig.model_validate({}):
        raise ValueError("the native recipe has no risk checks; run it on an experiment with risk: {}")
    zipline_root()
    from zipline import run_algorithm
    from zipline.utils.calendar_utils import get_calendar

    calendar_name = calendar_for(market)
    bundle, _, _ = ensure_bundle(market, calendar_name)  # ingested once, then cached by data hash
    params = {"fast": 10, "slow": 30, **exp.strategy.params}
    initialize, handle_data = sma_cross_algorithm(list(market.frames), params["fast"], params["slow"],
                                                  exp.broker, exp.sizing)
    sessions = market.dates
    with warnings.catch_warnings():  # pandas deprecation notices raised inside zipline
        warnings.simplefilter("ignore", FutureWarning)
        return run_algorithm(
            start=sessions[0], end=sessions[-1], initialize=initialize, handle_data=handle_data,
            capital_base=exp.broker.cash, data_frequency="daily", bundle=bundle,
            trading_calendar=get_calendar(calendar_name),
            # no benchmark: an explicit zero series (alpha/beta in perf then mean nothing)
            benchmark_returns=pd.Series(0.0, index=sessions.tz_localize("UTC")),
        )


def perf_trades(perf: pd.DataFrame) -> list[Trade]:
    """Zipline's transactions as (session date, symbol, signed quantity, price).

    Within a session, sells are listed before buys (the order algotrade sends them in); Zipline
    itself lists a session's transactions asset by asset.
    """
    return [(t["dt"].date(), t["sid"].symbol, int(t["amount"]), float(t["price"]))
            for day in perf["transactions"] for t in sorted(day, key=lambda t: t["amount"] > 0)]


def native_trades(exp: Experiment, market: Market) -> list[Trade]:
    """Parity hook: this recipe's own fills for ``exp`` on ``market``."""
    return perf_trades(run_native(exp, market))


def plot(perf: pd.DataFrame, ours: list[tuple[Any, float]], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(perf.index.tz_localize(None), perf["portfolio_value"], lw=1.6, label="native zipline")
    dates, values = zip(*ours, strict=True)
    ax.plot(pd.DatetimeIndex(dates), values, lw=0.8, ls="--", label="algotrade sma_cross on zipline")
    ax.set_ylabel("portfolio value")
    ax.set_title("SMA(10/30) crossover on the S&P 500: the same equity both ways")
    ax.legend()
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    from algotrade.backtest.run import execute

    folder = out_dir(out)
    exp = load_experiment(ROOT / EXPERIMENT)
    market = load_market(exp.data)
    closes = market.frames["SPX"]["close"].to_numpy()
    params = exp.strategy.params
    print(f"{exp.name}: {exp.strategy.name} {params} on SPX, {len(closes)} sessions "
          f"({market.dates[0].date()} .. {market.dates[-1].date()})")
    differ = {p: window_vs_full_sma(closes, p) for p in (params["fast"], params["slow"])}
    print("TA-Lib SMA over a window vs over the whole series, bars that differ in the last bits: "
          + ", ".join(f"SMA({p}) {n} of {len(closes) - p + 1}" for p, n in differ.items()))

    perf = run_native(exp, market)
    native = perf_trades(perf)
    print(f"\nnative zipline: {len(native)} trades; the first four:")
    for t in native[:4]:
        print(f"  {t[0]}  {t[1]}  {t[2]:+6d} @ {t[3]:.2f}")
    final = float(perf["portfolio_value"].iloc[-1])
    print(f"final value {final:,.2f} (from {exp.broker.cash:,.2f}), "
          f"cash never below {float(perf['ending_cash'].min()):,.2f}")

    host, _ = execute(exp, market, "zipline")
    ours = [(f.date, f.symbol, f.quantity, f.price) for f in host.fills]
    same = native == ours
    algotrade_final = host.equity[-1][2]
    print(f"algotrade sma_cross on zipline: {len(ours)} trades, final value {algotrade_final:,.2f}; "
          f"identical trades: {same}")
    path = plot(perf, [(d, v) for d, _, v in host.equity], folder / "sma_equity.png")
    print(f"plot: {path}")
    return {
        "trades": len(native),
        "algotrade_trades": len(ours),
        "identical": same,
        "final_value": final,
        "algotrade_final_value": algotrade_final,
        "final_rel_diff": abs(final - algotrade_final) / algotrade_final,
        "min_cash": float(perf["ending_cash"].min()),
        "window_sma_differs": differ,
        "first_trade": native[0] if native else None,
        "plot": path,
    }


if __name__ == "__main__":
    main()
