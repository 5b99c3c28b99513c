"""Shorts in the paper/live path: the gateway simulator and the in-memory broker apply the cash
book's short margin and borrow fee (the same functions, the same figures), and the live runner
trades, journals, restarts and limits long/short strategies as the backtest does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from adapters.ib.gateway.account import BarRow, Fill, Rejection, SimAccount, SimOrder
from algotrade.backtest.run import execute
from algotrade.core.config import BrokerConfig, Experiment, load_experiment
from algotrade.core.costs import CashBook
from algotrade.core.data import Market, load_market
from algotrade.live.broker import InMemoryBroker, LiveRunner, OrderRequest, bar_stream
from algotrade.live.journal import Journal
from tests.rehearsal import fills

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "longshort_sma.yaml"
#: 2008 to spring 2009: eight long<->short flips, the short margin and the borrow fee at work
WINDOW = ("data.start=2008-01-02", "data.end=2009-04-30")
DAY = dt.date(2021, 3, 1)
OPEN, CLOSE = (dt.datetime.combine(DAY, t) for t in (dt.time(9, 30), dt.time(16)))


# --- the two brokers' rules, fill by fill, against the cash book ------------------------------


class _Sim:
    """The gateway simulator's account driven order by order (no socket)."""

    def __init__(self, broker: BrokerConfig) -> None:
        self.account = SimAccount("DU1", broker)
        self.n = 0

    def trade(self, symbol: str, quantity: int, closes: dict[str, float]) -> str:
        """One market order filled at a session's close; "" or the reason it was rejected."""
        self.n += 1
        self.account.place(SimOrder(self.n, 1, self.n, symbol, "BUY" if quantity > 0 else "SELL", abs(quantity), "MKT"))
        events = self.account.process_bar(OPEN, CLOSE, {s: BarRow(c, c, c, c, 1e6) for s, c in closes.items()})
        assert len(events) == 1 and isinstance(events[0], Fill | Rejection)
        return events[0].reason if isinstance(events[0], Rejection) else ""

    @property
    def cash(self) -> float:
        return self.account.cash


class _Memory:
    """The in-memory broker driven order by order."""

    def __init__(self, broker: BrokerConfig) -> None:
        self.broker = InMemoryBroker(config=broker)
        self.broker.connect()
        self.day = DAY

    def trade(self, symbol: str, quantity: int, closes: dict[str, float]) -> str:
        self.broker.place(OrderRequest(f"r:{len(self.broker.orders) + 1}", symbol, quantity))
        self.day += dt.timedelta(days=1)
        self.broker.on_bar(self.day, {s: {"open": c, "high": c, "low": c, "close": c, "volume": 1e6}
                                      for s, c in closes.items()})
        order = self.broker.orders[-1]
        assert order.status in ("filled", "rejected")
        return order.reason

    @property
    def cash(self) -> float:
        return self.broker.cash


BROKERS = {"gateway": _Sim, "memory": _Memory}


def _book_trade(book: CashBook, symbol: str, quantity: int, closes: dict[str, float]) -> str:
    """The backtest's cash book on the same fill and session close."""
    ok = book.pay(quantity, closes[symbol], symbol)
    book.close_session(DAY, {s: closes[s] for s in book.positions if s in closes})
    return "" if ok else book.refusal


@pytest.mark.parametrize("kind", BROKERS)
def test_short_margin_admits_exactly_the_limit_and_refuses_one_cent_past(kind: str) -> None:
    at_limit = BROKERS[kind](BrokerConfig(cash=1000.00, short_margin=0.5))
    assert at_limit.trade("X", -200, {"X": 10.0}) == ""  # 0.5 x 2,000 = 1,000 = equity
    past = BROKERS[kind](BrokerConfig(cash=999.99, short_margin=0.5))
    reason = past.trade("X", -200, {"X": 10.0})
    assert reason == ("short margin: equity 999.99 after the sale would be below broker.short_margin 0.5 "
                      "x gross short value 2000.00 = 1000.00")
    assert past.cash == 999.99
    unruled = BROKERS[kind](BrokerConfig(cash=999.99))  # no short_margin: no limit
    assert unruled.trade("X", -200, {"X": 10.0}) == "" and unruled.cash == 999.99 + 2000


#: a script of fills (symbol, signed quantity, the session's closes): shorts on two symbols,
#: an enlarging sale the margin refuses, a cover, a long, and a price rise that blocks more
SCRIPT = [
    ("A", -100, {"A": 10.0, "B": 20.0}),
    ("B", -26, {"A": 10.0, "B": 20.0}),  # B's short counts A's: 0.5 x 1,520 = 760 <= equity
    ("B", -30, {"A": 10.5, "B": 20.0}),  # refused: the margin counts every short at its mark
    ("A", 40, {"A": 11.0, "B": 19.5}),  # a cover
    ("A", -10, {"A": 14.0, "B": 21.0}),  # refused after the rise
    ("B", 26, {"A": 14.0, "B": 21.0}),
    ("A", 120, {"A": 13.0, "B": 21.0}),  # through zero to long
]


@pytest.mark.parametrize("kind", BROKERS)
@pytest.mark.parametrize("broker", [
    BrokerConfig(cash=1_000.0, short_margin=0.5, borrow_fee_bps=300, commission={"per_share": 0.005, "minimum": 1.0}),
    BrokerConfig(cash=1_000.0, short_margin=0.9, borrow_fee_bps=50, commission={"percent": 0.001}),
    BrokerConfig(cash=1_000.0),
])
def test_each_fill_and_close_leaves_the_cash_of_the_backtests_book(kind: str, broker: BrokerConfig) -> None:
    ours, book = BROKERS[kind](broker), CashBook(broker)
    refused = []
    for symbol, quantity, closes in SCRIPT:
        reason = ours.trade(symbol, quantity, closes)
        assert reason == _book_trade(book, symbol, quantity, closes), (symbol, quantity)
        assert ours.cash == pytest.approx(book.cash, abs=1e-9)
        refused += [reason] if reason else []
    fees = sum((f for _, f in book.borrow_fees), Decimal(0))
    assert (fees > 0) == bool(broker.borrow_fee_bps)
    assert bool(refused) == (broker.short_margin is not None)  # the script meets the margin when there is one


def test_the_gateway_shows_the_borrow_fee_as_lower_cash_in_the_account_values() -> None:
    sim = _Sim(BrokerConfig(cash=10_000.0, borrow_fee_bps=252))  # 1 bp a session: 0.20 on a 2,000 short
    sim.trade("X", -200, {"X": 10.0})
    values = {k: v for k, v, _ in sim.account.values()}
    assert values["TotalCashValue"] == "11999.80" and values["NetLiquidation"] == "9999.80"
    sim.account.end_session()
    sim.account.process_bar(OPEN, CLOSE, {"X": BarRow(12, 12, 12, 12, 1e6)})  # a session more: 0.24 at 12
    values = {k: v for k, v, _ in sim.account.values()}
    assert values["TotalCashValue"] == "11999.56" and values["NetLiquidation"] == "9599.56"
    assert values["StockMarketValue"] == "-2400.00"


# --- the live runner --------------------------------------------------------------------------


@cache
def _case(*overrides: str) -> tuple[Experiment, Market, Any]:
    exp = load_experiment(EXPERIMENT, (*WINDOW, *overrides))
    market = load_market(exp.data)
    return exp, market, execute(exp, market, "backtrader")[0]


def _flips(result: Any) -> int:
    """Sessions with a cover and a new position on the other side (two fills of one sign)."""
    days: dict[dt.date, list[int]] = {}
    for f in result.fills:
        days.setdefault(f.date, []).append(f.quantity)
    return sum(1 for q in days.values() if len(q) == 2 and q[0] * q[1] > 0)


def _live_on_memory(exp: Experiment, market: Market, journal: Path, **kwargs: Any) -> tuple[Any, InMemoryBroker,
                                                                                            LiveRunner]:
    broker = InMemoryBroker(config=exp.broker)
    runner = LiveRunner.from_experiment(exp, broker, Journal(journal), **kwargs)
    return runner.run(broker.feed(bar_stream(market.bars()))), broker, runner


def test_the_live_runner_on_the_double_shorts_like_the_backtest_to_the_cent(tmp_path: Path) -> None:
    exp, market, backtest = _case()
    live, broker, runner = _live_on_memory(exp, market, tmp_path / "j.sqlite")
    assert fills(live) == fills(backtest) and _flips(backtest) >= 6
    assert min(q for _, _, q, _ in fills(live)) < 0
    assert round(live.equity[-1][2], 2) == round(backtest.equity[-1][2], 2)
    assert broker.borrow_fees == pytest.approx(sum(float(f) for _, f in backtest.book.borrow_fees), abs=1e-6)
    assert runner.journal.positions(exp.config_id) == broker.positions()


def test_risk_long_only_blocks_every_short_in_the_live_runner(tmp_path: Path) -> None:
    exp, market, backtest = _case("risk.long_only=true")
    live, broker, _ = _live_on_memory(exp, market, tmp_path / "j.sqlite")
    assert fills(live) == fills(backtest) and fills(live)
    assert all(q >= 0 for q in broker.holdings.values())
    held = 0
    for _, _, q, _ in fills(live):
        held += q
        assert held >= 0
    assert any(e.rule == "long_only" for e in live.risk_events)
    assert broker.borrow_fees == 0.0


# --- against the gateway simulator over a real socket ------------------------------------------


def test_paper_rehearsal_against_the_gateway_reproduces_the_backtests_fills_and_equity(tmp_path: Path) -> None:
    from tests.rehearsal import rehearse

    exp, market, _ = _case()
    paper, shadow = rehearse(exp, market, tmp_path / "journal.sqlite", client_id=41)
    assert fills(paper) == fills(shadow) and _flips(shadow) >= 6
    assert round(paper.equity[-1][2], 2) == round(shadow.equity[-1][2], 2)
    assert [round(e[2], 2) for e in paper.equity] == [round(e[2], 2) for e in shadow.equity]


class _StopWhileShort(Exception):
    """The simulated death of the paper process, while it holds a short."""


def test_a_paper_run_stopped_while_short_restarts_with_the_short_and_the_same_fills(tmp_path: Path) -> None:
    from adapters.ib.broker import IbBroker
    from adapters.ib.gateway import GatewaySimulator, run_in_thread
    from algotrade.live.ib_streams import simulated_stream

    exp, market, backtest = _case()
    journal = tmp_path / "journal.sqlite"
    short_at: list[tuple[dt.date, int]] = []
    sim = GatewaySimulator(market, exp.broker, start=0)
    with run_in_thread(sim, port=0) as (host, port):
        first = IbBroker(host, port, client_id=43, account=sim.account_id)
        runner = LiveRunner.from_experiment(exp, first, Journal(journal))

        def stop_when_short(step: str) -> None:
            held = runner.host.positions.get("SPX", 0)
            if step == "bar" and held < 0 and runner.host.bars.dates[-1] >= dt.date(2008, 10, 1):
                short_at.append((runner.host.bars.dates[-1], held))
                raise _StopWhileShort

        runner.checkpoint = stop_when_short
        with pytest.raises(_StopWhileShort):
            runner.run(simulated_stream(first, sim, exp.data.symbols))
        first.disconnect()
        runner.journal.close()
        (when, held), = short_at
        second = IbBroker(host, port, client_id=43, account=sim.account_id)
        second.connect()
        assert second.positions() == {"SPX": held}  # IB holds the short; the journal does too
        resumed = LiveRunner.from_experiment(exp, second, Journal(journal))
        assert resumed.journal.positions(exp.config_id) == {"SPX": held}
        result = resumed.run(simulated_stream(second, sim, exp.data.symbols))
        second.disconnect()
    assert resumed.plans and resumed.plans[0].ok and resumed.plans[0].send == ()
    assert fills(result) == fills(backtest)
    assert [f for f in fills(result) if f[0] > when] and round(result.equity[-1][2], 2) == round(
        backtest.equity[-1][2], 2)


def test_a_short_the_margin_refuses_is_rejected_through_ib_with_the_backtests_reason(tmp_path: Path) -> None:
    import exchange_calendars as xcals

    from algotrade.core.config import experiment_from_dict
    from tests.rehearsal import rehearse
    from tests.stubs import write_csv

    sessions = xcals.get_calendar("XNYS").sessions_in_range("2021-03-01", "2021-04-30")[:12]
    csv = write_csv(tmp_path / "x.csv", [(str(d.date()), 10.0, 10.0, 10.0, 10.0, 1000.0) for d in sessions])
    exp = experiment_from_dict({
        "name": "short_refused",
        "data": {"source": "csv", "symbols": ["X"], "path": str(csv), "calendar": "XNYS"},
        # at the limit, one share past it (refused), a cover, a short the margin admits again
        "strategy": {"name": "tests.scripted:Scripted",
                     "params": {"steps": [[1, "X", "order", -200], [4, "X", "order", -1], [6, "X", "order", 100],
                                          [8, "X", "order", -50]]}},
        "broker": {"cash": 1000.0, "short_margin": 0.5, "borrow_fee_bps": 50},
    })
    paper, shadow = rehearse(exp, load_market(exp.data), tmp_path / "journal.sqlite", client_id=45)

    def orders(host: Any) -> list[tuple[Any, ...]]:
        return [(o.symbol, o.quantity, o.status, o.reason, o.filled) for o in host.orders]

    assert orders(paper) == orders(shadow)
    assert [o[2] for o in orders(paper)] == ["filled", "rejected", "filled", "filled"]
    assert orders(paper)[1][3].startswith("short margin: equity 999.88 after the sale")  # 1,000 less 3 sessions of fee
    assert fills(paper) == fills(shadow)
    assert [round(e[2], 2) for e in paper.equity] == [round(e[2], 2) for e in shadow.equity]
    assert paper.equity[-1][2] < 1000.0  # the borrow fee, as the broker's account shows it
    from algotrade.live.burnin_report import render_burnin
    from algotrade.live.burnin_verdict import burnin_report

    verdict = burnin_report(exp, paper, shadow, disconnects=0, missed_bars=0, unreconciled=0, mode="paper")
    assert verdict["positions"] == {"paper": {"X": -150}, "backtest": {"X": -150}}
    assert verdict["borrow_fees_backtest"] == float(sum(f for _, f in shadow.book.borrow_fees)) > 0
    page = render_burnin(exp, verdict, paper, shadow, tmp_path)
    assert "positions at the end, paper</td><td>X -150<" in page
