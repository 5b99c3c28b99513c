"""The simulator's persisted broker state: one SQLite file (``algotrade gateway --state PATH``).

It holds what IB keeps across its nightly restart: the account (cash, positions, realized PnL),
every order (working, filled, cancelled or rejected), every execution, the next order id, permId
and execution sequence, the execution-id prefixes already used, and the replay clock (the current
session). The simulator writes it before it sends what a change causes (an order acknowledged, a
fill reported), in one transaction, so a ``kill -9`` at any moment leaves a state that never lags
behind what a client was told. A simulator started with the same file resumes as the same broker;
started without one, or with ``--fresh``, it is an empty broker.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from adapters.ib.gateway.account import Execution, Position, SimAccount, SimOrder
from algotrade.core.errors import ConfigError

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (symbol TEXT PRIMARY KEY, quantity REAL, avg_cost REAL, realized REAL);
CREATE TABLE IF NOT EXISTS marks (symbol TEXT PRIMARY KEY, price REAL);
CREATE TABLE IF NOT EXISTS orders (order_id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (seq INTEGER PRIMARY KEY, exec_id TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
"""


@dataclasses.dataclass(frozen=True)
class SavedState:
    """What a state file holds, read back."""

    account_id: str
    session: dt.date
    next_order_id: int
    next_perm_id: int
    exec_seq: int
    prefixes: tuple[str, ...]
    cash: float
    realized_pnl: float
    day_start_value: float
    positions: dict[str, Position]
    marks: dict[str, float]
    orders: dict[int, SimOrder]
    executions: list[Execution]


class StateStore:
    """One state file. ``fresh`` empties it first (the broker starts with no record)."""

    def __init__(self, path: str | os.PathLike[str], fresh: bool = False) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigError(f"--state {self.path}: is a folder; give a file such as {self.path / 'gateway.sqlite'}")
        if not self.path.parent.is_dir():
            raise ConfigError(f"--state {self.path}: the folder {self.path.parent} does not exist; create it first")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"--state {self.path}: not a gateway state file ({exc}); give another path, "
                              "or delete it to start an empty broker") from None
        version = self._meta().get("schema")
        if version is not None and int(version) != SCHEMA_VERSION:
            raise ConfigError(f"--state {self.path}: schema {version} is not {SCHEMA_VERSION}; use --fresh to "
                              "start an empty broker in it")
        if fresh:
            with self._transaction():
                for table in ("meta", "positions", "marks", "orders", "executions"):
                    self._db.execute(f"DELETE FROM {table}")
        self._saved_execs = self._count_executions()

    def close(self) -> None:
        self._db.close()

    def _meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def _count_executions(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM executions").fetchone()[0])

    def _transaction(self) -> Any:
        db = self._db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
                db.execute("ROLLBACK" if kind else "COMMIT")

        return _Tx()

    def load(self) -> SavedState | None:
        """The saved state, or None for an empty file."""
        meta = self._meta()
        if "session" not in meta:
            return None
        orders = {}
        for (data,) in self._db.execute("SELECT data FROM orders ORDER BY order_id"):
            o = SimOrder(**json.loads(data))
            orders[o.order_id] = o
        executions = []
        for (data,) in self._db.execute("SELECT data FROM executions ORDER BY seq"):
            fields = json.loads(data)
            zone = fields.pop("zone")
            moment = dt.datetime.fromisoformat(fields["time"])
            fields["time"] = moment.astimezone(ZoneInfo(zone)) if zone else moment
            executions.append(Execution(**fields))
        positions = {sym: Position(q, c, r) for sym, q, c, r in self._db.execute(
            "SELECT symbol, quantity, avg_cost, realized FROM positions")}
        marks = dict(self._db.execute("SELECT symbol, price FROM marks").fetchall())
        return SavedState(
            account_id=meta["account"], session=dt.date.fromisoformat(meta["session"]),
            next_order_id=int(meta["next_order_id"]), next_perm_id=int(meta["next_perm_id"]),
            exec_seq=int(meta["exec_seq"]), prefixes=tuple(json.loads(meta["prefixes"])),
            cash=float(meta["cash"]), realized_pnl=float(meta["realized_pnl"]),
            day_start_value=float(meta["day_start_value"]), positions=positions, marks=marks,
            orders=orders, executions=executions,
        )

    def save(self, account: SimAccount, session: dt.date, next_order_id: int, next_perm_id: int,
             prefixes: tuple[str, ...]) -> None:
        """Write the whole broker state in one transaction (executions are only appended)."""
        meta = {
            "schema": SCHEMA_VERSION, "account": account.account_id, "session": session.isoformat(),
            "next_order_id": next_order_id, "next_perm_id": next_perm_id, "exec_seq": account._exec_seq,
            "prefixes": json.dumps(list(prefixes)), "cash": repr(account.cash),
            "realized_pnl": repr(account.realized_pnl), "day_start_value": repr(account.day_start_value),
        }
        db = self._db
        with self._transaction():
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
            db.execute("DELETE FROM positions")
            db.executemany("INSERT INTO positions VALUES (?, ?, ?, ?)",
                           [(s, p.quantity, p.avg_cost, p.realized) for s, p in account.positions.items()])
            db.execute("DELETE FROM marks")
            db.executemany("INSERT INTO marks VALUES (?, ?)", list(account.marks.items()))
            db.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?)",
                           [(o.order_id, json.dumps(dataclasses.asdict(o))) for o in account.orders.values()])
            new = account.executions[self._saved_execs:]
            rows = []
            for i, e in enumerate(new, start=self._saved_execs):
                fields = dataclasses.asdict(e)
                fields["time"] = e.time.isoformat()
                fields["zone"] = getattr(e.time.tzinfo, "key", None)  # IB writes the zone's name
                rows.append((i, e.exec_id, json.dumps(fields)))
            db.executemany("INSERT INTO executions VALUES (?, ?, ?)", rows)
        self._saved_execs = len(account.executions)


__all__ = ["SavedState", "StateStore"]
