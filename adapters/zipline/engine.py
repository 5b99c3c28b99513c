"""Zipline-reloaded engine calls: ``run_algorithm`` on a cached bundle, with an aligned blotter.

Zipline's own fill path differs from algotrade's execution model in ways that change trades
(default slippage with a volume cap and per-share commission, no fill on zero-volume bars, cash
allowed to go negative, prices read back as ``uint32 * 0.001``). The blotter below replaces that
path for algotrade's orders: it fills each order at the configured field of the next bar from the
canonical frames every engine sees, applies algotrade's costs, sends position-reducing orders
first and pays every fill through algotrade's exact cash book, which rejects a buy the account
cannot pay for at fill time — the same book and rule the Backtrader adapter uses. Everything
else (the ledger, positions, cash, portfolio value, the calendar and the bundle) is Zipline's own.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from adapters.zipline.bundle import KEEP_BUNDLES, asset_symbols, ensure_bundle, zipline_root
from adapters.zipline.calendars import calendar_for
from adapters.zipline.mapping import FILL_FIELD, check_broker, refuse_order_type
from algotrade.core.config import BrokerConfig
from algotrade.core.costs import CashBook, commission, slippage_fraction, slipped
from algotrade.core.data import Market
from algotrade.core.errors import ConfigError
from algotrade.core.exits import exit_fill
from algotrade.core.host import StrategyHost, fill_priority
from algotrade.core.strategy import Bar, Order

log = logging.getLogger("algotrade.zipline")


def _blotter_class() -> type:
    from zipline.finance.blotter import SimulationBlotter
    from zipline.finance.transaction import create_transaction

    class AlignedBlotter(SimulationBlotter):  # type: ignore[misc, valid-type]
        """Fills algotrade's orders by algotrade's execution model, inside Zipline's ledger."""

        def __init__(self, run: _Run) -> None:
            super().__init__()
            self.run = run

        def get_transactions(self, bar_data: Any) -> tuple[list[Any], list[Any], list[Any]]:
            run = self.run
            pending = [o for orders in self.open_orders.values() for o in orders if o.open_amount]
            if not pending:
                return [], [], []
            i = run.index[bar_data.current_session]
            # protective exits first, then position-reducing orders, then sales, then in the order placed
            held = run.book.positions
            pending.sort(key=lambda o: (run.host.by_id[run.ids[o.id]].type != "exit",
                                        *fill_priority(held.get(run.host.by_id[run.ids[o.id]].symbol, 0), o.amount),
                                        run.sequence[o.id]))
            txns, comms, closed, rejected = [], [], [], []
            for order in pending:
                oid = run.ids[order.id]
                ours = run.host.by_id[oid]
                symbol = ours.symbol
                amount = order.open_amount
                if ours.type == "exit":  # filled by the one exit rule, on the bar's OHLC, or left resting
                    hit = exit_fill(ours, run.bar(symbol, i), run.slip)
                    if hit is None:
                        continue
                    price = hit[0]
                else:
                    price = slipped(run.prices[symbol][i], amount, run.slip)
                fee = commission(run.broker, amount, price)
                if not run.book.pay(amount, price, symbol):  # the one cash rule and short margin, exact
                    rejected.append(order)
                    run.host.on_order_closed(oid, "rejected", run.book.refusal)
                    continue
                txn = create_transaction(order, bar_data.current_dt, price, amount)
                if fee > 0:
                    comms.append({"asset": order.asset, "order": order, "cost": fee})
                order.filled += txn.amount
                order.commission += fee
                order.dt = txn.dt
                txns.append(txn)
                closed.append(order)
                run.host.on_fill(oid, run.dates[i], int(amount), float(price), float(fee))
            for order in rejected:
                self.cancel(order.id, relay_status=False)
            return txns, comms, closed

    return AlignedBlotter


class _Run:
    """State shared by the algorithm functions, the blotter and the port during one run."""

    def __init__(self, host: StrategyHost, market: Market, broker: BrokerConfig) -> None:
        self.host = host
        self.broker = broker
        self.book = CashBook(broker)
        self.slip = slippage_fraction(broker)
        field = FILL_FIELD[broker.fill]
        self.prices = {s: host.lists[s][field] for s in host.bars.symbols}
        self.closes = {s: host.lists[s]["close"] for s in host.bars.symbols}
        self.lists = host.lists
        self.dates = host.bars.dates
        self.index = {pd.Timestamp(d): i for i, d in enumerate(self.dates)}
        self.ids: dict[str, int] = {}  # zipline order id -> algotrade order id
        self.zids: dict[int, str] = {}  # algotrade order id -> zipline order id
        self.sequence: dict[str, int] = {}
        self.assets: dict[str, Any] = {}  # the user's symbol -> zipline asset
        self.symbol_of: dict[int, str] = {}  # zipline sid -> the user's symbol
        self.algo: Any = None

    def bar(self, symbol: str, i: int) -> Bar:
        f = self.lists[symbol]
        return Bar(self.dates[i], f["open"][i], f["high"][i], f["low"][i], f["close"][i], f["volume"][i])


class _Port:
    def __init__(self, run: _Run) -> None:
        self.run = run

    def cash(self) -> float:
        """The cash book's (Zipline's ledger holds the same fills in floats, a few units in the
        last place away: -1.1e-13 after a buy that took exactly all the cash)."""
        return self.run.book.cash

    def value(self) -> float:
        """Cash plus positions at the current bar's close.

        Zipline's ``portfolio_value`` inside ``handle_data`` still values a position bought
        during the bar at its fill price (it syncs last-sale prices at the market close, after
        ``handle_data``); the account a strategy sizes against must be marked at the close.
        """
        run = self.run
        portfolio = run.algo.portfolio
        i = run.host.i
        total = 0.0
        for asset, position in portfolio.positions.items():
            total += position.amount * run.closes[run.symbol_of[asset.sid]][i]
        return float(self.cash() + total)

    def submit(self, order: Order) -> None:
        run = self.run
        refusal = refuse_order_type(order.type)
        if refusal:
            raise ConfigError(refusal)
        zid = run.algo.order(run.assets[order.symbol], order.quantity)
        if zid is None:  # zipline declined (e.g. zero amount after its own rounding)
            run.host.on_order_closed(order.id, "rejected", "zipline did not accept the order")
            return
        run.ids[zid] = order.id
        run.zids[order.id] = zid
        run.sequence[zid] = len(run.sequence)

    def cancel(self, order: Order) -> None:
        zid = self.run.zids.get(order.id)
        if zid is not None:
            self.run.algo.cancel_order(zid)
            self.run.host.on_order_closed(order.id, "cancelled", "cancelled by strategy")


class ZiplineEngine:
    """Runs a :class:`StrategyHost` through zipline-reloaded's ``run_algorithm``."""

    name = "zipline"

    def __init__(self) -> None:
        #: bundle name, whether this run ingested it, and how long that took (into run.json)
        self.info: dict[str, Any] = {}

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"zipline-reloaded": version("zipline-reloaded")}

    @staticmethod
    def prewarm(markets: Sequence[Market]) -> None:
        """Ingest every bundle a sweep's zipline runs will need (one per market slice), once, in
        the sweep's process before any worker starts: the workers then find each one cached."""
        if len(markets) > KEEP_BUNDLES:
            raise ConfigError(
                f"sweep: the zipline runs need {len(markets)} different bundles (one per data section and walk-forward "
                f"window), more than the bundle cache keeps ({KEEP_BUNDLES}); use fewer walk-forward windows (a longer "
                "walkforward.step) or fewer data sections for zipline, or run those on backtrader"
            )
        level = log.level
        log.setLevel(logging.WARNING)  # one line below instead of one per bundle
        try:
            ingested = sum(ensure_bundle(m, calendar_for(m))[1] for m in markets)
        finally:
            log.setLevel(level)
        logging.getLogger("algotrade.sweep").info(
            "zipline: %d bundle(s) ready for the workers (%d ingested now, the rest cached)", len(markets), ingested
        )

    @staticmethod
    def worker_env() -> dict[str, str]:
        """The bundles' folder for a sweep's worker processes: $ZIPLINE_ROOT, else the project's .cache/zipline."""
        return {"ZIPLINE_ROOT": str(zipline_root())}

    def run(self, host: StrategyHost, market: Market, broker: BrokerConfig) -> None:
        check_broker(broker)
        zipline_root()
        from zipline import run_algorithm
        from zipline.api import symbol as zsymbol

        calendar_name = calendar_for(market)
        symbols = asset_symbols(market)
        name, ingested, seconds = ensure_bundle(market, calendar_name)
        self.info = {"bundle": name, "ingested": ingested, "ingest_s": round(seconds, 4)}
        if symbols.renamed:  # the user's symbol -> the asset symbol zipline knows it by
            self.info["symbols"] = symbols.renamed
        run = _Run(host, market, broker)
        port = _Port(run)
        blotter = _blotter_class()(run)
        n = len(run.dates)

        def initialize(context: Any) -> None:
            run.algo = context
            for sym in host.bars.symbols:
                asset = zsymbol(symbols.engine(sym))
                run.assets[sym] = asset
                run.symbol_of[asset.sid] = sym
            host.start(port, run.book)

        def handle_data(context: Any, data: Any) -> None:
            host.on_bar(run.index[data.current_session])

        sessions = pd.DatetimeIndex(market.dates)
        # zipline's own metrics are off (metrics_set="none"); it still wants benchmark returns, so
        # it gets explicit zeros. algotrade measures alpha/beta itself against `benchmark:`.
        zero_benchmark = pd.Series(0.0, index=sessions.tz_localize("UTC"))
        from zipline.utils.calendar_utils import get_calendar

        with warnings.catch_warnings():  # pandas deprecation notices raised by zipline's own code
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", pd.errors.SettingWithCopyWarning)
            run_algorithm(
                start=sessions[0],
                end=sessions[-1],
                initialize=initialize,
                handle_data=handle_data,
                capital_base=broker.cash,
                data_frequency="daily",
                bundle=name,
                trading_calendar=get_calendar(calendar_name),
                metrics_set="none",  # algotrade computes its metrics from the equity it records
                benchmark_returns=zero_benchmark,
                blotter=blotter,
                environ={**os.environ},
            )
        for order in list(host.open):
            host.on_order_closed(order.id, "expired", "the run ended before the order filled")
        host.stop()
        if n and host.equity and host.equity[-1][0] != run.dates[-1]:
            log.warning("zipline stopped at %s before the last session %s", host.equity[-1][0], run.dates[-1])
