"""Share counts and the cash rule in exact arithmetic, the same on every engine.

The defect: after a buy and a sell at two-decimal prices, cash that is exactly $1,010.00 was
$1,009.9999999999999 in Backtrader's float ledger (it books a sale as cost basis plus profit),
so a ``target_percent: 1.0`` entry at $10.10 bought 99 shares there and 100 on Zipline.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrade.backtest.run import execute
from algotrade.core.config import BrokerConfig, experiment_from_dict
from algotrade.core.costs import CashBook, exact
from algotrade.core.data import load_market
from algotrade.core.host import StrategyHost
from algotrade.core.risk import (
    DailyLossHalt,
    DrawdownHalt,
    MaxGrossLeverage,
    MaxOrderNotional,
    MaxPositionPct,
    RiskState,
)
from algotrade.core.strategy import scaled_shares, shares_for_value

# bar 0: buy 10 (fills at bar 1's open, 31.12); bar 1: sell them (bar 2's open, 32.12): cash is then
# 1000 - 311.20 + 321.20 = 1010.00 exactly. Bar 2 closes at 10.10: the entry is sized there and
# fills at bar 3's open, 10.10 again, so it costs exactly all the cash.
BARS = [
    ("2021-01-04", 31.00, 31.00, 31.00, 31.00),
    ("2021-01-05", 31.12, 31.12, 31.12, 31.12),
    ("2021-01-06", 32.12, 32.12, 10.10, 10.10),
    ("2021-01-07", 10.10, 10.20, 10.00, 10.15),
    ("2021-01-08", 10.15, 10.15, 10.15, 10.15),
]
ROUND_TRIP = [[0, "A", "shares", 10], [1, "A", "exit", 0]]


def _csv(tmp_path: Path, bars: list[tuple[str, float, float, float, float]]) -> Path:
    path = tmp_path / "a.csv"
    lines = ["Date,Open,High,Low,Close,Volume"] + [f"{d},{o},{h},{lo},{c},1000" for d, o, h, lo, c in bars]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_both(tmp_path: Path, steps: list[list[Any]], bars: list[tuple[str, float, float, float, float]] = BARS,
              **sections: Any) -> list[StrategyHost]:
    exp = experiment_from_dict({
        "name": "exact", "engines": ["backtrader", "zipline"],
        "data": {"source": "csv", "symbols": ["A"], "path": str(_csv(tmp_path, bars))},
        "strategy": {"name": "tests.scripted:Scripted", "params": {"steps": steps}},
        "broker": {"cash": 1000, "fill": "next_open"}, "output": {"report": False}, **sections,
    })
    market = load_market(exp.data)
    return [execute(exp, market, engine)[0] for engine in ("backtrader", "zipline")]


def _orders(host: StrategyHost) -> list[tuple[int, str, int, str]]:
    return [(o.id, o.symbol, o.quantity, o.status) for o in host.orders]


def test_the_float_ledger_really_is_a_cent_fraction_short() -> None:
    """The scenario is the defect: Backtrader's float booking of this round trip, and the old
    float division, give 99 shares."""
    cash = 1000.0 - 10 * 31.12
    cash = cash + (10 * 31.12 + 10 * (32.12 - 31.12))  # Backtrader: cost basis + profit
    assert cash == 1009.9999999999999
    assert math.trunc(cash / 10.10) == 99
    assert shares_for_value(1010.0, 10.10) == 100


@pytest.mark.parametrize(("action", "amount", "sizing"), [
    ("percent", 1.0, {"target_percent": 0.95}),
    ("enter", 1.0, {"target_percent": 1.0}),
    ("enter", 2.0, {"target_percent": 0.5}),
])
def test_cash_of_exactly_1010_buys_100_shares_on_both_engines(
    tmp_path: Path, action: str, amount: float, sizing: dict[str, float]
) -> None:
    hosts = _run_both(tmp_path, [*ROUND_TRIP, [2, "A", action, amount]], sizing=sizing)
    for host in hosts:
        assert _orders(host) == [(1, "A", 10, "filled"), (2, "A", -10, "filled"), (3, "A", 100, "filled")]
        assert [f.price for f in host.fills] == [31.12, 32.12, 10.10]
        assert host.book is not None and host.book.exact_cash == 0  # the fill took exactly all the cash
    bt, zl = hosts
    assert [(f.date, f.quantity, f.price, f.commission) for f in bt.fills] == [
        (f.date, f.quantity, f.price, f.commission) for f in zl.fills]
    assert bt.equity[-1][2] == pytest.approx(zl.equity[-1][2], rel=1e-12)
    assert bt.equity[-1][2] == pytest.approx(100 * 10.15, rel=1e-12)


def test_a_buy_of_exactly_all_the_cash_leaves_zero_cash_on_both_engines(tmp_path: Path) -> None:
    """100 shares bought at 7.93 and sold at 8.03: Zipline's float ledger holds 1,009.9999999999999
    (its commissions and sales in its own order), and after the tie fill -1.1e-13. Every record
    of cash is the book's: 0.0 on both engines, never below zero."""
    bars = [("2021-01-04", 7.93, 7.93, 7.93, 7.93), ("2021-01-05", 7.93, 7.93, 7.93, 7.93),
            ("2021-01-06", 8.03, 10.10, 8.03, 10.10), *BARS[3:]]
    hosts = _run_both(tmp_path, [[0, "A", "shares", 100], [1, "A", "exit", 0], [2, "A", "percent", 1.0]], bars)
    for host in hosts:
        assert _orders(host) == [(1, "A", 100, "filled"), (2, "A", -100, "filled"), (3, "A", 100, "filled")]
        assert [c for _, c, _ in host.equity] == [1000.0, 207.0, 1010.0, 0.0, 0.0]


@pytest.mark.parametrize("risk", [{"max_position_pct": 1.0}, {"max_gross_leverage": 1.0},
                                  {"max_order_notional": 1010.0}])
def test_an_order_exactly_at_a_risk_limit_passes_on_both_engines(tmp_path: Path, risk: dict[str, float]) -> None:
    hosts = _run_both(tmp_path, [*ROUND_TRIP, [2, "A", "percent", 1.0]], risk=risk)
    for host in hosts:
        assert _orders(host)[-1] == (3, "A", 100, "filled")


def test_a_buy_one_cent_beyond_the_cash_is_rejected_on_both_engines(tmp_path: Path) -> None:
    hosts = _run_both(tmp_path, [*ROUND_TRIP, [2, "A", "order", 101]])
    for host in hosts:
        assert host.orders[-1].status == "rejected"
        assert host.orders[-1].reason == "insufficient cash at fill time"
        assert host.book is not None and host.book.exact_cash == Decimal("1010.00")


@settings(max_examples=300, deadline=None)
@given(shares=st.integers(1, 10**7), ticks=st.integers(1, 10**7), cents_over=st.integers(0, 10**6))
def test_shares_for_value_is_the_exact_quotient(shares: int, ticks: int, cents_over: int) -> None:
    """Any cash written in cents, any price written in thousandths: the exact whole quotient."""
    price = Decimal(ticks) / 1000
    value = shares * price + Decimal(cents_over) / 100
    expected = int(value // price)
    assert shares_for_value(float(value), float(price)) == expected
    assert shares_for_value(-float(value), float(price)) == -expected  # truncated toward zero


def test_shares_for_value_refuses_nothing_it_cannot_price() -> None:
    assert shares_for_value(1000.0, 0.0) == 0
    assert shares_for_value(1000.0, math.nan) == 0


def test_fixed_shares_scaled_by_a_weight_round_exactly() -> None:
    assert round(350 * 0.69) == 241  # the float product is 241.49999999999997
    assert scaled_shares(350, 0.69) == 242  # 241.5 exactly: ties go to the even share count
    assert scaled_shares(375, 0.668) == 250  # 250.5 exactly (the float says 250.50000000000003)
    assert scaled_shares(100, 0.07) == 7


def test_cash_book_pays_ties_and_refuses_shortfalls() -> None:
    book = CashBook(BrokerConfig(cash=1010.0))
    assert not book.pay(101, 10.1)
    assert book.exact_cash == Decimal("1010.0")
    assert book.pay(100, 10.1) and book.exact_cash == 0
    assert book.pay(-3, 0.1) and book.exact_cash == Decimal("0.3")  # a sale always fills
    assert book.pay(3, 0.1) and book.exact_cash == 0


@pytest.mark.parametrize(("commission", "fee"), [
    ({"per_share": 0.005, "minimum": 1.0}, Decimal("1.0")),
    ({"per_share": 0.005, "minimum": 0.0}, Decimal("0.185")),
    ({"percent": 0.001}, Decimal("0.37370")),
])
def test_cash_book_charges_commissions_exactly(commission: dict[str, float], fee: Decimal) -> None:
    broker = BrokerConfig.model_validate({"cash": 1000, "commission": commission})
    book = CashBook(broker)
    assert book.pay(37, 10.1)
    assert book.exact_cash == Decimal(1000) - Decimal("373.7") - fee
    exact_cash = book.exact_cash
    assert not book.pay(int(exact_cash // Decimal("10.1")) + 1, 10.1)


def test_risk_limits_compare_exactly() -> None:
    def state(equity: float, peak: float = 2020.0, day: float = 2020.0) -> RiskState:
        return RiskState(equity, peak, day, {}, {"A": 10.1})

    assert MaxPositionPct(0.5).check("A", 100, 10.1, state(2020.0)) is None  # exactly 50%
    assert MaxPositionPct(0.5).check("A", 101, 10.1, state(2020.0)) is not None
    assert MaxGrossLeverage(0.5).check("A", 100, 10.1, state(2020.0)) is None
    assert MaxOrderNotional(1010.0).check("A", 100, 10.1, state(2020.0)) is None
    assert MaxOrderNotional(1010.0).check("A", 101, 10.1, state(2020.0)) is not None
    assert 1 - 90_000 / 100_000 < 0.1  # in floats a 10% drawdown is 9.999999999999998%
    assert DrawdownHalt(0.1).check("A", 1, 10.1, state(90_000.0, peak=100_000.0)) is not None
    assert DailyLossHalt(0.1).check("A", 1, 10.1, state(90_000.0, day=100_000.0)) is not None
    assert DrawdownHalt(0.1).check("A", 1, 10.1, state(90_000.01, peak=100_000.0)) is None
    assert exact(0.1) == Decimal("0.1")
