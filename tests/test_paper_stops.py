"""Protective exits on paper: the live runner through the real IB client and the gateway simulator
carries each ``"exit"`` as an OCA bracket (STP + LMT legs, a trailing update a modify of the STP),
reproduces the backtest's trades, stops included, and after a kill at any step of an exit's life
restarts without losing or duplicating one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from adapters.ib.broker import IbBroker
from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, load_experiment
from algotrade.core.data import load_market
from algotrade.core.host import StrategyHost
from algotrade.live.broker import LiveRunner
from algotrade.live.journal import Journal
from algotrade.live.paper import simulated_stream
from algotrade.live.reconcile import BrokerView, JournalView, bracket_legs, reconcile
from tests import test_paper_gateway as pg
from tests.test_live_runner import KillAt, Killed
from tests.test_paper import PAPER, ROOT
from tests.test_paper_gateway import _no_run_left_behind  # noqa: F401  (autouse: no run left behind)

STOPS = ("stops.trailing=0.03", "stops.take_profit=0.06")
WINDOW = ("data.start=2010-01-04", "data.end=2010-12-31")  # a year: 5 exits, 3 of them filled


@cache
def _experiment() -> Experiment:
    return load_experiment(PAPER, (*WINDOW, "strategy.params.fast=5", "strategy.params.slow=20", *STOPS))


@cache
def _backtest() -> StrategyHost:
    exp = _experiment()
    return execute(exp, load_market(exp.data), "backtrader")[0]


def _fills(host: StrategyHost) -> list[tuple[Any, ...]]:
    return [(f.date, f.symbol, f.quantity, f.price, f.order_id) for f in host.fills]


def _paper(tmp_path: Path, kill: KillAt | None = None) -> tuple[StrategyHost, GatewaySimulator, LiveRunner]:
    exp = _experiment()
    sim = GatewaySimulator(load_market(exp.data), exp.broker, start=0)
    journal = tmp_path / "journal.sqlite"
    with run_in_thread(sim, port=0) as (host, port):
        if kill is not None:
            broker = IbBroker(host, port, client_id=21, account=sim.account_id)
            with pytest.raises(Killed):
                LiveRunner.from_experiment(exp, broker, Journal(journal), checkpoint=kill).run(
                    simulated_stream(broker, sim, exp.data.symbols))
            broker.disconnect()  # the process died: its socket closes, the gateway runs on
        broker = IbBroker(host, port, client_id=21, account=sim.account_id)
        runner = LiveRunner.from_experiment(exp, broker, Journal(journal))
        paper = runner.run(simulated_stream(broker, sim, exp.data.symbols))
        plan = reconcile(JournalView.from_journal(runner.journal, runner.run_id),
                         BrokerView(tuple(broker.open_orders()), tuple(broker.executions()), broker.positions(),
                                    tuple(broker.completed_orders())), runner.run_id, runner.symbols)
        broker.disconnect()
    assert plan.ok and plan.send == plan.modify == plan.record_fills == (), plan.summary()
    return paper, sim, runner


def _assert_like_the_backtest(paper: StrategyHost, sim: GatewaySimulator) -> None:
    backtest = _backtest()
    exits = [o for o in backtest.orders if o.type == "exit"]
    assert sum(o.status == "filled" for o in exits) >= 2, "the experiment must exercise the stops"
    assert _fills(paper) == _fills(backtest)
    # each exit reached IB as one OCA bracket: a STP and a LMT leg under its orderRef, never twice
    legs: dict[str, list[str]] = {}
    for o in sim.account.orders.values():
        legs.setdefault(o.order_ref, []).append(o.order_type)
        if o.oca_group:
            assert (o.oca_group, o.oca_type) == (o.order_ref, 1)
    placed_exits = [ref for ref, types in legs.items() if sorted(types) == ["LMT", "STP"]]
    assert len(placed_exits) == len(exits)
    assert all(len(types) == 1 for ref, types in legs.items() if ref not in placed_exits)
    assert len(legs) == len(backtest.orders)


def test_paper_exits_are_ib_brackets_and_trade_like_the_backtest(tmp_path: Path) -> None:
    paper, sim, runner = _paper(tmp_path)
    _assert_like_the_backtest(paper, sim)
    trailed = [i for i in runner.journal.intents(runner.run_id) if i.type == "exit" and i.modified is not None]
    assert trailed, "no trailing stop was modified"
    for intent in trailed:  # the modify moved the STP leg in place: its last level is the journal's
        stp = [o for o in sim.account.orders.values() if o.order_ref == intent.order_ref and o.order_type == "STP"]
        assert len(stp) == 1 and stp[0].aux_price == pytest.approx(intent.levels[2])


@pytest.mark.parametrize(("step", "nth"), [
    ("modify", 2),  # the new stop journaled, not yet at IB
    ("modified", 2),  # at IB, the journal not told
    ("placed", 2),  # the bracket's legs sent, no broker id journaled
    ("fill", 2),  # a leg's fill journaled, the host not told
])
def test_a_paper_run_killed_at_an_exit_step_resumes_like_the_backtest(tmp_path: Path, step: str, nth: int) -> None:
    paper, sim, _runner = _paper(tmp_path, KillAt(nth, step))
    _assert_like_the_backtest(paper, sim)


@pytest.mark.parametrize("name", ["risk_trailing_stop"])
def test_paper_simulate_command_on_a_stops_experiment(tmp_path: Path, name: str) -> None:
    """`algotrade paper X --simulate` on the cookbook's stops experiment: the burn-in's fills equal
    its shadow backtest's, and exits were among them (filled and trailed through IB brackets)."""
    proc = subprocess.run([sys.executable, "-m", "algotrade", "paper", str(ROOT / "experiments" / f"{name}.yaml"),
                           "--simulate", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / name / "paper"
    burnin = json.loads((folder / "burnin.json").read_text())
    assert burnin["verdict"] == "go" and burnin["fills_equal_backtest"] is True, burnin
    with Journal(folder / "simulate-journal.sqlite") as j:
        exits = [i for i in j.intents() if i.type == "exit"]
    assert sum(i.status == "filled" for i in exits) >= 5 and sum(i.modified is not None for i in exits) >= 5


def test_a_paper_run_sigkilled_mid_run_resumes_with_its_resting_exits(tmp_path: Path) -> None:
    """kill -9 of `algotrade paper` against a running gateway while a trailing exit rests at IB and
    is modified bar by bar; the same command resumes: the fills still equal the backtest's, each
    orderRef reached IB once (one bracket per exit), nothing was lost."""
    sets = [a for kv in ("strategy.params.fast=5", "strategy.params.slow=20", *STOPS) for a in ("--set", kv)]
    with pg.gateway(tmp_path) as gw:
        proc = pg.start_run(tmp_path, gw.port, "--sessions", "120", *sets)
        pg.wait_line(proc, r"warm up")
        pg.lockstep(gw, proc, 45)
        day = gw.advance()
        proc.send_signal(signal.SIGKILL)  # at once: the run is somewhere inside that session
        proc.wait(timeout=30)
        proc = pg.start_run(tmp_path, gw.port, "--sessions", "120", *sets)
        pg.wait_line(proc, r"resuming")
        pg.wait_line(proc, rf"^paper: {day} done")
        pg.lockstep(gw, proc, 74)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 3), err
    [folder] = (tmp_path / "out").glob("paper_quickstart@*/paper")
    burnin = json.loads((folder / "burnin.json").read_text())
    assert burnin["fills_equal_backtest"] is True, burnin
    with Journal(folder / "journal.sqlite") as j:
        intents = j.intents()
        refs = [i.order_ref for i in intents]
        assert len(refs) == len(set(refs))
        exits = [i for i in intents if i.type == "exit"]
        assert any(i.status == "filled" for i in exits) and any(i.modified is not None for i in exits)
        assert all(j.broker_id(i.order_ref) for i in exits if i.status != "dropped")
        assert all(len(bracket_legs(j.broker_id(i.order_ref) or "")) == 2 for i in exits)
