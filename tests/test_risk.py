from __future__ import annotations

from pathlib import Path

import pandas as pd

from algotrade.backtest.run import run_experiment
from algotrade.core.config import RiskConfig
from algotrade.core.risk import (
    DailyLossHalt,
    DrawdownHalt,
    LongOnly,
    MaxGrossLeverage,
    MaxOrderNotional,
    MaxPositionPct,
    RiskState,
    checks_from_config,
)
from tests.stubs import write_experiment


def _state(equity: float = 100_000, peak: float = 100_000, day: float = 100_000, **positions: int) -> RiskState:
    return RiskState(equity, peak, day, positions, {"A": 100.0, "B": 50.0})


def test_long_only_blocks_going_short_but_not_selling_down() -> None:
    check = LongOnly()
    assert check.check("A", -10, 100.0, _state(A=5))
    assert check.check("A", -5, 100.0, _state(A=5)) is None


def test_max_position_pct() -> None:
    check = MaxPositionPct(0.5)
    assert check.check("A", 600, 100.0, _state())  # 60% of equity
    assert check.check("A", 400, 100.0, _state()) is None
    assert check.check("A", -100, 100.0, _state(A=700)) is None  # reducing is always allowed


def test_max_gross_leverage_counts_other_positions() -> None:
    check = MaxGrossLeverage(1.0)
    assert check.check("A", 500, 100.0, _state(B=1200)) is not None  # 50k + 60k > 100k
    assert check.check("A", 300, 100.0, _state(B=1200)) is None


def test_max_order_notional() -> None:
    check = MaxOrderNotional(10_000)
    assert check.check("A", -101, 100.0, _state(A=200))
    assert check.check("A", 100, 100.0, _state()) is None


def test_drawdown_halt_blocks_new_risk_only() -> None:
    check = DrawdownHalt(0.2)
    assert check.check("A", 10, 100.0, _state(equity=79_000, peak=100_000))
    assert check.check("A", -10, 100.0, _state(equity=79_000, peak=100_000, A=10)) is None
    assert check.check("A", 10, 100.0, _state(equity=81_000, peak=100_000)) is None


def test_daily_loss_halt() -> None:
    check = DailyLossHalt(0.03)
    assert check.check("A", 10, 100.0, _state(equity=96_000, day=100_000))
    assert check.check("A", 10, 100.0, _state(equity=98_000, day=100_000)) is None


def test_checks_from_config_builds_what_is_asked() -> None:
    names = [c.name for c in checks_from_config(RiskConfig(long_only=True, max_position_pct=0.5, max_drawdown_pct=0.1))]
    assert names == ["long_only", "max_position_pct", "max_drawdown_pct"]
    assert checks_from_config(RiskConfig()) == ()


def test_blocked_orders_are_recorded_with_their_reason(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, risk={"max_position_pct": 0.5, "on_breach": "refuse"})
    result = run_experiment(path, out=tmp_path / "out")
    orders = pd.read_csv(result.folder / "orders.csv")
    blocked = orders[orders["status"] == "blocked"]
    assert len(blocked) > 0 and blocked["reason"].str.startswith("max_position_pct").all()
    assert len(result.tables.trades) == 0  # every entry was too large
