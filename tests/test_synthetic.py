"""The synthetic source: settings that cannot exist are refused in one line; everything it accepts
generates bars the project's own validation accepts as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrade.backtest.run import execute
from algotrade.cli import cli
from algotrade.core.config import SyntheticConfig, correlation_possible, experiment_from_dict
from algotrade.core.data import load_market
from algotrade.core.errors import ConfigError, DataError
from algotrade.core.synthetic import TICK, generate
from algotrade.core.validation import check_calendar, check_rows, check_storage
from tests.stubs import write_experiment

SYMBOLS12 = [f"S{i:02d}" for i in range(12)]


def _data(**data: Any) -> dict[str, Any]:
    return {"name": "syn", "data": {"source": "synthetic", **data}, "strategy": {"name": "sma_cross"},
            "engine": "backtrader"}


def _problems(frames: dict[str, pd.DataFrame], sessions: pd.DatetimeIndex) -> list[str]:
    out = []
    for symbol, frame in frames.items():
        out += [str(p) for p in check_rows(symbol, frame) + check_calendar(symbol, frame, sessions)
                + check_storage(symbol, frame)]
    return out


def test_negative_correlation_too_strong_for_12_symbols_is_one_clear_refusal() -> None:
    with pytest.raises(ConfigError) as info:
        experiment_from_dict(_data(symbols=SYMBOLS12, synthetic={"correlation": -0.17}))
    text = str(info.value)
    assert "\n" not in text
    for word in ("data.synthetic", "correlation -0.17", "12 symbols", "-1/(12-1) = -0.09091",
                 "above -0.09091", "at most 6 symbols"):
        assert word in text, (word, text)


def test_the_refusal_comes_from_the_command_line_with_exit_2(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, data={"source": "synthetic", "symbols": SYMBOLS12,
                                            "synthetic": {"correlation": -0.17}})
    result = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "data.synthetic" in lines[0] and "Traceback" not in result.output


@pytest.mark.parametrize("n", [3, 4, 5, 7, 12, 25, 60, 101])
def test_the_correlation_bound_is_exactly_minus_one_over_n_minus_one(n: int) -> None:
    bound = -1 / (n - 1)
    symbols = [f"X{i}" for i in range(n)]
    above = float(np.nextafter(bound, 0.0))
    if above >= -0.99:
        exp = experiment_from_dict(_data(symbols=symbols, start="2020-01-02", end="2020-03-31",
                                         synthetic={"correlation": above}))
        assert len(load_market(exp.data).frames) == n  # just inside the bound: it generates
    if bound >= -0.99:
        with pytest.raises(ConfigError, match="cannot hold between"):
            experiment_from_dict(_data(symbols=symbols, synthetic={"correlation": bound}))


def test_the_bound_only_applies_to_the_synthetic_source() -> None:
    raw = _data(symbols=SYMBOLS12, synthetic={"correlation": -0.17})
    raw["data"]["source"] = "sample"
    assert experiment_from_dict(raw).data.synthetic.correlation == -0.17  # unused: not refused


def test_generate_itself_refuses_what_the_config_would() -> None:
    sessions = pd.bdate_range("2020-01-02", periods=20)
    with pytest.raises(ConfigError, match=r"correlation -0\.5 cannot hold between 4 symbols"):
        generate(("A", "B", "C", "D"), sessions, SyntheticConfig(correlation=-0.5))
    with pytest.raises(ConfigError, match="no session"):
        generate(("A",), sessions[:0], SyntheticConfig())


def test_low_start_price_and_high_vol_over_ten_years_works() -> None:
    """start_price 4.78, annual_vol 0.75 over 2010-2019 used to round closes to 0.00 and end in
    'prices must be positive ... fix the data file'. Now the closes are reflected at one cent."""
    exp = experiment_from_dict(_data(symbols=["A", "B", "C"], start="2010-01-04", end="2019-12-31",
                                     synthetic={"start_price": 4.78, "annual_vol": 0.75}))
    market = load_market(exp.data)
    assert not market.problems and not market.repairs
    floored = [f["close"].to_numpy() for f in market.frames.values() if (f["close"] == TICK).any()]
    assert floored  # the setting does drive prices down to the floor ...
    for closes in floored:
        assert (closes[int(np.argmax(closes == TICK)):] > TICK).any()  # ... which reflects, not absorbs
    exp = exp.model_copy(update={"engines": ("backtrader", "zipline"), "engine": None})
    hosts = [execute(exp, market, engine)[0] for engine in ("backtrader", "zipline")]
    assert [(f.date, f.symbol, f.quantity, f.price) for f in hosts[0].fills] == [
        (f.date, f.symbol, f.quantity, f.price) for f in hosts[1].fills]
    assert len(hosts[0].fills) > 10


@pytest.mark.parametrize(("field", "value", "words"), [
    ("seed", -1, ["data.synthetic.seed", "-1"]),
    ("start_price", 0.004, ["data.synthetic.start_price", "0.004", "one cent", "0.01 or more"]),
    ("start_price", 5e6, ["data.synthetic.start_price", "5000000"]),
    ("annual_vol", 0, ["data.synthetic.annual_vol"]),
    ("correlation", 1.0, ["data.synthetic.correlation"]),
])
def test_impossible_generator_settings_are_refused_in_one_line(field: str, value: float, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        experiment_from_dict(_data(symbols=["A", "B"], synthetic={field: value}))
    text = str(info.value)
    assert "\n" not in text
    for word in words:
        assert word in text, (word, text)


def test_a_range_without_sessions_is_refused_not_an_internal_error() -> None:
    exp = experiment_from_dict(_data(symbols=["A"], start="2015-01-03", end="2015-01-04"))  # a weekend
    with pytest.raises((ConfigError, DataError), match="no session") as refused:  # one line, exit 2
        load_market(exp.data)
    assert refused.value.exit_code == 2


def test_paths_above_the_floor_are_the_plain_compounded_ones() -> None:
    """The floor changes nothing for a path that never reaches it (shipped results stay as they were)."""
    sessions = pd.bdate_range("2011-01-03", periods=500)
    cfg = SyntheticConfig(seed=5)
    frames = generate(("A", "B"), sessions, cfg)
    rng = np.random.default_rng(5)
    chol = np.linalg.cholesky(np.array([[1.0, 0.3], [0.3, 1.0]]) + 1e-12 * np.eye(2))
    vol = 0.2 / np.sqrt(252)
    regime = np.minimum((np.arange(500) * 3) // 500, 2)
    drift = np.where(regime % 2 == 0, 0.15, -0.10) / 252
    log_ret = drift[:, None] - 0.5 * vol**2 + vol * (rng.standard_normal((500, 2)) @ chol.T)
    log_ret[0] = 0.0
    expected = np.round(100.0 * np.exp(np.cumsum(log_ret, axis=0)), 2)
    np.testing.assert_array_equal(frames["A"]["close"].to_numpy(), expected[:, 0])
    np.testing.assert_array_equal(frames["B"]["close"].to_numpy(), expected[:, 1])


@st.composite
def _settings(draw: st.DrawFn) -> tuple[int, SyntheticConfig, pd.DatetimeIndex]:
    k = draw(st.integers(1, 12))
    low = max(-0.99, -1 / (k - 1)) if k > 2 else -0.99
    rho = draw(st.floats(low, 0.99).filter(lambda r: correlation_possible(r, k)))
    cfg = SyntheticConfig(
        seed=draw(st.integers(0, 2**64)),
        correlation=rho,
        regimes=draw(st.integers(1, 50)),
        start_price=draw(st.floats(0.01, 1_000_000)),
        annual_vol=draw(st.floats(0.001, 2.0)),
    )
    start = draw(st.dates(pd.Timestamp("1990-01-01").date(), pd.Timestamp("2030-01-01").date()))
    sessions = pd.bdate_range(start, periods=draw(st.integers(1, 3000)))
    return k, cfg, sessions


@settings(max_examples=120, deadline=None)
@given(_settings())
def test_every_accepted_setting_generates_bars_validation_accepts(case: tuple[int, SyntheticConfig, pd.DatetimeIndex]) -> None:
    """Every rule of algotrade.core.validation (positive, finite, high/low around open/close, at most 3
    decimals, volume in uint32, one bar per session) holds for the generator's output as it is."""
    k, cfg, sessions = case
    frames = generate(tuple(f"S{i}" for i in range(k)), sessions, cfg)
    assert _problems(frames, pd.DatetimeIndex(sessions, name="date")) == []
    for frame in frames.values():
        values = frame[["open", "high", "low", "close"]].to_numpy()
        assert np.isfinite(values).all() and (values >= TICK).all()
        assert np.array_equal(np.round(values, 2), values)  # cents, as documented
        assert (frame["volume"] >= 0).all() and np.isfinite(frame["volume"]).all()
