"""A vectorized backtest with costs: the trade list and equity of the SMA crossover.

Recipe 1 multiplied a position series by daily returns. That is quick, but it is not what a
broker does: you buy *whole shares*, at the *next* bar's price, pay commission, lose a little to
slippage, and the size of each entry depends on how much money the previous trades left you.
This recipe keeps the signals vectorized and adds exactly those rules, so that its trade list is
the one the event-driven engines produce — not approximately: the same dates, share counts and
prices (``tests/test_recipes_ch03_ch04.py`` checks it against ``algotrade run`` on Backtrader).

The execution model, step by step (it is algotrade's, see the README's "Execution model"):

1. **Decide at the close, fill at the next bar.** A signal on bar t fills at bar t+1's close
   (``fill="next_close"``) or open (``"next_open"``). A signal on the last bar never fills.
2. **Enter only when flat, exit only when long.** The signals come from recipe 1; repeated
   signals are ignored, as in the holdings there.
3. **Whole shares.** An entry buys ``trunc(target_percent * equity / close)`` shares, priced at
   the *decision* bar's close (the fill price is not known yet). While flat, equity is cash.
4. **Costs.** Slippage moves each fill price against the order by ``slippage_bps`` (a buy pays
   ``price * (1 + bps/10000)``); commission is per share with a minimum per order, or a fraction
   of the notional.
5. **Cash is checked at the fill.** If the price gapped up enough that the shares and the
   commission cost more than the cash, the entry is rejected and the strategy stays flat. It is
   rare with a 95 % target, but 2008 had days that moved more than 5 %.
6. **The books, exactly.** Cash is kept in exact decimal arithmetic, each price, amount and
   fee taken as the decimal it was written as (``algotrade.core.costs.exact``), and the share count is
   the exact quotient (``algotrade.core.strategy.shares_for_value``) — algotrade's cash book, which every
   engine pays its fills through. A float ledger is a few units in the last place off, each in its
   own way (Backtrader books a sale as cost basis plus profit, ``shares * entry + shares * (exit
   - entry)``, rather than ``shares * exit``), and one such bit can move a ``trunc`` to the next
   share: $1,010.00 at $10.10 is 100 shares, 1,009.9999999999999 is 99.

Only the trade list needs a loop, and it runs over the *signals* (a few dozen to a few hundred),
not over the bars; cash and shares are then spread over the bars with a forward fill, and equity
is ``cash + shares * close`` for every bar at once.

**Parity.** Trades (date, symbol, quantity, price) and commissions are *equal* to the
event-driven engines'. Equity matches to ``EQUITY_RTOL`` (1e-12 relative), not exactly, for one
reason: Backtrader values a position as ``(size * close - unrealised) + unrealised`` with
``unrealised = size * (close - entry)``, which can differ from ``size * close`` in the last bit
(measured: at most a few 1e-16 relative on the quickstart). We keep the plain formula; the cash,
and with it every trade, is exact (and equal to the engine's cash, which follows the same book).

What to look at: the trades and costs paid, the final equity against the same strategy without
costs, and ``vectorized_backtest.png``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from algotrade.core.costs import EXACT, exact, exact_fee
from algotrade.core.strategy import shares_for_value
from recipes.ch03_vectorized import out_dir
from recipes.ch03_vectorized.r01_ma_crossover_signals import (
    FAST,
    SLOW,
    IntArray,
    crossover_signals,
    load_spx,
    sma,
)

if TYPE_CHECKING:
    from algotrade.core.config import Experiment
    from algotrade.core.data import Market

WRAPPED_BY = "sma_cross"
EXPERIMENT = "experiments/quickstart.yaml"
ENGINE = "vectorized"

#: the stated tolerance for equity against the event-driven engines (trades are exact)
EQUITY_RTOL = 1e-12

Fill = Literal["next_close", "next_open"]


# --------------------------------------------------------------------------------------------
# ingredients


@dataclass(frozen=True)
class Costs:
    """Trading costs: commission per share (with a minimum per order) OR a fraction of notional,
    plus slippage in basis points."""

    per_share: float | None = None
    minimum: float = 0.0
    percent: float | None = None
    slippage_bps: float = 0.0

    def fill_price(self, price: float, shares: int) -> float:
        """The price after slippage: higher for a buy, lower for a sell."""
        slip = self.slippage_bps / 10_000
        if not slip:
            return price
        return price * (1 + slip) if shares > 0 else price * (1 - slip)

    def commission(self, shares: int, price: float) -> float:
        if not shares:
            return 0.0
        if self.per_share is not None:
            return max(abs(shares) * self.per_share, self.minimum)
        if self.percent is not None:
            return abs(shares) * self.percent * price
        return 0.0

    def exact_commission(self, shares: int, price: float) -> Decimal:
        """The same commission in exact decimal arithmetic, as the cash is booked."""
        return exact_fee(shares, price, self.per_share, self.minimum, self.percent)


@dataclass(frozen=True)
class Trade:
    date: dt.date
    symbol: str
    quantity: int  # signed: + buy, - sell
    price: float
    commission: float
    slippage: float  # what slippage cost on this fill: |quantity| * |price - bar price|


@dataclass
class Backtest:
    trades: list[Trade]
    equity: pd.DataFrame  # date -> cash, shares, equity
    rejected: list[dt.date] = field(default_factory=list)  # entries refused for lack of cash

    @property
    def final_equity(self) -> float:
        return float(self.equity["equity"].iloc[-1])


def backtest(
    frame: pd.DataFrame,
    signal: IntArray,
    *,
    symbol: str = "SPX",
    cash: float = 100_000.0,
    fill: Fill = "next_close",
    target_percent: float | None = 0.95,
    fixed_shares: int | None = None,
    costs: Costs = Costs(),
) -> Backtest:
    """Trade one symbol long-only on ``signal`` (+1 enter, -1 exit, decided at each bar's close)."""
    closes = frame["close"].to_numpy(np.float64).tolist()
    fill_at = frame["close" if fill == "next_close" else "open"].to_numpy(np.float64).tolist()
    dates = [d.date() for d in frame.index]
    n = len(closes)

    trades: list[Trade] = []
    rejected: list[dt.date] = []
    fill_bars: list[int] = []
    cash_after: list[float] = []
    shares_after: list[int] = []
    money, shares = exact(cash), 0  # the cash, exactly
    with localcontext(EXACT):  # no rounding: 80 significant digits
        # the only loop: over the bars that carry a signal, the last bar excluded (it cannot fill)
        for t in np.flatnonzero(np.asarray(signal)[: n - 1]).tolist():
            k = t + 1  # the fill bar
            if shares == 0 and signal[t] > 0:
                if fixed_shares is not None:
                    qty = fixed_shares
                else:  # flat, so equity is the cash
                    qty = shares_for_value(exact(target_percent) * money, closes[t]) if target_percent else 0
                if qty <= 0:
                    continue
                price = costs.fill_price(fill_at[k], qty)
                left = money - qty * exact(price) - costs.exact_commission(qty, price)
                if left < 0:  # cannot pay for it at the fill price: the order is rejected
                    rejected.append(dates[k])
                    continue
                money, shares = left, qty
            elif shares > 0 and signal[t] < 0:
                qty = -shares
                price = costs.fill_price(fill_at[k], qty)
                money = money + shares * exact(price) - costs.exact_commission(qty, price)
                shares = 0
            else:
                continue
            comm = costs.commission(qty, price)
            trades.append(Trade(dates[k], symbol, qty, price, comm, abs(qty) * abs(price - fill_at[k])))
            fill_bars.append(k)
            cash_after.append(float(money))
            shares_after.append(shares)

    # spread the books over the bars: cash and shares after the latest fill, then mark to market
    cash_path = np.full(n, np.nan)
    shares_path = np.full(n, np.nan)
    cash_path[0], shares_path[0] = cash, 0
    cash_path[fill_bars] = cash_after
    shares_path[fill_bars] = shares_after
    book = pd.DataFrame({"cash": cash_path, "shares": shares_path}, index=frame.index).ffill()
    book["shares"] = book["shares"].astype(np.int64)
    book["equity"] = book["cash"] + book["shares"] * frame["close"]
    return Backtest(trades, book, rejected)


def sma_cross_backtest(frame: pd.DataFrame, fast: int = FAST, slow: int = SLOW, **settings: Any) -> Backtest:
    """Recipe 1's crossover signals, traded by :func:`backtest`."""
    close = frame["close"].to_numpy(np.float64)
    return backtest(frame, crossover_signals(sma(close, fast), sma(close, slow)), **settings)


# --------------------------------------------------------------------------------------------
# parity hook: the same run as an experiment file describes it


def settings_from_experiment(exp: Experiment) -> dict[str, Any]:
    """The experiment's broker and sizing as keyword arguments of :func:`backtest`."""
    from algotrade.core.config import BpsSlippage, FixedSharesSizing, PercentCommission, PerShareCommission

    broker, c = exp.broker, exp.broker.commission
    costs = Costs(
        per_share=c.per_share if isinstance(c, PerShareCommission) else None,
        minimum=c.minimum if isinstance(c, PerShareCommission) else 0.0,
        percent=c.percent if isinstance(c, PercentCommission) else None,
        slippage_bps=broker.slippage.bps if isinstance(broker.slippage, BpsSlippage) else 0.0,
    )
    sizing = exp.sizing
    if isinstance(sizing, FixedSharesSizing):
        return {"cash": broker.cash, "fill": broker.fill, "target_percent": None,
                "fixed_shares": sizing.fixed_shares, "costs": costs}
    return {"cash": broker.cash, "fill": broker.fill, "target_percent": sizing.target_percent, "costs": costs}


def native_trades(exp: Experiment, market: Market) -> list[tuple[dt.date, str, int, float]]:
    """This recipe's vectorized SMA crossover with the experiment's parameters and broker."""
    if len(market.frames) != 1:
        raise ValueError(f"the vectorized backtest trades one symbol; this experiment has {len(market.frames)}")
    (symbol, frame), = market.frames.items()
    params = exp.strategy.params
    result = sma_cross_backtest(frame, params.get("fast", FAST), params.get("slow", SLOW),
                                symbol=symbol, **settings_from_experiment(exp))
    return [(t.date, t.symbol, t.quantity, t.price) for t in result.trades]


# --------------------------------------------------------------------------------------------
# the page

COST_CASES = {
    "no costs": Costs(),
    "IB-style $0.005/share (min $1) + 2 bp": Costs(per_share=0.005, minimum=1.0, slippage_bps=2),
    "10 bp commission + 5 bp slippage": Costs(percent=0.001, slippage_bps=5),
}


def plot(curves: dict[str, pd.Series], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5), layout="constrained")
    ax = fig.subplots()
    for label, equity in curves.items():
        ax.plot(equity.index, equity, lw=0.9, label=label)
    ax.set_title(f"SMA({FAST}/{SLOW}) crossover on SPX, whole shares, next-close fills")
    ax.set_ylabel("equity ($)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    frame = load_spx()  # the quickstart's data: SPX 2005-01-03 .. 2012-12-31
    runs = {label: sma_cross_backtest(frame, costs=costs) for label, costs in COST_CASES.items()}
    base = runs["no costs"]

    print(f"SMA({FAST}/{SLOW}) on SPX {frame.index[0].date()} .. {frame.index[-1].date()}, $100,000, "
          f"95% of equity per entry, fills at the next close")
    print("first trades:")
    for t in base.trades[:4]:
        print(f"  {t.date}  {t.quantity:+5d} {t.symbol} @ {t.price:,.2f}")
    cases: dict[str, dict[str, Any]] = {}
    for label, run in runs.items():
        commission = sum(t.commission for t in run.trades)
        slip = sum(t.slippage for t in run.trades)
        cases[label] = {"trades": len(run.trades), "commission": commission, "slippage": slip,
                        "rejected": len(run.rejected), "final_equity": run.final_equity}
        print(f"{label:40s} {len(run.trades):3d} trades  commission {commission:8,.2f}  slippage {slip:8,.2f}  "
              f"rejected {len(run.rejected)}  final equity {run.final_equity:12,.2f}")
    path = plot({label: run.equity["equity"] for label, run in runs.items()}, folder / "vectorized_backtest.png")
    print(f"plot: {path}")
    return {"cases": cases, "first_trades": [(str(t.date), t.quantity, t.price) for t in base.trades[:4]],
            "plot": path}


if __name__ == "__main__":
    main()
