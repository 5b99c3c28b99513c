"""The live runner over the in-memory broker double: backtest parity, restarts, disconnects,
stale data and the kill switch. No network, no sleeps."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, FixedSharesSizing, load_experiment
from algotrade.core.data import Market, load_market
from algotrade.core.errors import BrokerError
from algotrade.core.host import StrategyHost
from algotrade.core.strategy import Bar, Context, Strategy, StrategyConfig
from algotrade.live.broker import (
    InMemoryBroker,
    LiveRunner,
    OrderRequest,
    SimOrder,
    bar_stream,
)
from algotrade.live.journal import FILE_NAME, Journal
from algotrade.live.reconcile import BrokerView, JournalView, reconcile
from tests.stubs import simple_bars

# --- stubs ------------------------------------------------------------------------------------


class Killed(Exception):
    """The simulated death of the process."""


class KillAt:
    """A checkpoint that kills the process at its n-th step (or the n-th step of one name)."""

    def __init__(self, n: int, step: str | None = None) -> None:
        self.n, self.step, self.seen = n, step, 0

    def __call__(self, step: str) -> None:
        if self.step is None or step == self.step:
            self.seen += 1
            if self.seen == self.n:
                raise Killed(step)


class CountSteps:
    def __init__(self) -> None:
        self.steps: list[str] = []

    def __call__(self, step: str) -> None:
        self.steps.append(step)


class TickConfig(StrategyConfig):
    buy_on: tuple[int, ...] = ()
    qty: int = 1


class Tick(Strategy[TickConfig]):
    """Buys ``qty`` of the first symbol on the listed bars."""

    config_class = TickConfig

    def on_bar(self, ctx: Context) -> None:
        if ctx.bar_index in self.config.buy_on:
            ctx.order(ctx.symbols[0], self.config.qty)


class CheckingBroker(InMemoryBroker):
    """Checks, through a second connection, that every order is journaled before it is sent."""

    def __init__(self, journal_path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = journal_path

    def place(self, request: OrderRequest) -> str:
        other = Journal(self.path)
        try:
            assert other.intent(request.order_ref) is not None, f"{request.order_ref} sent before journaled"
        finally:
            other.close()
        return super().place(request)


def _tick_runner(broker: InMemoryBroker, tmp: Path, buy_on: tuple[int, ...], **kwargs: Any) -> LiveRunner:
    return LiveRunner(Tick(TickConfig(buy_on=buy_on)), ["X"], broker, Journal.in_folder(tmp), "t1",
                      FixedSharesSizing(fixed_shares=1), **kwargs)


CLOSES = [10.0, 11.0, 12.0, 11.5, 12.5, 13.0, 12.0, 12.2, 12.4, 12.1]


def _stream(closes: list[float] = CLOSES) -> list[tuple[dt.date, dict[str, Bar]]]:
    return list(bar_stream(simple_bars(closes)))


@cache
def _small() -> tuple[Experiment, Market]:
    exp = Experiment.model_validate({
        "name": "live_small",
        "data": {"source": "sample", "symbols": ["SPX"], "start": "2006-01-03", "end": "2006-12-29"},
        "strategy": {"name": "sma_cross", "params": {"fast": 3, "slow": 8}},
        "engine": "backtrader",
        "broker": {"commission": {"per_share": 0.005, "minimum": 1.0}},
        "sizing": {"target_percent": 0.99},
    })
    return exp, load_market(exp.data)


def _fills(host: StrategyHost) -> list[tuple[Any, ...]]:
    return [(f.date, f.symbol, f.quantity, f.price, f.commission, f.order_id) for f in host.fills]


def _orders(host: StrategyHost) -> list[tuple[Any, ...]]:
    return [(o.id, o.symbol, o.quantity, o.status, o.filled) for o in host.orders]


# --- the double ---------------------------------------------------------------------------------


def test_the_double_fills_at_the_next_close_with_costs_and_the_cash_rule() -> None:
    exp, _ = _small()
    broker = InMemoryBroker(config=exp.broker)
    broker.connect()
    day = dt.date(2024, 1, 2)
    broker.on_bar(day, {"X": Bar(day, 10, 10, 10, 10, 0)})
    b1 = broker.place(OrderRequest("r:s:1", "X", 100))
    b2 = broker.place(OrderRequest("r:s:2", "X", 10_000))  # cannot be paid for
    broker.on_bar(day, {"X": Bar(day, 99, 99, 99, 99, 0)})  # a date already seen is ignored
    assert [o.status for o in broker.open_orders()] == ["open", "open"]
    nxt = day + dt.timedelta(days=1)
    broker.on_bar(nxt, {"X": Bar(nxt, 11, 13, 10, 12, 0)})
    assert broker.positions() == {"X": 100}
    [ex] = broker.executions()
    assert (ex.broker_id, ex.quantity, ex.price, ex.commission, ex.date) == (b1, 100, 12.0, 1.0, "2024-01-03")
    assert broker.completed_orders()[1].broker_id == b2
    assert broker.completed_orders()[1].status == "rejected"
    assert broker.account().value == pytest.approx(100_000 - 1.0)
    kinds = [(type(e).__name__, getattr(e, "status", "")) for e in broker.poll_events()]
    assert kinds == [("StatusEvent", "submitted"), ("StatusEvent", "submitted"), ("FillEvent", ""),
                     ("StatusEvent", "filled"), ("StatusEvent", "rejected")]
    assert broker.executions(since=ex.exec_id) == []


def test_the_double_takes_a_scripted_fill_rule_and_scripted_failures() -> None:
    def half(order: SimOrder, date: dt.date, bar: Mapping[str, float]) -> tuple[int, float] | None:
        return (max(1, order.remaining // 2), bar["open"]) if order.remaining else None

    broker = InMemoryBroker(fill_rule=half)
    broker.fail_connects = 1
    with pytest.raises(BrokerError):
        broker.connect()
    broker.connect()
    broker.place(OrderRequest("r:s:1", "X", 8))
    for date, bars in _stream()[:3]:
        broker.on_bar(date, bars)
    assert [e.quantity for e in broker.executions()] == [4, 2, 1]
    assert broker.open_orders()[0].filled == 7
    broker.drop_connection()
    with pytest.raises(BrokerError):
        broker.positions()


# --- parity with the backtest ---------------------------------------------------------------------


def test_the_quickstart_live_on_the_double_trades_exactly_like_the_backtest(tmp_path: Path, root: Path) -> None:
    exp = load_experiment(root / "experiments" / "quickstart.yaml")
    market = load_market(exp.data)
    backtest, _ = execute(exp, market, "backtrader")
    broker = CheckingBroker(tmp_path / FILE_NAME, config=exp.broker)
    runner = LiveRunner.from_experiment(exp, broker, Journal.in_folder(tmp_path))
    live = runner.run(broker.feed(bar_stream(market.bars())))
    assert len(live.fills) == len(backtest.fills) > 50
    assert _fills(live) == _fills(backtest)
    assert _orders(live) == _orders(backtest)
    assert live.equity[-1][2] == pytest.approx(backtest.equity[-1][2], rel=1e-12)
    refs = broker.refs_placed()
    assert len(refs) == len(set(refs)) == len(backtest.orders)
    assert refs[0] == f"{exp.config_id}:sma_cross:1"
    assert runner.journal.positions(exp.config_id) == broker.positions()


def test_an_async_stream_gives_the_same_run(tmp_path: Path) -> None:
    exp, market = _small()

    async def bars() -> AsyncIterator[tuple[dt.date, Mapping[str, Bar]]]:
        for item in broker.feed(bar_stream(market.bars())):
            yield item

    broker = InMemoryBroker(config=exp.broker)
    runner = LiveRunner.from_experiment(exp, broker, Journal.in_folder(tmp_path),
                                        clock=lambda: dt.datetime(2006, 1, 1, tzinfo=dt.UTC))
    live = asyncio.run(runner.run_async(bars()))
    assert _fills(live) == _fills(execute(exp, market, "backtrader")[0])
    assert runner.halted is None


# --- restarts -------------------------------------------------------------------------------------


@cache
def _uninterrupted() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[str], list[tuple[Any, ...]], int]:
    exp, market = _small()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        broker = InMemoryBroker(config=exp.broker)
        counter = CountSteps()
        runner = LiveRunner.from_experiment(exp, broker, Journal.in_folder(tmp), checkpoint=counter)
        host = runner.run(broker.feed(bar_stream(market.bars())))
        runner.journal.close()
    return _fills(host), _orders(host), broker.refs_placed(), host.equity, len(counter.steps)


def _run_with_kills(
    tmp: Path, kills: list[tuple[int, str | None]]
) -> tuple[StrategyHost, InMemoryBroker, LiveRunner, int]:
    """Run, killed at each given step (each count starts with a new process), then run to the end."""
    exp, market = _small()
    broker = InMemoryBroker(config=exp.broker)
    killed = 0
    for n, step in kills:
        runner = LiveRunner.from_experiment(exp, broker, Journal.in_folder(tmp), checkpoint=KillAt(n, step))
        try:
            runner.run(broker.feed(bar_stream(market.bars())))
        except Killed:
            killed += 1
            broker.disconnect()  # the socket closes with the process; the journal is left as is
    runner = LiveRunner.from_experiment(exp, broker, Journal.in_folder(tmp))
    host = runner.run(broker.feed(bar_stream(market.bars())))
    return host, broker, runner, killed


def _assert_same_as_uninterrupted(host: StrategyHost, broker: InMemoryBroker, runner: LiveRunner) -> None:
    fills, orders, refs, equity, _ = _uninterrupted()
    placed = broker.refs_placed()
    assert len(placed) == len(set(placed)), "an order was sent twice"
    assert placed == refs, "an order was lost or sent out of order"
    assert _fills(host) == fills
    assert _orders(host) == orders
    assert host.equity == equity
    if not broker.is_connected():  # the last run only replayed: it had nothing to send
        broker.connect()
    plan = reconcile(JournalView.from_journal(runner.journal, runner.run_id),
                     BrokerView(tuple(broker.open_orders()), tuple(broker.executions()), broker.positions(),
                                tuple(broker.completed_orders())), runner.run_id, runner.symbols)
    assert plan.ok and plan.send == () and plan.record_fills == () and plan.attach == ()


@pytest.mark.parametrize(
    ("step", "nth"),
    [
        ("intent", 1),  # killed after the journal write, before the send
        ("placed", 2),  # killed right after the send: the broker has it, the journal has no broker id
        ("polled", 12),  # killed with a fill taken from the broker but not journaled
        ("fill", 3),  # killed after journaling a fill, before the host saw it
        ("closed", 1),  # killed after journaling the cash rejection
        ("bar", 40),  # killed after a bar's decisions, before the bar was marked done
    ],
)
def test_a_restart_after_each_kind_of_kill_continues_exactly(tmp_path: Path, step: str, nth: int) -> None:
    host, broker, runner, killed = _run_with_kills(tmp_path, [(nth, step)])
    assert killed == 1
    _assert_same_as_uninterrupted(host, broker, runner)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_killing_the_runner_anywhere_never_duplicates_or_loses_an_order(tmp_path_factory: Any, data: Any) -> None:
    total = _uninterrupted()[4]
    kills = data.draw(st.lists(st.integers(1, total), min_size=1, max_size=3))
    host, broker, runner, _ = _run_with_kills(tmp_path_factory.mktemp("kill"), [(k, None) for k in kills])
    _assert_same_as_uninterrupted(host, broker, runner)


def test_a_changed_strategy_on_an_old_journal_is_refused(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    _tick_runner(broker, tmp_path, (1,)).run(broker.feed(_stream()))
    broker.disconnect()
    runner = LiveRunner(Tick(TickConfig(buy_on=(1,), qty=5)), ["X"], broker, Journal.in_folder(tmp_path), "t1",
                        FixedSharesSizing(fixed_shares=1))
    with pytest.raises(BrokerError, match="changed"):
        runner.run(broker.feed(_stream()))


# --- connection, stale data, kill switch -------------------------------------------------------------


def _dropping(broker: InMemoryBroker, at: int, failures: int) -> Iterator[tuple[dt.date, Mapping[str, Bar]]]:
    for i, (date, bars) in enumerate(_stream()):
        if i == at:  # the connection drops before bar `at`; the next `failures` connects fail
            broker.drop_connection()
            broker.fail_connects = failures
        broker.on_bar(date, bars)
        yield date, bars


def test_orders_are_held_while_disconnected_and_sent_once_after_reconcile(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    runner = _tick_runner(broker, tmp_path, (1, 2, 3, 4, 5))
    dates = [d for d, _ in _stream()]
    # bars 3, 4 and 5 cannot reconnect: one attempt on bar 3 (after the drop is seen), two on
    # bars 4 and 5 (the step retries once after reading the broker's events)
    host = runner.run(_dropping(broker, at=3, failures=5))
    placed = {o.request.order_ref: o.placed_after for o in broker.orders}
    assert list(placed) == [f"t1:Tick:{i}" for i in (1, 2, 3, 4, 5)]
    # nothing was sent while disconnected: the held orders went out after the reconcile on bar 6
    assert placed["t1:Tick:3"] == placed["t1:Tick:4"] == placed["t1:Tick:5"] == dates[6]
    assert len(runner.plans) == 2 and runner.plans[1].send == ("t1:Tick:3", "t1:Tick:4", "t1:Tick:5")
    assert [e.order_ref for e in runner.plans[1].record_fills] == ["t1:Tick:2"]  # filled on bar 3, event lost
    assert host.positions == {"X": 5} == broker.positions()
    assert runner.halted is None


def test_under_the_drop_policy_held_orders_are_dropped_not_sent(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    runner = _tick_runner(broker, tmp_path, (1, 3, 7), policy="drop")
    host = runner.run(_dropping(broker, at=3, failures=2))
    assert broker.refs_placed() == ["t1:Tick:1", "t1:Tick:3"]
    dropped = host.by_id[2]
    assert (dropped.status, dropped.reason) == ("dropped", "never reached the broker; dropped at reconcile")
    assert host.positions == {"X": 2} == broker.positions()


def test_a_position_mismatch_at_connect_halts_trading(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    broker.set_position("X", 7)  # a manual trade the journal knows nothing about
    runner = _tick_runner(broker, tmp_path, (1, 2))
    host = runner.run(broker.feed(_stream()))
    assert runner.halted is not None and "X: the broker holds +7" in runner.halted
    assert broker.refs_placed() == []
    assert {o.status for o in host.orders} == {"blocked"}
    runner.resume()  # resuming reconciles again: still wrong, still halted
    assert runner.halted is not None and len(runner.plans) == 2
    broker.set_position("X", 0)  # the operator traded it out
    runner.resume()
    assert runner.halted is None and runner.plans[-1].ok
    # a halt is journaled: a restart stays halted until an operator resumes
    runner.kill_switch("test")
    again = _tick_runner(broker, tmp_path, (1, 2))
    assert again.halted is not None and again.halted.startswith("kill switch at ")
    assert again.halted.endswith(" UTC: test")
    again.resume()
    assert Journal.in_folder(tmp_path).halt("t1") is None


def test_stale_data_halts_trading_until_resumed(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    now = [dt.datetime(2020, 1, 3, tzinfo=dt.UTC)]
    runner = _tick_runner(broker, tmp_path, (4, 5), clock=lambda: now[0])
    stream = broker.feed(_stream())
    for date, bars in (next(stream) for _ in range(4)):
        runner.step(date, bars)
    assert not runner.check_stale()  # the bar after Jan 4 is due by Jan 7 06:00 UTC
    now[0] = dt.datetime(2020, 1, 8, tzinfo=dt.UTC)
    assert runner.check_stale()
    assert runner.halted is not None and runner.halted.startswith("stale data: no bar after 2020-01-04")
    date, bars = next(stream)
    runner.step(date, bars)
    assert runner.host.by_id[1].status == "blocked" and broker.refs_placed() == []
    runner.resume()
    date, bars = next(stream)
    runner.step(date, bars)
    assert broker.refs_placed() == ["t1:Tick:2"]


def test_an_async_stream_that_stops_delivering_halts_and_returns(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    never = asyncio.Event()

    async def bars() -> AsyncIterator[tuple[dt.date, Mapping[str, Bar]]]:
        for item in broker.feed(_stream()[:3]):
            yield item
        await never.wait()  # the feed goes quiet

    runner = _tick_runner(broker, tmp_path, (), clock=lambda: dt.datetime(2020, 2, 1, tzinfo=dt.UTC))
    host = asyncio.run(runner.run_async(bars()))
    assert len(host.bars) == 3
    assert runner.halted is not None and "stale data" in runner.halted


def test_the_kill_switch_cancels_open_orders_and_flattens(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    runner = _tick_runner(broker, tmp_path, (1, 2, 3, 4))
    stream = broker.feed(_stream())
    for date, bars in (next(stream) for _ in range(5)):
        runner.step(date, bars)
    assert broker.positions() == {"X": 3} and len(broker.open_orders()) == 1
    refs = runner.kill_switch("test")
    assert refs == ["t1:kill:1"]
    assert [o.order_ref for o in broker.open_orders()] == ["t1:kill:1"]
    assert runner.halted is not None and runner.halted.startswith("kill switch at ") and runner.halted.endswith(": test")
    for date, bars in stream:
        runner.step(date, bars)
    assert broker.positions() == {}
    assert runner.journal.positions("t1") == {}
    assert runner.host.by_id[4].status == "cancelled"
    assert broker.refs_placed() == ["t1:Tick:1", "t1:Tick:2", "t1:Tick:3", "t1:Tick:4", "t1:kill:1"]


def test_no_order_is_sent_inside_the_daily_restart_window(tmp_path: Path) -> None:
    """Orders made inside IB's daily restart window are journaled and held, then sent once by the
    first step outside it."""
    import datetime as dt

    from algotrade.live.broker import ib_restart_window

    ny = dt.timezone(dt.timedelta(hours=-5))
    assert ib_restart_window(dt.datetime(2024, 1, 10, 23, 50, tzinfo=ny))
    assert ib_restart_window(dt.datetime(2024, 1, 11, 0, 30, tzinfo=ny))
    assert not ib_restart_window(dt.datetime(2024, 1, 10, 16, 5, tzinfo=ny))

    broker = InMemoryBroker()
    runner = _tick_runner(broker, tmp_path, (1, 2, 3))
    dates = [d for d, _ in _stream()]
    inside = {dates[2]}  # the bar on which the strategy's second order is made falls in the window
    now = {"t": dt.datetime(2024, 1, 10, 16, 5, tzinfo=ny)}
    runner.restart_window = lambda t: now["bar"] in inside  # type: ignore[index]
    runner.clock = lambda: now["t"]

    def stream():  # type: ignore[no-untyped-def]
        for date, bars in broker.feed(_stream()):
            now["bar"] = date  # type: ignore[assignment]
            yield date, bars

    host = runner.run(stream())
    placed = {o.request.order_ref: o.placed_after for o in broker.orders}
    assert list(placed) == ["t1:Tick:1", "t1:Tick:2", "t1:Tick:3"]  # each sent exactly once
    assert placed["t1:Tick:2"] == dates[3]  # held on its bar (inside the window), sent on the next
    assert host.positions == broker.positions()


def test_a_broker_that_lost_its_state_is_caught_at_the_next_session(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    runner = _tick_runner(broker, tmp_path, (1, 2, 3, 6))
    stream = broker.feed(_stream())
    for date, bars in (next(stream) for _ in range(5)):
        runner.step(date, bars)
    assert runner.halted is None and broker.positions() == {"X": 3}
    broker.holdings.clear()  # the broker restarted empty: no position, no order, no execution
    broker.orders.clear()
    broker.execs.clear()
    for date, bars in stream:
        runner.step(date, bars)
    assert runner.halted is not None and "X: the broker holds +0, the journal's fills imply +3" in runner.halted
    assert "t1:Tick:6" not in broker.refs_placed()  # no new order after the mismatch
    kinds = [e.kind for e in runner.journal.risk_events("t1")]
    assert kinds == ["mismatch:position"]  # recorded once, not once per session


def test_a_fill_the_journal_cannot_match_halts_loudly(tmp_path: Path) -> None:
    from algotrade.live.broker import FillEvent
    from algotrade.live.reconcile import Execution

    class Stray(InMemoryBroker):
        def poll_events(self) -> list[Any]:
            events = super().poll_events()
            if self.last_date is not None and len(self.execs) == 1 and not getattr(self, "sent", False):
                self.sent = True
                events.append(FillEvent(Execution("E1", "t1:Tick:99", "B9", "X", 5, 10.0, 0.0, "2020-01-01")))
            return events

    broker = Stray()
    runner = _tick_runner(broker, tmp_path, (1, 4))
    runner.run(broker.feed(_stream()))
    assert runner.halted is not None and runner.halted.startswith("unmatched fill")
    assert next(e.kind for e in runner.journal.risk_events("t1")) == "unmatched_fill"
    assert broker.refs_placed() == ["t1:Tick:1"]


@pytest.mark.parametrize("restored", [1101, 1102])
def test_ib_1100_holds_orders_and_1101_1102_reconcile_and_send_them_once(tmp_path: Path, restored: int) -> None:
    broker = InMemoryBroker()
    runner = _tick_runner(broker, tmp_path, (1, 3, 4, 6))
    dates = [d for d, _ in _stream()]

    def stream() -> Iterator[tuple[dt.date, dict[str, Bar]]]:
        for i, (date, bars) in enumerate(_stream()):
            if i == 3:
                broker.link(1100)  # the gateway lost IB's servers; the socket stays up
            if i == 5:
                broker.link(restored)
            broker.on_bar(date, bars)
            yield date, bars

    host = runner.run(stream())
    placed = {o.request.order_ref: o.placed_after for o in broker.orders}
    assert list(placed) == ["t1:Tick:1", "t1:Tick:2", "t1:Tick:3", "t1:Tick:4"]  # each once
    assert placed["t1:Tick:2"] == placed["t1:Tick:3"] == dates[5]  # held through the outage, sent after it
    assert runner.halted is None and host.positions == {"X": 4} == broker.positions()
    assert [e.kind for e in runner.journal.risk_events("t1")] == ["connectivity"]
