"""``points.jsonl``, the record of a sweep's finished runs: one JSON line per run, appended as it
finishes, read back when the sweep starts again so that it resumes where it stopped."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from algotrade.research.executors import Outcome
from algotrade.research.sweep_plan import Point, Run


class Store:
    """``points.jsonl``: one JSON line per finished run, appended and flushed as it finishes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def load(self) -> dict[str, dict[str, Any]]:
        """The last record of each key; a line cut short by a kill is dropped (and cut off)."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a partial last line: the sweep was killed while writing it
            with self.path.open("r+b") as fh:
                fh.truncate(end)
            data = data[:end]
        out: dict[str, dict[str, Any]] = {}
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "key" in record:
                out[record["key"]] = record
        return out

    def append(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def run_record(run: Run, outcome: Outcome, point: Point, data_hash: str) -> dict[str, Any]:
    """The line :meth:`Store.append` writes for one finished run."""
    return {
        "key": run.key, "config_id": run.config_id, "engine": run.engine, "phase": run.phase,
        "window": run.window, "point": run.point, "values": point.values, "status": outcome.status,
        "error": outcome.error, "metrics": outcome.metrics, "seconds": outcome.seconds, "folder": run.folder,
        "data_hash": data_hash, "equity_first": outcome.equity_first, "equity": outcome.equity,
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def outcome_of(record: dict[str, Any]) -> Outcome:
    """The outcome a record of :func:`run_record` holds (a run finished before, being resumed)."""
    return Outcome(
        record["key"], record["status"], record.get("error", ""), record.get("metrics") or {},
        float(record.get("seconds") or 0.0), record.get("equity_first"), list(record.get("equity") or []),
    )


__all__ = ["Store", "outcome_of", "run_record"]
