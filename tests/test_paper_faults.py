"""IB's connectivity faults injected from outside, end to end, as separate processes.

`algotrade gateway X.yaml --control PORT` runs as its own process (as IB Gateway would), `algotrade
paper X.yaml` (the real CLI and IB client) as another. The test steps the gateway one session at a
time through its control port (what `algotrade gateway-ctl PORT ...` sends) and waits for the
paper run's line for that session, so both stay in lockstep without sleeping; the faults are
injected with `algotrade gateway-ctl PORT 1100|1101|1102|drop|restart` itself, or scheduled with
the gateway's `--faults KIND@DATE`. Each fault is put at
the session where the backtest orders or fills, so holding and sending matter. From the outside,
each case checks the stated behaviour (docs/operations.md, "Faults"): the paper run's exit code and
lines, its journal (risk events, held orders sent once), the simulator's orders (each orderRef
once: none duplicated, none lost), fills equal to the shadow backtest's, the journal's positions
equal to the broker's, and burnin.json's counts.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from algotrade.live.journal import Journal
from tests import gateway_fixtures as gf
from tests.test_paper_gateway import (
    EXPERIMENT,
    _no_run_left_behind,  # noqa: F401  (autouse: no paper run left running)
    burnin,
    start_run,
)

JOURNAL = ("out", "paper_quickstart", "paper", "journal.sqlite")
LEAD = 3  # sessions replayed before the one whose bar makes the backtest's order


@dataclass(frozen=True)
class Window:
    """Where the faults go: the gateway starts ``LEAD`` sessions before the bar of the backtest's
    first order after mid-2011 (``order``); it fills at the next session's open (``fill``)."""

    start: dt.date
    order: dt.date
    fill: dt.date
    sessions: int  # the paper run's --sessions: up to the session after the fill


@functools.cache
def window() -> Window:
    from algotrade.backtest.run import execute
    from algotrade.core.config import load_experiment
    from algotrade.core.data import load_market

    exp = load_experiment(EXPERIMENT)
    market = load_market(exp.data)
    shadow, _ = execute(exp, market, "backtrader")
    dates = [d.date() for d in market.dates]
    created = {o.created for o in shadow.orders}
    first = next(o for o in shadow.orders if o.created > dt.date(2011, 6, 1))
    assert first.fill_date is not None and first.fill_date not in created, "the order's fill session must make none"
    k = dates.index(first.created)
    assert dates[k + 1] == first.fill_date  # next_open: it fills at the next session's open
    return Window(dates[k - LEAD], first.created, first.fill_date, LEAD + 2)


@dataclass(frozen=True)
class Case:
    """One fault: ``faults`` is a --faults schedule ({order} is the order's session);
    ``after_order``: control commands once the run has traded the order's session; ``after_fill``:
    once the gateway replayed the fill's session (before the run can trade it)."""

    name: str
    after_order: tuple[str, ...] = ()
    after_fill: tuple[str, ...] = ()
    faults: str = ""
    held: bool = False  # the order is decided while IB's link is lost: held, then sent once
    risk: tuple[str, ...] = ()
    gateway_restarts: int = 0
    outages: int = 1  # disconnects (of the socket or of IB's link) and as many reconnects


CASES = [
    # the order is on the wire; IB's link goes, the fill happens at "IB" meanwhile, the link comes back
    Case("1100, fill, 1102", after_order=("1100",), after_fill=("1102",), risk=("connectivity",)),
    Case("1100, fill, 1101", after_order=("1100",), after_fill=("1101",), risk=("connectivity",)),
    Case("1102 alone", after_order=("1102",), outages=0),
    Case("socket dropped", after_order=("drop",)),
    Case("daily restart", after_order=("restart 1",), gateway_restarts=1),
    # IB's link goes right after the order's bar (scheduled): the order is held, then sent once
    Case("scheduled 1100 holds the order, 1102", faults="1100@{order}", after_order=("1102",), held=True,
         risk=("connectivity",)),
    Case("scheduled 1100 holds the order, 1101", faults="1100@{order}", after_order=("1101",), held=True,
         risk=("connectivity",)),
]


def inject(gw: gf.ControlledGateway, command: str) -> None:
    """A fault, as an operator injects it: `algotrade gateway-ctl PORT COMMAND`."""
    done = subprocess.run([sys.executable, "-m", "algotrade", "gateway-ctl", str(gw.control), *command.split()],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr, done.stdout + done.stderr
    kind = command.split()[0]
    assert done.stdout.startswith("restarting " if kind == "restart" else f"injected {kind} "), done.stdout


def advance(gw: gf.ControlledGateway) -> str:
    """Replay one session; its date."""
    answer = gw.ctl("advance")
    match = re.search(r"^replayed 1 session (\d{4}-\d\d-\d\d) ", answer)
    assert match, answer
    return match.group(1)


def broker_side(port: int) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Every order the simulator holds (open and completed), as (orderRef, its contract's symbol),
    and its positions, through a bare client: what IB itself has."""
    ib = gf.IB()
    ib.RequestTimeout = gf.TIMEOUT
    ib.connect("127.0.0.1", port, clientId=99, timeout=10)
    try:
        orders = [(t.order.orderRef, t.contract.symbol) for t in (*ib.reqCompletedOrders(False), *ib.reqAllOpenOrders())]
        positions = {p.contract.symbol: int(p.position) for p in ib.reqPositions() if p.position}
    finally:
        ib.disconnect()
    return orders, positions


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_fault_injected_from_outside_gets_the_stated_behaviour(tmp_path: Path, case: Case) -> None:
    w = window()
    extra = ("--faults", case.faults.format(order=w.order)) if case.faults else ()
    with gf.controlled_gateway(tmp_path, EXPERIMENT, *extra, start=w.start.isoformat()) as gw:
        proc = start_run(tmp_path, gw.port, "--sessions", str(w.sessions))
        run = gf.Lines(proc, proc.stderr, "the paper run")  # its one line per session, waited for
        run.line(rf"^paper: .*trading from the session after {w.start}")
        while (day := advance(gw)) != w.order.isoformat():
            run.line(rf"^paper: {day} done")
        run.line(rf"^paper: {day} done: session {LEAD}, orders 1,")
        for command in case.after_order:
            inject(gw, command)
        if case.held:  # sent once IB takes orders again, before the fill's session opens
            run.line(rf"^paper: IB takes orders again: reconciled, and sent 1 held order before the "
                     rf"session after {w.order}")
        assert advance(gw) == w.fill.isoformat()
        for command in case.after_fill:
            inject(gw, command)
        run.line(rf"^paper: {w.fill} done: session {LEAD + 1}, orders 1, fills 1,")
        day = advance(gw)
        run.line(rf"^paper: {day} done: session {LEAD + 2},")
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.wait(timeout=120)
        err = "".join(run.lines)
        orders, positions = broker_side(gw.port)
        refs = [ref for ref, _ in orders]
        status = gw.status()
        rec = subprocess.run([sys.executable, "-m", "algotrade", "reconcile", str(EXPERIMENT), "--out",
                              str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                             env={**os.environ, "ALGOTRADE_IB_PORT": str(gw.port)})
    # the run ended as --sessions says (NO-GO: fewer sessions than burnin.min_sessions), not halted
    assert proc.returncode == 3, err
    assert "verdict NO-GO" in out and "Traceback" not in err, err
    b = burnin(tmp_path)
    assert b["halted"] is None and b["measured"]["sessions"] == w.sessions, b  # type: ignore[index]
    assert b["fills_equal_backtest"] is True and b["paper_fills"] == b["backtest_fills"] == 1, b
    assert b["measured"]["unreconciled"] == 0  # type: ignore[index]
    # each loss of the link or the socket is repaired by one reconnect (with its reconcile); no
    # outage past ib.max_outage_minutes, no restart of the paper process
    assert (b["disconnects"], b["reconnects"], b["outages"], b["restarts"]) == (case.outages, case.outages, 0, 0), b
    assert [e["kind"] for e in b["risk_events"]] == list(case.risk)  # type: ignore[union-attr]
    assert status["restarts"] == str(case.gateway_restarts)
    with Journal(tmp_path.joinpath(*JOURNAL)) as j:
        run_id = str(b["config_id"])
        intents = j.intents(run_id)
        journal_positions = j.positions(run_id)
        risk = j.risk_events(run_id)
    # the simulator has every journaled order once: none duplicated, none lost
    assert sorted(refs) == sorted(i.order_ref for i in intents) and len(set(refs)) == len(refs), refs
    assert [(i.created, i.status) for i in intents] == [(w.order.isoformat(), "filled")]
    assert positions == journal_positions and positions, (positions, journal_positions)
    assert rec.returncode == 0 and "mismatches 0" in rec.stdout, rec.stdout + rec.stderr
    with sqlite3.connect(tmp_path.joinpath(*JOURNAL)) as db:
        submitted = db.execute("SELECT order_ref, written_at FROM events WHERE kind = 'submitted'").fetchall()
    assert [ref for ref, _ in submitted] == [intents[0].order_ref]  # sent once
    if case.held:  # decided while IB's link was lost: journaled, and sent only after the 1100's risk event
        (lost,) = risk
        assert lost.message.startswith("IB 1100") and submitted[0][1] > lost.written_at
