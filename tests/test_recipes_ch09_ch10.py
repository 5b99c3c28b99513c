"""Chapters 9 and 10 (the IB API, live deployment): every recipe runs offline against the gateway
simulator through the real ib_async client and shows what its page promises."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recipes.ch09_ib_api import r01_connect_and_account_summary as c9r01
from recipes.ch09_ib_api import r02_contracts_and_qualification as c9r02
from recipes.ch09_ib_api import r03_historical_bars_to_frame as c9r03
from recipes.ch09_ib_api import r04_streaming_bars_to_sqlite as c9r04
from recipes.ch09_ib_api import r05_place_modify_cancel_orders as c9r05
from recipes.ch09_ib_api import r06_positions_portfolio_pnl as c9r06
from recipes.ch10_live_deployment import r01_broker_adapter_contract as c10r01
from recipes.ch10_live_deployment import r02_target_percent_sizing as c10r02
from recipes.ch10_live_deployment import r03_risk_limits_kill_switch as c10r03
from recipes.ch10_live_deployment import r04_execution_audit_eod as c10r04
from recipes.ch10_live_deployment import r05_paper_burnin as c10r05


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Always the simulator, whatever the developer's environment says."""
    monkeypatch.delenv("ALGOTRADE_IB_HOST", raising=False)
    monkeypatch.delenv("ALGOTRADE_IB_PORT", raising=False)


# --------------------------------------------------------------------------------------------
# chapter 9


def test_endpoint_refuses_live_ports_and_defaults_to_the_simulator() -> None:
    assert c9r01.endpoint({}) is None
    assert c9r01.endpoint({"ALGOTRADE_IB_PORT": "4002"}) == ("127.0.0.1", 4002)
    assert c9r01.endpoint({"ALGOTRADE_IB_HOST": "10.0.0.2", "ALGOTRADE_IB_PORT": "7497"}) == ("10.0.0.2", 7497)
    for live in ("7496", "4001"):
        with pytest.raises(RuntimeError, match="live IB port"):
            c9r01.endpoint({"ALGOTRADE_IB_PORT": live})


def test_c9r01_connect_and_account_summary(tmp_path: Path) -> None:
    r = c9r01.main(out=tmp_path)
    assert r["simulated"] and r["accounts"] == ["DU0000001"]
    assert r["server_version"] >= 176
    assert r["net_liquidation"] == r["cash"] == c9r01.BROKER["cash"]
    assert r["summary"]["NetLiquidation"] == c9r01.BROKER["cash"]
    assert r["summary"]["GrossPositionValue"] == 0
    assert r["table"].exists() and "NetLiquidation" in set(r["values"]["tag"])


def test_c9r02_contracts_and_qualification(tmp_path: Path) -> None:
    r = c9r02.main(out=tmp_path)
    # the simulator numbers its symbols from 1001 in alphabetical order
    assert r["con_ids"] == {"SPX": 1002, "IXIC": 1001}
    assert r["by_con_id"] == "SPX"
    assert [d["secType"] for d in r["details"]] == ["STK", "STK"]
    assert all(d["minTick"] == 0.01 for d in r["details"])
    assert r["error_codes"] == [200, 200]
    assert r["failed"][0][0] == f"STK {c9r02.UNKNOWN}"


def test_c9r03_historical_bars_equal_the_market_frame(tmp_path: Path) -> None:
    r = c9r03.main(out=tmp_path)
    assert r["counts"] == {"5 D": 5, "1 M": 21, "1 Y": c9r01.START_SESSION + 1}
    assert r["equal_to_market"] == {"SPX": True, "IXIC": True}
    assert r["problems"] == {"SPX": [], "IXIC": []}
    frame = r["frames"]["SPX"]
    assert list(frame.columns) == list(c9r03.FIELDS) and frame.index.name == "date"
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.is_monotonic_increasing
    assert r["plot"].exists()


def test_c9r04_streaming_bars_reach_sqlite(tmp_path: Path) -> None:
    r = c9r04.main(out=tmp_path)
    assert r["rows"] == {"SPX": 21 + c9r04.SESSIONS, "IXIC": 21 + c9r04.SESSIONS}
    assert all(n >= c9r04.SESSIONS for n in r["updates"].values())
    assert r["equal_to_market"] == {"SPX": True, "IXIC": True}
    for sym, frame in r["stored"].items():
        assert frame["close"].iloc[-1] == pytest.approx(r["snapshot"][sym]["last"])
    assert r["database"].exists()


def test_c9r05_orders_modify_cancel_and_fills_with_commissions(tmp_path: Path) -> None:
    r = c9r05.main(out=tmp_path)
    ref = c9r05.REF
    assert r["statuses"] == {f"{ref}:market": "Filled", f"{ref}:limit": "Filled", f"{ref}:stop": "Cancelled"}
    low, high = r["limit_prices"]
    assert high > low
    fills = r["fills"]
    assert list(fills["orderRef"]) == [f"{ref}:market", f"{ref}:limit"]
    assert (fills["orderRef"] == fills["execution orderRef"]).all()
    assert (fills["commission"] > 0).all()
    assert r["executions"] == 2
    assert r["cancel_errors"] == [202]


def test_c9r06_positions_portfolio_pnl(tmp_path: Path) -> None:
    r = c9r06.main(out=tmp_path)
    positions = r["positions"]
    assert positions["position"].to_dict() == {"IXIC": 10.0, "SPX": 20.0}
    # IB's average cost includes the commission
    for sym, price in r["fill_price"].items():
        assert positions.loc[sym, "avgCost"] > price
    port = r["portfolio"]
    assert (port["marketValue"] - port["position"] * port["marketPrice"]).abs().max() < 1e-6
    assert r["unrealized_sum_single"] == pytest.approx(r["pnl_held"]["unrealized"])
    assert r["realized_on_sale"] != 0 and r["pnl"]["realized"] == pytest.approx(r["realized_on_sale"])
    assert r["positions_after"]["position"].to_dict() == {"IXIC": 10.0, "SPX": 10.0}
    assert len(r["pnl_path"]) == c9r06.HOLD_SESSIONS + 1
    assert r["plot"].exists()


# --------------------------------------------------------------------------------------------
# chapter 10


def test_c10r01_three_brokers_make_the_same_trades(tmp_path: Path) -> None:
    r = c10r01.main(out=tmp_path)
    assert r["identical"], r["trades"]
    assert len(r["trades"]["backtest"]) >= 10
    equity = list(r["final_equity"].values())
    assert equity == pytest.approx([equity[0]] * 3, rel=1e-12)
    assert all(f.execution.orderRef.startswith("ib:sma_cross:") for f in r["ib_executions"])
    assert all(f.commissionReport.commission > 0 for f in r["ib_executions"])


def test_c10r02_target_percent_against_live_positions(tmp_path: Path) -> None:
    r = c10r02.main(out=tmp_path)
    rebalances = r["rebalances"]
    assert len(rebalances) == len(c10r02.TARGETS)
    for k, reb in enumerate(rebalances):
        assert reb["again"] == []
        expected = {s: reb["held"].get(s, 0) + dict(reb["orders"]).get(s, 0) for s in reb["targets"]}
        assert {s: reb["positions"].get(s, 0) for s in reb["targets"]} == expected
        for s, p in reb["targets"].items():
            assert reb["achieved"][s] == pytest.approx(p, abs=0.02), (k, s)
    assert rebalances[2]["positions"].get("SPX", 0) == 0
    assert sum(abs(q) for _, q in rebalances[3]["orders"]) <= 2  # only the drift


def test_c10r02_target_percent_orders_reduce_first() -> None:
    orders = c10r02.target_percent_orders({"A": 0.6, "B": 0.1}, 10_000, {"A": 10.0, "B": 10.0}, {"A": 100, "B": 500})
    assert orders == [("B", -400), ("A", 500)]


def test_c10r03_kill_switch_leaves_no_position_and_no_order(tmp_path: Path) -> None:
    r = c10r03.main(out=tmp_path)
    assert "limit" in r["reason"]
    assert r["positions_before"] and len(r["open_before"]) == 2
    assert len(r["kill_refs"]) == 2 and all(":kill:" in ref for ref in r["kill_refs"])
    assert sorted(q for _, q, _ in r["kill_fills"]) == sorted(-q for q in r["positions_before"].values())
    assert len(r["cancelled"]) == 2
    assert all(q == 0 for q in r["ib_positions"].values())
    assert r["ib_open_orders"] == []
    assert r["halted"] and r["halted"].startswith("kill switch")
    assert r["blocked"]


def test_c10r04_execution_audit_eod(tmp_path: Path) -> None:
    r = c10r04.main(out=tmp_path)
    assert all(r["checks"].values()), r["checks"]
    assert len(r["fills"]) == r["host_fills"] == len(r["orders"])
    assert (r["fills"]["commission"] > 0).all()
    eod = r["eod"]
    assert eod.index.is_monotonic_increasing and len(eod) > 300
    assert (tmp_path / "eod_snapshot.csv").exists() and r["plot"].exists()


def test_c10r05_paper_burnin(tmp_path: Path) -> None:
    r = c10r05.main(out=tmp_path)
    burnin = r["burnin"]
    assert burnin["config_id"] == r["config_id"]
    assert burnin["verdict"] in ("go", "no-go")
    assert burnin["verdict"] == ("go" if all(ok for *_, ok in r["gates"]) else "no-go")
    assert burnin["paper_fills"] >= 10 and burnin["mode"] == "simulate"
    assert (r["folder"] / "burnin.html").exists() and (r["folder"] / "simulate-journal.sqlite").exists()
    assert all(m.startswith("live trading refused") for m in r["refusals"].values())
    assert "config_id" in r["refusals"]["another config"]
