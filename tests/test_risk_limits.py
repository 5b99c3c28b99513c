"""Portfolio limits: max positions, net exposure, resize to the largest size within every limit or
refuse, the risk events, and the same decisions on Backtrader and Zipline."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from algotrade.backtest.run import execute, run_experiment
from algotrade.core.config import RiskConfig, experiment_from_dict, load_experiment
from algotrade.core.data import load_market
from algotrade.core.errors import ConfigError
from algotrade.core.risk import (
    DrawdownHalt,
    LongOnly,
    MaxGrossLeverage,
    MaxNetExposure,
    MaxPositionPct,
    MaxPositions,
    RiskState,
    VarLimit,
    checks_from_config,
    decide,
)
from tests.stubs import write_experiment
from tests.test_parity import _assert_same

DAY = dt.date(2021, 3, 1)
ROOT = Path(__file__).resolve().parents[1]


def _state(equity: float = 100_000, peak: float | None = None, **positions: int) -> RiskState:
    return RiskState(equity, peak or equity, equity, positions, {"A": 100.0, "B": 50.0, "C": 10.1, "D": 20.0})


def test_max_positions_refuses_the_one_too_many_and_lets_held_symbols_trade() -> None:
    check = MaxPositions(2)
    full = _state(A=10, B=-5)
    assert check.check("C", 1, 10.1, full)  # a third symbol
    assert check.check("A", 500, 100.0, full) is None  # adding to a held one
    assert check.check("B", 10, 50.0, full) is None  # flipping a held one keeps the count
    assert check.check("C", 1, 10.1, _state(A=10, B=0)) is None  # a zero position is not held
    final, (event,) = decide((check,), DAY, "C", 100, 10.1, full)
    assert final == 0 and (event.rule, event.action, event.value, event.limit) == ("max_positions", "refused", 3.0, 2.0)


def test_net_exposure_nets_longs_and_shorts_and_never_blocks_a_reduction() -> None:
    check = MaxNetExposure(0.5)
    assert check.check("A", 400, 100.0, _state(B=-600)) is None  # 40k - 30k = 10% net
    assert check.check("A", 400, 100.0, _state(B=600)) is not None  # 40k + 30k = 70% net
    assert check.check("B", -100, 50.0, _state(A=900)) is None  # 90% net already, selling lowers it
    assert check.check("B", -2000, 50.0, _state(A=0)) is not None  # short side counts too: -100%


@pytest.mark.parametrize(("check", "symbol", "quantity", "price", "positions"), [
    (MaxPositionPct(0.5), "C", 10_000, 10.1, {}),  # exact edge: 100 shares at $10.10 on $2,020 is 50%
    (MaxGrossLeverage(1.0), "A", 900, 100.0, {"B": 600}),
    (MaxNetExposure(0.6), "D", -5000, 20.0, {"B": -300}),
    (LongOnly(), "A", -50, 100.0, {"A": 20}),
    (MaxPositionPct(0.3), "A", -900, 100.0, {"A": 200}),  # flip from long to a short capped at 30%
])
def test_resize_is_the_largest_whole_quantity_within_the_limit(
        check: Any, symbol: str, quantity: int, price: float, positions: dict[str, int]) -> None:
    state = _state(2_020.0 if symbol == "C" else 100_000, **positions)
    assert check.check(symbol, quantity, price, state)
    final, (event,) = decide((check,), DAY, symbol, quantity, price, state)
    assert event.action == "resized" and event.requested == quantity and event.final == final
    assert 0 < abs(final) < abs(quantity) and (final > 0) == (quantity > 0)
    assert check.check(symbol, final, price, state) is None
    step = 1 if quantity > 0 else -1
    assert check.check(symbol, final + step, price, state) is not None
    if symbol == "C":
        assert final == 100


def test_an_order_is_cut_to_fit_every_limit_and_each_cut_is_an_event() -> None:
    checks = (MaxPositionPct(0.4), MaxGrossLeverage(0.6))
    state = _state(B=400)  # 20k of B held
    final, events = decide(checks, DAY, "A", 700, 100.0, state)
    assert final == 400  # 40% cap -> 400 shares, then gross 20k + 40k = 60%: fits
    assert [(e.rule, e.requested, e.final) for e in events] == [("max_position_pct", 700, 400)]
    final, events = decide((MaxGrossLeverage(0.5), MaxPositionPct(0.4)), DAY, "A", 700, 100.0, state)
    assert final == 300 and [e.rule for e in events] == ["max_gross_leverage"]
    assert all(c.check("A", final, 100.0, state) is None for c in checks)


def test_on_breach_refuse_and_halts_refuse_the_whole_order() -> None:
    refusing = checks_from_config(RiskConfig(max_position_pct=0.4, on_breach="refuse"))
    final, (event,) = decide(refusing, DAY, "A", 700, 100.0, _state())
    assert final == 0 and event.action == "refused" and event.value == pytest.approx(0.7)
    final, (event,) = decide((MaxPositionPct(0.4), DrawdownHalt(0.1)), DAY, "A", 700, 100.0, _state(80_000, peak=100_000))
    assert final == 0 and (event.rule, event.action) == ("max_drawdown_pct", "halted")
    assert event.value == pytest.approx(0.2) and event.limit == 0.1


def test_checks_from_config_builds_the_new_limits() -> None:
    cfg = RiskConfig.model_validate({"max_positions": 3, "max_net_exposure": 0.8,
                                     "var": {"limit": 0.02, "method": "monte_carlo", "draws": 5000, "seed": 3}})
    checks = checks_from_config(cfg)
    assert [c.name for c in checks] == ["max_positions", "max_net_exposure", "var"]
    var = checks[-1]
    assert isinstance(var, VarLimit) and (var.model.method, var.model.draws, var.model.seed) == ("monte_carlo", 5000, 3)
    assert all(c.resize for c in checks)


@pytest.mark.parametrize(("risk", "field"), [
    ({"var": {"limit": 0.02, "method": "garch"}}, "method"),
    ({"var": {"limit": 2}}, "limit"),
    ({"var": {"limit": 0.02, "window": 5}}, "window"),
    ({"on_breach": "ignore"}, "on_breach"),
    ({"max_positions": 0}, "max_positions"),
])
def test_bad_limits_are_one_clear_config_error(risk: dict[str, Any], field: str, tmp_path: Path) -> None:
    path = write_experiment(tmp_path, risk=risk)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert field in str(info.value)


def test_run_writes_risk_events_and_counts_them(tmp_path: Path) -> None:
    result = run_experiment(ROOT / "experiments" / "risk_limits.yaml", out=tmp_path, overrides=("output.report=false",))
    events = pd.read_csv(result.folder / "risk_events.csv")
    orders = pd.read_csv(result.folder / "orders.csv")
    metrics = json.loads((result.folder / "metrics.json").read_text())
    assert set(events["rule"]) == {"max_positions", "max_position_pct", "max_net_exposure"}
    assert metrics["risk_events"] == len(events) > 0
    for action in ("resized", "refused", "halted"):
        assert metrics[f"risk_events_{action}"] == int((events["action"] == action).sum())
    # a refused order keeps status blocked; a resized one was sent with its final size
    last = events.groupby(["date", "symbol"]).last()
    refused = last[last["final"] == 0]
    assert metrics["orders_blocked"] == len(refused) == int((orders["status"] == "blocked").sum())
    resized = last[last["final"] != 0]
    sent = orders.set_index(["created", "symbol"])
    for (date, symbol), row in resized.iterrows():
        assert sent.loc[(date, symbol), "quantity"] == row["final"]
    risk = pd.read_csv(result.folder / "risk.csv")
    assert len(risk) == metrics["sessions"] and risk["positions"].max() <= 5
    assert risk["net_exposure"].max() <= 0.7 + 0.02  # at decision time <= 70%; prices move after
    assert (risk["cvar"].dropna() >= risk["var"].dropna()).all()


def _variant(name: str, data: dict[str, Any], strategy: str, params: dict[str, Any], risk: dict[str, Any],
             sizing: float = 0.95) -> dict[str, Any]:
    return {"name": name, "data": data, "strategy": {"name": strategy, "params": params},
            "engines": ["backtrader", "zipline"], "broker": {"cash": 100_000},
            "sizing": {"target_percent": sizing}, "risk": risk, "output": {"report": False}}


TWO = {"source": "sample", "symbols": ["SPX", "IXIC"], "start": "2007-01-03", "end": "2009-06-30"}
SYNTH = {"source": "synthetic", "symbols": ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"], "start": "2011-01-03",
         "end": "2012-12-31", "synthetic": {"seed": 5, "correlation": 0.3}}
CASES = {
    "sma_var_historical": _variant("a", TWO, "sma_cross", {"fast": 10, "slow": 30},
                                   {"long_only": True, "var": {"limit": 0.02, "window": 60}}),
    "rsi_var_parametric_refuse": _variant("b", TWO, "rsi_reversion", {"period": 14, "oversold": 30, "overbought": 70},
                                          {"var": {"limit": 0.015, "method": "parametric", "window": 60},
                                           "on_breach": "refuse"}),
    "bollinger_var_monte_carlo": _variant("c", TWO, "bollinger_breakout", {"period": 20, "nbdev": 2.0},
                                          {"max_position_pct": 0.6,
                                           "var": {"limit": 0.02, "method": "monte_carlo", "window": 60,
                                                   "draws": 20000, "seed": 11}}),
    "momentum_limits": _variant("d", SYNTH, "momentum_rebalance", {"lookback": 63, "top_n": 4, "absolute": False},
                                {"max_positions": 3, "max_position_pct": 0.2, "max_net_exposure": 0.5}),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_limits_resize_and_refuse_identically_on_both_engines(case: str) -> None:
    exp = experiment_from_dict(CASES[case])
    market = load_market(exp.data)
    _assert_same(exp, market)
    bt, _ = execute(exp, market, "backtrader")
    zl, _ = execute(exp, market, "zipline")
    assert bt.risk_events, "no risk event: the case proves nothing"
    assert bt.risk_events == zl.risk_events
    assert bt.holdings == zl.holdings


def test_report_and_compare_pages_show_the_risk_events_and_the_exposure_and_var_plots(tmp_path: Path) -> None:
    from algotrade.backtest.run import compare_experiment

    result = compare_experiment(ROOT / "experiments" / "risk_var_limit.yaml", ("backtrader", "zipline"), out=tmp_path)
    events = pd.read_csv(result.runs[0].folder / "risk_events.csv")
    assert len(events) > 0
    pages = [result.runs[0].folder / "report.html", result.folder / "compare.html"]
    for page in pages:
        text = page.read_text()
        for alt in ("gross and net exposure", "VaR and CVaR"):
            assert f'alt="{alt}"' in text, (page.name, alt)
        table = text[text.index("<table class=risk-events>"):]
        table = table[: table.index("</table>")]
        assert table.count("<tr>") == len(events) + 1  # header + one row per event
        assert "resized" in table and "refused" in table and "2.00%" in table
    assert f"<h2>Risk events ({len(events)})</h2>" in pages[0].read_text()
    assert "Identical on backtrader and zipline." in pages[1].read_text()


@pytest.mark.slow
def test_a_paper_rehearsal_takes_the_backtests_risk_decisions(tmp_path: Path) -> None:
    """The live runner drives the same host: against the gateway simulator, a VaR limit and a
    position cap cut and refuse the same orders as the shadow backtest of the same bars."""
    from algotrade.live.paper import paper_simulated

    overrides = ("data.start=2008-01-02", "data.end=2009-06-30", "risk.max_position_pct=0.6",
                 "risk.var.limit=0.02", "risk.var.window=60", "risk.var.method=parametric")
    result = paper_simulated(ROOT / "experiments" / "paper_quickstart.yaml", overrides, out=tmp_path)
    assert result.shadow.risk_events, "no risk event: the case proves nothing"
    assert {e.action for e in result.shadow.risk_events} >= {"resized"}
    assert result.paper.risk_events == result.shadow.risk_events
    assert [(f.date, f.symbol, f.quantity) for f in result.paper.fills] == \
        [(f.date, f.symbol, f.quantity) for f in result.shadow.fills]
    written = pd.read_csv(result.written.with_name("risk_events.csv"))
    assert len(written) == len(result.paper.risk_events)
    assert list(written["action"]) == [e.action for e in result.paper.risk_events]
