"""Shorts on every engine: the short margin rule, the borrow fee, long/short strategies, long_only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import exchange_calendars as xcals
import pandas as pd
import pytest

from algotrade.backtest.run import run_experiment
from algotrade.core.config import BrokerConfig
from algotrade.core.costs import CashBook, exact_fee
from tests.stubs import write_csv, write_experiment

ENGINES = ("backtrader", "zipline")
ROOT = Path(__file__).resolve().parents[1]


def _flat_market(tmp_path: Path, price: float = 10.0, n: int = 12) -> dict[str, Any]:
    sessions = xcals.get_calendar("XNYS").sessions_in_range("2021-03-01", "2021-04-30")[:n]
    rows = [(str(d.date()), price, price, price, price, 1000.0) for d in sessions]
    path = write_csv(tmp_path / "x.csv", rows)
    return {"source": "csv", "symbols": ["X"], "path": str(path), "calendar": "XNYS"}


def _short_run(tmp_path: Path, engine: str, cash: float, shares: int, **broker: Any) -> Any:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_experiment(
        tmp_path, name=f"short_{engine}", data=_flat_market(tmp_path), engine=engine,
        strategy={"name": "tests.scripted:Scripted", "params": {"steps": [[1, "X", "order", -shares]]}},
        broker={"cash": cash, **broker}, output={"dir": str(tmp_path), "report": False},
    )
    return run_experiment(path, out=tmp_path / engine, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_short_margin_admits_exactly_the_limit_and_refuses_one_cent_past(engine: str, tmp_path: Path) -> None:
    # 200 short at $10: gross short value 2,000, margin 0.5 x 2,000 = 1,000; equity stays the cash
    at_limit = _short_run(tmp_path / "a", engine, 1000.00, 200, short_margin=0.5)
    assert list(at_limit.tables.trades["quantity"]) == [-200]
    past = _short_run(tmp_path / "b", engine, 999.99, 200, short_margin=0.5)
    assert past.tables.trades.empty
    refused = past.tables.orders[past.tables.orders["status"] == "rejected"]
    assert len(refused) == 1 and refused["reason"].iloc[0].startswith("short margin: equity 999.99")
    unruled = _short_run(tmp_path / "c", engine, 999.99, 200)  # no short_margin: today's rule, no limit
    assert list(unruled.tables.trades["quantity"]) == [-200]


def test_the_margin_counts_every_short_and_lets_covers_and_longs_through() -> None:
    book = CashBook(BrokerConfig(cash=1000.0, short_margin=0.5))
    assert book.pay(-100, 10.0, "A")  # equity 1,000 >= 0.5 x 1,000
    assert not book.pay(-101, 10.0, "B")  # 0.5 x 2,010 = 1,005 > 1,000: B's short counts A's too
    assert book.refusal.startswith("short margin")
    assert book.pay(50, 10.0, "A") and book.pay(-50, 10.0, "A")  # a cover, then back to the limit
    book.close_session(pd.Timestamp("2021-03-02").date(), {"A": 14.0})  # at the close: equity 600 < 0.5 x 1,400
    assert not book.pay(-1, 14.0, "A") and book.pay(10, 14.0, "A")  # enlarging refused; covering is not


@pytest.mark.parametrize("engine", ENGINES)
def test_borrow_fee_accrues_each_close_to_the_cent_on_every_engine(engine: str, tmp_path: Path) -> None:
    result = _short_run(tmp_path, engine, 10_000.0, 200, borrow_fee_bps=50)
    # the short fills at bar 2's close and is held at the closes of bars 2..11: 10 sessions
    per_session = Decimal(2000) * Decimal(50) / Decimal(10_000) / Decimal(252)
    expected = per_session * 10
    assert result.metrics["total_borrow_fees"] == pytest.approx(float(expected), abs=1e-9)
    equity = result.tables.equity
    assert round(Decimal(repr(float(equity["equity"].iloc[-1]))), 2) == round(Decimal(10_000) - expected, 2)
    assert round(Decimal(repr(float(equity["equity"].iloc[2]))), 2) == round(Decimal(10_000) - per_session, 2)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_flip_covers_then_shorts_each_with_its_own_commission(engine: str, tmp_path: Path) -> None:
    result = run_experiment(ROOT / "experiments" / "longshort_sma.yaml", out=tmp_path, engine=engine,
                            overrides=("output.report=false",))
    trades = result.tables.trades
    position, flips = 0, 0
    for date, day in trades.groupby("date", sort=False):
        quantities = list(day["quantity"])
        if len(quantities) == 2:  # a flip: the cover of the whole position, then the new side
            flips += 1
            assert quantities[0] == -position and quantities[1] * position < 0, date
        for q, fee in zip(day["quantity"], day["commission"], strict=True):
            assert fee == float(exact_fee(int(q), 0.0, per_share=0.005, minimum=1.0))
        position += sum(quantities)
    assert flips > 10
    assert result.metrics["total_commission"] == len(trades) * 1.0  # every fill pays its own $1 minimum


@pytest.mark.parametrize("engine", ENGINES)
def test_risk_long_only_blocks_every_short_of_a_long_short_strategy(engine: str, tmp_path: Path) -> None:
    result = run_experiment(ROOT / "experiments" / "longshort_sma.yaml", out=tmp_path, engine=engine,
                            overrides=("output.report=false", "risk.long_only=true"))
    assert result.metrics["orders_blocked"] > 0
    assert int(result.tables.trades["quantity"].cumsum().min()) >= 0
    assert result.metrics["total_borrow_fees"] == 0.0
