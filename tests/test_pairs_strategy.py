"""The pairs strategy: its hedge ratios, z-scores and positions are the chapter 12 recipes', the same
on Backtrader and Zipline trade for trade (short legs included); both legs are ordered on the same
bar; no estimate and no order up to day T moves when the data after T changes (Kalman and rolling
OLS); selection keeps the planted pair and not the controls; a paper run against the gateway
simulator reproduces the backtest's fills; bad parameters are refused with one line naming the field."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from algotrade.backtest.run import execute
from algotrade.cli import cli
from algotrade.core.config import load_experiment
from algotrade.core.data import Market, load_market
from algotrade.core.errors import ConfigError
from algotrade.strategies.pairs import PairBar, Pairs, PairsConfig, choose_pairs
from recipes.ch12_pairs_trading.r04_rolling_ols import rolling_hedge
from recipes.ch12_pairs_trading.r05_kalman_hedge import kalman_hedge
from recipes.ch12_pairs_trading.r06_zscore_rules import positions, rolling_zscore
from recipes.ch12_pairs_trading.r07_pair_selection import universe
from tests.rehearsal import fills, rehearse

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "pairs.yaml"
#: the planted pair configured (no selection) over two years: the same code paths, faster
CONFIGURED = ("data.start=2015-01-02", "data.end=2016-12-30",
              "strategy.params={pairs: [[Y, X]], hedge: kalman, warmup: 60, z_window: 20}")
ROLLING = ("data.start=2015-01-02", "data.end=2016-12-30",
           "strategy.params={pairs: [[Y, X]], hedge: rolling_ols, window: 60, z_window: 20}")


def _strategy(host: object) -> Pairs:
    strategy = host.strategy  # type: ignore[attr-defined]
    assert isinstance(strategy, Pairs)
    return strategy


def _rows(host: object) -> dict[str, list[PairBar]]:
    return {f"{p.y}~{p.x}": p.rows for p in _strategy(host).pairs}


def _orders(host: object, upto: dt.date | None = None) -> list[tuple[dt.date, str, int, str, str]]:
    return [(o.created, o.symbol, o.quantity, o.type, o.status) for o in host.orders  # type: ignore[attr-defined]
            if upto is None or o.created <= upto]


def _by_order(host: object) -> list[tuple[int, dt.date, str, int, float, float]]:
    """Every fill in order-id order (within a session the engines may report the two legs either way round)."""
    return sorted((f.order_id, f.date, f.symbol, f.quantity, f.price, f.commission) for f in host.fills)  # type: ignore[attr-defined]


def _same(a: list[PairBar], b: list[PairBar]) -> bool:
    """Row for row equal, NaN equal to NaN."""
    def key(r: PairBar) -> tuple[object, ...]:
        return (r.bar, r.date, *("nan" if math.isnan(v) else v for v in (r.beta, r.alpha, r.z)), r.target)
    return [key(r) for r in a] == [key(r) for r in b]


def test_the_shipped_experiment_is_the_same_on_both_engines_with_short_legs() -> None:
    exp = load_experiment(EXPERIMENT)
    market = load_market(exp.data)
    bt, _ = execute(exp, market, "backtrader")
    zl, _ = execute(exp, market, "zipline")
    assert _by_order(bt) == _by_order(zl) and _orders(bt) == _orders(zl)
    assert [(s.y, s.x) for s in _strategy(bt).pairs] == [("Y", "X")]  # the planted pair; no control
    assert all(_same(a, b) for a, b in zip(_rows(bt).values(), _rows(zl).values(), strict=True))
    held: dict[str, int] = defaultdict(int)
    opened_short = 0
    for f in bt.fills:
        opened_short += held[f.symbol] + f.quantity < 0 and f.quantity < 0
        held[f.symbol] += f.quantity
    assert opened_short >= 20, "short legs are traded on both symbols"
    assert {f.symbol for f in bt.fills if f.quantity < 0} == {"Y", "X"}
    assert bt.evaluation_start == _strategy(bt).config.first_trade_bar == 504
    assert min(f.date for f in bt.fills) > market.dates[503].date()  # nothing trades in the formation window


@pytest.mark.parametrize("neutral", ["beta", "dollar"])
def test_both_legs_are_ordered_on_the_same_bar_hedged_by_that_bars_beta(neutral: str) -> None:
    exp = load_experiment(EXPERIMENT, (*CONFIGURED, f"strategy.params.neutral={neutral}"))
    market = load_market(exp.data)
    host, _ = execute(exp, market, "backtrader")
    close = {s: dict(zip((d.date() for d in f.index), f["close"], strict=True)) for s, f in market.frames.items()}
    rows = {r.date: r for r in _rows(host)["Y~X"]}
    by_day: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for o in host.orders:
        by_day[o.created][o.symbol] = o.quantity
    assert len(by_day) >= 10
    position = {"Y": 0, "X": 0}
    for day, legs in sorted(by_day.items()):
        assert set(legs) == {"Y", "X"}, (day, legs)  # never one leg alone
        after = {s: position[s] + legs[s] for s in legs}
        if after == {"Y": 0, "X": 0}:  # an exit closes both
            pass
        else:  # an entry: opposite sides; X = round(beta x Y shares) of the bar's beta, or Y's dollars in X
            assert position == {"Y": 0, "X": 0} and after["Y"] * after["X"] < 0
            if neutral == "beta":
                assert abs(after["X"]) == round(rows[day].beta * abs(after["Y"]))
            else:
                assert abs(after["X"]) == int(abs(after["Y"]) * close["Y"][day] / close["X"][day])
            assert np.sign(after["Y"]) == rows[day].target
        position = after
    assert all(isinstance(f.quantity, int) for f in host.fills)


@pytest.mark.parametrize("overrides", [CONFIGURED, ROLLING], ids=["kalman", "rolling_ols"])
def test_estimates_z_scores_and_positions_are_the_recipes(overrides: tuple[str, ...]) -> None:
    exp = load_experiment(EXPERIMENT, overrides)
    market = load_market(exp.data)
    host, _ = execute(exp, market, "backtrader")
    cfg = _strategy(host).config
    y, x = market.frames["Y"]["close"].to_numpy(), market.frames["X"]["close"].to_numpy()
    if cfg.hedge == "kalman":
        beta, alpha = kalman_hedge(y, x, cfg.delta, cfg.obs_var)
    else:
        beta, alpha = rolling_hedge(y, x, cfg.window)
    ready = cfg.ready_bar
    rows = _rows(host)["Y~X"]
    assert len(rows) == len(y)
    np.testing.assert_array_equal([r.beta for r in rows[ready:]], beta[ready:])
    spread = y[ready:] - alpha[ready:] - beta[ready:] * x[ready:]
    z = rolling_zscore(spread, cfg.z_window)
    np.testing.assert_array_equal([r.z for r in rows[ready:]], z)
    target = positions(z, cfg.entry_z, cfg.exit_z, cfg.stop_z)
    assert [r.target for r in rows[ready:]] == list(target)
    assert abs(np.median(beta[len(beta) // 2:]) - 1.5) < 0.075  # the planted hedge ratio, within 5%
    assert {-1, 1} <= set(target)


def _changed_after(market: Market, day: dt.date, seed: int) -> Market:
    """The same market with every symbol's bars after ``day`` on a different, unrelated path."""
    rng = np.random.default_rng(seed)
    frames = {}
    for symbol, frame in market.frames.items():
        later = frame.index > pd.Timestamp(day)
        factor = np.ones(len(frame))
        factor[later] = np.exp(np.cumsum(rng.normal(0.0, 0.02, int(later.sum()))))
        new = frame.copy()
        for col in ("open", "high", "low", "close"):
            new[col] = (frame[col] * factor).round(2)
        frames[symbol] = new
    return Market(frames, market.calendar)


@pytest.mark.parametrize(("overrides", "offset"), [
    (CONFIGURED, 0), (CONFIGURED, 1), (CONFIGURED, 150), (ROLLING, 0), (ROLLING, 90), ((), 0), ((), 40),
], ids=["kalman-first", "kalman-1", "kalman-150", "ols-first", "ols-90", "select-first", "select-40"])
def test_changing_data_after_day_t_changes_no_estimate_and_no_order_up_to_t(overrides: tuple[str, ...], offset: int) -> None:
    """T on the first bar that may trade, the bar after, and later; configured and selected pairs."""
    exp = load_experiment(EXPERIMENT, overrides)
    market = load_market(exp.data)
    first = Pairs(Pairs.config_class.model_validate(exp.strategy.params)).config.first_trade_bar
    day = market.dates[first + offset].date()
    base, _ = execute(exp, market, "backtrader")
    other, _ = execute(exp, _changed_after(market, day, offset), "backtrader")
    for a, b in zip(_rows(base).values(), _rows(other).values(), strict=True):
        assert _same([r for r in a if r.date <= day], [r for r in b if r.date <= day])
        assert not _same(a, b), "the change made no difference after T: the case proves nothing"
    assert _orders(base, day) == _orders(other, day)
    assert [f for f in fills(base) if f[0] <= day] == [f for f in fills(other) if f[0] <= day]


def test_paper_run_against_the_gateway_simulator_gives_the_backtests_fills(tmp_path: Path) -> None:
    """Without the borrow fee and the short margin: the gateway's own short rules are another branch's (h7live)."""
    exp = load_experiment(EXPERIMENT, ("data.start=2015-01-02", "data.end=2015-12-31",
                                       "strategy.params={pairs: [[Y, X]], warmup: 40, z_window: 15}",
                                       "broker.borrow_fee_bps=0", "broker.short_margin=null"))
    paper, shadow = rehearse(exp, load_market(exp.data), tmp_path / "journal.sqlite", client_id=31)
    ours, expected = fills(paper), fills(shadow)
    assert len(expected) >= 8 and any(q < 0 for _, _, q, _ in expected)
    assert ours == expected


def test_paper_run_of_the_experiment_as_shipped_gives_the_backtests_fills(tmp_path: Path) -> None:
    """With the shipped borrow fee and short margin (passes once the gateway simulator charges the fee)."""
    exp = load_experiment(EXPERIMENT, ("data.start=2015-01-02", "data.end=2015-12-31",
                                       "strategy.params={pairs: [[Y, X]], warmup: 40, z_window: 15}"))
    paper, shadow = rehearse(exp, load_market(exp.data), tmp_path / "journal.sqlite", client_id=32)
    ours, expected = fills(paper), fills(shadow)
    assert len(expected) >= 8 and any(q < 0 for _, _, q, _ in expected)
    assert ours == expected


@pytest.mark.parametrize(("override", "words"), [
    ("strategy.params.entry_z=5", ["strategy.params", "exit_z < entry_z < stop_z", "entry_z 5", "e.g. exit_z: 0.5"]),
    ("strategy.params.hedge=ols", ["strategy.params.hedge", "'ols'", "'kalman'", "'rolling_ols'"]),
    ("strategy.params={pairs: [[Y, Y]]}", ["strategy.params", "pairs[0] is [Y, Y]", "two different symbols"]),
    ("strategy.params={pairs: [[Y, X], [A, X]]}", ["strategy.params", "pairs[1]: 'X' is already in pairs[0]"]),
    ("strategy.params={pairs: [[Y]]}", ["strategy.params.pairs", "pairs[0] is ['Y']", "[Y, X]"]),
    ("strategy.params.pairs=[[Y, X]]", ["strategy.params", "either pairs or select: true", "select: true)"]),
    ("strategy.params={select: false}", ["strategy.params", "either pairs or select: true", "e.g. pairs: [[Y, X]]"]),
    ("strategy.params.capital=0", ["strategy.params.capital", "0", "greater than 0"]),
    ("strategy.params.correction=holm", ["strategy.params.correction", "'holm'", "'fdr_bh'"]),
    ("strategy.params.entryz=3", ["strategy.params.entryz", "did you mean 'entry_z'"]),
])
def test_bad_parameters_are_one_line_naming_the_field(override: str, words: list[str]) -> None:
    with pytest.raises(ConfigError):
        load_experiment(EXPERIMENT, (override,))
    result = CliRunner().invoke(cli, ["validate", str(EXPERIMENT), "--set", override], catch_exceptions=False)
    text = result.output
    assert result.exit_code == 2, text
    for word in words:
        assert word in text, (word, text)
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text


@pytest.mark.parametrize(("params", "words"), [
    ("{pairs: [[Y, Q]]}", ["strategy.params.pairs", "'Q' is not in data.symbols", "Y, X, A, B", "as data.symbols spells"]),
    ("{pairs: [[y, X]]}", ["strategy.params.pairs", "'y' is not in data.symbols", "did you mean 'Y'?"]),
])
def test_a_pair_outside_the_data_is_refused_when_the_run_starts(params: str, words: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(EXPERIMENT), "--out", str(tmp_path), "--set",
                                      f"strategy.params={params}"], catch_exceptions=False)
    text = result.output
    assert result.exit_code == 2, text
    for word in words:
        assert word in text, (word, text)
    assert "Traceback" not in text, text



def test_selection_keeps_the_planted_pairs_and_no_control() -> None:
    closes = universe(n=1000)  # r07's: three planted pairs and six independent controls, 36 pairs tested
    cfg = PairsConfig(select=True, level=0.01, max_pairs=5)
    chosen = choose_pairs(closes, cfg)
    assert [p for *_, p in chosen] == sorted(p for *_, p in chosen)  # best first
    assert {(y, x) for y, x, _ in chosen} == {("Y1", "X1"), ("Y2", "X2"), ("Y3", "X3")}
    assert all(p <= 0.01 for _, _, p in chosen)
    assert [(y, x) for y, x, _ in choose_pairs(closes, cfg.model_copy(update={"max_pairs": 1}))] == [chosen[0][:2]]


def test_the_sale_is_placed_first_so_a_buy_it_pays_for_fills_alike_on_both_engines() -> None:
    """capital 1.5, no short margin: the long leg costs more than the cash, the short leg's proceeds pay for it."""
    exp = load_experiment(EXPERIMENT, (*CONFIGURED, "strategy.params.capital=1.5", "broker.short_margin=null"))
    market = load_market(exp.data)
    bt, _ = execute(exp, market, "backtrader")
    zl, _ = execute(exp, market, "zipline")
    assert _by_order(bt) == _by_order(zl) and _orders(bt) == _orders(zl)
    first_buy = next(f for f in bt.fills if f.quantity > 0)
    assert first_buy.quantity * first_buy.price > exp.broker.cash  # more than the cash: the sale paid for it
    assert all(o.status != "rejected" for o in bt.orders)


def test_a_leg_refused_by_the_short_margin_closes_the_other_on_the_next_bar() -> None:
    exp = load_experiment(EXPERIMENT, (*CONFIGURED, "broker.short_margin=3"))
    market = load_market(exp.data)
    bt, _ = execute(exp, market, "backtrader")
    zl, _ = execute(exp, market, "zipline")
    assert _by_order(bt) == _by_order(zl) and _orders(bt) == _orders(zl)
    refused = [o for o in bt.orders if o.status == "rejected"]
    assert refused and all(o.quantity < 0 for o in refused)  # the margin rule refuses sales only
    dates = [d.date() for d in market.dates]
    for order in refused:
        fill_day = dates.index(order.created) + 1  # next_close: the refusal is on the next session
        if fill_day + 1 >= len(dates):
            continue  # refused on the last session: no bar is left to close on
        closing = [o for o in bt.orders if o.created == dates[fill_day] and o.status == "filled"]
        assert [o.symbol for o in closing] and {o.symbol for o in closing} != {order.symbol}, order


@pytest.mark.parametrize(("y", "x"), [("brk.b", "BRK_B"), ("^GSPC", "EUR=X"), ("日経", "nvda")])
def test_a_pair_of_any_spelling_trades_alike_on_both_engines(y: str, x: str) -> None:
    """Symbols that Zipline upper-cases, splits or renames: the fills carry the user's spelling on both."""
    exp = load_experiment(EXPERIMENT, (
        "data.start=2015-01-02", "data.end=2016-06-30", f"data.symbols=['{y}', '{x}']",
        f"data.synthetic.pairs=[{{y: '{y}', x: '{x}', beta: 1.5, alpha: 10, half_life: 5}}]",
        f"data.synthetic.independent=['{x}']", f"strategy.params={{pairs: [['{y}', '{x}']], warmup: 40}}"))
    market = load_market(exp.data)
    bt, _ = execute(exp, market, "backtrader")
    zl, _ = execute(exp, market, "zipline")
    assert _by_order(bt) == _by_order(zl) and len(bt.fills) >= 6
    assert {f.symbol for f in bt.fills} == {y, x} and any(f.quantity < 0 for f in bt.fills)
