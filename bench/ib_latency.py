"""Latency from a bar's arrival to the order on the wire, through the real IB client stack.

The project's gateway simulator (``adapters.ib.gateway``) runs in a process of its own, as TWS or
IB Gateway does, and replays the S&P 500 sample (SPX from 1999-01-04, validated frames) session by
session; the real ib_async client, :class:`adapters.ib.broker.IbBroker` and
:class:`algotrade.live.broker.LiveRunner` (SQLite journal included) trade it exactly as
``algotrade paper --simulate`` does, with the bars coming from
:func:`algotrade.live.paper.simulated_stream` (reqHistoricalData with keepUpToDate).

Both timestamps are taken in the simulator's process with ``time.perf_counter_ns`` (Linux's
monotonic clock, one for every process), by a subclass of the simulator defined here:

* the bar: when the simulator starts publishing the session's ``historicalDataUpdate``;
* the order: when the simulator dispatches the ``placeOrder`` message of an order the strategy
  made on that session's bar (the message has been read off the socket; the order is paired
  with its bar by its orderRef).

So each figure covers: the update crossing the socket, ib_async decoding it into the bar list,
the stream noticing it (it polls the client's loop in 1 ms sleeps, ``simulated_stream``), the
runner's step (fills first, the session's reconcile with its round trips to the gateway, journal
writes, indicators over the history so far, the strategy, sizing and risk checks, the journaled
intent) and ib_async encoding and writing ``placeOrder``. Each line also splits the median in
three, on the same clock: ``to_runner`` (published to the stream handing the bar to the runner),
``runner`` (to ``placeOrder`` written to the socket) and ``to_gateway`` (to its dispatch; about 0:
the gateway reads it while the runner returns).

``--in-process`` runs the simulator as a thread of this process instead: its reads then wait for
the GIL while the trading thread works, so whatever the runner does after sending an order (its
journal, the operating layer's per-bar bookkeeping) delays the order's timestamp, as no separate
gateway process would; the figures are an upper bound.

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
                                   [--in-process]
       python bench/ib_latency.py --ops [--rounds R] [--sessions N] [--scrape-hz HZ] [--in-process]

``--ops`` measures what the operating layer adds (issue 18's budget: at most 1 ms on the median):
R rounds, each one run without it and one with it (the order alternating between rounds, so
neither side always runs first), in one process. "With" is what ``paper --ops-port`` runs: the
run's state, metrics, JSON log file and shadow backtest on every hook, the HTTP server (metrics,
health, dashboard) on a free port, and its clients from a process of their own, as they are:
Prometheus and a health probe fetching /metrics, /healthz and /readyz ``--scrape-hz`` times a
second (default 1; Prometheus's default is every 15 s, the shipped docker config's too) and a
dashboard tab reading the page's event stream. Prints one JSON line per run and a summary line
``{"name": "ib_bar_to_order_ops", "median_ms_without": ..., "median_ms_with": ...,
"added_median_ms": ..., "paired_added_ms": [...], "added_runner_median_ms": ..., ...}`` (the
median of the paired differences of the runs' medians; ``runner``: of the runner's part alone).
The machine's noise between two runs is of the order of the budget: use 12 rounds or more.

``--stream gateway`` measures the stream ``algotrade paper`` uses against a real TWS instead: each
new session's bar makes it ask the gateway's clock (``reqCurrentTime``) whether the bar is final,
so one more round trip is inside the figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
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


def gateway_bars(broker: IbBroker, sim: Any, runner: LiveRunner, symbols: tuple[str, ...]) -> Any:
    """The stream `algotrade paper` uses against a real TWS (bars final by the gateway's clock on
    the exchange calendar); the simulator replays the next session once the run is done with one."""
    schedule, clock, backoff = SessionSchedule("XNYS"), GatewayClock(broker), Backoff()
    lists = subscribe(broker, symbols, "30 Y", backoff)
    if lists is None:
        raise SystemExit("the gateway answered no history to subscribe to")
    clock.sync()
    runner.warm_up(len(final_sessions(lists, None, schedule.last_final(clock()))))
    last = sim.dates[-1].date()
    return gateway_stream(broker, symbols, schedule, clock, lists, history="30 Y", backoff=backoff,
                          stop=lambda: bool(runner.host.bars.dates) and runner.host.bars.dates[-1] == last,
                          on_session=lambda d: sim.advance() if sim.sessions_left else None)


class InProcess:
    """The simulator as a thread of this process (``--in-process``): its reads wait for the GIL
    while the trading thread works, so every bit of work after an order is sent delays its
    timestamp, as no separate gateway process would."""

    def __init__(self, sessions: int) -> None:
        exp, market = market_for(sessions)
        self.sim = TimedSimulator(market, exp.broker, start=0)
        self._served = run_in_thread(self.sim, port=0)
        self.host, self.port = self._served.__enter__()
        self.account_id, self.dates = self.sim.account_id, list(self.sim.dates)

    @property
    def current_date(self) -> Any:
        return self.sim.current_date

    @property
    def sessions_left(self) -> int:
        return int(self.sim.sessions_left)

    def advance(self, sessions: int = 1) -> int:
        return self.sim.advance(sessions)

    def finish(self) -> tuple[dict[int, int], list[tuple[str, int]]]:
        self._served.__exit__(None, None, None)
        return self.sim.published, self.sim.placed


def _serve(conn: Any, sessions: int) -> None:
    """The child process of :class:`OwnProcess`: the simulator on its loop's thread, driven over ``conn``."""
    logging.basicConfig(level=logging.ERROR)
    exp, market = market_for(sessions)
    sim = TimedSimulator(market, exp.broker, start=0)
    with run_in_thread(sim, port=0) as (host, port):
        conn.send((host, port, sim.account_id, list(sim.dates), sim.current_date, int(sim.sessions_left)))
        while (command := conn.recv()) != "finish":
            sim.advance(command)
            conn.send((sim.current_date, int(sim.sessions_left)))
        conn.send((sim.published, sim.placed))


class OwnProcess:
    """The simulator in a process of its own, as TWS or IB Gateway is (the default): the runner's
    process shares no GIL with it. Both timestamps are still taken in the simulator's process."""

    def __init__(self, sessions: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, sessions), name="bench-gateway", daemon=True)
        self._process.start()
        self.host, self.port, self.account_id, self.dates, self.current_date, self.sessions_left = self._conn.recv()

    def advance(self, sessions: int = 1) -> int:
        left = self.sessions_left
        self._conn.send(sessions)
        self.current_date, self.sessions_left = self._conn.recv()
        return left - self.sessions_left

    def finish(self) -> tuple[dict[int, int], list[tuple[str, int]]]:
        self._conn.send("finish")
        published, placed = self._conn.recv()
        self._process.join(timeout=30)
        return published, placed


def _poll(url: str, every: float, stop: Any, fetched: Any) -> None:
    while not stop.wait(every):
        for page in ("/metrics", "/healthz", "/readyz"):
            try:
                with urllib.request.urlopen(url + page, timeout=5) as answer:
                    answer.read()
            except urllib.error.HTTPError:  # /readyz answers 503 while not ready
                pass
            with fetched.get_lock():
                fetched.value += 1


def _watch(url: str, stop: Any, events: Any) -> None:
    """A dashboard tab: the page's event stream, read to the end of each event."""
    with contextlib.suppress(OSError), urllib.request.urlopen(url + "/api/events", timeout=30) as stream:
        for line in stream:
            if line.startswith(b"data:"):
                with events.get_lock():
                    events.value += 1
            if stop.is_set():
                return


def _clients(url: str, every: float, stop: Any, fetched: Any, events: Any) -> None:
    watcher = threading.Thread(target=_watch, args=(url, stop, events), daemon=True)
    watcher.start()
    _poll(url, every, stop, fetched)


class Scraper:
    """The layer's clients, from a process of their own as they are (threads of this process with
    ``--in-process``): Prometheus and a health probe fetching /metrics, /healthz and /readyz
    ``hz`` times a second (Prometheus's default is every 15 s; the suite's end-to-end test scrapes
    every second), and a dashboard tab reading the page's event stream (/api/events)."""

    def __init__(self, url: str, in_process: bool, hz: float = 1.0) -> None:
        spawn = multiprocessing.get_context("spawn")
        ctx: Any = threading if in_process else spawn
        self._stop = ctx.Event()
        self._fetched, self._events = spawn.Value("i", 0), spawn.Value("i", 0)
        kind = threading.Thread if in_process else ctx.Process
        self._worker = kind(target=_clients, args=(url, 1.0 / hz, self._stop, self._fetched, self._events),
                            name="bench-clients", daemon=True)

    @property
    def fetched(self) -> int:
        return int(self._fetched.value)

    @property
    def events(self) -> int:
        return int(self._events.value)

    def __enter__(self) -> Scraper:
        self._worker.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._worker.join(timeout=10)


class Stamps:
    """The trading thread's side of each order, on the same clock as the simulator's (Linux's
    monotonic clock is one for every process): when the stream handed the runner each bar, and
    when each placeOrder had been written to the socket."""

    def __init__(self, broker: IbBroker) -> None:
        self.stepped: list[int] = []
        self.written: dict[str, int] = {}
        place = broker.ib.placeOrder

        def placed(contract: Any, order: Any) -> Any:
            trade = place(contract, order)
            self.written.setdefault(order.orderRef, time.perf_counter_ns())
            return trade

        broker.ib.placeOrder = placed  # type: ignore[method-assign]

    def bars(self, stream: Any) -> Any:
        for bar in stream:
            self.stepped.append(time.perf_counter_ns())
            yield bar


def _segments(published: dict[int, int], placed: list[tuple[str, int]], made_on: dict[str, int],
              stamps: Stamps) -> dict[str, float]:
    """Median ms of the three parts of bar-to-order: the bar reaching the runner (published to
    handed over), the runner (handed over to placeOrder written) and the order reaching the
    gateway (written to dispatched)."""
    parts: dict[str, list[float]] = {"to_runner": [], "runner": [], "to_gateway": []}
    stepped = np.array(stamps.stepped)
    for ref, at_gateway in placed:
        k = made_on[ref]
        if k not in published or ref not in stamps.written:
            continue
        t0, written = published[k], stamps.written[ref]
        handed = stepped[(stepped >= t0) & (stepped <= written)]
        if not len(handed):
            continue
        parts["to_runner"].append((handed[0] - t0) / 1e6)
        parts["runner"].append((written - handed[0]) / 1e6)
        parts["to_gateway"].append((at_gateway - written) / 1e6)
    return {f"{name}_median_ms": round(float(np.median(v)), 3) for name, v in parts.items() if v}


def measure(sessions: int, strategy: str, throttle: bool = False, stream: str = "simulated",
            ops: bool = False, in_process: bool = False, scrape_hz: float = 1.0) -> dict[str, Any]:
    exp, _market = market_for(sessions)
    sim: InProcess | OwnProcess = InProcess(sessions) if in_process else OwnProcess(sessions)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as layer:
        broker = IbBroker(sim.host, sim.port, client_id=41, account=sim.account_id)
        if not throttle:
            broker.ib.client.MaxRequests = 0
        journal = Journal(Path(tmp) / "journal.sqlite")
        if strategy == "flip":
            runner = LiveRunner(Flip(), exp.data.symbols, broker, journal, "bench", exp.sizing,
                                checks_from_config(exp.risk), name="flip")
        else:
            runner = LiveRunner.from_experiment(exp, broker, journal, run_id="bench")
        stamps = Stamps(broker)
        scraped: Scraper | None = None
        if ops:
            run = layer.enter_context(ops_run(exp, Path(tmp), context("bench", (), tmp, "simulate", sim.host, sim.port),
                                              run_id="bench", port=0))
            run.attach(runner)
            assert run.server is not None
            scraped = layer.enter_context(Scraper(run.server.url, in_process, scrape_hz))
        try:
            bars = (simulated_stream(broker, sim, exp.data.symbols) if stream == "simulated"
                    else gateway_bars(broker, sim, runner, exp.data.symbols))
            host_ = runner.run(stamps.bars(bars))
            broker.ib.reqCurrentTime()  # a round trip: every placeOrder sent has been dispatched
        finally:
            broker.disconnect()
            published, placed = sim.finish()
    sent = sum(1 for o in host_.orders if o.status != "blocked")
    if len(placed) != sent:
        raise SystemExit(f"the runner sent {sent} orders but the simulator received {len(placed)}")
    # each order is paired with the session whose bar made it (by its orderRef)
    index = {d.date(): k for k, d in enumerate(sim.dates)}
    made_on = {order_ref(runner.run_id, runner.name, o.id): index[o.created] for o in host_.orders}
    ms = np.array([(t - published[made_on[ref]]) / 1e6 for ref, t in placed if made_on[ref] in published])
    if not len(ms):
        raise SystemExit("no order was made on a streamed bar; use more --sessions")
    return {"name": "ib_bar_to_order", "orders": len(ms), "median_ms": round(float(np.median(ms)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3), "max_ms": round(float(ms.max()), 3),
            "mean_ms": round(float(ms.mean()), 3), **_segments(published, placed, made_on, stamps),
            "sessions": sessions, "strategy": strategy,
            "client_throttle": throttle, "stream": stream, "ops": ops,
            "gateway": "thread" if in_process else "process",
            **({"scrape_hz": scrape_hz, "pages_fetched": scraped.fetched, "events_read": scraped.events}
               if scraped is not None else {})}


def compare_ops(rounds: int, sessions: int, strategy: str, in_process: bool = False,
                scrape_hz: float = 1.0) -> dict[str, Any]:
    """Interleaved runs without and with the operating layer; the figures of each run are printed."""
    pairs: list[tuple[float, float]] = []
    runner: list[float] = []  # what the layer adds to the runner's part alone, paired
    for r in range(rounds):
        figures = {}
        for ops in ((False, True) if r % 2 == 0 else (True, False)):
            figures[ops] = measure(sessions, strategy, ops=ops, in_process=in_process, scrape_hz=scrape_hz)
            print(json.dumps(figures[ops]), flush=True)
        pairs.append((figures[False]["median_ms"], figures[True]["median_ms"]))
        runner.append(figures[True]["runner_median_ms"] - figures[False]["runner_median_ms"])
    without, with_ = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    added = with_ - without
    return {"name": "ib_bar_to_order_ops", "rounds": rounds, "sessions": sessions, "strategy": strategy,
            "gateway": "thread" if in_process else "process", "scrape_hz": scrape_hz,
            "median_ms_without": round(float(np.median(without)), 3), "median_ms_with": round(float(np.median(with_)), 3),
            "added_median_ms": round(float(np.median(added)), 3), "paired_added_ms": [round(float(a), 3) for a in added],
            "added_runner_median_ms": round(float(np.median(runner)), 3),
            "paired_added_runner_ms": [round(float(a), 3) for a in runner],
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
    parser.add_argument("--in-process", action="store_true",
                        help="run the simulator (and --ops' scraper) as threads of this process, sharing its GIL "
                             "(see the module docstring)")
    parser.add_argument("--scrape-hz", type=float, default=1.0, metavar="HZ",
                        help="with --ops: how often the clients fetch /metrics, /healthz and /readyz (default 1)")
    parser.add_argument("--rounds", type=int, default=5, metavar="R", help="with --ops: pairs of runs (default 5)")
    args = parser.parse_args(argv)
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")
    if args.scrape_hz <= 0:
        parser.error("--scrape-hz must be above 0")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    logging.basicConfig(level=logging.ERROR)
    if args.ops:
        print(json.dumps(compare_ops(args.rounds, args.sessions, args.strategy, args.in_process, args.scrape_hz)))
        return 0
    print(json.dumps(measure(args.sessions, args.strategy, args.throttle, args.stream, in_process=args.in_process)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
