"""Risk limits and the kill switch: a drawdown or a day's loss halts trading, cancels and flattens.

Per-order risk checks (position size, leverage, long-only) stop a bad order; they do not stop a
bad *day*. A live program also watches the account as a whole and, past a threshold, stops
trading altogether. This page builds that monitor and wires it to
:meth:`algotrade.live.broker.LiveRunner.kill_switch`, which

1. **halts** the run (recorded in the journal, so a restarted process stays halted until an
   operator calls ``resume()``): the strategy's new orders are blocked from then on;
2. **cancels** every open order of the run, and any other open order on its symbols;
3. **flattens** the run's symbols with market orders, journaled under the ``kill`` strategy
   (``run:kill:1``...), like any other order.

The monitor reads the account value the broker reports after each bar and keeps its peak:
the drawdown is ``1 - value / peak``, the day's loss ``1 - value / previous value``. Either past
its limit (here 5% and 3%) fires the switch. (A CVaR limit would work the same way: estimate it
from the recent daily returns of the account and compare.)

The strategy is deliberately naive: it buys SPX and IXIC on the first bar of 2018 (the
experiment's 95% target split between them) and protects each position with a resting stop 12%
below. It runs through :class:`~adapters.ib.broker.IbBroker` and the real ib_async client
against the gateway simulator replaying January to June 2018, whose early-February sell-off
trips the limits.

What to look at: the account path up to the trigger, the reason, the stops cancelled and the
flattening orders, and the client's own view after the next session: no position, no open
order, the run halted, and the strategy's next order blocked.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.ib.broker import IbBroker
from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.core.config import BrokerConfig, TargetPercentSizing
from algotrade.core.strategy import Context, Fill, Strategy
from algotrade.live.broker import LiveRunner
from algotrade.live.paper import simulated_stream
from recipes.ch09_ib_api.r01_connect_and_account_summary import BROKER, sample_market
from recipes.ch10_live_deployment import out_dir
from recipes.ch10_live_deployment.r01_broker_adapter_contract import fresh_journal, synced
from recipes.ch10_live_deployment.r02_target_percent_sizing import wait_acknowledged

RUN_ID = "ch10-r03"
STOP_BELOW = 0.12
BARS_AFTER_KILL = 2


# --------------------------------------------------------------------------------------------
# ingredients


class BuyWithStops(Strategy[Any]):
    """Enter every symbol once, then keep a protective stop under each position."""

    description = "buy once, protect with stops"

    def on_bar(self, ctx: Context) -> None:
        for sym in ctx.symbols:
            held = ctx.position(sym)
            if ctx.has_open_orders(sym):
                continue
            if held == 0 and ctx.bar_index == 0:
                ctx.enter(sym, 1.0 / len(ctx.symbols))
            elif held > 0:
                ctx.order(sym, -held, stop=round(ctx.price(sym) * (1 - STOP_BELOW), 2))

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        ctx.log.info(f"filled {fill.quantity:+d} {fill.symbol} at {fill.price:,.2f}")


@dataclass
class RiskMonitor:
    """Account-level limits on the value the broker reports after each bar."""

    max_drawdown: float = 0.05
    max_daily_loss: float = 0.03
    peak: float = 0.0
    previous: float | None = None
    path: list[tuple[dt.date, float, float, float]] = field(default_factory=list)

    def update(self, date: dt.date, value: float) -> str | None:
        """Record one bar's account value; returns why the kill switch must fire, or None."""
        self.peak = max(self.peak, value)
        drawdown = 1 - value / self.peak
        daily = 1 - value / self.previous if self.previous else 0.0
        self.previous = value
        self.path.append((date, value, drawdown, daily))
        if drawdown >= self.max_drawdown:
            return f"drawdown {drawdown:.2%} on {date} reached the {self.max_drawdown:.0%} limit"
        if daily >= self.max_daily_loss:
            return f"daily loss {daily:.2%} on {date} reached the {self.max_daily_loss:.0%} limit"
        return None


def wait_until(broker: IbBroker, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the kill switch's cancels were not confirmed in time")
        broker.ib.sleep(0.005)


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    market = sample_market()
    sim = GatewaySimulator(market, BrokerConfig.model_validate(BROKER), start=0)
    journal = fresh_journal(folder / "kill_switch" / "journal.sqlite")
    monitor = RiskMonitor()
    with run_in_thread(sim, port=0) as (host, port):
        broker = IbBroker(host, port, client_id=43, account=sim.account_id, timeout=5.0)
        runner = LiveRunner(BuyWithStops(), tuple(market.frames), broker, journal, RUN_ID,
                            TargetPercentSizing(target_percent=0.95), name="buy_with_stops")
        stream = synced(simulated_stream(broker, sim, runner.symbols), broker)
        reason = None
        for date, bars in stream:
            runner.step(date, bars)
            reason = monitor.update(date, broker.account().value)
            if reason:
                break
        assert reason is not None, "the limits never fired"
        print("account value after each bar (drawdown, day's loss):")
        for d, v, dd, loss in monitor.path[-6:]:
            print(f"  {d}  {v:>14,.2f}   {dd:>6.2%}  {loss:>6.2%}")
        open_before = [(o.order_ref, o.symbol, o.quantity, o.type) for o in broker.open_orders()]
        held_before = broker.positions()
        print(f"\nKILL: {reason}")
        print(f"open orders before: {open_before}")
        print(f"positions before:   {held_before}")
        refs = runner.kill_switch(reason)
        print(f"flattening orders: {refs}")
        # before the next session: IB has acknowledged the flattening orders and the cancels
        wait_acknowledged(broker, [str(journal.broker_id(ref)) for ref in refs])
        wait_until(broker, lambda: all(t.order.orderRef in refs for t in broker.ib.openTrades()))

        # the next sessions: the flattening orders fill; the strategy runs on, halted
        blocked: list[str] = []
        for _ in range(BARS_AFTER_KILL):
            date, bars = next(stream)
            runner.step(date, bars)
            blocked += [o.reason for o in runner.host.orders if o.status == "blocked"]
        broker.ib.sleep(0.05)
        ib_positions = {p.contract.symbol: p.position for p in broker.ib.positions()}
        ib_open = [t.order.orderRef for t in broker.ib.openTrades()]
        kill_fills = [(f.symbol, f.quantity, f.price) for ref in refs for f in journal.fills(ref)]
        cancelled = [i.order_ref for i in journal.intents(RUN_ID) if i.closed == "cancelled"]
        print(f"\nafter {BARS_AFTER_KILL} more sessions (to {sim.current_date}), as the IB client sees it:")
        print(f"  positions  {ib_positions}")
        print(f"  open orders {ib_open or 'none'}")
        print(f"  kill fills {kill_fills}")
        print(f"  cancelled  {cancelled}")
        print(f"  halted     {runner.halted!r} (journal: {journal.halt(RUN_ID) is not None})")
        print(f"  strategy orders blocked since: {len(blocked)}" + (f" ({blocked[0]})" if blocked else ""))
        account = broker.account()
        broker.disconnect()
    journal.close()
    return {
        "reason": reason,
        "path": monitor.path,
        "open_before": open_before,
        "positions_before": held_before,
        "kill_refs": refs,
        "kill_fills": kill_fills,
        "cancelled": cancelled,
        "ib_positions": ib_positions,
        "ib_open_orders": ib_open,
        "halted": runner.halted,
        "blocked": blocked,
        "cash_after": account.cash,
    }


if __name__ == "__main__":
    main()
