"""Latency from a bar's arrival to the order on the wire, through the real IB client stack.

The project's gateway simulator (``adapters.ib.gateway``) runs in a thread of this process and
replays the S&P 500 sample (SPX from 1999-01-04, validated frames) session by session; the real
ib_async client, :class:`adapters.ib.broker.IbBroker` and :class:`algotrade.live.broker.LiveRunner`
(SQLite journal included) trade it exactly as ``algotrade paper --simulate`` does, with the bars
coming from :func:`algotrade.live.paper.simulated_stream` (reqHistoricalData with keepUpToDate).

Both timestamps are taken in the simulator's thread with ``time.perf_counter_ns`` (one process,
one clock), by a subclass of the simulator defined here:

* the bar: when the simulator starts publishing the session's ``historicalDataUpdate``;
* the order: when the simulator dispatches the ``placeOrder`` message of an order the strategy
  made on that session's bar (the message has been read off the socket; the order is paired
  with its bar by its orderRef).

So each figure covers: the update crossing the socket, ib_async decoding it into the bar list,
the stream noticing it, the runner's step (fills first, journal writes, indicators over the
history so far, the strategy, sizing and risk checks, the journaled intent) and ib_async
encoding and writing ``placeOrder``. Both threads share the GIL, as a real single-process
deployment next to a local gateway would not; the stream polls the client's loop in 1 ms
sleeps (``simulated_stream``), which bounds the wait for the update.

ib_async throttles what it sends to 45 messages per second, queueing the rest on its own loop.
The replay runs hundreds of sessions per second, far above any live rate for daily bars, and the
stream does not wait for the queue before the simulator replays the next session: with the
throttle on, an order made on a busy stretch leaves up to a second later, sessions later (and
fills there). So the throttle is off by default (``MaxRequests = 0`` on this client);
``--throttle`` keeps it, to see that effect.

Strategies: ``sma_cross`` (fast 2, slow 5: it trades every few sessions) or ``flip`` (defined
here: enters when flat and exits when long, so it makes an order on every session). Orders fill at
the next session's open with zero costs. Orders made on the first session (served as history,
not as an update) are not counted. Prints one JSON line::

    {"name": "ib_bar_to_order", "orders": n, "median_ms": ..., "p99_ms": ..., "max_ms": ...,
     "mean_ms": ..., "sessions": N, "strategy": "...", "client_throttle": false}

Usage: python bench/ib_latency.py [--sessions N] [--strategy sma_cross|flip] [--throttle] [--stream simulated|gateway]
       python bench/ib_latency.py --ops [--rounds R] [--sessions N]

``--ops`` measures what the operating layer adds (issue 18's budget: at most 1 ms on the median):
R rounds, each one run without it and one with it (the order alternating between rounds, so
neither side always runs first), in one process. "With" is what ``paper --ops-port`` runs: the
run's state, metrics, JSON log file and shadow backtest on every hook, the HTTP server (metrics,
health, dashboard) on a free port, and a scraper thread fetching /metrics, /readyz and
/api/state ten times a second throughout. Prints one JSON line per run and a summary line
``{"name": "ib_bar_to_order_ops", "median_ms_without": ..., "median_ms_with": ...,
"added_median_ms": ..., "paired_added_ms": [...], ...}``.

``--stream gateway`` measures the stream ``algotrade paper`` uses against a real TWS instead: each
new session's bar makes it ask the gateway's clock (``reqCurrentTime``) whether the bar is final,
so one more round trip is inside the figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.ib.broker import IbBroker  # noqa: E402
from adapters.ib.gateway import GatewaySimulator, run_in_thread, wire  # noqa: E402
from algotrade.core.config import Experiment, experiment_from_dict  # noqa: E402
from algotrade.core.data import Market, load_market  # noqa: E402
from algotrade.core.risk import checks_from_config  # noqa: E402
from algotrade.core.sessions import Backoff, SessionSchedule  # noqa: E402
from algotrade.core.strategy import (  # noqa: E402
    Context,
    Strategy,
    StrategyConfig,
)
from algotrade.live.broker import LiveRunner  # noqa: E402
from algotrade.live.journal import Journal, order_ref  # noqa: E402
from algotrade.live.ops.run import context, ops_run  # noqa: E402
from algotrade.live.paper import GatewayClock, final_sessions, gateway_stream, simulated_stream, subscribe  # noqa: E402

FIRST_DAY = "1999-01-04"
STRATEGIES = ("sma_cross", "flip")


class Flip(Strategy[StrategyConfig]):
    """Always trading: buy when flat, sell when long (one order per session)."""

    def on_bar(self, ctx: Context) -> None:
        for symbol in ctx.symbols:
            if ctx.has_open_orders(symbol):
                continue
            if ctx.position(symbol) == 0:
                ctx.enter(symbol, 0.95)
            else:
                ctx.exit(symbol)


class TimedSimulator(GatewaySimulator):
    """The simulator, timestamping each session's bar update and each placeOrder it receives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.published: dict[int, int] = {}  # session index -> ns
        self.placed: list[tuple[str, int]] = []  # (orderRef, ns)

    def _publish_bar(self, index: int) -> None:
        if any(s.history for s in self._clients()):
            self.published[index] = time.perf_counter_ns()
        super()._publish_bar(index)

    def _on_place_order(self, s: Any, fields: list[str]) -> None:
        t = time.perf_counter_ns()
        self.placed.append((wire.parse_place_order(s.server_version, fields).order_ref, t))
        super()._on_place_order(s, fields)


def experiment(end: str = "2018-12-31") -> Experiment:
    return experiment_from_dict({
        "name": "ib-latency",
        "data": {"source": "sample", "symbols": ["SPX"], "start": FIRST_DAY, "end": end, "calendar": "XNYS"},
        "strategy": {"name": "sma_cross", "params": {"fast": 2, "slow": 5}},
        "engine": "backtrader",
        "broker": {"cash": 100_000, "fill": "next_open", "commission": "none", "slippage": "none"},
        "sizing": {"target_percent": 0.95},
        "output": {"report": False},
    })


def market_for(sessions: int) -> tuple[Experiment, Market]:
    """The sample cut to its first ``sessions`` + 1 sessions (the first is served as history)."""
    full = experiment()
    dates = load_market(full.data).dates
    if sessions + 1 > len(dates):
        raise SystemExit(f"--sessions {sessions}: the sample has {len(dates) - 1} sessions after the first")
    exp = experiment(f"{dates[sessions]:%Y-%m-%d}")
    return exp, load_market(exp.data)


def gateway_bars(broker: IbBroker, sim: GatewaySimulator, runner: LiveRunner, symbols: tuple[str, ...]) -> Any:
    """The stream `algotrade paper` uses against a real TWS (bars final by the gateway's clock on
    the exchange calendar); the simulator replays the next session once the run is done with one."""
    schedule, clock, backoff = SessionSchedule("XNYS"), GatewayClock(broker), Backoff()
    lists = subscribe(broker, symbols, "30 Y", backoff)
    clock.sync()
    runner.warm_up(len(final_sessions(lists, None, schedule.last_final(clock()))))
    last = sim.dates[-1].date()
    return gateway_stream(broker, symbols, schedule, clock, lists, history="30 Y", backoff=backoff,
                          stop=lambda: bool(runner.host.bars.dates) and runner.host.bars.dates[-1] == last,
                          on_session=lambda d: sim.advance() if sim.sessions_left else None)


class Scraper:
    """A thread that fetches the ops server's pages ten times a second, as Prometheus and a
    dashboard tab would (faster than either does)."""

    def __init__(self, url: str) -> None:
        self.url, self.stop, self.fetched = url, threading.Event(), 0
        self.thread = threading.Thread(target=self._run, name="bench-scraper", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            for page in ("/metrics", "/readyz", "/api/state"):
                try:
                    with urllib.request.urlopen(self.url + page, timeout=5) as answer:
                        answer.read()
                except urllib.error.HTTPError:  # /readyz answers 503 while not ready
                    pass
                self.fetched += 1

    def __enter__(self) -> Scraper:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def measure(sessions: int, strategy: str, throttle: bool = False, stream: str = "simulated",
            ops: bool = False) -> dict[str, Any]:
    exp, market = market_for(sessions)
    sim = TimedSimulator(market, exp.broker, start=0)
    with tempfile.TemporaryDirectory() as tmp, run_in_thread(sim, port=0) as (host, port), \
            contextlib.ExitStack() as layer:
        broker = IbBroker(host, port, client_id=41, account=sim.account_id)
        if not throttle:
            broker.ib.client.MaxRequests = 0
        journal = Journal(Path(tmp) / "journal.sqlite")
        if strategy == "flip":
            runner = LiveRunner(Flip(), exp.data.symbols, broker, journal, "bench", exp.sizing,
                                checks_from_config(exp.risk), name="flip")
        else:
            runner = LiveRunner.from_experiment(exp, broker, journal, run_id="bench")
        scraped: Scraper | None = None
        if ops:
            run = layer.enter_context(ops_run(exp, Path(tmp), context("bench", (), tmp, "simulate", host, port),
                                              run_id="bench", port=0))
            run.attach(runner)
            assert run.server is not None
            scraped = layer.enter_context(Scraper(run.server.url))
        try:
            bars = (simulated_stream(broker, sim, exp.data.symbols) if stream == "simulated"
                    else gateway_bars(broker, sim, runner, exp.data.symbols))
            host_ = runner.run(bars)
            broker.ib.reqCurrentTime()  # a round trip: every placeOrder sent has been dispatched
        finally:
            broker.disconnect()
    sent = sum(1 for o in host_.orders if o.status != "blocked")
    if len(sim.placed) != sent:
        raise SystemExit(f"the runner sent {sent} orders but the simulator received {len(sim.placed)}")
    # each order is paired with the session whose bar made it (by its orderRef)
    index = {d.date(): k for k, d in enumerate(sim.dates)}
    made_on = {order_ref(runner.run_id, runner.name, o.id): index[o.created] for o in host_.orders}
    ms = np.array([(t - sim.published[made_on[ref]]) / 1e6 for ref, t in sim.placed if made_on[ref] in sim.published])
    if not len(ms):
        raise SystemExit("no order was made on a streamed bar; use more --sessions")
    return {"name": "ib_bar_to_order", "orders": len(ms), "median_ms": round(float(np.median(ms)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3), "max_ms": round(float(ms.max()), 3),
            "mean_ms": round(float(ms.mean()), 3), "sessions": sessions, "strategy": strategy,
            "client_throttle": throttle, "stream": stream, "ops": ops,
            **({"pages_fetched": scraped.fetched} if scraped is not None else {})}


def compare_ops(rounds: int, sessions: int, strategy: str) -> dict[str, Any]:
    """Interleaved runs without and with the operating layer; the figures of each run are printed."""
    pairs: list[tuple[float, float]] = []
    for r in range(rounds):
        figures = {}
        for ops in ((False, True) if r % 2 == 0 else (True, False)):
            figures[ops] = measure(sessions, strategy, ops=ops)
            print(json.dumps(figures[ops]), flush=True)
        pairs.append((figures[False]["median_ms"], figures[True]["median_ms"]))
    without, with_ = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    added = with_ - without
    return {"name": "ib_bar_to_order_ops", "rounds": rounds, "sessions": sessions, "strategy": strategy,
            "median_ms_without": round(float(np.median(without)), 3), "median_ms_with": round(float(np.median(with_)), 3),
            "added_median_ms": round(float(np.median(added)), 3), "paired_added_ms": [round(float(a), 3) for a in added],
            "budget_ms": 1.0, "within_budget": bool(np.median(added) <= 1.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Latency from a session's bar update to the placeOrder it causes, through ib_async, "
                    "IbBroker and LiveRunner against the gateway simulator (one JSON line).",
    )
    parser.add_argument("--sessions", type=int, default=2000, metavar="N",
                        help="sessions streamed after the first (default 2000; the sample has about 5000)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="sma_cross",
                        help="sma_cross (fast 2, slow 5; the default) or flip (an order on every session)")
    parser.add_argument("--throttle", action="store_true",
                        help="keep ib_async's request throttle (45 messages/s); see the module docstring")
    parser.add_argument("--stream", choices=("simulated", "gateway"), default="simulated",
                        help="simulated: paper --simulate's stream; gateway: the one paper uses against TWS "
                             "(bars final by the gateway's clock, reqCurrentTime on each new session)")
    parser.add_argument("--ops", action="store_true",
                        help="without and with the operating layer (metrics, server, logs, shadow), interleaved")
    parser.add_argument("--rounds", type=int, default=5, metavar="R", help="with --ops: pairs of runs (default 5)")
    args = parser.parse_args(argv)
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    logging.basicConfig(level=logging.ERROR)
    if args.ops:
        print(json.dumps(compare_ops(args.rounds, args.sessions, args.strategy)))
        return 0
    print(json.dumps(measure(args.sessions, args.strategy, args.throttle, args.stream)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
