"""algotrade on the Backtrader adapter trades exactly like the same strategy written natively.

For each shipped strategy, tests/native_backtrader.py has a hand-written ``bt.Strategy`` with the
same logic, sizing rule and fill model. Both run over the same validated and repaired frames
(``market.frames``); the trade lists (date, symbol, signed quantity, price, commission) must be
equal, not approximately equal. Final equity and cash agree to 1e-12 relative: algotrade books
cash exactly (its cash book, docs/engine-parity.md), the native strategy in Backtrader's float
ledger, a few units in the last place away (765.378 against 765.3780000000003).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from algotrade.backtest.run import execute
from algotrade.core.config import Experiment, experiment_from_dict, load_experiment
from algotrade.core.data import Market, load_market
from algotrade.core.results import Tables, tables
from tests.conftest import ROOT, shared_data
from tests.native_backtrader import NativeResult, run_native

QUICKSTART = ROOT / "experiments" / "quickstart.yaml"
#: the whole S&P 500 sample, 1999-01-04 .. 2018-12-31
FULL_RANGE = ("data.start=null", "data.end=null", "output.report=false")


def spx(strategy: str, *overrides: str) -> Experiment:
    """The quickstart experiment over the whole SPX sample, with --set style overrides."""
    return load_experiment(QUICKSTART, (*FULL_RANGE, f"strategy.name={strategy}", "strategy.params={}", *overrides))


def csv_experiment(path: Path, strategy: str, params: dict[str, Any] | None = None, **broker: Any) -> Experiment:
    return experiment_from_dict({
        "name": "native-parity",
        "data": {"source": "csv", "symbols": ["SYN"], "path": str(path), "calendar": "none"},
        "strategy": {"name": strategy, "params": params or {}},
        "engine": "backtrader",
        "broker": broker,
        "sizing": {"target_percent": 0.95},
        "output": {"report": False},
    })


def run_both(exp: Experiment) -> tuple[Market, Tables, NativeResult]:
    """Run ``exp`` through algotrade, and its native twin over the same frames."""
    assert exp.risk.model_dump() == type(exp.risk)().model_dump(), "the native strategies have no risk checks"
    assert "target_percent" in exp.sizing.model_dump()
    market = load_market(exp.data)
    host, _ = execute(exp, market, "backtrader")
    tbl = tables(host)
    broker = exp.broker
    native = run_native(
        exp.strategy.name,
        market.frames,
        exp.strategy.params,
        fill=broker.fill,
        target_percent=exp.sizing.target_percent,  # type: ignore[union-attr]
        cash=broker.cash,
        commission=None if broker.commission == "none" else broker.commission.model_dump(),  # type: ignore[union-attr]
        slippage_bps=0.0 if broker.slippage == "none" else broker.slippage.bps,  # type: ignore[union-attr]
    )
    return market, tbl, native


def assert_same(tbl: Tables, native: NativeResult, min_trades: int = 4) -> None:
    ours = [
        (str(r.date), str(r.symbol), int(r.quantity), float(r.price), float(r.commission))
        for r in tbl.trades.itertuples(index=False)
    ]
    assert len(ours) >= min_trades, f"only {len(ours)} trades: the case tests too little"
    for k, (a, b) in enumerate(zip(ours, native.fills, strict=False)):
        assert a == b, f"trade {k} differs: algotrade {a} vs native {b}"
    assert len(ours) == len(native.fills)
    last = tbl.equity.iloc[-1]
    assert float(last["equity"]) == pytest.approx(native.value, rel=1e-12, abs=1e-9)
    assert float(last["cash"]) == pytest.approx(native.cash, rel=1e-12, abs=1e-9)


def assert_fills_at_bar_prices(tbl: Tables, market: Market, fill: str) -> None:
    """Without slippage every fill is at the exact open/close of the session after the order."""
    field = "close" if fill == "next_close" else "open"
    sessions = [str(d.date()) for d in market.dates]
    nxt = dict(itertools.pairwise(sessions))
    created = dict(zip(tbl.orders["id"], tbl.orders["created"], strict=True))
    for r in tbl.trades.itertuples(index=False):
        assert r.date == nxt[created[r.order_id]], f"order {r.order_id} filled on {r.date}"
        assert r.price == market.frames[r.symbol].loc[pd.Timestamp(r.date), field], r


# --------------------------------------------------------------------------------------------
# S&P 500 sample, 1999-2018


@pytest.mark.parametrize("fill", ["next_close", "next_open"])
@pytest.mark.parametrize("strategy", ["sma_cross", "rsi_reversion", "bollinger_breakout"])
def test_spx_single_asset(strategy: str, fill: str) -> None:
    exp = spx(strategy, f"broker.fill={fill}")
    market, tbl, native = run_both(exp)
    assert_same(tbl, native, min_trades=20)
    assert_fills_at_bar_prices(tbl, market, fill)


@pytest.mark.parametrize(
    ("strategy", "fill", "commission"),
    [
        ("sma_cross", "next_close", "{percent: 0.001}"),
        ("bollinger_breakout", "next_open", "{percent: 0.0025}"),
        # 0.015/share against a 1.00 minimum: SPX orders of 50-150 shares hit both regimes
        ("sma_cross", "next_open", "{per_share: 0.015, minimum: 1.0}"),
        ("rsi_reversion", "next_close", "{per_share: 0.015, minimum: 1.0}"),
    ],
)
def test_spx_commissions(strategy: str, fill: str, commission: str) -> None:
    exp = spx(strategy, f"broker.fill={fill}", f"broker.commission={commission}")
    market, tbl, native = run_both(exp)
    assert_same(tbl, native, min_trades=20)
    assert_fills_at_bar_prices(tbl, market, fill)
    comm = tbl.trades["commission"]
    assert (comm > 0).all()
    if "minimum" in commission:
        assert (comm == 1.0).any() and (comm > 1.0).any(), "both the minimum and the per-share rate should apply"


@pytest.mark.parametrize(
    ("fill", "commission"),
    [("next_close", "none"), ("next_open", "none"), ("next_open", "{percent: 0.001}")],
)
def test_spx_sma_cross_bps_slippage(fill: str, commission: str) -> None:
    exp = spx("sma_cross", f"broker.fill={fill}", "broker.slippage={bps: 5}", f"broker.commission={commission}")
    market, tbl, native = run_both(exp)
    assert_same(tbl, native, min_trades=20)
    field = "close" if fill == "next_close" else "open"
    bars = market.frames["SPX"]
    for r in tbl.trades.itertuples(index=False):
        price = bars.loc[pd.Timestamp(r.date), field]
        assert r.price == (price * 1.0005 if r.quantity > 0 else price * 0.9995)


# --------------------------------------------------------------------------------------------
# several assets: momentum_rebalance sends position-reducing orders first


def same_day_sells_and_buys(tbl: Tables) -> int:
    sides: dict[str, set[bool]] = defaultdict(set)
    for r in tbl.trades.itertuples(index=False):
        sides[r.date].add(r.quantity > 0)
    return sum(len(s) == 2 for s in sides.values())


@pytest.mark.parametrize("fill", ["next_close", "next_open"])
@pytest.mark.parametrize("top_n", [1, 2])
def test_momentum_rebalance_spx_ixic(top_n: int, fill: str) -> None:
    exp = spx(
        "momentum_rebalance", "data.symbols=[SPX, IXIC]", f"broker.fill={fill}",
        f"strategy.params={{lookback: 126, top_n: {top_n}}}",
    )
    market, tbl, native = run_both(exp)
    assert_same(tbl, native, min_trades=30)
    assert_fills_at_bar_prices(tbl, market, fill)
    assert set(tbl.trades["symbol"]) == {"SPX", "IXIC"}
    assert same_day_sells_and_buys(tbl) > 0, "no bar exercised sells-before-buys"


def test_momentum_rebalance_eight_synthetic_assets_with_costs() -> None:
    exp = load_experiment(
        ROOT / "experiments" / "momentum_rebalance.yaml",
        ("risk={}", "output.report=false", "broker.commission={per_share: 0.005, minimum: 1.0}",
         "broker.slippage={bps: 3}"),
    )
    _, tbl, native = run_both(exp)
    assert_same(tbl, native, min_trades=100)
    assert same_day_sells_and_buys(tbl) > 10


# --------------------------------------------------------------------------------------------
# zero volume, a calendar of the data's own dates (weekends, gaps)


def write_odd_calendar_csv(path: Path, n: int = 600, seed: int = 3) -> Path:
    """Cheap synthetic bars: volume 0, weekend and irregular dates, 4-decimal prices near 2.00."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2015-01-03", periods=int(n * 1.3), freq="D")
    days = days[np.sort(rng.choice(len(days), n, replace=False))]
    close = 2.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.005, n))
    frame = pd.DataFrame({
        "Date": days.strftime("%Y-%m-%d"),
        "Open": open_.round(4),
        "High": (np.maximum(open_, close) * 1.003).round(4),
        "Low": (np.minimum(open_, close) * 0.997).round(4),
        "Close": close.round(4),
        "Volume": 0,
    })
    frame.to_csv(path, index=False)
    return path


STRATEGY_PARAMS = [
    ("sma_cross", {}),
    ("rsi_reversion", {"period": 7}),  # the default 14-day RSI trades only twice here
    ("bollinger_breakout", {}),
    ("momentum_rebalance", {"lookback": 20, "rule": "week_start"}),
    ("momentum_rebalance", {"lookback": 20, "rule": "month_start"}),
]


@pytest.mark.parametrize("fill", ["next_close", "next_open"])
@pytest.mark.parametrize(("strategy", "params"), STRATEGY_PARAMS, ids=[f"{s}-{p.get('rule', 'default')}" for s, p in STRATEGY_PARAMS])
def test_zero_volume_odd_calendar(tmp_path: Path, strategy: str, params: dict[str, Any], fill: str) -> None:
    path = write_odd_calendar_csv(tmp_path / "syn.csv")
    exp = csv_experiment(path, strategy, params, cash=1000.0, fill=fill)
    market, tbl, native = run_both(exp)
    bars = market.frames["SYN"]
    assert (bars["volume"] == 0).all()
    assert (bars.index.dayofweek >= 5).any(), "the calendar should include weekends"
    assert_same(tbl, native, min_trades=4)
    assert_fills_at_bar_prices(tbl, market, fill)


def test_fill_price_is_the_bar_price_not_backtraders_average(tmp_path: Path) -> None:
    """Backtrader's ``executed.price`` is (size * price) / size, sometimes one ulp off the price.

    The adapter reports each execution bit's price; this case has such a fill (447 shares at
    1.651 give 1.6509999999999998 as the average).
    """
    path = write_odd_calendar_csv(tmp_path / "syn.csv")
    exp = csv_experiment(path, "sma_cross", cash=1000.0)
    market, tbl, native = run_both(exp)
    assert any(abs(q) * p / abs(q) != p for q, p in zip(tbl.trades["quantity"], tbl.trades["price"], strict=True))
    assert_fills_at_bar_prices(tbl, market, "next_close")
    assert_same(tbl, native, min_trades=4)


@pytest.mark.parametrize("fill", ["next_close", "next_open"])
@pytest.mark.parametrize("strategy", ["sma_cross", "rsi_reversion", "bollinger_breakout"])
def test_backtrader_sample_file_2006(strategy: str, fill: str) -> None:
    """Backtrader's own sample: volume 0, and 2006-01-02, which is no NYSE session."""
    path = shared_data("backtrader/2006-day-001.txt")
    params = {"period": 10} if strategy == "rsi_reversion" else {}  # 4 trades in 2006; 14 days: 2
    exp = csv_experiment(path, strategy, params, fill=fill)
    market, tbl, native = run_both(exp)
    assert market.dates[0].date() == dt.date(2006, 1, 2)
    assert (market.frames["SYN"]["volume"] == 0).all()
    assert_same(tbl, native, min_trades=4)
    assert_fills_at_bar_prices(tbl, market, fill)
