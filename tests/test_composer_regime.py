"""The composer's regime selectors (recipe ch14 r03): the shares are the table's row for the
session's regime, or Thompson draws on the same-regime sessions only; the labels are chapter 13's
walk-forward HMM on the regime symbol; both engines give the same trades, labels and allocations;
no label, allocation or order up to day T moves when the data after T changes; a paper run
against the gateway simulator reproduces the backtest; bad settings are one line naming the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from algotrade.backtest.run import execute
from algotrade.cli import cli
from algotrade.core.config import Experiment, load_experiment
from algotrade.core.data import load_market
from algotrade.core.errors import ConfigError
from algotrade.strategies.composer import Composer
from recipes.ch13_regimes.r02_walk_forward_regimes import walk_forward_regimes
from recipes.ch14_meta_strategies.r02_bandit_allocation import allocate
from recipes.ch14_meta_strategies.r03_regime_allocation import allocate_by_regime, same_regime_rewards
from tests.rehearsal import fills, rehearse
from tests.test_regime_momentum import _changed_after

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "composer_regime.yaml"
#: a smaller run than the shipped one: a shorter training window, refits every 42 sessions
SMALL = ("data.start=2007-01-03", "data.end=2010-12-31",
         "strategy.params.regime={symbol: SPX, train_bars: 150, refit_every: 42, n_iter: 15}",
         "strategy.params.rebalance=10")


def _small(*more: str) -> Experiment:
    return load_experiment(EXPERIMENT, (*SMALL, *more))


def _composer(host: object) -> Composer:
    strategy = host.strategy  # type: ignore[attr-defined]
    assert isinstance(strategy, Composer)
    return strategy


def test_same_regime_rewards_keep_the_rows_of_the_sessions_in_that_regime() -> None:
    rewards = np.arange(12, dtype=float).reshape(6, 2)  # returns into sessions 4 .. 9
    labels = [-1, -1, 0, 0, 1, 0, 1, 1, 0, 1]
    picked = same_regime_rewards(rewards, labels, 9, 1)
    assert picked.tolist() == [rewards[0].tolist(), rewards[2].tolist(), rewards[3].tolist(), rewards[5].tolist()]
    assert same_regime_rewards(rewards, labels, 9, 0).tolist() == [rewards[1].tolist(), rewards[4].tolist()]


def test_regime_shares_are_the_tables_row_and_equal_before_the_first_label() -> None:
    rewards, rng = np.zeros((5, 3)), np.random.default_rng(0)
    table = [[0.6, 0.3, 0.1], [0.0, 0.0, 1.0]]
    assert allocate_by_regime(rewards, [-1] * 5, 4, "regime", rng, 10, table).tolist() == [1 / 3] * 3
    assert allocate_by_regime(rewards, [0, 0, 1, 1, 1], 4, "regime", rng, 10, table).tolist() == table[1]
    assert allocate_by_regime(rewards, [1, 1, 1, 1, 0], 4, "regime", rng, 10, table).tolist() == table[0]


def test_regime_thompson_draws_from_the_same_regime_sessions_alone() -> None:
    rng = np.random.default_rng(3)
    rewards = np.column_stack([np.where(np.arange(40) % 2, 0.02, -0.02), np.full(40, 0.001)])
    labels = [int(k % 2) for k in range(40)]  # child 0 wins in regime 1 and loses in regime 0
    in_one = allocate_by_regime(rewards, labels, 39, "regime_thompson", np.random.default_rng(5), 500)
    assert in_one.tolist() == allocate(rewards[1::2], "thompson", np.random.default_rng(5), 500).tolist()
    assert in_one[0] > 0.9
    in_zero = allocate_by_regime(rewards, [*labels[:39], 0], 39, "regime_thompson", rng, 500)
    assert in_zero[1] > 0.9


def test_both_engines_give_the_same_labels_allocations_and_trades_and_labels_are_the_recipes() -> None:
    exp = _small()
    market = load_market(exp.data)
    hosts = {e: execute(exp, market, e)[0] for e in ("backtrader", "zipline")}
    bt, zl = (_composer(h) for h in hosts.values())
    assert bt.regimes == zl.regimes and bt.allocations == zl.allocations
    assert bt.allocation_regimes == zl.allocation_regimes
    got = [(f.date, f.symbol, f.quantity, f.price) for f in hosts["backtrader"].fills]
    assert got == [(f.date, f.symbol, f.quantity, f.price) for f in hosts["zipline"].fills] and len(got) > 30
    closes = market.frames["SPX"]["close"].to_numpy()
    recipe = walk_forward_regimes(closes, vol_window=20, train_bars=150, refit_every=42, n_iter=15, seed=0)
    assert bt.regimes == recipe.labels
    table = {0: [0.8, 0.2], 1: [0.2, 0.8]}
    for (_, shares), label in zip(bt.allocations, bt.allocation_regimes, strict=True):
        assert shares == table.get(label, [0.5, 0.5])
    assert {-1, 0, 1} <= set(bt.allocation_regimes)


@pytest.mark.parametrize("cut", [175, 212, 400])
def test_changing_data_after_day_t_changes_no_label_allocation_or_order_up_to_t(cut: int) -> None:
    """T at a refit (170 + 42), the session after the first fit's (170), and between refits."""
    for selector in ("regime", "regime_thompson"):
        extra = () if selector == "regime" else ("strategy.params.regime_shares=null",)
        exp = _small(f"strategy.params.selector={selector}", *extra)
        market = load_market(exp.data)
        day = market.dates[cut].date()
        base, _ = execute(exp, market, "backtrader")
        other, _ = execute(exp, _changed_after(market, day, cut), "backtrader")
        a, b = _composer(base), _composer(other)
        assert a.regimes[: cut + 1] == b.regimes[: cut + 1]
        assert [x for x in a.allocations if x[0] <= day] == [x for x in b.allocations if x[0] <= day]
        orders = [[(o.created, o.symbol, o.quantity) for o in h.orders if o.created <= day] for h in (base, other)]
        assert orders[0] == orders[1] and orders[0]
        assert a.regimes != b.regimes or a.allocations != b.allocations, "the change made no difference"


def test_paper_run_against_the_gateway_simulator_reproduces_the_backtests_trades(tmp_path: Path) -> None:
    exp = _small("data.start=2008-01-02", "data.end=2009-12-31")
    market = load_market(exp.data)
    paper, shadow = rehearse(exp, market, tmp_path / "journal.sqlite", client_id=33)
    ours, expected = fills(paper), fills(shadow)
    assert len(expected) >= 15 and ours == expected
    assert _composer(paper).regimes == _composer(shadow).regimes
    assert _composer(paper).allocations == _composer(shadow).allocations


def test_the_results_and_report_carry_the_regime_of_each_draw(tmp_path: Path) -> None:
    from algotrade.backtest.run import run_experiment

    result = run_experiment(EXPERIMENT, out=tmp_path, overrides=SMALL)
    table = (result.folder / "allocations.csv").read_text().splitlines()
    assert table[0] == "date,sma_cross,rsi_reversion,regime"
    assert {row.rsplit(",", 1)[1] for row in table[1:]} >= {"-1", "0", "1"}
    page = (result.folder / "report.html").read_text()
    assert "<h2>Allocations" in page and 'alt="capital share of each child"' in page


@pytest.mark.parametrize(("override", "words"), [
    ("strategy.params.regime_shares=null", ["selector regime needs regime_shares", "regime_shares: [[1.0, 0.0]"]),
    ("strategy.params.regime_shares=[[1, 0]]", ["regime_shares", "1 rows", "one per regime (2)"]),
    ("strategy.params.regime_shares=[[0.5, 0.6], [0.5, 0.5]]", ["row 0", "sum to 1"]),
    ("strategy.params.regime_shares=[[1], [1]]", ["row 0", "1 shares", "one per child (2)"]),
    ("strategy.params.selector=thompson", ["regime_shares is read by selector regime only", "drop it"]),
    ("strategy.params.regime.n_state=3", ["strategy.params.regime.n_state", "n_states"]),
    ("strategy.params.regime.train_bars=10", ["strategy.params.regime.train_bars", "10"]),
])
def test_bad_regime_settings_are_one_line_naming_the_field(override: str, words: list[str]) -> None:
    with pytest.raises(ConfigError):
        load_experiment(EXPERIMENT, (override,))
    result = CliRunner().invoke(cli, ["validate", str(EXPERIMENT), "--set", override], catch_exceptions=False)
    text = result.output
    assert result.exit_code == 2, text
    for word in words:
        assert word in text, (word, text)
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text


def test_a_regime_symbol_outside_the_data_is_refused_with_the_symbols(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(EXPERIMENT), "--out", str(tmp_path), "--set",
                                      "strategy.params.regime.symbol=SPY", "--set", "data.end=2006-03-31"],
                                catch_exceptions=False)
    text = result.output
    assert result.exit_code == 2, text
    assert "strategy.params.regime.symbol: 'SPY' is not one of data.symbols (SPX, IXIC)" in text
    assert "Traceback" not in text



def test_the_recipe_page_runs_and_labels_the_crisis_turbulent(tmp_path: Path) -> None:
    from recipes.ch14_meta_strategies import r03_regime_allocation as r03

    got = r03.main(tmp_path)
    assert got["plot"] == tmp_path / "regime_allocation.png" and got["plot"].stat().st_size > 10_000
    assert 0.1 < got["turbulent"] < 0.6
    assert got["regime book"] != got["regime_thompson book"]
