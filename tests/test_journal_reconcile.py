"""The order journal (SQLite, crash-safe) and pure reconciliation against a broker's view."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from algotrade.live.journal import FILE_NAME, SCHEMA_VERSION, FillConflict, Journal, order_ref
from algotrade.live.reconcile import (
    BrokerOrder,
    BrokerView,
    Execution,
    JournalView,
    reconcile,
)

RUN = "r1"
D = dt.date(2024, 3, 1)


def _journal(tmp_path: Path) -> Journal:
    return Journal.in_folder(tmp_path)


def _intent(j: Journal, seq: int, qty: int = 100, symbol: str = "SPY", strategy: str = "sma") -> str:
    return j.record_intent(RUN, strategy, seq, symbol, qty, "market", created=D).order_ref


def _view(j: Journal) -> JournalView:
    return JournalView.from_journal(j, RUN)


def _exec(ref: str, exec_id: str = "E1", qty: int = 100, bid: str = "B1", symbol: str = "SPY") -> Execution:
    return Execution(exec_id, ref, bid, symbol, qty, 10.0, 1.0, "2024-03-04")


# --- journal ----------------------------------------------------------------------------------


def test_intent_has_the_deterministic_order_ref_and_is_open_and_unsent(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    intent = j.record_intent(RUN, "sma", 1, "SPY", -5, "limit", limit=10.5, created=D)
    assert intent.order_ref == order_ref(RUN, "sma", 1) == "r1:sma:1"
    assert (intent.symbol, intent.quantity, intent.type, intent.limit, intent.created) == ("SPY", -5, "limit", 10.5, "2024-03-01")
    assert [i.order_ref for i in j.open_intents(RUN)] == ["r1:sma:1"]
    assert [i.order_ref for i in j.unsent_intents(RUN)] == ["r1:sma:1"]
    assert (tmp_path / FILE_NAME).is_file()


def test_the_same_intent_twice_is_a_no_op_and_a_different_one_is_refused(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    _intent(j, 1)
    _intent(j, 1)
    assert len(j.intents(RUN)) == 1
    with pytest.raises(ValueError, match="already journaled"):
        _intent(j, 1, qty=7)


def test_events_drive_status_fills_positions_and_exec_ids(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    a, b, c = _intent(j, 1, 100), _intent(j, 2, -30, "QQQ"), _intent(j, 3, 10)
    j.record_submitted(a, "B1")
    j.record_submitted(a, "B1")  # idempotent
    assert j.broker_id(a) == "B1"
    assert j.record_fill("E1", a, "SPY", 60, 10.0, 0.5, D, host_bar=4)
    assert not j.record_fill("E1", a, "SPY", 60, 10.0, 0.5, D)  # a known exec id is ignored
    j.record_fill("E2", a, "SPY", 40, 10.1, 0.5, "2024-03-02")
    j.record_submitted(b, "B2")
    j.record_fill("E3", b, "QQQ", -30, 20.0, 0.0, D)
    j.record_status(c, "rejected", "no", host_bar=5)
    j.record_status(c, "cancelled", "later")  # a second closure is ignored
    intents = {i.order_ref: i for i in j.intents(RUN)}
    assert [intents[r].status for r in (a, b, c)] == ["filled", "filled", "rejected"]
    assert j.open_intents(RUN) == [] and j.unsent_intents(RUN) == []
    assert [(f.exec_id, f.quantity) for f in j.fills(a)] == [("E1", 60), ("E2", 40)]
    assert j.positions(RUN) == {"QQQ": -30, "SPY": 100}
    assert j.seen_exec_ids(RUN) == {"E1", "E2", "E3"}
    assert j.last_exec_ids(2, RUN) == ["E2", "E3"]
    assert [(e.kind, e.host_bar) for e in j.timeline(RUN)] == [("fill", 4), ("fill", None), ("fill", None), ("closed", 5)]
    assert [e.kind for e in j.timeline(RUN, after=j.timeline(RUN)[2].id)] == ["closed"]
    assert j.next_seq(RUN, "sma") == 4


def test_a_fill_for_an_order_the_journal_never_wrote_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FillConflict, match="never wrote"):
        _journal(tmp_path).record_fill("E9", "r1:sma:9", "SPY", 1, 1.0, 0.0, D)


def test_a_fill_is_keyed_by_order_and_exec_id_never_dropped(tmp_path: Path) -> None:
    # a restarted broker numbers executions from scratch: E1 again, for another order
    j = _journal(tmp_path)
    a, b = _intent(j, 1, 100), _intent(j, 2, -100)
    assert j.record_fill("E1", a, "SPY", 100, 10.0, 0.0, D)
    assert j.record_fill("E1", b, "SPY", -100, 11.0, 0.0, D)  # same exec id, another order: a new fill
    assert j.positions(RUN) == {} and j.fill_keys(RUN) == {(a, "E1"), (b, "E1")}
    assert not j.record_fill("E1", b, "SPY", -100, 11.0, 0.0, D)  # the same fill twice: once
    with pytest.raises(FillConflict, match="journaled as -100"):
        j.record_fill("E1", b, "SPY", -50, 12.0, 0.0, D)  # contradicts the recorded one: loud
    assert len(j.fills(run_id=RUN)) == 2


def test_reconcile_records_a_reused_exec_id_of_another_order(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    a, b = _intent(j, 1, 100), _intent(j, 2, -100)
    j.record_submitted(a, "B1")
    j.record_fill("E1", a, "SPY", 100, 10.0, 0.0, D)
    j.record_submitted(b, "B2")
    reused = _exec(b, "E1", -100, "B2")
    plan = reconcile(_view(j), BrokerView((), (reused,), {}, (BrokerOrder("B2", b, "SPY", -100, -100, "filled"),)),
                     RUN, ["SPY"])
    assert plan.record_fills == (reused,) and plan.ok


def test_an_unversioned_journal_is_migrated_and_keeps_its_fills(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO intents VALUES ('r1:sma:1','r1','sma',1,'SPY',100,'market',NULL,NULL,'2024-03-01','t')")
    db.execute("INSERT INTO events (order_ref, kind, exec_id, symbol, quantity, price, commission, date, written_at) "
               "VALUES ('r1:sma:1','fill','E1','SPY',100,10.0,0.0,'2024-03-01','t')")
    db.commit()
    db.close()
    j = Journal(path)
    assert j.schema_version == SCHEMA_VERSION
    assert j.positions(RUN) == {"SPY": 100}
    b = _intent(j, 2, -100)
    assert j.record_fill("E1", b, "SPY", -100, 11.0, 0.0, D)  # the old UNIQUE(exec_id) is gone
    assert j.positions(RUN) == {}
    j.close()
    assert Journal(path).schema_version == SCHEMA_VERSION  # reopening is a no-op


OLD_SCHEMA = """
CREATE TABLE intents (order_ref TEXT PRIMARY KEY, run_id TEXT NOT NULL, strategy TEXT NOT NULL,
    seq INTEGER NOT NULL, symbol TEXT NOT NULL, quantity INTEGER NOT NULL, type TEXT NOT NULL,
    limit_price REAL, stop_price REAL, created TEXT NOT NULL, written_at TEXT NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, order_ref TEXT NOT NULL REFERENCES intents (order_ref),
    kind TEXT NOT NULL, broker_id TEXT, status TEXT, reason TEXT NOT NULL DEFAULT '', exec_id TEXT UNIQUE,
    symbol TEXT, quantity INTEGER, price REAL, commission REAL, date TEXT, host_bar INTEGER, written_at TEXT NOT NULL);
CREATE TABLE bars (run_id TEXT NOT NULL, idx INTEGER NOT NULL, date TEXT NOT NULL, cash REAL NOT NULL,
    value REAL NOT NULL, done INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, idx));
CREATE TABLE state (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
"""


def test_bars_and_halt_state_are_kept_per_run(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    j.record_bar_start(RUN, 0, D, 100.0, 100.0)
    j.record_bar_done(RUN, 0)
    j.record_bar_start(RUN, 1, D + dt.timedelta(days=1), 90.0, 101.0)
    rows = j.bars(RUN)
    assert [(r.idx, r.done, r.cash) for r in rows.values()] == [(0, True, 100.0), (1, False, 90.0)]
    assert j.bars("other") == {}
    j.set_halt(RUN, "stop")
    assert j.halt(RUN) == "stop" and j.halt("other") is None
    j.set_halt(RUN, None)
    assert j.halt(RUN) is None


def test_the_journal_uses_wal_and_every_write_is_visible_to_another_connection(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    ref = _intent(j, 1)
    j.record_submitted(ref, "B1")
    other = sqlite3.connect(tmp_path / FILE_NAME)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT order_ref FROM intents").fetchall() == [(ref,)]
    assert other.execute("SELECT kind, broker_id FROM events").fetchall() == [("submitted", "B1")]


def test_a_process_killed_right_after_a_write_leaves_it_in_the_journal(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from algotrade.live.journal import Journal\n"
        "j = Journal.in_folder(sys.argv[1])\n"
        "j.record_intent('r1', 'sma', 1, 'SPY', 5, created='2024-03-01')\n"
        "j.record_submitted('r1:sma:1', 'B7')\n"
        "os._exit(9)\n"  # no close, no cleanup: as if killed
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    j = _journal(tmp_path)
    assert [(i.order_ref, i.broker_id) for i in j.intents(RUN)] == [("r1:sma:1", "B7")]


# --- reconcile: the restart cases ----------------------------------------------------------------


def test_a_clean_journal_and_broker_give_an_empty_plan(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    ref = _intent(j, 1)
    j.record_submitted(ref, "B1")
    j.record_fill("E1", ref, "SPY", 100, 10.0, 1.0, D)
    plan = reconcile(_view(j), BrokerView((), (_exec(ref),), {"SPY": 100}), RUN, ["SPY"])
    assert plan.ok and plan == type(plan)()


def test_killed_after_the_journal_write_before_the_send_sends_once_or_drops(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    ref = _intent(j, 1)
    plan = reconcile(_view(j), BrokerView(), RUN, ["SPY"])
    assert plan.send == (ref,) and plan.drop == () and plan.ok
    plan = reconcile(_view(j), BrokerView(), RUN, ["SPY"], policy="drop")
    assert plan.drop == (ref,) and plan.send == ()
    # once the broker has it, it is never sent again
    j.record_submitted(ref, "B1")
    plan = reconcile(_view(j), BrokerView((BrokerOrder("B1", ref, "SPY", 100),)), RUN, ["SPY"])
    assert plan.send == () and plan.ok


def test_killed_right_after_the_send_attaches_the_broker_order_and_never_resends(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    ref = _intent(j, 1)
    plan = reconcile(_view(j), BrokerView((BrokerOrder("B1", ref, "SPY", 100),)), RUN, ["SPY"])
    assert plan.attach == ((ref, "B1"),)
    assert plan.send == () and plan.drop == () and plan.close == () and plan.ok
    # known only through an execution (the order already filled and left the open list)
    plan = reconcile(_view(j), BrokerView((), (_exec(ref),), {"SPY": 100}), RUN, ["SPY"])
    assert plan.attach == ((ref, "B1"),) and plan.record_fills == (_exec(ref),) and plan.send == ()
    assert plan.ok


def test_killed_after_a_fill_the_journal_missed_records_it(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    ref = _intent(j, 1)
    j.record_submitted(ref, "B1")
    j.record_fill("E1", ref, "SPY", 40, 10.0, 0.0, D)
    e1, e2 = _exec(ref, "E1", 40), _exec(ref, "E2", 60)
    view = BrokerView((), (e1, e2), {"SPY": 100}, (BrokerOrder("B1", ref, "SPY", 100, 100, "filled"),))
    plan = reconcile(_view(j), view, RUN, ["SPY"])
    assert plan.record_fills == (e2,)
    assert plan.ok and plan.close == () and plan.attach == ()


def test_a_position_mismatch_is_listed_with_a_clear_message(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    ref = _intent(j, 1)
    j.record_submitted(ref, "B1")
    j.record_fill("E1", ref, "SPY", 100, 10.0, 0.0, D)
    plan = reconcile(_view(j), BrokerView((), (_exec(ref),), {"SPY": 150, "QQQ": 5}), RUN, ["SPY", "QQQ"])
    assert not plan.ok
    assert [(m.kind, m.subject) for m in plan.mismatches] == [("position", "QQQ"), ("position", "SPY")]
    spy = plan.mismatches[1].message
    assert "+150" in spy and "+100" in spy and "+50" in spy
    # symbols outside the run's universe are not this run's business
    assert reconcile(_view(j), BrokerView((), (_exec(ref),), {"SPY": 100, "IBM": 3}), RUN, ["SPY"]).ok


def test_unknown_foreign_and_duplicate_broker_orders_are_mismatches(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    ref = _intent(j, 1)
    orders = (
        BrokerOrder("B1", ref, "SPY", 100),
        BrokerOrder("B2", ref, "SPY", 100),  # the same ref sent twice
        BrokerOrder("B3", "r1:sma:7", "SPY", 5),  # this run's prefix, never journaled
        BrokerOrder("B4", "manual", "SPY", -1),  # someone else's order on our symbol
        BrokerOrder("B5", "", "IBM", 1),  # someone else's order elsewhere: fine
    )
    plan = reconcile(_view(j), BrokerView(orders, (_exec("r1:sma:8", "E9"),)), RUN, ["SPY"])
    kinds = sorted((m.kind, m.subject) for m in plan.mismatches)
    assert kinds == [("duplicate_order", ref), ("foreign_order", "B4"), ("unknown_execution", "r1:sma:8"),
                     ("unknown_order", "r1:sma:7")]
    assert plan.send == ()


def test_broker_id_conflict_different_order_and_overfill_are_mismatches(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    a, b, c = _intent(j, 1), _intent(j, 2), _intent(j, 3, 10)
    j.record_submitted(a, "B1")
    view = BrokerView(
        (BrokerOrder("B9", a, "SPY", 100), BrokerOrder("B2", b, "SPY", 50)),
        (_exec(c, "E1", 15, "B3"),), {"SPY": 15},
    )
    plan = reconcile(_view(j), view, RUN, ["SPY"])
    assert [(m.kind, m.subject) for m in plan.mismatches] == [("broker_id", a), ("intent_differs", b), ("overfill", c)]
    assert plan.attach == ((c, "B3"),) and plan.send == ()


def test_an_order_no_longer_open_at_the_broker_is_closed_with_its_status(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    a, b, c = _intent(j, 1), _intent(j, 2), _intent(j, 3)
    for ref, bid in ((a, "B1"), (b, "B2"), (c, "B3")):
        j.record_submitted(ref, bid)
    completed = (BrokerOrder("B1", a, "SPY", 100, 0, "rejected", reason="insufficient cash at fill time"),)
    plan = reconcile(_view(j), BrokerView((BrokerOrder("B3", c, "SPY", 100),), (), {}, completed), RUN, ["SPY"])
    assert plan.close == (
        (a, "rejected", "insufficient cash at fill time"),
        (b, "cancelled", "the broker no longer knows order B2; closed at reconcile"),
    )
    assert plan.ok


def test_a_requested_cancel_is_sent_again_while_the_order_is_open(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    ref = _intent(j, 1)
    j.record_submitted(ref, "B1")
    j.record_cancel_request(ref)
    plan = reconcile(_view(j), BrokerView((BrokerOrder("B1", ref, "SPY", 100),)), RUN, ["SPY"])
    assert plan.cancel == ("B1",) and plan.ok


def test_reconcile_is_deterministic_whatever_the_order_of_its_inputs(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    refs = [_intent(j, s, 10) for s in range(1, 13)]
    for r in refs[:6]:
        j.record_submitted(r, f"B{r[-2:]}")
    orders = [BrokerOrder(f"B{r[-2:]}", r, "SPY", 10) for r in refs[:4]] + [BrokerOrder("X1", refs[8], "SPY", 10)]
    execs = [_exec(r, f"E{i}", 10, f"B{r[-2:]}") for i, r in enumerate(refs[4:6])]
    first = reconcile(_view(j), BrokerView(tuple(orders), tuple(execs), {"SPY": 20}), RUN, ["SPY"])
    rng = random.Random(3)
    for _ in range(5):
        rng.shuffle(orders)
        shuffled = JournalView(tuple(rng.sample(j.intents(RUN), 12)), j.fill_keys(RUN), j.positions(RUN))
        assert reconcile(shuffled, BrokerView(tuple(orders), tuple(execs), {"SPY": 20}), RUN, ["SPY"]) == first
    assert first.send == tuple(refs[6:8] + refs[9:])  # seq order, never the one the broker knows
    assert first.attach == ((refs[8], "X1"),)
    assert first.summary().startswith("reconcile: attach 1, record fills 2, send 5")


def test_reconcile_rejects_an_unknown_policy() -> None:
    with pytest.raises(ValueError, match="policy"):
        reconcile(JournalView(), BrokerView(), RUN, policy="maybe")  # type: ignore[arg-type]
