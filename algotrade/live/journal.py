"""The order journal: an append-only SQLite record of every order, written before it is sent.

One file per run folder (``<run folder>/journal.sqlite``, WAL mode). Every write is committed
before the method returns, so a process killed at any point leaves a journal that says exactly
what was decided and what the broker confirmed:

* an **intent** row is written *before* an order is sent: run id, strategy, sequence number, the
  deterministic ``orderRef`` (``f"{run_id}:{strategy}:{seq}"``), symbol, signed quantity, type,
  limit/stop and the bar date it was decided on;
* **events** are appended after: ``submitted`` (with the broker's order id), ``status`` changes,
  ``fill`` (exec id, price, quantity, commission; a fill is keyed by its order *and* its exec
  id, so the same execution reported twice is recorded once, while an exec id that a restarted
  broker reuses for another order is a new fill; a fill that contradicts the one recorded under
  its key, or names an order the journal never wrote, is refused loudly and recorded as a risk
  event), ``cancel_requested`` and ``closed`` (cancelled, rejected, expired, dropped);
* **bars** rows mark each bar a live runner processed (with the account it sized against, and
  the bar's OHLCV in **bar_data**, so that a run of any age resumes from its own bars), a small
  **state** table holds a run's halt reason and counters, and **risk_events** records every
  halt-worthy finding (reconcile mismatches, unmatched fills, outages, the kill switch).

The schema is versioned (``PRAGMA user_version``, :data:`SCHEMA_VERSION`); an older journal is
migrated in place when opened (the tables and the migration: :mod:`~algotrade.live.journal_schema`;
the records the journal hands back: :mod:`~algotrade.live.journal_records`, importable from here too).

The journal knows nothing about brokers or engines; :mod:`algotrade.live.reconcile` compares it with
a broker's view and :class:`algotrade.live.broker.LiveRunner` writes it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from algotrade.live.journal_records import (
    CLOSED_STATUSES,
    BarRow,
    FillConflict,
    Intent,
    JournalEvent,
    JournalFill,
    RiskEvent,
    order_ref,
    parse_levels,
)
from algotrade.live.journal_schema import SCHEMA_VERSION, connect

FILE_NAME = "journal.sqlite"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class Journal:
    """An SQLite order journal; every write is committed before the call returns."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(self.path)

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @classmethod
    def in_folder(cls, folder: str | Path) -> Journal:
        """The journal of one run folder."""
        return cls(Path(folder) / FILE_NAME)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- writes ---------------------------------------------------------------------------------
    def record_intent(
        self,
        run_id: str,
        strategy: str,
        seq: int,
        symbol: str,
        quantity: int,
        type: str = "market",
        limit: float | None = None,
        stop: float | None = None,
        created: dt.date | str = "",
    ) -> Intent:
        """Write an order's intent before it is sent. Writing the very same intent again is a
        no-op; a different order under an existing ref is refused (ValueError)."""
        ref = order_ref(run_id, strategy, seq)
        created_s = created.isoformat() if isinstance(created, dt.date) else str(created)
        existing = self.intent(ref)
        if existing is not None:
            same = (existing.symbol, existing.quantity, existing.type, existing.limit, existing.stop) == (
                symbol, quantity, type, limit, stop)
            if not same:
                raise ValueError(
                    f"orderRef {ref} is already journaled as {existing.quantity:+d} {existing.symbol} "
                    f"{existing.type}; refusing to write {quantity:+d} {symbol} {type} under the same ref"
                )
            return existing
        self._db.execute(
            "INSERT INTO intents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (ref, run_id, strategy, seq, symbol, int(quantity), type, limit, stop, created_s, _now()),
        )
        intent = self.intent(ref)
        assert intent is not None
        return intent

    def _event(self, order_ref: str, kind: str, **cols: object) -> None:
        names = ["order_ref", "kind", "written_at", *cols]
        values = [order_ref, kind, _now(), *cols.values()]
        self._db.execute(
            f"INSERT INTO events ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values
        )

    def record_submitted(self, order_ref: str, broker_id: str) -> None:
        """The broker accepted the order under ``broker_id`` (idempotent for the same id)."""
        if self.broker_id(order_ref) == broker_id:
            return
        self._event(order_ref, "submitted", broker_id=broker_id)

    def record_status(self, order_ref: str, status: str, reason: str = "", host_bar: int | None = None) -> None:
        """A status change; a closing status (cancelled, rejected, expired, dropped) ends the
        order (recorded once)."""
        if status in CLOSED_STATUSES:
            with self._tx() as db:
                row = db.execute(
                    "SELECT 1 FROM events WHERE order_ref = ? AND kind = 'closed'", (order_ref,)
                ).fetchone()
                if row is None:
                    self._event(order_ref, "closed", status=status, reason=reason, host_bar=host_bar)
        else:
            self._event(order_ref, "status", status=status, reason=reason, host_bar=host_bar)

    def record_fill(
        self,
        exec_id: str,
        order_ref: str,
        symbol: str,
        quantity: int,
        price: float,
        commission: float,
        date: dt.date | str,
        host_bar: int | None = None,
    ) -> bool:
        """Record an execution of ``order_ref``; returns False (and writes nothing) when this very
        fill (same order, exec id and figures) is already recorded. Raises :class:`FillConflict`
        for a fill of an order the journal never wrote, or one that differs from the fill
        recorded under the same (order, exec id): the caller records it loudly and halts."""
        date_s = date.isoformat() if isinstance(date, dt.date) else str(date)
        if self.intent(order_ref) is None:
            raise FillConflict(f"fill {exec_id} ({int(quantity):+d} {symbol} at {float(price):g}) names orderRef "
                               f"{order_ref!r}, which the journal never wrote")
        with self._tx() as db:
            row = db.execute(
                "SELECT symbol, quantity, price FROM events WHERE kind = 'fill' AND order_ref = ? AND exec_id = ?",
                (order_ref, exec_id),
            ).fetchone()
            if row is not None:
                if (row[0], int(row[1]), float(row[2])) == (symbol, int(quantity), float(price)):
                    return False
                raise FillConflict(
                    f"fill {exec_id} of {order_ref} is journaled as {int(row[1]):+d} {row[0]} at {float(row[2]):g} "
                    f"but the broker now reports {int(quantity):+d} {symbol} at {float(price):g}")
            db.execute(
                "INSERT INTO events (order_ref, kind, written_at, exec_id, symbol, quantity, price, commission, "
                "date, host_bar) VALUES (?, 'fill', ?, ?, ?, ?, ?, ?, ?, ?)",
                (order_ref, _now(), exec_id, symbol, int(quantity), float(price), float(commission), date_s,
                 host_bar),
            )
        return True

    def record_risk_event(self, run_id: str, kind: str, message: str, subject: str = "") -> None:
        """A halt-worthy finding, kept for the burn-in and the operator (never deleted)."""
        self._db.execute("INSERT INTO risk_events (run_id, kind, subject, message, written_at) VALUES (?,?,?,?,?)",
                         (run_id, kind, subject, message, _now()))

    def risk_events(self, run_id: str | None = None) -> list[RiskEvent]:
        sql = "SELECT id, run_id, kind, subject, message, written_at FROM risk_events"
        rows = (self._db.execute(sql + " ORDER BY id") if run_id is None else
                self._db.execute(sql + " WHERE run_id = ? ORDER BY id", (run_id,))).fetchall()
        return [RiskEvent(*r) for r in rows]

    def record_bar_data(self, run_id: str, idx: int, bars: Mapping[str, Mapping[str, float]]) -> None:
        """The OHLCV of bar ``idx`` per symbol, as the runner received it (a resumed run warms up
        from these instead of asking the broker for history back to its first bar)."""
        self._db.executemany(
            "INSERT OR IGNORE INTO bar_data VALUES (?,?,?,?,?,?,?,?)",
            [(run_id, idx, s, float(f["open"]), float(f["high"]), float(f["low"]), float(f["close"]),
              float(f["volume"])) for s, f in bars.items()],
        )

    def bar_data(self, run_id: str) -> list[tuple[str, dict[str, dict[str, float]]]]:
        """(date, {symbol: OHLCV}) of every bar with stored data, in bar order, up to the first bar
        without (a journal from before schema 2 has none)."""
        dates = {k: row.date for k, row in self.bars(run_id).items()}
        rows = self._db.execute(
            "SELECT idx, symbol, open, high, low, close, volume FROM bar_data WHERE run_id = ? ORDER BY idx, symbol",
            (run_id,),
        ).fetchall()
        by_idx: dict[int, dict[str, dict[str, float]]] = {}
        for r in rows:
            by_idx.setdefault(r[0], {})[r[1]] = dict(zip(("open", "high", "low", "close", "volume"), r[2:], strict=True))
        out = []
        for k in range(len(dates)):
            if k not in by_idx or k not in dates:
                break
            out.append((dates[k], by_idx[k]))
        return out

    def counter(self, run_id: str, key: str) -> int:
        value = self.state(run_id, f"count:{key}")
        return int(value) if value is not None else 0

    def bump(self, run_id: str, key: str, by: int = 1) -> int:
        """Add to one of a run's counters (process starts, reconnects, outages); returns the new value."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM state WHERE run_id = ? AND key = ?", (run_id, f"count:{key}")).fetchone()
            value = (int(row[0]) if row is not None else 0) + by
            db.execute("INSERT OR REPLACE INTO state (run_id, key, value) VALUES (?, ?, ?)",
                       (run_id, f"count:{key}", str(value)))
        return value

    def record_modify(self, order_ref: str, quantity: int, limit: float | None, stop: float | None) -> None:
        """A working exit changed in place (new stop level or size), written before it is sent."""
        self._event(order_ref, "modified", quantity=quantity, limit_price=limit, stop_price=stop)

    def record_cancel_request(self, order_ref: str) -> None:
        self._event(order_ref, "cancel_requested")

    def record_bar_start(self, run_id: str, idx: int, date: dt.date | str, cash: float, value: float) -> None:
        """A live runner is about to process bar ``idx``, sizing against this account."""
        date_s = date.isoformat() if isinstance(date, dt.date) else str(date)
        self._db.execute(
            "INSERT OR IGNORE INTO bars (run_id, idx, date, cash, value) VALUES (?,?,?,?,?)",
            (run_id, idx, date_s, cash, value),
        )

    def record_bar_done(self, run_id: str, idx: int) -> None:
        self._db.execute("UPDATE bars SET done = 1 WHERE run_id = ? AND idx = ?", (run_id, idx))

    def set_halt(self, run_id: str, reason: str | None) -> None:
        """Record (or, with None, clear) why a run's trading is halted."""
        if reason is None:
            self._db.execute("DELETE FROM state WHERE run_id = ? AND key = 'halt'", (run_id,))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO state (run_id, key, value) VALUES (?, 'halt', ?)", (run_id, reason)
            )

    # --- queries -------------------------------------------------------------------------------
    def set_state(self, run_id: str, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO state (run_id, key, value) VALUES (?, ?, ?)", (run_id, key, value))

    def state(self, run_id: str, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM state WHERE run_id = ? AND key = ?", (run_id, key)).fetchone()
        return None if row is None else str(row[0])

    def intent(self, order_ref: str) -> Intent | None:
        found = self._intents("WHERE i.order_ref = ?", (order_ref,))
        return found[0] if found else None

    def intents(self, run_id: str | None = None) -> list[Intent]:
        """Every intent (of one run), in (strategy, seq) order."""
        if run_id is None:
            return self._intents("", ())
        return self._intents("WHERE i.run_id = ?", (run_id,))

    def open_intents(self, run_id: str | None = None) -> list[Intent]:
        """Intents neither fully filled nor closed."""
        return [i for i in self.intents(run_id) if i.is_open]

    def unsent_intents(self, run_id: str | None = None) -> list[Intent]:
        """Open intents with no broker id: written, maybe never sent."""
        return [i for i in self.open_intents(run_id) if i.broker_id is None]

    def _intents(self, where: str, args: tuple[object, ...]) -> list[Intent]:
        rows = self._db.execute(
            f"""
            SELECT i.order_ref, i.run_id, i.strategy, i.seq, i.symbol, i.quantity, i.type,
                   i.limit_price, i.stop_price, i.created,
                   (SELECT broker_id FROM events e WHERE e.order_ref = i.order_ref
                      AND e.kind = 'submitted' ORDER BY e.id DESC LIMIT 1),
                   (SELECT COALESCE(SUM(quantity), 0) FROM events e WHERE e.order_ref = i.order_ref
                      AND e.kind = 'fill'),
                   (SELECT status FROM events e WHERE e.order_ref = i.order_ref AND e.kind = 'closed'),
                   EXISTS (SELECT 1 FROM events e WHERE e.order_ref = i.order_ref
                      AND e.kind = 'cancel_requested'),
                   (SELECT json_array(quantity, limit_price, stop_price) FROM events e
                      WHERE e.order_ref = i.order_ref AND e.kind = 'modified' ORDER BY e.id DESC LIMIT 1)
            FROM intents i {where} ORDER BY i.run_id, i.strategy, i.seq
            """,
            args,
        ).fetchall()
        return [
            Intent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                   broker_id=r[10], filled=int(r[11]), closed=r[12], cancel_requested=bool(r[13]),
                   modified=parse_levels(r[14]))
            for r in rows
        ]

    def broker_id(self, order_ref: str) -> str | None:
        row = self._db.execute(
            "SELECT broker_id FROM events WHERE order_ref = ? AND kind = 'submitted' ORDER BY id DESC LIMIT 1",
            (order_ref,),
        ).fetchone()
        return None if row is None else str(row[0])

    def fills(self, order_ref: str | None = None, run_id: str | None = None) -> list[JournalFill]:
        """Fills in the order they were recorded (of one orderRef, or of one run)."""
        sql = ("SELECT e.exec_id, e.order_ref, e.symbol, e.quantity, e.price, e.commission, e.date "
               "FROM events e JOIN intents i ON i.order_ref = e.order_ref WHERE e.kind = 'fill'")
        args: list[object] = []
        if order_ref is not None:
            sql += " AND e.order_ref = ?"
            args.append(order_ref)
        if run_id is not None:
            sql += " AND i.run_id = ?"
            args.append(run_id)
        rows = self._db.execute(sql + " ORDER BY e.id", args).fetchall()
        return [JournalFill(*r) for r in rows]

    def seen_exec_ids(self, run_id: str | None = None) -> frozenset[str]:
        return frozenset(f.exec_id for f in self.fills(run_id=run_id))

    def fill_keys(self, run_id: str | None = None) -> frozenset[tuple[str, str]]:
        """(orderRef, exec id) of every recorded fill: the key a fill is matched by."""
        return frozenset((f.order_ref, f.exec_id) for f in self.fills(run_id=run_id))

    def last_exec_ids(self, n: int = 1, run_id: str | None = None) -> list[str]:
        """The ``n`` most recently recorded exec ids, newest last (to ask a broker for
        executions since then)."""
        ids = [f.exec_id for f in self.fills(run_id=run_id)]
        return ids[-n:] if n > 0 else []

    def positions(self, run_id: str | None = None) -> dict[str, int]:
        """Positions implied by the journal's fills (symbols at zero left out)."""
        out: dict[str, int] = {}
        for f in self.fills(run_id=run_id):
            out[f.symbol] = out.get(f.symbol, 0) + f.quantity
        return {s: q for s, q in sorted(out.items()) if q}

    def timeline(self, run_id: str, after: int = 0) -> list[JournalEvent]:
        """A run's fills and closures in the order they were recorded (event ids above ``after``)."""
        rows = self._db.execute(
            """
            SELECT e.id, e.kind, e.order_ref, e.host_bar, e.status, e.reason, e.exec_id, e.quantity,
                   e.price, e.commission, e.date, e.symbol
            FROM events e JOIN intents i ON i.order_ref = e.order_ref
            WHERE i.run_id = ? AND e.kind IN ('fill', 'closed') AND e.id > ? ORDER BY e.id
            """,
            (run_id, after),
        ).fetchall()
        out = []
        for r in rows:
            if r[1] == "fill":
                fill = JournalFill(r[6], r[2], r[11], r[7], r[8], r[9], r[10])
                out.append(JournalEvent(r[0], "fill", r[2], r[3], fill=fill))
            else:
                out.append(JournalEvent(r[0], "closed", r[2], r[3], status=r[4], reason=r[5]))
        return out

    def next_seq(self, run_id: str, strategy: str) -> int:
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM intents WHERE run_id = ? AND strategy = ?", (run_id, strategy)
        ).fetchone()
        return int(row[0]) + 1

    def bars(self, run_id: str) -> dict[int, BarRow]:
        rows = self._db.execute(
            "SELECT idx, date, cash, value, done FROM bars WHERE run_id = ? ORDER BY idx", (run_id,)
        ).fetchall()
        return {r[0]: BarRow(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows}

    def halt(self, run_id: str) -> str | None:
        row = self._db.execute(
            "SELECT value FROM state WHERE run_id = ? AND key = 'halt'", (run_id,)
        ).fetchone()
        return None if row is None else str(row[0])


__all__ = [
    "CLOSED_STATUSES", "FILE_NAME", "SCHEMA_VERSION", "BarRow", "FillConflict", "Intent", "Journal", "JournalEvent",
    "JournalFill", "RiskEvent", "order_ref",
]
