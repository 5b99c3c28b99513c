"""The paper burn-in: the exact configuration, through IB, against its own backtest, with a verdict.

No strategy goes live on the strength of a backtest alone. algotrade's rule
(:mod:`algotrade.live.live_guard`) is that live trading is refused unless a **paper burn-in** of the
very same configuration (the same ``config_id``: strategy, parameters, data and broker settings)
passed its gates. ``algotrade paper experiments/paper_quickstart.yaml --simulate`` runs one
offline; in Python it is :func:`algotrade.live.paper.paper_simulated`:

1. the gateway simulator is started on a free localhost port with the experiment's bars and
   broker settings, and replays them at full speed;
2. the strategy trades through :class:`~adapters.ib.broker.IbBroker` and the real ib_async client
   under a :class:`~algotrade.live.broker.LiveRunner`, journaled in SQLite, exactly as against a paper
   TWS;
3. a **shadow backtest** runs the same experiment on the same bars (Backtrader);
4. the two are compared fill by fill, and the burn-in's measurements (sessions, trades,
   tracking error of the paper equity against the backtest's, mean slippage against the
   backtest's prices, unreconciled journal/broker mismatches) are judged against the
   experiment's ``burnin`` gates. The verdict, ``go`` or ``no-go`` with its reasons, is written
   to ``burnin.json`` next to ``burnin.html`` and the journal.

The page runs the quickstart's paper experiment over a shortened range (``data.start`` and
``data.end`` overrides, 18 months) and reads ``burnin.json`` back, as
:func:`~algotrade.live.live_guard.check_live_allowed` would. It then shows the guard at work: the
verdict is for *this* ``config_id``, and a paper port is never a live one.

What to look at: the verdict and every measurement next to its gate, ``fills_equal_backtest``,
and the guard's refusal message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from algotrade.core.config import load_experiment
from algotrade.live.live_guard import LiveTradingRefused, Secret, check_live_allowed
from algotrade.live.paper import paper_simulated, summary_text
from recipes.ch10_live_deployment import out_dir

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "paper_quickstart.yaml"
SHORT = ("data.start=2010-01-04", "data.end=2011-06-30")

GATE_OF = {
    "sessions": ("min_sessions", ">="),
    "trades": ("min_trades", ">="),
    "tracking_error": ("max_tracking_error", "<="),
    "slippage_bps": ("max_slippage_bps", "<="),
    "unreconciled": ("max_unreconciled", "<="),
}


# --------------------------------------------------------------------------------------------
# ingredients


def read_burnin(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def gate_table(burnin: dict[str, Any]) -> list[tuple[str, float, str, float, bool]]:
    """(measurement, value, comparison, gate, passed) for every gate of a burn-in verdict."""
    rows = []
    for name, (gate, op) in GATE_OF.items():
        value, limit = burnin["measured"][name], burnin["gates"][gate]
        rows.append((name, value, op, limit, value >= limit if op == ">=" else value <= limit))
    return rows


def guard_message(exp: Any, burnin_path: Path, port: int) -> str:
    """What check_live_allowed says for this verdict on ``port`` (a paper account id)."""
    try:
        check_live_allowed(exp, burnin_path, port, account=Secret("ALGOTRADE_IB_ACCOUNT", "DU1234567"),
                           confirm_flag=True)
    except LiveTradingRefused as exc:
        return str(exc)
    return "allowed"


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    result = paper_simulated(EXPERIMENT, SHORT, out=folder / "burnin")
    print(summary_text(result))

    path = result.folder / "burnin.json"
    burnin = read_burnin(path)
    print(f"\n{path}:")
    print(f"  verdict {burnin['verdict']!r} for config_id {burnin['config_id']}")
    for name, value, op, limit, ok in gate_table(burnin):
        print(f"  {name:<15} {value:>10.4g}  {op} {limit:<8g} {'pass' if ok else 'FAIL'}")
    print(f"  fills_equal_backtest {burnin['fills_equal_backtest']}  (paper {burnin['paper_fills']}, "
          f"backtest {burnin['backtest_fills']})")

    exp = load_experiment(EXPERIMENT, SHORT)
    other = load_experiment(EXPERIMENT, (*SHORT, "strategy.params.fast=12"))
    refusals = {
        "paper port 4002": guard_message(exp, path, 4002),
        "another config": guard_message(other, path, 4001),
        "live port, paper account": guard_message(exp, path, 4001),
    }
    print("\nthe live guard with this verdict:")
    for case, message in refusals.items():
        print(f"  {case:<26} {message}")
    return {
        "burnin": burnin,
        "gates": gate_table(burnin),
        "folder": result.folder,
        "refusals": refusals,
        "config_id": exp.config_id,
    }


if __name__ == "__main__":
    main()
