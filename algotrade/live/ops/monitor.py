"""The live runner's observer that keeps a :class:`~algotrade.live.ops.state.RunState`: each hook
updates the state in memory (and the two histograms); after each bar's step it steps the shadow
backtest and judges the burn-in gates so far with the burn-in's own code
(:func:`algotrade.live.burnin_verdict.burnin_report`). Nothing here does I/O."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping
from typing import Any

from algotrade.core.config import Experiment
from algotrade.live.burnin_verdict import burnin_report
from algotrade.live.ops.metrics import RunMetrics
from algotrade.live.ops.shadow import Shadow
from algotrade.live.ops.state import RunState

#: the gates judged as the run goes, by their measure: (gate field of burnin:, measure)
GATES = (("max_tracking_error", "tracking_error"), ("max_slippage_bps", "slippage_bps"),
         ("max_unreconciled", "unreconciled"), ("max_restarts", "restarts"), ("max_outages", "outages"),
         ("max_disconnects", "disconnects"))


class Monitor:
    """Observer of one :class:`~algotrade.live.broker.LiveRunner` (set as its ``observer``)."""

    def __init__(self, exp: Experiment, state: RunState, metrics: RunMetrics, runner: Any, mode: str,
                 counts: Mapping[str, int] | None = None) -> None:
        self.exp, self.state, self.metrics, self.runner, self.mode = exp, state, metrics, runner, mode
        #: the journal's counters when the process started (restarts, disconnects, ... of earlier processes)
        self.base = dict(counts or {})
        self.shadow: Shadow | None = None
        self._arrived = 0.0
        self._slipped = 0  # fill_slippage entries already observed
        self._outages = 0
        self._unreconciled = 0

    # --- the hooks (the trading thread) ----------------------------------------------------------
    def bar_arrived(self, date: dt.date, at: dt.datetime) -> None:
        self._arrived = time.perf_counter()
        self.state.bar_arrived(time.time(), date.isoformat())

    def first_order(self, date: dt.date) -> None:
        self.metrics.bar_to_order.observe(time.perf_counter() - self._arrived)

    def order_submitted(self, order_ref: str, symbol: str, quantity: int, type_: str) -> None:
        self.state.order_submitted(order_ref, symbol, quantity, type_)

    def order_filled(self, order_ref: str, symbol: str, quantity: int, price: float, date: str) -> None:
        self.state.order_filled(order_ref, symbol, quantity, price, date)

    def order_closed(self, order_ref: str, status: str, reason: str) -> None:
        self.state.order_closed(order_ref, status)

    def connection_lost(self, reason: str) -> None:
        self.state.link(False)

    def connection_restored(self, reconnect: bool) -> None:
        self.state.link(True, reconnect)

    def link_seen(self, up: bool) -> None:
        """What the bar stream sees of IB's link between sessions (no count: the runner counts)."""
        if up != self.state.connected:
            self.state.update(connected=up, since=time.time())

    def risk_event(self, kind: str, message: str) -> None:
        if kind == "outage":
            self._outages += 1
        if kind.startswith("mismatch:") or kind == "unmatched_fill":
            self._unreconciled += 1
        self.state.risk_event(kind, message)

    def halt_changed(self, reason: str | None) -> None:
        self.state.update(halted=reason)
        self.state.step_done()  # shown at once, inside a step too

    def bar_done(self, date: dt.date, bars: Mapping[str, Any], equity: float, cash: float,
                 positions: Mapping[str, int], live: bool) -> None:
        runner = self.runner
        if self.shadow is None:
            self.shadow = Shadow(self.exp, runner.live_from)
        shadow = self.shadow.step(date, bars)
        try:
            due = runner.bar_due(date)
            next_due: float | None = time.time() + (due - runner.clock()).total_seconds()
        except Exception:
            next_due = None
        if not live:
            self.state.update(next_bar_due=next_due)
            self.state.step_done()
            return
        closes = {s: float(_close(b)) for s, b in bars.items()}
        values = {s: q * closes.get(s, math.nan) for s, q in sorted(positions.items()) if q}
        held: list[dict[str, Any]] = [{"symbol": s, "quantity": int(positions[s]), "value": v}
                                      for s, v in values.items()]
        gross = sum(abs(v) for v in values.values())
        net = sum(values.values())
        st = self.state
        peak = max(st.peak or equity, equity)
        previous = st.equity[-1]["paper"] if st.equity else None
        daily = max(0.0, (previous - equity) / previous) if previous else 0.0
        divergence = abs(equity - shadow) / shadow if shadow else None
        gates, progress = self._judge()
        with st.locked():
            st.sessions = max(0, len(runner.host.bars) - runner.live_from)
            st.equity.append({"date": date.isoformat(), "paper": equity, "shadow": shadow})
            st.cash, st.positions = cash, held
            st.exposure = {"gross": gross / equity if equity else 0.0, "net": net / equity if equity else 0.0}
            st.peak, st.drawdown, st.daily_loss = peak, (peak - equity) / peak if peak else 0.0, daily
            st.shadow, st.divergence = shadow, divergence
            st.next_bar_due = next_due
            if gates is not None:
                st.gates, st.progress = gates, progress
            st._changed()
        st.step_done()

    # --- the burn-in so far ----------------------------------------------------------------------
    def _judge(self) -> tuple[list[dict[str, Any]] | None, dict[str, list[int]]]:
        shadow = self.shadow
        if shadow is None or shadow.failed is not None:
            return None, {}
        st, base = self.state, self.base
        result = burnin_report(
            self.exp, self.runner.host, shadow.host, mode=self.mode, missed_bars=0,
            disconnects=base.get("disconnects", 0) + st.disconnects,
            unreconciled=base.get("unreconciled", 0) + self._unreconciled,
            restarts=base.get("restarts", 0), reconnects=base.get("reconnects", 0) + st.reconnects,
            outages=base.get("outages", 0) + self._outages)
        for entry in result["fill_slippage"][self._slipped:]:
            self.metrics.observe_slippage("buy" if entry["quantity"] > 0 else "sell", entry["bps"])
        self._slipped = len(result["fill_slippage"])
        measured, limits = result["measured"], result["gates"]
        gates = []
        for field, name in GATES:
            limit = limits.get(field)
            if limit is None:
                continue
            value = float(measured[name])
            gates.append({"gate": name, "value": value, "limit": float(limit),
                          "passing": math.isfinite(value) and value <= limit})
        progress = {"sessions": [int(measured["sessions"]), int(limits["min_sessions"])],
                    "trades": [int(measured["trades"]), int(limits["min_trades"])]}
        return gates, progress


def _close(bar: Any) -> float:
    if isinstance(bar, Mapping):
        return float(bar["close"])
    return float(bar.close)
