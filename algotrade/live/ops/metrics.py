"""The run's Prometheus metrics, in a registry of its own (never the global one): the gauges and
counters are read from the :class:`~algotrade.live.ops.state.RunState` when scraped (so the
time-based ones, such as the seconds since the link was lost, are computed at scrape time), the
two histograms are observed by the monitor as fills and orders happen. Every series carries the
labels ``experiment`` and ``mode``. docs/metrics.md lists them."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from algotrade.core.config import Experiment
from algotrade.live.ops.state import RunState

#: bar arrival -> its first order at the broker (seconds)
ORDER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: signed bps (positive = worse than expected)
SLIPPAGE_BUCKETS = (-50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


class _StateCollector(Collector):
    def __init__(self, state: RunState, exp: Experiment, mode: str) -> None:
        self.state, self.mode = state, mode
        self.experiment = exp.name
        self.limits = {"drawdown": exp.risk.max_drawdown_pct, "daily_loss": exp.risk.daily_loss_limit_pct}
        self.max_divergence = exp.ops.max_divergence
        self.alert_after = exp.ops.disconnect_alert_after_s

    def _gauge(self, name: str, doc: str, value: float | None, **labels: str) -> GaugeMetricFamily:
        names = ["experiment", "mode", *labels]
        g = GaugeMetricFamily(name, doc, labels=names)
        if value is not None:
            g.add_metric([self.experiment, self.mode, *labels.values()], float(value))
        return g

    def collect(self) -> Iterator[Metric]:
        """The families are built under the state's lock (the trading thread's hooks wait for it)
        and formatted by the registry after it is released."""
        with self.state.locked():
            families = list(self._families(time.time()))
        yield from families

    def _families(self, now: float) -> Iterator[Metric]:
        st, base = self.state, [self.experiment, self.mode]
        yield self._gauge("algotrade_run_info", "The run's identity (always 1).", 1.0,
                          run_id=st.identity["run_id"], config_id=st.identity["config_id"])
        yield self._gauge("algotrade_equity_dollars", "Paper account equity at the last session.",
                          st.equity[-1]["paper"] if st.equity else None)
        yield self._gauge("algotrade_cash_dollars", "Paper account cash at the last session.", st.cash)
        shares = GaugeMetricFamily("algotrade_position_shares", "Position by symbol (signed shares).",
                                   labels=["experiment", "mode", "symbol"])
        value = GaugeMetricFamily("algotrade_position_value_dollars", "Position value by symbol (signed).",
                                  labels=["experiment", "mode", "symbol"])
        for p in st.positions:
            shares.add_metric([*base, p["symbol"]], p["quantity"])
            value.add_metric([*base, p["symbol"]], p["value"])
        yield shares
        yield value
        yield self._gauge("algotrade_exposure_gross_ratio", "Sum of |position values| / equity.",
                          st.exposure["gross"])
        yield self._gauge("algotrade_exposure_net_ratio", "Sum of signed position values / equity.",
                          st.exposure["net"])
        orders = CounterMetricFamily("algotrade_orders", "Orders by what happened to them.",
                                     labels=["experiment", "mode", "status"])
        for status, n in st.orders.items():
            orders.add_metric([*base, status], n)
        yield orders
        yield self._gauge("algotrade_ib_connected", "1 while connected to IB.", float(st.connected))
        yield self._gauge("algotrade_ib_disconnected_seconds", "Seconds since the link to IB was lost "
                          "(0 while connected).", st.disconnected_seconds(now))
        yield _counter("algotrade_ib_reconnects", "Reconnections to IB.", base, st.reconnects)
        yield _counter("algotrade_ib_disconnects", "Connections to IB lost.", base, st.disconnects)
        yield self._gauge("algotrade_last_bar_timestamp_seconds", "Unix time the last bar arrived.",
                          st.last_bar_at)
        yield self._gauge("algotrade_next_bar_due_timestamp_seconds", "Wall-clock unix time by which the next "
                          "bar is due.", st.next_bar_due)
        yield self._gauge("algotrade_stale_after_seconds", "ib.stale_after_minutes in seconds.", st.stale_after_s)
        risk = CounterMetricFamily("algotrade_risk_events", "Journaled risk events by kind.",
                                   labels=["experiment", "mode", "kind"])
        for kind, n in sorted(st.risk_counts.items()):
            risk.add_metric([*base, kind], n)
        yield risk
        yield self._gauge("algotrade_halted", "1 while trading is halted.", float(st.halted is not None))
        yield self._gauge("algotrade_drawdown_ratio", "Drawdown of paper equity from its peak.", st.drawdown)
        yield self._gauge("algotrade_drawdown_limit_ratio", "risk.max_drawdown_pct.", self.limits["drawdown"])
        yield self._gauge("algotrade_daily_loss_ratio", "The last session's loss (0 on a gain).", st.daily_loss)
        yield self._gauge("algotrade_daily_loss_limit_ratio", "risk.daily_loss_limit_pct.",
                          self.limits["daily_loss"])
        yield self._gauge("algotrade_shadow_equity_dollars", "The shadow backtest's equity at the same session.",
                          st.shadow)
        yield self._gauge("algotrade_divergence_ratio", "|paper - shadow| / shadow equity.", st.divergence)
        yield self._gauge("algotrade_divergence_limit_ratio", "ops.max_divergence.", self.max_divergence)
        labels = ["experiment", "mode", "gate"]
        passing = GaugeMetricFamily("algotrade_burnin_gate_passing", "1 while the burn-in gate passes.",
                                    labels=labels)
        gvalue = GaugeMetricFamily("algotrade_burnin_gate_value", "The gate's measure so far.", labels=labels)
        glimit = GaugeMetricFamily("algotrade_burnin_gate_limit", "The gate's limit.", labels=labels)
        for g in st.gates:
            passing.add_metric([*base, g["gate"]], float(g["passing"]))
            gvalue.add_metric([*base, g["gate"]], g["value"])
            glimit.add_metric([*base, g["gate"]], g["limit"])
        yield passing
        yield gvalue
        yield glimit
        progress = GaugeMetricFamily("algotrade_burnin_progress_ratio", "Measured / required sessions and "
                                     "trades, capped at 1.", labels=labels)
        for gate, (measured, required) in st.progress.items():
            progress.add_metric([*base, gate], min(1.0, measured / required) if required else 1.0)
        yield progress
        yield self._gauge("algotrade_disconnected_alert_after_seconds", "ops.disconnect_alert_after_s.",
                          self.alert_after)


def _counter(name: str, doc: str, base: list[str], value: float) -> CounterMetricFamily:
    c = CounterMetricFamily(name, doc, labels=["experiment", "mode"])
    c.add_metric(base, value)
    return c


class RunMetrics:
    """The registry of one run, its collector over the state and its two histograms."""

    def __init__(self, state: RunState, exp: Experiment, mode: str) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_StateCollector(state, exp, mode))
        self._slippage = Histogram("algotrade_fill_slippage_bps", "Fill price against the shadow backtest's (the "
                                   "cost model's expected price), signed bps, positive = worse.",
                                   ["experiment", "mode", "side"], registry=self.registry, buckets=SLIPPAGE_BUCKETS)
        self.bar_to_order = Histogram("algotrade_bar_to_order_seconds", "Bar arrival to its first order handed to "
                                      "the broker.", ["experiment", "mode"], registry=self.registry,
                                      buckets=ORDER_BUCKETS).labels(experiment=exp.name, mode=mode)
        self._labels = {"experiment": exp.name, "mode": mode}
        for side in ("buy", "sell"):
            self._slippage.labels(side=side, **self._labels)

    def observe_slippage(self, side: str, bps: float) -> None:
        self._slippage.labels(side=side, **self._labels).observe(bps)

    def render(self) -> bytes:
        return generate_latest(self.registry)
