"""One bar's orders fill in one order on every engine (core/host.py fill_priority): protective
exits, then position-reducing orders, then sales, then buys, each group as placed. So a long leg
that needs its short leg's proceeds fills on both engines, and a cover frees the margin a new
short of the same bar needs, whatever order the strategy placed them in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import exchange_calendars as xcals
import pytest

from algotrade.backtest.run import run_experiment
from algotrade.core.host import fill_priority
from tests.stubs import write_csv, write_experiment

ENGINES = ("backtrader", "zipline")


def _market(tmp_path: Path) -> dict[str, Any]:
    sessions = xcals.get_calendar("XNYS").sessions_in_range("2021-03-01", "2021-04-30")[:10]
    folder = tmp_path / "bars"
    folder.mkdir(parents=True, exist_ok=True)
    for symbol, price in (("Y", 10.0), ("X", 20.0)):
        write_csv(folder / f"{symbol}.csv", [(str(d.date()), price, price, price, price, 1000.0) for d in sessions])
    return {"source": "csvdir", "symbols": ["Y", "X"], "path": str(folder), "calendar": "XNYS"}


def _fills(tmp_path: Path, engine: str, steps: list[list[Any]], cash: float, **broker: Any) -> list[tuple[str, int]]:
    folder = tmp_path / engine
    folder.mkdir(parents=True, exist_ok=True)
    path = write_experiment(
        folder, name="order", data=_market(folder), engine=engine,
        strategy={"name": "tests.scripted:Scripted", "params": {"steps": steps}},
        broker={"cash": cash, "commission": {"per_share": 0.0}, **broker}, output={"dir": str(folder), "report": False},
    )
    result = run_experiment(path, out=folder / "out", engine=engine)
    trades = result.tables.trades
    return [(str(d), s, int(q)) for d, s, q in zip(trades["date"], trades["symbol"], trades["quantity"], strict=True)]


def test_the_priority_puts_reducing_orders_then_sales_then_buys() -> None:
    orders = [("open long", 0, 10), ("open short", 0, -10), ("cover", -5, 5), ("sell a long", 5, -5),
              ("add to a long", 5, 5), ("flip a long", 5, -10)]
    ranked = sorted(orders, key=lambda o: fill_priority(o[1], o[2]))
    assert [o[0] for o in ranked] == ["sell a long", "cover", "open short", "flip a long", "open long", "add to a long"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_long_leg_placed_before_its_short_leg_is_paid_by_the_shorts_proceeds(engine: str, tmp_path: Path) -> None:
    # $1,000 cash: buying 150 Y ($1,500) needs the $2,000 of shorting 100 X, placed after it
    got = _fills(tmp_path, engine, [[1, "Y", "order", 150], [1, "X", "order", -100]], 1_000)
    assert [(s, q) for _, s, q in got] == [("X", -100), ("Y", 150)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_cover_fills_before_a_new_short_of_the_same_bar(engine: str, tmp_path: Path) -> None:
    # short 40 X; then on one bar open a short of 40 Y ($400) and cover X: under a 100% margin
    # the new short fits only once the cover has fill (equity 1,000 vs 40 x 20 + 40 x 10 = 1,200)
    steps = [[1, "X", "order", -40], [3, "Y", "order", -40], [3, "X", "order", 40]]
    got = _fills(tmp_path, engine, steps, 1_000, short_margin=1.0)
    assert [(s, q) for _, s, q in got] == [("X", -40), ("X", 40), ("Y", -40)]


def test_both_engines_fill_a_mixed_bar_alike(tmp_path: Path) -> None:
    steps = [[1, "X", "order", -30], [1, "Y", "order", 20], [4, "Y", "order", 50], [4, "X", "order", 60],
             [4, "Y", "order", -80], [6, "X", "exit", 0], [6, "Y", "order", 100]]
    got = {e: _fills(tmp_path, e, steps, 2_000, short_margin=0.5) for e in ENGINES}
    assert got["backtrader"] == got["zipline"] and len(got["backtrader"]) >= 5


def test_the_gateway_simulator_fills_a_bar_in_the_same_order(tmp_path: Path) -> None:
    """The same bar against the gateway simulator through the IB client: the short leg pays for the
    long one placed before it, and a cover frees the margin of a new short, as on the backtests."""
    from algotrade.core.config import load_experiment
    from algotrade.core.data import load_market
    from tests.rehearsal import fills, rehearse

    # $1,000 under a 50% margin: the long leg needs the short's proceeds (bar 1); two reducing
    # orders (bar 3); a new short of Y fits only once the cover of X has freed its margin (bar 7)
    steps = [[1, "Y", "order", 150], [1, "X", "order", -100], [3, "X", "order", 100], [3, "Y", "order", -150],
             [5, "X", "order", -40], [7, "Y", "order", -190], [7, "X", "order", 40]]
    path = write_experiment(
        tmp_path, name="order", data=_market(tmp_path), engine="backtrader",
        strategy={"name": "tests.scripted:Scripted", "params": {"steps": steps}},
        broker={"cash": 1_000, "commission": {"per_share": 0.0}, "short_margin": 0.5},
        output={"dir": str(tmp_path), "report": False},
    )
    exp = load_experiment(path)
    paper, shadow = rehearse(exp, load_market(exp.data, path), tmp_path / "journal.sqlite", client_id=37)
    assert fills(paper) == fills(shadow)
    assert [(s, q) for _, s, q, _ in fills(shadow)] == [("X", -100), ("Y", 150), ("Y", -150), ("X", 100),
                                                      ("X", -40), ("X", 40), ("Y", -190)]
