"""order_target_percent against live positions: size from the broker's account, not from a backtest.

A backtest knows its own positions and cash exactly. A live program must ask: the account value
and the positions come from the broker, at the moment of the decision, and may differ from what
the program believes (a manual trade, a partial fill, a dividend). ``order_target_percent(symbol,
p)`` is the sizing rule that makes this harmless, because it is *stateless*: it reads the
current holding and orders only the difference to the target,

    target shares = trunc(p * account value / price),    order = target - held,

with the project's one rounding rule (:func:`algotrade.core.strategy.shares_for_value`, truncation toward
zero, the rule every engine uses). Run twice on the same account and prices, the second call
orders nothing; run again later, it orders only what price moves did to the weights.

The page does this by hand through :class:`adapters.ib.broker.IbBroker` (the same adapter the
live runner uses) against the gateway simulator: it reads ``broker.account().value`` and
``broker.positions()``, prices each symbol at its last daily close (``broker.daily_bars``),
sends the differences (position-reducing orders first, so their cash is there for the buys)
and lets a session pass so they fill. Three rebalances move the weights around; a fourth, with
the third's targets a week later, trims only the drift (here one share). With ``ALGOTRADE_IB_HOST``/``ALGOTRADE_IB_PORT`` set to a
paper TWS it trades SPY and QQQ there instead.

What to look at: for each rebalance the account value, the held and target shares, the orders,
and the weights achieved at the fill prices (a little off the targets: the orders are sized at
the decision's close and filled at the next session's).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from adapters.ib.broker import IbBroker
from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.core.config import BrokerConfig
from algotrade.core.strategy import shares_for_value
from algotrade.live.broker import FillEvent, OrderRequest, StatusEvent
from recipes.ch09_ib_api.r01_connect_and_account_summary import (
    BROKER,
    PAPER_SYMBOLS,
    START_SESSION,
    endpoint,
    sample_market,
)

REF = "ch10-r02"
TARGETS: list[dict[str, float]] = [
    {"SPX": 0.50, "IXIC": 0.30},
    {"SPX": 0.20, "IXIC": 0.60},
    {"SPX": 0.00, "IXIC": 0.40},
    {"SPX": 0.00, "IXIC": 0.40},  # unchanged targets: only the drift is traded
]
SESSIONS_BETWEEN = 5
FILL_TIMEOUT = 10.0


# --------------------------------------------------------------------------------------------
# ingredients


@contextlib.contextmanager
def ib_broker(client_id: int = 41) -> Iterator[tuple[IbBroker, GatewaySimulator | None, tuple[str, ...]]]:
    """A connected IbBroker: to a paper TWS from the environment, or to a simulator started here."""
    address = endpoint()
    with contextlib.ExitStack() as stack:
        sim = None
        symbols = PAPER_SYMBOLS
        if address is None:
            sim = GatewaySimulator(sample_market(), BrokerConfig.model_validate(BROKER), start=START_SESSION)
            address = stack.enter_context(run_in_thread(sim))
            symbols = tuple(sim.market.frames)
        broker = IbBroker(address[0], address[1], client_id=client_id, timeout=5.0)
        broker.connect()
        stack.callback(broker.disconnect)
        yield broker, sim, symbols


def target_shares(percent: float, value: float, price: float) -> int:
    """order_target_percent's target: whole shares, truncated toward zero."""
    return shares_for_value(percent * value, price)


def target_percent_orders(targets: Mapping[str, float], value: float, prices: Mapping[str, float],
                          held: Mapping[str, int]) -> list[tuple[str, int]]:
    """(symbol, signed shares) to move ``held`` to the targets; position-reducing orders first."""
    deltas = [(s, target_shares(p, value, prices[s]) - held.get(s, 0)) for s, p in targets.items()]
    deltas = [(s, q) for s, q in deltas if q]
    return sorted(deltas, key=lambda sq: 0 if abs(held.get(sq[0], 0) + sq[1]) < abs(held.get(sq[0], 0)) else 1)


def last_closes(broker: IbBroker, symbols: tuple[str, ...]) -> dict[str, float]:
    return {s: float(broker.daily_bars(s, keep_up_to_date=False, duration="5 D")[-1].close) for s in symbols}


def wait_acknowledged(broker: IbBroker, broker_ids: list[str], timeout: float = FILL_TIMEOUT) -> None:
    """Run the client until IB acknowledged every order (placeOrder only writes to the socket:
    an order is at the broker once its first status came back)."""
    deadline = time.monotonic() + timeout
    pending = set(broker_ids)
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"orders {sorted(pending)} not acknowledged within {timeout} s")
        for trade in broker.ib.trades():
            if str(trade.order.orderId) in pending and trade.orderStatus.status not in ("", "PendingSubmit"):
                pending.discard(str(trade.order.orderId))
        broker.ib.sleep(0.005)


def wait_for_fills(broker: IbBroker, wanted: Mapping[str, int], timeout: float = FILL_TIMEOUT) -> dict[str, list[Any]]:
    """Poll the broker's events until every orderRef in ``wanted`` is filled (or closed)."""
    got: dict[str, list[Any]] = {ref: [] for ref in wanted}
    closed: set[str] = set()
    deadline = time.monotonic() + timeout
    while any(sum(e.quantity for e in got[r]) != q and r not in closed for r, q in wanted.items()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"orders not filled within {timeout} s: {wanted}")
        for ev in broker.poll_events():
            if isinstance(ev, FillEvent) and ev.execution.order_ref in got:
                got[ev.execution.order_ref].append(ev.execution)
            elif isinstance(ev, StatusEvent) and ev.order_ref in got:
                closed.add(ev.order_ref)
        broker.ib.sleep(0.005)
    return got


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    # this page saves no file of its own (``out`` is accepted, as on every page)
    rebalances = []
    with ib_broker() as (broker, sim, symbols):
        rename = dict(zip(("SPX", "IXIC"), symbols, strict=True))
        for k, raw_targets in enumerate(TARGETS, start=1):
            targets = {rename[s]: p for s, p in raw_targets.items()}
            account = broker.account()
            held = broker.positions()
            prices = last_closes(broker, symbols)
            orders = target_percent_orders(targets, account.value, prices, held)
            when = sim.current_date if sim is not None else "now"
            print(f"rebalance {k} on {when}: value {account.value:,.2f}, cash {account.cash:,.2f}, "
                  f"held {held or '{}'}")
            print("  targets " + ", ".join(f"{s} {p:.0%} -> {target_shares(p, account.value, prices[s])} sh "
                                           f"at {prices[s]:,.2f}" for s, p in targets.items()))
            refs, ids = {}, []
            for sym, qty in orders:
                ref = f"{REF}:{k}:{sym}"
                ids.append(broker.place(OrderRequest(ref, sym, qty)))
                refs[ref] = qty
            wait_acknowledged(broker, ids)
            print("  orders  " + (", ".join(f"{s} {q:+d}" for s, q in orders) or "none: already on target"))
            on_target = {s: held.get(s, 0) + dict(orders).get(s, 0) for s in targets}
            again = target_percent_orders(targets, account.value, prices, on_target)
            print(f"  the same call once these are filled, same value and prices: {again or 'no order'}")
            if sim is not None:
                sim.advance()
            fills = wait_for_fills(broker, refs)
            after = broker.positions()
            value_after = broker.account().value
            achieved = {}
            for sym in targets:
                fill_price = next((e.price for r, es in fills.items() for e in es if e.symbol == sym), prices[sym])
                achieved[sym] = after.get(sym, 0) * fill_price / value_after
            print("  filled  " + ", ".join(f"{e.symbol} {e.quantity:+d} @ {e.price:,.2f} (comm {e.commission:.2f})"
                                           for es in fills.values() for e in es))
            print("  weights " + ", ".join(f"{s} {achieved[s]:.2%} (target {p:.0%})" for s, p in targets.items()))
            rebalances.append({"targets": targets, "value": account.value, "held": held, "prices": prices,
                               "orders": orders, "again": again, "positions": after, "achieved": achieved,
                               "fills": [e for es in fills.values() for e in es]})
            if sim is not None:
                sim.advance(SESSIONS_BETWEEN)
                broker.ib.sleep(0.02)
        return {"simulated": sim is not None, "rebalances": rebalances, "final_positions": broker.positions()}


if __name__ == "__main__":
    main()
