"""The regime_momentum strategy: its labels are the chapter 13 recipe's, the same on Backtrader
and Zipline; no label and no order up to day T moves when the data after T changes; a paper run
against the gateway simulator reproduces the backtest's trades; bad parameters are refused with
one line naming the field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from algotrade.backtest.run import execute
from algotrade.cli import cli
from algotrade.core.config import Experiment, load_experiment
from algotrade.core.data import Market, load_market
from algotrade.core.errors import ConfigError
from algotrade.strategies.regime_momentum import RegimeMomentum
from recipes.ch13_regimes.r02_walk_forward_regimes import walk_forward_regimes
from tests.rehearsal import fills, rehearse

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "regime_momentum.yaml"
#: a smaller run than the shipped one (fewer bars, a shorter training window): same code paths
SMALL = ("data.start=2006-01-03", "data.end=2010-12-31", "data.symbols=[SPX, IXIC]",
         "strategy.params={lookback: 63, vol_window: 20, train_bars: 252, refit_every: 63, n_iter: 15, seed: 3, "
         "enter_prob: 0.6, exit_prob: 0.4}")


def _small(*more: str) -> Experiment:
    return load_experiment(EXPERIMENT, (*SMALL, *more))


def _strategy(host: object) -> RegimeMomentum:
    strategy = host.strategy  # type: ignore[attr-defined]
    assert isinstance(strategy, RegimeMomentum)
    return strategy


def _labels(host: object) -> dict[str, list[tuple[dt.date, int, float]]]:
    return {s: [(r.date, r.label, r.tradable) for r in rows] for s, rows in _strategy(host).labels.items()}


def test_the_strategys_labels_are_the_recipes_on_both_engines() -> None:
    exp = _small()
    market = load_market(exp.data)
    bt, _ = execute(exp, market, "backtrader")
    zl, _ = execute(exp, market, "zipline")
    assert _labels(bt) == _labels(zl)
    assert fills(bt) == fills(zl)
    cfg = _strategy(bt).config
    params = cfg.model_dump(exclude={"lookback", "max_regime", "enter_prob", "exit_prob"})
    first = cfg.first_label_bar
    for symbol, frame in market.frames.items():
        wf = walk_forward_regimes(frame["close"].to_numpy(), **params)
        assert [label for _, label, _ in _labels(bt)[symbol]] == wf.labels[first:]
        assert {label for _, label, _ in _labels(bt)[symbol]} == {0, 1}
    assert bt.evaluation_start == first and len(bt.fills) >= 6


def _changed_after(market: Market, day: dt.date, seed: int) -> Market:
    """The same market with every bar after ``day`` replaced by a wilder, different path."""
    rng = np.random.default_rng(seed)
    frames = {}
    for symbol, frame in market.frames.items():
        later = frame.index > pd.Timestamp(day)
        factor = np.ones(len(frame))
        factor[later] = np.exp(np.cumsum(rng.normal(0.0, 0.03, int(later.sum()))))
        new = frame.copy()
        for col in ("open", "high", "low", "close"):
            new[col] = frame[col] * factor
        frames[symbol] = new
    return Market(frames, market.calendar)


@pytest.mark.parametrize("offset", [0, 1, 62, 63, 200])
def test_changing_data_after_day_t_changes_no_label_and_no_order_up_to_t(offset: int) -> None:
    """T at a refit bar (offset 0, 63), the bar after one, the bar before the next, and between."""
    exp = _small()
    market = load_market(exp.data)
    first = RegimeMomentum(RegimeMomentum.config_class.model_validate(exp.strategy.params)).config.first_label_bar
    day = market.dates[first + offset].date()
    base, _ = execute(exp, market, "backtrader")
    other, _ = execute(exp, _changed_after(market, day, offset), "backtrader")

    def upto(labels: dict[str, list[tuple[dt.date, int, float]]]) -> dict[str, list[tuple[dt.date, int, float]]]:
        return {s: [r for r in rows if r[0] <= day] for s, rows in labels.items()}

    assert upto(_labels(other)) == upto(_labels(base))
    orders = [[(o.created, o.symbol, o.quantity, o.type) for o in h.orders if o.created <= day] for h in (base, other)]
    assert orders[0] == orders[1]
    fills = [[(f.date, f.symbol, f.quantity, f.price) for f in h.fills if f.date <= day] for h in (base, other)]
    assert fills[0] == fills[1]
    assert _labels(other) != _labels(base), "the change made no difference: the case proves nothing"


def test_the_same_seed_gives_the_same_trades_and_labels() -> None:
    exp = _small()
    market = load_market(exp.data)
    a, _ = execute(exp, market, "backtrader")
    b, _ = execute(exp, market, "backtrader")
    assert _labels(a) == _labels(b)
    assert [(f.date, f.quantity, f.price) for f in a.fills] == [(f.date, f.quantity, f.price) for f in b.fills]


def test_paper_run_against_the_gateway_simulator_gives_the_backtests_trades(tmp_path: Path) -> None:
    exp = _small("data.start=2008-01-02", "data.end=2009-06-30", "data.symbols=[SPX]",
                 "strategy.params={lookback: 20, vol_window: 10, train_bars: 100, refit_every: 40, n_iter: 15, seed: 3}")
    market = load_market(exp.data)
    paper, shadow = rehearse(exp, market, tmp_path / "journal.sqlite", client_id=29)
    ours, expected = fills(paper), fills(shadow)
    assert len(expected) >= 4 and ours == expected


@pytest.mark.parametrize(("override", "words"), [
    ("strategy.params.max_regime=2", ["strategy.params", "max_regime (2) must be below n_states (2)", "use max_regime: 0"]),
    ("strategy.params.refit_every=0", ["strategy.params.refit_every", "0", "greater than or equal to 1"]),
    ("strategy.params.covariance_type=spherical", ["strategy.params.covariance_type", "'spherical'", "'diag'"]),
    ("strategy.params.exit_prob=0.8", ["strategy.params", "exit_prob (0.8) is above enter_prob (0.7)", "exit_prob: 0.3"]),
    ("strategy.params.enter_prob=1", ["strategy.params.enter_prob", "less than 1"]),
    ("strategy.params.train_bars=40", ["strategy.params.train_bars", "40", "greater than or equal to 50"]),
    ("strategy.params.n_state=3", ["strategy.params.n_state", "did you mean 'n_states'"]),
])
def test_bad_parameters_are_one_line_naming_the_field(override: str, words: list[str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_experiment(EXPERIMENT, (override,))
    result = CliRunner().invoke(cli, ["validate", str(EXPERIMENT), "--set", override], catch_exceptions=False)
    text = result.output  # stdout and stderr as the user sees them
    assert result.exit_code == 2, text
    for word in words:
        assert word in text, (word, text)
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text
