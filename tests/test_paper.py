"""Paper burn-in through the real IB client and the gateway simulator; kill/restart; live refusal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.ib.broker import IbBroker
from algotrade.broker import LiveRunner
from algotrade.config import load_experiment
from algotrade.data import load_market
from algotrade.gateway import GatewaySimulator, run_in_thread
from algotrade.journal import Journal
from algotrade.paper import simulated_stream
from algotrade.run import execute

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "experiments" / "paper_quickstart.yaml"
SHORT = ("data.start=2010-01-04", "data.end=2011-06-30")


class Killed(Exception):
    """Stands for the process dying at a checkpoint."""


def test_paper_simulate_command_gives_the_backtests_trades(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "algotrade", "paper", str(PAPER), "--simulate", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "paper_quickstart" / "paper"
    burnin = json.loads((folder / "burnin.json").read_text())
    assert burnin["verdict"] == "go", burnin["reasons"]
    assert burnin["fills_equal_backtest"] and burnin["paper_fills"] >= 10
    assert burnin["config_id"] == load_experiment(PAPER).config_id
    assert burnin["final_equity"]["paper"] == pytest.approx(burnin["final_equity"]["backtest"], rel=1e-9)
    assert "Verdict: GO" in (folder / "burnin.html").read_text()
    assert (folder / "journal.sqlite").exists()


def _kill_at(step: str, occurrence: int):  # type: ignore[no-untyped-def]
    seen = {"n": 0}

    def checkpoint(name: str) -> None:
        if name == step:
            seen["n"] += 1
            if seen["n"] == occurrence:
                raise Killed(f"{step} #{occurrence}")

    return checkpoint, seen


@pytest.mark.slow
@pytest.mark.parametrize(("step", "occurrence"), [
    ("intent", 1), ("placed", 1), ("submitted", 3), ("fill", 2), ("bar", 40), ("polled", 200),
])
def test_killed_paper_run_resumes_without_duplicate_or_lost_orders(step: str, occurrence: int, tmp_path: Path) -> None:
    """Killed between journal write and send, right after send, after a fill...: the restarted
    run sends every order exactly once and ends with the backtest's trades."""
    exp = load_experiment(PAPER, SHORT)
    market = load_market(exp.data)
    sim = GatewaySimulator(market, exp.broker, start=0)
    journal_path = tmp_path / "journal.sqlite"
    checkpoint, seen = _kill_at(step, occurrence)
    with run_in_thread(sim, port=0) as (host, port):
        broker = IbBroker(host, port, client_id=21, account=sim.account_id)
        runner = LiveRunner.from_experiment(exp, broker, Journal(journal_path), checkpoint=checkpoint)
        with pytest.raises(Killed):
            runner.run(simulated_stream(broker, sim, exp.data.symbols))
        broker.disconnect()
        assert seen["n"] == occurrence
        # a new process: a new client on the same journal, the gateway still running
        broker2 = IbBroker(host, port, client_id=21, account=sim.account_id)
        runner2 = LiveRunner.from_experiment(exp, broker2, Journal(journal_path))
        paper = runner2.run(simulated_stream(broker2, sim, exp.data.symbols))
        broker2.disconnect()
    refs = [o.order_ref for o in sim.account.orders.values()]
    assert len(refs) == len(set(refs)), f"an order was sent twice: {refs}"
    shadow, _ = execute(exp, market, "backtrader")
    ours = [(f.date, f.symbol, f.quantity, f.price) for f in paper.fills]
    expected = [(f.date, f.symbol, f.quantity, f.price) for f in shadow.fills]
    assert ours == expected
    assert len(refs) == len(expected)  # every order reached the broker, none lost


def test_live_refuses_without_a_passed_burnin(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "algotrade", "live", str(PAPER), "--out", str(tmp_path),
                           "--confirm-live"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "ALGOTRADE_IB_PORT": "4001", "ALGOTRADE_IB_ACCOUNT": "U7654321"})
    assert proc.returncode == 2
    assert "no burn-in verdict" in proc.stderr and "Traceback" not in proc.stderr
    assert "U7654321" not in proc.stdout + proc.stderr  # the account id is never printed


def test_kill_command_cancels_and_flattens_at_the_gateway(tmp_path: Path) -> None:
    """`algotrade kill` as an operator runs it, against a gateway holding the run's position."""
    import os

    exp = load_experiment(PAPER, SHORT)
    market = load_market(exp.data)
    sim = GatewaySimulator(market, exp.broker, start=0)
    journal_path = tmp_path / "journal.sqlite"
    with run_in_thread(sim, port=0) as (host, port):
        broker = IbBroker(host, port, client_id=31, account=sim.account_id)
        runner = LiveRunner.from_experiment(exp, broker, Journal(journal_path))
        stream = simulated_stream(broker, sim, exp.data.symbols)
        for date, bars in stream:  # trade until the strategy holds a position
            runner.step(date, bars)
            if broker.positions():
                break
        broker.disconnect()
        assert any(p.quantity for p in sim.account.positions.values()), "the run should hold a position"
        proc = subprocess.run(
            [sys.executable, "-m", "algotrade", "kill", str(PAPER), "--journal", str(journal_path),
             *(f"--set={o}" for o in SHORT)],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "ALGOTRADE_IB_HOST": host, "ALGOTRADE_IB_PORT": str(port)},
        )
        assert proc.returncode == 0, proc.stderr
        assert "flattening orders sent" in proc.stdout
        sim.advance()  # the next session fills the flattening order
        held = {o.symbol: o for o in sim.account.orders.values() if o.status not in ("Filled", "Cancelled")}
        assert not held, held
    assert Journal(journal_path).halt(runner.run_id), "the run stays halted"
    flat = [o for o in sim.account.orders.values() if o.order_ref.startswith(f"{runner.run_id}:kill:")]
    assert len(flat) == 1 and flat[0].status == "Filled"
    assert not any(p.quantity for p in sim.account.positions.values()), "flat after the kill switch"
