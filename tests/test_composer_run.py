"""The composer meta-strategy run as a user runs it: child validation, netting of the children's
virtual orders into real ones, look-ahead, the same allocations and trades on both engines, the
allocations in the results and the report, and a paper rehearsal against the gateway simulator."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from algotrade.backtest.run import execute, run_experiment
from algotrade.core.config import TargetPercentSizing, experiment_from_dict, load_experiment
from algotrade.core.data import Market, load_market
from algotrade.core.errors import ConfigError
from algotrade.core.host import StrategyHost
from algotrade.core.strategy import Context, Fill, Strategy, StrategyConfig
from algotrade.strategies.composer import Composer, ComposerConfig
from tests.stubs import RecordingPort, simple_bars

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "composer.yaml"
SHORT = ("data.start=2010-01-04", "data.end=2011-06-30")


def _with_children(children: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "t", "data": {"source": "sample", "symbols": ["SPX"]},
            "strategy": {"name": "composer", "params": {"children": children}}}


@pytest.mark.parametrize(("children", "named"), [
    ([{"name": "sma_cross", "params": {"fast": 40}}, {"name": "rsi_reversion"}], ("children.0", "sma_cross", "fast (40)")),
    ([{"name": "sma_cross"}, {"name": "rsi_reversion", "params": {"oversold": -3}}],
     ("children.1", "rsi_reversion", "params.oversold", "-3")),
    ([{"name": "sma_cross"}, {"name": "rsi_reversion", "params": {"oversld": 30}}], ("children.1", "params.oversld")),
    ([{"name": "sma_cros"}, {"name": "rsi_reversion"}], ("children.0", "did you mean 'sma_cross'")),
    ([{"nme": "sma_cross"}, {"name": "rsi_reversion"}], ("children.0", "did you mean 'name'")),
    ([{"name": "sma_cross"}], ("two or more children", "got 1")),
])
def test_a_bad_child_is_refused_naming_the_child_and_the_field(children: list[dict[str, Any]], named: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(_with_children(children))
    for part in named:
        assert part in str(err.value)


def test_children_get_their_defaults_filled_and_repeats_unique_labels() -> None:
    exp = experiment_from_dict(_with_children([{"name": "sma_cross"}, {"name": "sma_cross", "params": {"fast": 5}}]))
    children = exp.strategy.params["children"]
    assert [c["params"] for c in children] == [{"fast": 10, "slow": 30}, {"fast": 5, "slow": 30}]
    assert ComposerConfig.model_validate(exp.strategy.params).labels() == ["sma_cross", "sma_cross#2"]


def _drive(strategy: Composer, closes: list[float]) -> list[tuple[int, int]]:
    """Run over flat bars with a port that fills each order at once at the bar's close:
    (bar, quantity) of every real order."""
    bars = simple_bars(closes)
    host = StrategyHost(strategy, bars, TargetPercentSizing(target_percent=0.95))
    port = RecordingPort()
    host.start(port)
    sent: list[tuple[int, int]] = []
    for i in range(len(bars)):
        host.on_bar(i)
        for order in port.sent:
            sent.append((i, order.quantity))
            host.on_fill(order.id, bars.dates[i], order.quantity, closes[i], 0.0)
        port.sent.clear()
    return sent


def test_children_orders_are_netted_per_symbol_by_capital_share() -> None:
    """Two scripted children, equal shares: each virtual position counts half; the real order is
    the change of the sum, truncated toward zero (10 * 0.5 + 7 * 0.5 = 8.5 -> 8)."""
    children = [{"name": "tests.scripted:Scripted", "params": {"steps": [[1, "X", "shares", 10], [5, "X", "shares", 0]]}},
                {"name": "tests.scripted:Scripted", "params": {"steps": [[2, "X", "shares", 7]]}}]
    cfg = ComposerConfig.model_validate({"children": children, "selector": "equal", "rebalance": 100})
    composer = Composer(cfg)
    assert _drive(composer, [100.0] * 8) == [(1, 5), (2, 3), (5, -5)]
    assert [b.positions["X"] for b in composer.books] == [0, 7]
    assert composer.allocations == [(dt.date(2020, 1, 1), [0.5, 0.5])]


class RestingConfig(StrategyConfig):
    limit: float = 95.0
    stop: float = 90.0


class Resting(Strategy[RestingConfig]):
    """Bar 0: a limit buy of 10 at ``limit``; once filled, a stop sell of 10 at ``stop``."""

    config_class = RestingConfig

    def on_bar(self, ctx: Context) -> None:
        if ctx.bar_index == 0:
            ctx.order("X", 10, limit=self.config.limit)

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        if fill.quantity > 0:
            ctx.order("X", -10, stop=self.config.stop)


class MonthlyConfig(StrategyConfig):
    shares: int = 6


class Monthly(Strategy[MonthlyConfig]):
    """Holds ``shares`` from each month's first session, flat from its 10th (a scheduled callback)."""

    config_class = MonthlyConfig

    def on_start(self, ctx: Context) -> None:
        ctx.schedule(lambda c: c.order_target_shares("X", self.config.shares), "month_start")

    def on_bar(self, ctx: Context) -> None:
        if ctx.date.day == 10:
            ctx.exit("X")


def test_resting_limit_and_stop_orders_of_a_child_fill_when_a_bar_reaches_them() -> None:
    children = [{"name": "tests.test_composer_run:Resting"}, {"name": "tests.scripted:Scripted"}]
    composer = Composer(ComposerConfig.model_validate({"children": children, "selector": "equal", "rebalance": 100}))
    sent = _drive(composer, [100.0, 97.0, 94.0, 96.0, 91.0, 89.0, 92.0])
    resting = composer.books[0]
    assert [(f.date.day, f.quantity, f.price) for f in resting.fills] == [(3, 10, 94.0), (6, -10, 89.0)]
    assert resting.cash == Decimal(100_000) + 10 * Decimal(89) - 10 * Decimal(94)
    assert sent == [(2, 5), (5, -5)]  # half of each virtual fill, on the bar it happened


def test_a_childs_schedule_runs_through_the_host_from_the_first_bar() -> None:
    children = [{"name": "tests.test_composer_run:Monthly"}, {"name": "tests.scripted:Scripted"}]
    composer = Composer(ComposerConfig.model_validate({"children": children, "selector": "equal", "rebalance": 100}))
    sent = _drive(composer, [100.0] * 45)  # 2020-01-01 .. 2020-02-14, one bar a day
    assert [(f.date, f.quantity) for f in composer.books[0].fills] == [
        (dt.date(2020, 1, 1), 6), (dt.date(2020, 1, 10), -6), (dt.date(2020, 2, 1), 6), (dt.date(2020, 2, 10), -6)]
    assert sent == [(0, 3), (9, -3), (31, 3), (40, -3)]


def _scaled(market: Market, after: dt.date, seed: int) -> Market:
    """The same market with every bar after ``after`` scaled by a random factor (OHLC together)."""
    rng = np.random.default_rng(seed)
    frames = {}
    for symbol, frame in market.frames.items():
        f = frame.copy()
        later = f.index > pd.Timestamp(after)
        factor = rng.uniform(0.8, 1.2, int(later.sum()))
        for col in ("open", "high", "low", "close"):
            f.loc[later, col] = (f.loc[later, col] * factor).round(2)
        frames[symbol] = f
    return dataclasses.replace(market, frames=frames)


def _decisions(host: StrategyHost, upto: dt.date) -> tuple[list[Any], list[Any]]:
    assert isinstance(host.strategy, Composer)
    orders = [(o.id, o.created, o.symbol, o.quantity) for o in host.orders if o.created <= upto]
    return orders, [a for a in host.strategy.allocations if a[0] <= upto]


@pytest.mark.parametrize("cut", [30, 200, 333])
def test_changing_data_after_day_t_changes_no_allocation_or_order_up_to_t(cut: int) -> None:
    exp = load_experiment(EXPERIMENT, SHORT)
    market = load_market(exp.data)
    day = market.dates[cut].date()
    base, _ = execute(exp, market, "backtrader")
    changed, _ = execute(exp, _scaled(market, day, cut), "backtrader")
    assert _decisions(base, day) == _decisions(changed, day)
    assert len(_decisions(base, day)[1]) >= 2
    assert isinstance(base.strategy, Composer) and isinstance(changed.strategy, Composer)
    assert base.strategy.allocations != changed.strategy.allocations  # the change reached later draws


@pytest.mark.slow
def test_same_seed_same_allocations_and_trades_on_both_engines_and_in_the_report(tmp_path: Path) -> None:
    runs = {e: run_experiment(EXPERIMENT, out=tmp_path, engine=e) for e in ("backtrader", "zipline")}
    alloc = {e: (r.folder / "allocations.csv").read_text() for e, r in runs.items()}
    assert alloc["backtrader"] == alloc["zipline"]
    assert (runs["backtrader"].folder / "trades.csv").read_text() == (runs["zipline"].folder / "trades.csv").read_text()
    table = pd.read_csv(runs["backtrader"].folder / "allocations.csv")
    assert list(table.columns) == ["date", "sma_cross", "rsi_reversion"]
    assert len(table) == -(-1510 // 21) and np.allclose(table[["sma_cross", "rsi_reversion"]].sum(axis=1), 1.0)
    assert table["sma_cross"].nunique() > 10  # the draws move
    page = (runs["backtrader"].folder / "report.html").read_text()
    assert "<h2>Allocations" in page and 'alt="capital share of each child"' in page
    assert "children=[{name: sma_cross, params: {fast: 10, slow: 30}}, {name: rsi_reversion" in page
    other = run_experiment(EXPERIMENT, out=tmp_path / "seed8", overrides=("strategy.params.seed=8",))
    assert (other.folder / "allocations.csv").read_text() != alloc["backtrader"]
    again = run_experiment(EXPERIMENT, out=tmp_path / "again")
    assert (again.folder / "allocations.csv").read_text() == alloc["backtrader"]


def test_equal_selector_gives_every_child_the_same_share(tmp_path: Path) -> None:
    result = run_experiment(EXPERIMENT, out=tmp_path, overrides=(*SHORT, "strategy.params.selector=equal",
                                                                  "output.report=false"))
    table = pd.read_csv(result.folder / "allocations.csv")
    assert (table[["sma_cross", "rsi_reversion"]] == 0.5).all().all()


def test_paper_run_against_the_gateway_simulator_reproduces_the_backtests_trades(tmp_path: Path) -> None:
    from tests.rehearsal import fills, rehearse

    exp = load_experiment(EXPERIMENT, ("data.start=2010-01-04", "data.end=2010-12-31"))
    market = load_market(exp.data)
    paper, shadow = rehearse(exp, market, tmp_path / "journal.sqlite", client_id=29)
    ours, expected = fills(paper), fills(shadow)
    assert len(expected) >= 20 and ours == expected
    assert isinstance(paper.strategy, Composer) and isinstance(shadow.strategy, Composer)
    assert paper.strategy.allocations == shadow.strategy.allocations


@pytest.mark.slow
def test_every_registered_strategy_trades_as_a_child_identically_on_both_engines() -> None:
    from algotrade.core.registry import STRATEGIES

    small = {"xgb_walkforward": {"train_bars": 252, "test_bars": 63, "n_estimators": 20},
             "momentum_rebalance": {"lookback": 60, "top_n": 2},
             "pairs": {"pairs": [["AAA", "BBB"]], "hedge": "rolling_ols"}}  # on the pair planted below
    children = [{"name": n, "params": small.get(n, {})} for n in sorted(STRATEGIES) if n != "composer"]
    exp = experiment_from_dict({
        "name": "all_children",
        "data": {"source": "synthetic", "symbols": ["AAA", "BBB", "CCC", "DDD"], "start": "2012-01-03",
                 "end": "2014-12-31", "synthetic": {"seed": 3, "pairs": [
                     {"y": "AAA", "x": "BBB", "beta": 1.5, "alpha": 10, "half_life": 5, "spread_vol": 1}]}},
        "strategy": {"name": "composer", "params": {"children": children, "rebalance": 10}},
    })
    market = load_market(exp.data)
    hosts = {e: execute(exp, market, e)[0] for e in ("backtrader", "zipline")}
    fills = {e: [(f.date, f.symbol, f.quantity, f.price) for f in h.fills] for e, h in hosts.items()}
    assert fills["backtrader"] == fills["zipline"] and len(fills["backtrader"]) > 50
    composers = [h.strategy for h in hosts.values()]
    assert all(isinstance(c, Composer) for c in composers)
    bt, zl = composers
    assert isinstance(bt, Composer) and isinstance(zl, Composer)
    assert bt.allocations == zl.allocations
    assert all(book.fills for book in bt.books), [b.label for b in bt.books if not b.fills]
