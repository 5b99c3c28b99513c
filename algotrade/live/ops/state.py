"""The state of one paper or live run as its watchers see it: :class:`RunState`, written from the
trading thread (by :class:`~algotrade.live.ops.monitor.Monitor`, the runner's observer) and read
by the metrics, the health endpoints and the dashboard from the server's thread, and
:class:`OpsContext`, what the dashboard needs to know about the command that started the run.

Times: ``*_at`` are wall-clock UTC. The run's own clock may be a simulator's (2011 dates with
``--simulate``); the next bar's due time is carried over to the wall clock as
``time.time() + (due - run_clock_now)`` when the bar is done, so "fresh" means the same under any clock.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: how many fills and risk events the state keeps (newest last)
KEEP = 200


@dataclass(frozen=True)
class OpsContext:
    """The command that started the run, for the dashboard (and its kill switch)."""

    experiment_path: str
    overrides: tuple[str, ...]
    out: str | None
    mode: str  # "paper" | "live" | "simulate"
    ib_host: str
    ib_port: int
    environ: Mapping[str, str]


def _iso(t: float | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")


class RunState:
    """Thread-safe: every writer takes the lock and bumps :attr:`version`; :meth:`snapshot` is a
    consistent copy; :meth:`wait_changed` blocks until the next change (or a timeout)."""

    def __init__(self, run_id: str, config_id: str, experiment: str, mode: str, *, stale_after_s: float,
                 halted: str | None = None) -> None:
        self.version = 0
        self._cond = threading.Condition()
        self.stale_after_s = stale_after_s
        self.started = time.time()
        self.identity = {"run_id": run_id, "config_id": config_id, "experiment": experiment, "mode": mode}
        self.session: str | None = None
        self.sessions = 0
        self.equity: list[dict[str, Any]] = []
        self.cash: float | None = None
        self.positions: list[dict[str, Any]] = []
        self.exposure = {"gross": 0.0, "net": 0.0}
        self.open_orders: dict[str, dict[str, Any]] = {}
        self._filled: dict[str, int] = {}
        self.fills: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self.orders = {"submitted": 0, "filled": 0, "rejected": 0, "cancelled": 0}
        self.risk_events: deque[dict[str, Any]] = deque(maxlen=KEEP)
        #: every journaled risk event so far, by kind (the metric counts them all, not the last KEEP)
        self.risk_counts: dict[str, int] = {}
        self.connected = False
        self.since: float | None = None  # when the link last came up (connected) or went down
        self.reconnects = 0
        self.disconnects = 0
        self.last_bar_at: float | None = None
        self.next_bar_due: float | None = None  # wall clock
        self.halted = halted
        self.shadow: float | None = None
        self.divergence: float | None = None
        self.peak: float | None = None
        self.drawdown = 0.0
        self.daily_loss = 0.0
        self.gates: list[dict[str, Any]] = []
        self.progress: dict[str, list[int]] = {"sessions": [0, 0], "trades": [0, 0]}
        self._encoded: tuple[int, bytes] | None = None
        self._points: list[bytes] = []  # the equity points encoded so far, of the list _points_of
        self._points_of: list[dict[str, Any]] | None = None
        self._encoding = threading.Lock()
        self._in_step = False

    # --- writers (the trading thread) ------------------------------------------------------------
    def update(self, **fields: Any) -> None:
        """Set attributes and bump the version (one change)."""
        with self._cond:
            for k, v in fields.items():
                setattr(self, k, v)
            self._changed()

    def _changed(self) -> None:
        """One change: the version moves on; the waiting readers (the dashboard's event streams)
        are woken, except inside a bar's step, where they are woken once, by :meth:`step_done`
        (so their work does not land between the bar and its orders)."""
        self.version += 1
        if not self._in_step:
            self._cond.notify_all()

    def bar_arrived(self, at: float, session: str) -> None:
        with self._cond:
            self.last_bar_at, self.session = at, session
            self._in_step = True
            self._changed()

    def step_done(self) -> None:
        """The bar's step is over (its orders are with the broker): wake the readers."""
        with self._cond:
            self._in_step = False
            self._cond.notify_all()

    def order_submitted(self, ref: str, symbol: str, quantity: int, type_: str) -> None:
        with self._cond:
            self.orders["submitted"] += 1
            self.open_orders[ref] = {"order_ref": ref, "symbol": symbol, "quantity": quantity, "type": type_,
                                     "status": "submitted"}
            self._changed()

    def order_filled(self, ref: str, symbol: str, quantity: int, price: float, date: str) -> None:
        with self._cond:
            self.fills.append({"date": date, "symbol": symbol, "quantity": quantity, "price": price,
                               "order_ref": ref})
            done = self._filled[ref] = self._filled.get(ref, 0) + quantity
            order = self.open_orders.get(ref)
            if order is None or done == order["quantity"]:
                self.orders["filled"] += 1
                self.open_orders.pop(ref, None)
                self._filled.pop(ref, None)
            else:
                order["status"] = "partially filled"
            self._changed()

    def order_closed(self, ref: str, status: str) -> None:
        with self._cond:
            if status in self.orders:
                self.orders[status] += 1
            elif status == "expired":
                self.orders["cancelled"] += 1
            self.open_orders.pop(ref, None)
            self._changed()

    def link(self, connected: bool, reconnect: bool = False) -> None:
        """The runner connected (``reconnect``: again) or lost the link: counted here (and the
        readers are woken at once, inside a step too)."""
        with self._cond:
            self._in_step = False
            if connected != self.connected:
                self.since = time.time()
            self.connected = connected
            if connected and reconnect:
                self.reconnects += 1
            if not connected:
                self.disconnects += 1
            self._changed()

    def risk_event(self, kind: str, message: str) -> None:
        with self._cond:
            self.risk_events.append({"kind": kind, "message": message, "at": _iso(time.time())})
            self.risk_counts[kind] = self.risk_counts.get(kind, 0) + 1
            self._changed()

    # --- readers (any thread) --------------------------------------------------------------------
    def fresh(self, now: float | None = None) -> bool:
        """No bar is overdue by more than ib.stale_after_minutes (true before the first bar)."""
        due = self.next_bar_due
        return due is None or (time.time() if now is None else now) <= due + self.stale_after_s

    def disconnected_seconds(self, now: float | None = None) -> float:
        if self.connected or self.since is None:
            return 0.0
        return max(0.0, (time.time() if now is None else now) - self.since)

    def ready(self) -> dict[str, Any]:
        """The body of /readyz: ready when connected, fresh and not halted."""
        with self._cond:
            fresh = self.fresh()
            reasons = [r for r, bad in (("disconnected from IB", not self.connected),
                                        ("stale data: the next bar is overdue", not fresh),
                                        (f"halted: {self.halted}", self.halted is not None)) if bad]
            return {"ready": not reasons, "connected": self.connected, "fresh": fresh, "halted": self.halted,
                    "reasons": reasons}

    def locked(self) -> threading.Condition:
        """The lock, for a reader that takes several fields at once (the metrics)."""
        return self._cond

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy, taken quickly under the lock (the trading thread's hooks wait for it):
        the lists of equity points, fills and risk events are copied, not their entries, which are
        never changed once appended; the open orders (whose status changes) are copied whole."""
        return self._snapshot()[0]

    def _snapshot(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The snapshot, and the equity list it copied (to tell an appended list from a new one)."""
        with self._cond:
            snap: dict[str, Any] = {
                **self.identity,
                "started_at": _iso(self.started),
                "version": self.version,
                "session": self.session,
                "sessions": self.sessions,
                "equity": list(self.equity),
                "cash": self.cash,
                "positions": list(self.positions),
                "exposure": dict(self.exposure),
                "open_orders": [dict(o) for o in self.open_orders.values()],
                "fills": list(self.fills),
                "orders": dict(self.orders),
                "risk_events": list(self.risk_events),
                "connection": {"connected": self.connected, "since": _iso(self.since), "reconnects": self.reconnects,
                               "disconnects": self.disconnects, "last_bar_at": _iso(self.last_bar_at),
                               "next_bar_due": _iso(self.next_bar_due), "fresh": self.fresh()},
                "halted": self.halted,
                "divergence": self.divergence,
                "burnin": {"gates": list(self.gates),
                           "progress": {k: list(v) for k, v in self.progress.items()}},
            }
            return snap, self.equity

    def snapshot_json(self) -> tuple[int, bytes]:
        """:meth:`snapshot` as JSON, with its version: encoded outside the lock, once per version
        (every page and event stream asking at the same version shares it), each equity point
        encoded once (points never change once appended, and the curve grows every session)."""
        with self._encoding:
            cached = self._encoded
            if cached is not None and cached[0] == self.version:
                return cached
            snap, source = self._snapshot()
            points = snap.pop("equity")
            if source is not self._points_of:  # a new curve (not one appended to): encoded anew
                self._points, self._points_of = [], source
            parts = self._points
            parts.extend(json.dumps(p, default=str).encode() for p in points[len(parts):])
            head = json.dumps(snap, default=str).encode()
            body = b"%s, \"equity\": [%s]}" % (head[:-1], b", ".join(parts[:len(points)]))
            self._encoded = encoded = (int(snap["version"]), body)
            return encoded

    def wait_changed(self, version: int, timeout: float) -> int:
        """Block until :attr:`version` is above ``version`` or ``timeout`` seconds passed; the current version."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.version <= version:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self.version


__all__ = ["KEEP", "OpsContext", "RunState"]
