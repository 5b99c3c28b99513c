"""The kill storm: a paper run against a free-running gateway process, killed with SIGKILL at ten
seeded random moments and restarted each time with the same command. It must end with every
orderRef at the broker once (none duplicated), every journaled order at the broker (none lost),
the journal's positions equal to the broker's, and the burn-in counting every restart."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

from algotrade.live.journal import Journal
from tests import gateway_fixtures as gf
from tests.test_paper_gateway import EXPERIMENT, burnin, start_run

KILLS = 10
SEED = 14


def _sessions_done(proc: subprocess.Popen[str], n: int) -> None:
    """Read the run's output up to its n-th "session ... done" line."""
    assert proc.stderr is not None
    seen = 0
    for line in proc.stderr:
        if re.search(r"^paper: \S+ done: session", line):
            seen += 1
            if seen == n:
                return
    raise AssertionError(f"the run ended (rc {proc.wait()}) before {n} sessions")


def test_ten_kill_9s_of_a_free_running_paper_run_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    with gf.gateway_process(tmp_path, EXPERIMENT, "2010-03-01", "--speed", "4") as gw:
        for _ in range(KILLS):
            proc = start_run(tmp_path, gw.port, "--sessions", "150")
            _sessions_done(proc, rng.randint(1, 12))  # a seeded random moment of the run
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        proc = start_run(tmp_path, gw.port, "--sessions", "150")
        _out, err = proc.communicate(timeout=300)
        rec = subprocess.run([sys.executable, "-m", "algotrade", "reconcile", str(EXPERIMENT), "--out",
                              str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                             env={**os.environ, "ALGOTRADE_IB_PORT": str(gw.port)})
    assert proc.returncode == 3, err  # ran to --sessions: NO-GO (150 < min_sessions, and 10 restarts)
    b = burnin(tmp_path)
    assert b["restarts"] == KILLS and b["measured"]["restarts"] == KILLS  # type: ignore[index]
    assert f"{KILLS} process restarts, more than max_restarts 3" in b["reasons"]  # type: ignore[operator]
    assert b["halted"] is None and b["measured"]["unreconciled"] == 0, b  # type: ignore[index]
    # the broker's side: no duplicated order, no unknown one, positions equal to the journal's
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert "mismatches 0" in rec.stdout
    with Journal(tmp_path / "out" / "paper_quickstart" / "paper" / "journal.sqlite") as j:
        intents = j.intents()
        assert len(intents) >= 2
        assert len({i.order_ref for i in intents}) == len(intents)
        assert all(i.broker_id is not None or i.closed == "dropped" for i in intents)  # none lost
        assert j.counter(str(b["config_id"]), "process_starts") == KILLS + 1
