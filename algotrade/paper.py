"""`algotrade paper`: a burn-in of an experiment through Interactive Brokers, with a verdict.

With ``--simulate`` the project's own gateway simulator serves the experiment's bars on a free
localhost port and replays them at full speed; the real IB client library talks to it over the
socket, exactly as it would to a paper TWS. The run is journaled (SQLite) so a killed run resumes
without duplicating or losing an order, and it is shadowed by a backtest on the same bars: the
burn-in compares the two fill by fill and writes ``burnin.json`` (with its ``verdict``, tied to the
experiment's config id) and ``burnin.html``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algotrade.config import Experiment, load_experiment
from algotrade.data import Market, load_market
from algotrade.errors import BrokerError, TransientBrokerError
from algotrade.host import StrategyHost
from algotrade.journal import Journal
from algotrade.live_guard import slippage_bps, tracking_error, verdict, write_verdict
from algotrade.run import execute

BAR_WAIT_S = 30.0


@dataclass(frozen=True)
class PaperResult:
    folder: Path
    burnin: dict[str, Any]
    paper: StrategyHost
    shadow: StrategyHost


def _bar_dict(bar: Any) -> dict[str, float]:
    return {"open": float(bar.open), "high": float(bar.high), "low": float(bar.low), "close": float(bar.close),
            "volume": float(bar.volume)}


def _bar_date(bar: Any) -> dt.date:
    d = bar.date
    return d.date() if isinstance(d, dt.datetime) else d  # type: ignore[no-any-return]


def _subscribe(broker: Any, symbols: tuple[str, ...]) -> dict[str, Any]:
    return {s: broker.daily_bars(s, keep_up_to_date=True, duration="30 Y") for s in symbols}


def simulated_stream(broker: Any, sim: Any, symbols: tuple[str, ...]) -> Iterator[tuple[dt.date, Mapping[str, Any]]]:
    """Bars as the IB client receives them: the history up to the simulator's current session
    (so a restarted run can replay what its journal already processed), then, subscribed with
    keepUpToDate, each session the simulator closes, once every symbol's bar has arrived.

    A dropped connection (a network cut, a gateway restart) ends the client's subscriptions: the
    stream reconnects and subscribes again, and the new subscription's history brings the session
    it missed. The runner learns of the drop from the broker's DisconnectEvent and reconciles."""
    broker.connect()
    lists = _subscribe(broker, symbols)
    history = {s: {_bar_date(b): b for b in lst} for s, lst in lists.items()}
    for date in sorted(set.intersection(*(set(h) for h in history.values()))):
        if date < sim.current_date:
            yield date, {s: _bar_dict(history[s][date]) for s in symbols}
    while True:
        date = sim.current_date
        deadline = time.monotonic() + BAR_WAIT_S
        while not all(lst and _bar_date(lst[-1]) == date for lst in lists.values()):
            if time.monotonic() > deadline:
                raise BrokerError(f"no bar for {date} arrived from IB within {BAR_WAIT_S:.0f} s")
            if not broker.is_connected():
                try:
                    broker.connect()
                except TransientBrokerError:
                    time.sleep(0.05)  # the gateway is not back yet
                    continue
                lists = _subscribe(broker, symbols)
                continue
            # run the client's loop briefly: the update may already be in the socket buffer
            # (waitOnUpdate would wait for the *next* update and sleep out its timeout)
            with contextlib.suppress(ConnectionError):  # a drop is handled on the next turn
                broker.ib.sleep(0.001)
        yield date, {s: _bar_dict(lst[-1]) for s, lst in lists.items()}
        if not sim.sessions_left:
            return
        with contextlib.suppress(ConnectionError, TransientBrokerError):  # a drop is handled on the next turn
            broker.wait_acknowledged()  # the gateway has every order of this session before it closes the next
        sim.advance()


def _fills(host: StrategyHost) -> list[tuple[str, str, int, float]]:
    return [(str(f.date), f.symbol, f.quantity, f.price) for f in host.fills]


def burnin_report(exp: Experiment, paper: StrategyHost, shadow: StrategyHost, *, disconnects: int, missed_bars: int,
                  unreconciled: int, mode: str) -> dict[str, Any]:
    """Compare the paper run with its shadow backtest and judge it against the experiment's gates."""
    paper_fills, shadow_fills = _fills(paper), _fills(shadow)
    matched = [(p, s) for p, s in zip(paper_fills, shadow_fills, strict=False) if p[:3] == s[:3]]
    per_fill = [(p[2], p[3], s[3]) for p, s in matched]
    paper_eq = [v for _, _, v in paper.equity]
    shadow_eq = [v for _, _, v in shadow.equity][: len(paper_eq)]
    te = tracking_error(paper_eq, shadow_eq)
    slip = slippage_bps(per_fill) if per_fill else 0.0
    result = verdict(exp, exp.burnin, sessions=len(paper.equity), trades=len(paper_fills), tracking_error=te,
                     slippage_bps=slip, unreconciled=unreconciled)
    statuses: dict[str, int] = {}
    for o in paper.orders:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    result.update({
        "mode": mode,
        "experiment": exp.name,
        "strategy": exp.strategy.name,
        "params": exp.strategy.params,
        "fills_equal_backtest": paper_fills == shadow_fills,
        "paper_fills": len(paper_fills),
        "backtest_fills": len(shadow_fills),
        "first_difference": next((k + 1 for k, (p, s) in enumerate(zip(paper_fills, shadow_fills, strict=False))
                                  if p != s), None),
        "final_equity": {"paper": paper_eq[-1] if paper_eq else None, "backtest": shadow_eq[-1] if shadow_eq else None},
        "orders": statuses,
        "rejects": statuses.get("rejected", 0),
        "cancels": statuses.get("cancelled", 0),
        "disconnects": disconnects,
        "missed_bars": missed_bars,
        "fill_slippage": [{"date": p[0], "symbol": p[1], "quantity": p[2], "paper": p[3], "backtest": s[3],
                           "bps": (p[3] - s[3]) / s[3] * 1e4 * (1 if p[2] > 0 else -1)} for p, s in matched],
    })
    return result


def paper_simulated(path: str | Path, overrides: tuple[str, ...] = (), out: str | Path | None = None,
                    run_id: str | None = None) -> PaperResult:
    """A burn-in against the gateway simulator started on a free port, replayed at full speed."""
    from adapters.ib.broker import IbBroker
    from algotrade.broker import LiveRunner, ib_restart_window
    from algotrade.gateway import GatewaySimulator, run_in_thread

    exp = load_experiment(path, overrides)
    market: Market = load_market(exp.data)
    folder = Path(out or exp.output.dir) / exp.name / "paper"
    folder.mkdir(parents=True, exist_ok=True)
    sim = GatewaySimulator(market, exp.broker, start=0)
    journal = Journal(folder / "journal.sqlite")
    with run_in_thread(sim, port=0) as (host, port):
        broker = IbBroker(host, port, client_id=exp.ib.client_id, account=sim.account_id, timeout=exp.ib.timeout)
        # the simulated clock (each session's close) drives the restart-window and stale-data checks
        runner = LiveRunner.from_experiment(exp, broker, journal, run_id=run_id, clock=sim.now,
                                            restart_window=ib_restart_window)
        try:
            paper = runner.run(simulated_stream(broker, sim, exp.data.symbols))
        finally:
            broker.disconnect()
    shadow, _ = execute(exp, market, "backtrader")
    unreconciled = sum(len(p.mismatches) for p in runner.plans)
    result = burnin_report(exp, paper, shadow, disconnects=broker.disconnects - 1 if broker.disconnects else 0,
                           missed_bars=0, unreconciled=unreconciled, mode="simulate")
    write_verdict(folder / "burnin.json", result)
    from algotrade.burnin_report import write_burnin_html

    write_burnin_html(folder / "burnin.html", exp, result, paper, shadow)
    return PaperResult(folder, result, paper, shadow)


def ib_endpoint(exp: Experiment, environ: Mapping[str, str] | None = None) -> tuple[str, int]:
    env = os.environ if environ is None else environ
    return env.get("ALGOTRADE_IB_HOST", exp.ib.host), int(env.get("ALGOTRADE_IB_PORT", exp.ib.port))


def summary_text(result: PaperResult) -> str:
    b = result.burnin
    lines = [
        f"paper burn-in of {b['experiment']} ({b['mode']}): verdict {b['verdict'].upper()} (config id {b['config_id']})",
        f"  sessions {len(result.paper.equity)}   paper fills {b['paper_fills']}   backtest fills {b['backtest_fills']}   "
        f"identical: {'yes' if b['fills_equal_backtest'] else 'no, first difference at fill ' + str(b['first_difference'])}",
        f"  final equity paper {b['final_equity']['paper']:,.2f}   backtest {b['final_equity']['backtest']:,.2f}",
        f"  rejects {b['rejects']}   cancels {b['cancels']}   disconnects {b['disconnects']}   missed bars {b['missed_bars']}",
    ]
    lines += [f"  gate failed: {r}" for r in b.get("reasons", [])]
    lines.append(f"  verdict  {result.folder / 'burnin.json'}")
    lines.append(f"  report   {result.folder / 'burnin.html'}")
    return "\n".join(lines)

