"""The order journal's SQLite schema: its tables, its version, and opening a file at that version.

Mostly a table of SQL (the ``CREATE`` statements); :func:`connect` opens a journal file in WAL
mode, migrates an older schema in place and creates what is missing. What the tables mean is told
in :mod:`algotrade.live.journal`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS intents (
    order_ref   TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL,
    strategy    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    symbol      TEXT NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity != 0),
    type        TEXT NOT NULL CHECK (type IN ('market', 'limit', 'stop', 'exit')),
    limit_price REAL,
    stop_price  REAL,
    created     TEXT NOT NULL,
    written_at  TEXT NOT NULL,
    UNIQUE (run_id, strategy, seq)
);
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_ref   TEXT NOT NULL REFERENCES intents (order_ref),
    kind        TEXT NOT NULL
                CHECK (kind IN ('submitted', 'status', 'fill', 'cancel_requested', 'closed', 'modified')),
    broker_id   TEXT,
    status      TEXT,
    reason      TEXT NOT NULL DEFAULT '',
    exec_id     TEXT,
    symbol      TEXT,
    quantity    INTEGER,
    price       REAL,
    commission  REAL,
    date        TEXT,
    host_bar    INTEGER,
    written_at  TEXT NOT NULL,
    limit_price REAL,  -- modified: an exit's new levels (quantity: its new size)
    stop_price  REAL
);
CREATE INDEX IF NOT EXISTS events_ref ON events (order_ref);
CREATE UNIQUE INDEX IF NOT EXISTS events_fill ON events (order_ref, exec_id) WHERE kind = 'fill';
CREATE TABLE IF NOT EXISTS bar_data (
    run_id  TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    symbol  TEXT NOT NULL,
    open    REAL NOT NULL,
    high    REAL NOT NULL,
    low     REAL NOT NULL,
    close   REAL NOT NULL,
    volume  REAL NOT NULL,
    PRIMARY KEY (run_id, idx, symbol)
);
CREATE TABLE IF NOT EXISTS risk_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    message    TEXT NOT NULL,
    written_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bars (
    run_id  TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    date    TEXT NOT NULL,
    cash    REAL NOT NULL,
    value   REAL NOT NULL,
    done    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS state (
    run_id TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
"""

#: version 0 -> 2: the events table loses ``exec_id UNIQUE`` (fills are keyed by order and exec
#: id by the partial index in _SCHEMA); the new tables are created by _SCHEMA itself
_EVENTS_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS events ("):]
_EVENTS_TABLE = _EVENTS_TABLE[:_EVENTS_TABLE.index(");") + 2]
_MIGRATE_EVENTS = _EVENTS_TABLE.replace("IF NOT EXISTS events (", "events_v2 (") + """
INSERT INTO events_v2 (id, order_ref, kind, broker_id, status, reason, exec_id, symbol, quantity, price,
    commission, date, host_bar, written_at) SELECT id, order_ref, kind, broker_id, status, reason, exec_id, symbol,
    quantity, price, commission, date, host_bar, written_at FROM events ORDER BY id;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
"""

#: version 2 -> 3: intents may be protective exits (type ``exit``), events may record an exit's
#: modification (kind ``modified`` with the new levels): both tables rebuilt with the new checks
_INTENTS_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS intents ("):]
_INTENTS_TABLE = _INTENTS_TABLE[:_INTENTS_TABLE.index(");") + 2]
_MIGRATE_V3 = _INTENTS_TABLE.replace("IF NOT EXISTS intents (", "intents_v3 (") + """
INSERT INTO intents_v3 SELECT * FROM intents;
""" + _EVENTS_TABLE.replace("IF NOT EXISTS events (", "events_v3 (") + """
INSERT INTO events_v3 (id, order_ref, kind, broker_id, status, reason, exec_id, symbol, quantity, price, commission,
    date, host_bar, written_at) SELECT id, order_ref, kind, broker_id, status, reason, exec_id, symbol, quantity,
    price, commission, date, host_bar, written_at FROM events ORDER BY id;
DROP TABLE events;
DROP TABLE intents;
ALTER TABLE intents_v3 RENAME TO intents;
ALTER TABLE events_v3 RENAME TO events;
"""

#: the journal's schema version (``PRAGMA user_version``); 0 is the unversioned first schema,
#: whose fills were keyed on the exec id alone
SCHEMA_VERSION = 3


def connect(path: Path) -> sqlite3.Connection:
    """The journal file at ``path``, at :data:`SCHEMA_VERSION` (created, or migrated in place)."""
    # isolation_level=None: autocommit; multi-statement writes use an explicit transaction
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    _migrate(db, path)
    db.executescript(_SCHEMA)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return db


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise ValueError(f"journal {path} has schema version {version}, newer than this algotrade's "
                         f"{SCHEMA_VERSION}; upgrade algotrade")
    has_events = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()
    if version < 2 and has_events:
        db.execute("PRAGMA foreign_keys=OFF")
        db.executescript("BEGIN IMMEDIATE;" + _MIGRATE_EVENTS + "COMMIT;")
        db.execute("PRAGMA foreign_keys=ON")
    if version < 3 and has_events:
        db.execute("PRAGMA foreign_keys=OFF")
        db.executescript("BEGIN IMMEDIATE;" + _MIGRATE_V3 + "COMMIT;")
        db.execute("PRAGMA foreign_keys=ON")


__all__ = ["SCHEMA_VERSION", "connect"]
