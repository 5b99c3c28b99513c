"""Engine parity: one strategy gives identical trades on Backtrader and Zipline.

Identical means the same (date, symbol, signed quantity, fill price) for every trade, the same
order outcomes, and final equity within 1e-6 relative — for every shipped strategy, both fill
models and every cost model. Each engine runs for real: Backtrader's Cerebro, and Zipline's
run_algorithm on a real (cached) bundle.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from algotrade.backtest.compare import RunFolder, compare_runs
from algotrade.backtest.run import compare_experiment, execute, run_loaded
from algotrade.core.config import Experiment, experiment_from_dict
from algotrade.core.data import Market, load_market
from algotrade.core.host import StrategyHost
from tests.conftest import shared_data

pytestmark = pytest.mark.slow

DATA: dict[str, dict[str, Any]] = {
    "spx": {"source": "sample", "symbols": ["SPX"], "start": "2004-01-02", "end": "2012-12-31"},
    "ixic": {"source": "sample", "symbols": ["IXIC"], "start": "2004-01-02", "end": "2012-12-31"},
    "two": {"source": "sample", "symbols": ["SPX", "IXIC"], "start": "2003-01-02", "end": "2012-12-31"},
    "synthetic": {"source": "synthetic", "symbols": ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"],
                  "start": "2011-01-03", "end": "2016-12-30", "synthetic": {"seed": 5, "correlation": 0.3}},
}
STRATEGIES = {
    "sma_cross": ("spx", {"fast": 10, "slow": 30}),
    "rsi_reversion": ("ixic", {"period": 14, "oversold": 30, "overbought": 70}),
    "bollinger_breakout": ("spx", {"period": 20, "nbdev": 2.0}),
    "momentum_rebalance": ("synthetic", {"lookback": 63, "top_n": 2}),
}
COSTS = {
    "none": {},
    "per_share": {"commission": {"per_share": 0.005, "minimum": 1.0}},
    "percent": {"commission": {"percent": 0.001}},
    "slippage": {"slippage": {"bps": 5}},
}


def _experiment(data: dict[str, Any], strategy: str, params: dict[str, Any], broker: dict[str, Any],
                sizing: dict[str, Any] | None = None) -> Experiment:
    return experiment_from_dict({
        "name": "parity", "data": data, "strategy": {"name": strategy, "params": params},
        "engines": ["backtrader", "zipline"], "broker": {"cash": 100_000, **broker},
        "sizing": sizing or {"target_percent": 0.95}, "output": {"report": False},
    })


@cache
def _market(key: str) -> Market:
    return load_market(_experiment(DATA[key], "sma_cross", {}, {}).data)


def _records(host: StrategyHost) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    fills = [(f.date, f.symbol, f.quantity, f.price, round(f.commission, 9)) for f in host.fills]
    orders = [(o.id, o.created, o.symbol, o.quantity, o.status, o.reason) for o in host.orders]
    return fills, orders


def _assert_same(exp: Experiment, market: Market) -> int:
    bt_host, _ = execute(exp, market, "backtrader")
    zl_host, _ = execute(exp, market, "zipline")
    bt_fills, bt_orders = _records(bt_host)
    zl_fills, zl_orders = _records(zl_host)
    assert len(bt_fills) > 0, "no trades: the case proves nothing"
    for k, (a, b) in enumerate(zip(bt_fills, zl_fills, strict=False)):
        assert a == b, f"trade {k + 1} differs: backtrader {a} vs zipline {b}"
    assert len(bt_fills) == len(zl_fills)
    assert bt_orders == zl_orders
    bt_eq = np.array([v for _, _, v in bt_host.equity])
    zl_eq = np.array([v for _, _, v in zl_host.equity])
    assert [d for d, _, _ in bt_host.equity] == [d for d, _, _ in zl_host.equity]
    np.testing.assert_allclose(zl_eq, bt_eq, rtol=1e-6)
    assert zl_eq[-1] == pytest.approx(bt_eq[-1], rel=1e-6)
    return len(bt_fills)


@pytest.mark.parametrize("cost", sorted(COSTS))
@pytest.mark.parametrize("fill", ["next_close", "next_open"])
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_strategy_trades_identically_on_both_engines(strategy: str, fill: str, cost: str) -> None:
    key, params = STRATEGIES[strategy]
    exp = _experiment(DATA[key], strategy, params, {"fill": fill, **COSTS[cost]})
    _assert_same(exp, _market(key))


def test_multi_asset_on_real_data() -> None:
    exp = _experiment(DATA["two"], "momentum_rebalance", {"lookback": 126, "top_n": 1, "absolute": False},
                      {"fill": "next_open", "commission": {"per_share": 0.005, "minimum": 1.0}})
    assert _assert_same(exp, _market("two")) > 20


def test_sp500_volume_beyond_zipline_storage_still_trades() -> None:
    market = _market("spx")
    assert market.repairs["SPX"]["volume_overflow"] > 600  # S&P 500 volume exceeds uint32 on these days
    exp = _experiment(DATA["spx"], "sma_cross", {"fast": 5, "slow": 20}, {"fill": "next_close"})
    assert _assert_same(exp, market) > 100


def test_cash_rule_is_the_same_on_both_engines() -> None:
    """Sized at 100% of equity, next-close fills often cost more than the cash: both reject them alike."""
    exp = _experiment(DATA["spx"], "sma_cross", {"fast": 5, "slow": 20}, {"fill": "next_close"},
                      sizing={"target_percent": 1.0})
    _assert_same(exp, _market("spx"))
    host, _ = execute(exp, _market("spx"), "zipline")
    rejected = [o for o in host.orders if o.status == "rejected"]
    assert rejected and all(o.reason == "insufficient cash at fill time" for o in rejected)
    assert min(c for _, c, _ in host.equity) >= 0


def test_zero_volume_and_own_calendar(tmp_path: Path) -> None:
    """Index-like data with no volume, on the data's own weekday dates (calendar: none)."""
    sessions = pd.bdate_range("2015-01-01", "2018-12-31")
    sessions = sessions[(sessions.month != 7) | (sessions.day != 6)]  # days XNYS would trade
    from algotrade.core.config import SyntheticConfig
    from algotrade.core.synthetic import generate

    frame = generate(("IDX",), sessions, SyntheticConfig(seed=9))["IDX"].assign(volume=0.0)
    frame.rename_axis("Date").rename(columns=str.title).to_csv(tmp_path / "idx.csv")
    data = {"source": "csv", "symbols": ["IDX"], "path": str(tmp_path / "idx.csv"), "calendar": "none"}
    exp = _experiment(data, "sma_cross", {"fast": 5, "slow": 20}, {"fill": "next_open"})
    market = load_market(exp.data)
    assert (market.frames["IDX"]["volume"] == 0).all()
    assert _assert_same(exp, market) > 50


def test_backtrader_sample_file_zero_volume_non_exchange_dates() -> None:
    path = shared_data("backtrader/2006-day-001.txt")
    data = {"source": "csv", "symbols": ["IDX"], "path": str(path), "calendar": "none"}
    exp = _experiment(data, "sma_cross", {"fast": 3, "slow": 10}, {"fill": "next_close"})
    assert _assert_same(exp, load_market(exp.data)) > 5


def test_csvdir_real_stocks() -> None:
    folder = shared_data("csvdir")
    data = {"source": "csvdir", "symbols": ["AAPL", "IBM", "KO", "MSFT"], "path": str(folder)}
    exp = _experiment(data, "momentum_rebalance", {"lookback": 63, "top_n": 2, "absolute": False},
                      {"fill": "next_open", "commission": {"per_share": 0.005, "minimum": 1.0}})
    assert _assert_same(exp, load_market(exp.data)) > 10


def test_misaligned_runs_are_caught_and_explained(tmp_path: Path) -> None:
    """Backtrader filling at the open and Zipline at the close: compare names the cause."""
    market = _market("spx")
    base = _experiment(DATA["spx"], "sma_cross", {"fast": 10, "slow": 30}, {"fill": "next_close"})
    shifted = base.model_copy(update={"broker": base.broker.model_copy(update={"fill": "next_open"})})
    a = RunFolder.read(run_loaded(shifted, market, "backtrader", tmp_path).folder)
    b = RunFolder.read(run_loaded(base, market, "zipline", tmp_path).folder)
    bars = {s: f.set_axis(f.index.strftime("%Y-%m-%d")) for s, f in market.frames.items()}
    comparison = compare_runs(a, b, bars)
    assert not comparison.agree
    first = comparison.differences[0]
    assert first.category == "fill timing" and "open" in first.explanation and "close" in first.explanation
    assert comparison.trades_diff["first_difference"].sum() == 1


def test_compare_command_agrees_on_the_quickstart(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    result = compare_experiment(root / "experiments" / "quickstart.yaml", ("backtrader", "zipline"), out=tmp_path)
    assert result.agree, result.summary
    folder = tmp_path / "quickstart" / "compare"
    for name in ("trades_diff.csv", "differences.csv", "metrics.csv", "compare.json", "compare.html"):
        assert (folder / name).exists(), name
    diff = pd.read_csv(folder / "trades_diff.csv")
    assert diff["match"].all() and len(diff) == result.summary["trades"]["backtrader"]


def test_second_zipline_run_skips_the_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZIPLINE_ROOT", str(tmp_path / "zroot"))
    exp = _experiment({**DATA["spx"], "start": "2010-01-04", "end": "2010-12-31"}, "sma_cross", {}, {})
    market = load_market(exp.data)
    first = run_loaded(exp, market, "zipline", tmp_path / "a")
    second = run_loaded(exp, market, "zipline", tmp_path / "b")
    import json

    r1 = json.loads((first.folder / "run.json").read_text())
    r2 = json.loads((second.folder / "run.json").read_text())
    assert r1["engine_info"]["ingested"] is True and r2["engine_info"]["ingested"] is False
    assert r1["timings"]["ingest_s"] > 0 and r2["timings"]["ingest_s"] == 0
    assert len(list((tmp_path / "zroot" / "data").iterdir())) == 1


def test_dates_used_are_the_same_sessions() -> None:
    assert _market("spx").dates[0] == pd.Timestamp(dt.date(2004, 1, 2))
