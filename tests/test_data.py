from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from algotrade.core.config import DataConfig, SyntheticConfig
from algotrade.core.data import inspect, load_market
from algotrade.core.errors import DataError
from algotrade.core.synthetic import generate
from algotrade.core.validation import VOLUME_MAX
from tests.conftest import shared_data
from tests.stubs import write_csv

ROWS = [
    ("2020-01-02", 10.0, 11.0, 9.0, 10.5, 100),
    ("2020-01-03", 10.5, 11.0, 10.0, 10.8, 100),
    ("2020-01-06", 10.8, 11.2, 10.1, 11.0, 100),
    ("2020-01-07", 11.0, 11.5, 10.9, 11.1, 100),
]


def _codes(tmp_path: Path, rows: list, calendar: str = "none", repair: str = "engine_safe") -> list[str]:  # type: ignore[type-arg]
    path = write_csv(tmp_path / "x.csv", rows)
    cfg = DataConfig(source="csv", symbols=("X",), path=str(path), calendar=calendar, repair=repair)  # type: ignore[arg-type]
    return [p.code for p in inspect(cfg)[2]]


def test_clean_file_has_no_problems(tmp_path: Path) -> None:
    assert _codes(tmp_path, ROWS) == []


@pytest.mark.parametrize(
    ("code", "rows"),
    [
        ("unsorted", [ROWS[1], ROWS[0], ROWS[2]]),
        ("duplicate_date", [ROWS[0], ROWS[1], ROWS[1]]),
        ("nan_price", [ROWS[0], ("2020-01-03", 10.5, 11, 10, "", 100)]),
        ("nonpositive_price", [ROWS[0], ("2020-01-03", 10.5, 11, 0, 10.8, 100)]),
        ("high_below_open_close", [ROWS[0], ("2020-01-03", 12, 11, 10, 10.8, 100)]),
        ("low_above_open_close", [ROWS[0], ("2020-01-03", 10.5, 11, 10.9, 10.8, 100)]),
        ("negative_volume", [ROWS[0], ("2020-01-03", 10.5, 11, 10, 10.8, -1)]),
        ("infinite_price", [ROWS[0], ("2020-01-03", 10.5, "inf", 10, 10.8, 100)]),
        ("infinite_price", [ROWS[0], ("2020-01-03", 10.5, 11, "-inf", 10.8, 100)]),
        ("infinite_volume", [ROWS[0], ("2020-01-03", 10.5, 11, 10, 10.8, "inf")]),
    ],
)
def test_each_row_defect_is_found(tmp_path: Path, code: str, rows: list) -> None:  # type: ignore[type-arg]
    assert code in _codes(tmp_path, rows)


def test_defects_stop_the_run_naming_symbol_date_and_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [ROWS[0], ("2020-01-03", 10.5, 11, 10, 10.8, -7)])
    with pytest.raises(DataError, match=r"X 2020-01-03 volume=-7.0"):
        load_market(DataConfig(source="csv", symbols=("X",), path=str(path), calendar="none"))


def test_rows_outside_the_calendar_are_an_error(tmp_path: Path) -> None:
    rows = [*ROWS, ("2020-01-11", 11.0, 11.5, 10.9, 11.1, 100)]  # a Saturday
    assert "outside_calendar" in _codes(tmp_path, rows, calendar="XNYS")
    path = tmp_path / "x.csv"
    with pytest.raises(DataError, match=r"2020-01-11.*not a session"):
        load_market(DataConfig(source="csv", symbols=("X",), path=str(path), calendar="XNYS"))


def test_missing_session_is_filled_from_the_previous_close(tmp_path: Path) -> None:
    rows = [ROWS[0], ROWS[2], ROWS[3]]  # 2020-01-03 missing on XNYS
    assert _codes(tmp_path, rows, calendar="XNYS") == ["missing_session"]
    market = load_market(DataConfig(source="csv", symbols=("X",), path=str(tmp_path / "x.csv"), calendar="XNYS"))
    filled = market.frames["X"].loc["2020-01-03"]
    assert list(filled[["open", "high", "low", "close", "volume"]]) == [10.5, 10.5, 10.5, 10.5, 0.0]
    assert market.repairs == {"X": {"missing_session": 1}}


def test_repair_none_turns_repairable_problems_into_errors(tmp_path: Path) -> None:
    write_csv(tmp_path / "x.csv", [ROWS[0], ROWS[2]])
    cfg = DataConfig(source="csv", symbols=("X",), path=str(tmp_path / "x.csv"), calendar="XNYS", repair="none")
    with pytest.raises(DataError, match=r"missing_session|no bar.*engine_safe"):
        load_market(cfg)


def test_zipline_storage_limits_are_repaired_identically(tmp_path: Path) -> None:
    rows = [ROWS[0], ("2020-01-03", 10.12345, 11, 10, 10.8, 5_000_000_000), ROWS[2]]
    assert sorted(_codes(tmp_path, rows)) == ["price_decimals", "volume_overflow"]
    market = load_market(DataConfig(source="csv", symbols=("X",), path=str(tmp_path / "x.csv"), calendar="none"))
    bar = market.frames["X"].loc["2020-01-03"]
    assert bar["open"] == 10.123 and bar["volume"] == VOLUME_MAX


def test_zero_volume_is_valid(tmp_path: Path) -> None:
    rows = [(d, o, h, lo, c, 0) for d, o, h, lo, c, _ in ROWS]
    assert _codes(tmp_path, rows) == []


def test_sample_data_is_real_and_repaired_for_zipline() -> None:
    market = load_market(DataConfig(source="sample", symbols=("SPX", "IXIC"), start=dt.date(2005, 1, 3),
                                     end=dt.date(2012, 12, 31)))
    spx = market.frames["SPX"]
    assert spx.index[0] == pd.Timestamp("2005-01-03") and spx.index[-1] == pd.Timestamp("2012-12-31")
    assert len(spx) == len(market.frames["IXIC"]) == 2013
    assert spx["volume"].max() <= VOLUME_MAX
    assert np.allclose(spx[["open", "close"]] * 1000, np.round(spx[["open", "close"]] * 1000))
    assert spx.loc["2008-10-15", "close"] == pytest.approx(907.84)  # the S&P 500 close that day


def test_synthetic_is_deterministic_and_valid() -> None:
    sessions = pd.bdate_range("2015-01-01", "2016-12-31")
    cfg = SyntheticConfig(seed=3, correlation=0.5, regimes=2)
    a = generate(("A", "B", "C"), sessions, cfg)
    b = generate(("A", "B", "C"), sessions, cfg)
    for sym in a:
        pd.testing.assert_frame_equal(a[sym], b[sym])
    assert not a["A"]["close"].equals(a["B"]["close"])
    rets = pd.DataFrame({s: f["close"].pct_change() for s, f in a.items()}).dropna()
    assert 0.35 < rets.corr().loc["A", "B"] < 0.65
    market = load_market(DataConfig(source="synthetic", symbols=("A", "B"), start=dt.date(2015, 1, 2),
                                     end=dt.date(2015, 12, 31), synthetic=cfg))
    assert not [p for p in market.problems if not p.repairable]


def test_parquet_long_layout(tmp_path: Path) -> None:
    sessions = pd.bdate_range("2020-01-01", "2020-03-31")
    frames = generate(("A", "B"), sessions, SyntheticConfig())
    long = pd.concat([f.assign(symbol=s).reset_index() for s, f in frames.items()])
    long.to_parquet(tmp_path / "bars.parquet")
    market = load_market(DataConfig(source="parquet", symbols=("B",), path=str(tmp_path / "bars.parquet"),
                                    calendar="none"))
    pd.testing.assert_series_equal(market.frames["B"]["close"], frames["B"]["close"], check_freq=False)


def test_yahoo_csv_is_adjusted_by_adj_close() -> None:
    path = shared_data("yahoo_daily/orcl-1995-2014.csv")
    market = load_market(DataConfig(source="csv", symbols=("ORCL",), path=str(path), start=dt.date(2010, 1, 4),
                                    end=dt.date(2010, 12, 31)))
    raw = pd.read_csv(path, index_col="Date", parse_dates=True).loc["2010-06-01"]
    assert market.frames["ORCL"].loc["2010-06-01", "close"] == pytest.approx(round(raw["Adj Close"], 3))


def test_csvdir_layout_reads_dividends_and_splits() -> None:
    folder = shared_data("csvdir")
    market = load_market(DataConfig(source="csvdir", symbols=("AAPL", "KO"), path=str(folder)))
    assert {"dividend", "split"} <= set(market.frames["AAPL"].columns)
    assert market.frames["AAPL"].loc["2014-06-09", "split"] == 7.0
    assert len(market.frames["KO"]) == 754


def test_calendar_none_tells_a_gap_from_missing_data_by_the_datas_own_dates(tmp_path: Path) -> None:
    """Weekly bars (calendar: none): a start up to a week before the first bar is a gap of the
    data's own calendar and is cut to it; three weeks before is data that is not there."""
    weeks = pd.date_range("2020-01-03", "2020-06-26", freq="W-FRI")
    write_csv(tmp_path / "w.csv", [(str(d.date()), 10.0, 11.0, 9.0, 10.5, 100) for d in weeks])
    cfg = {"source": "csv", "symbols": ("W",), "path": str(tmp_path / "w.csv"), "calendar": "none"}
    market = load_market(DataConfig(**cfg, start=dt.date(2019, 12, 28), end=dt.date(2020, 7, 2)))  # type: ignore[arg-type]
    assert (market.dates[0], market.dates[-1], len(market.dates)) == (weeks[0], weeks[-1], len(weeks))
    with pytest.raises(DataError, match=r"data.start: 2019-12-13 .*2020-01-03 .. 2020-06-26"):
        load_market(DataConfig(**cfg, start=dt.date(2019, 12, 13)))  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"data.end: 2020-07-20 .*2020-01-03 .. 2020-06-26"):
        load_market(DataConfig(**cfg, end=dt.date(2020, 7, 20)))  # type: ignore[arg-type]


def test_an_exchange_calendar_refuses_a_start_on_a_session_the_data_lacks(tmp_path: Path) -> None:
    write_csv(tmp_path / "x.csv", ROWS)  # 2020-01-02 .. 2020-01-07
    cfg = {"source": "csv", "symbols": ("X",), "path": str(tmp_path / "x.csv"), "calendar": "XNYS"}
    assert load_market(DataConfig(**cfg, start=dt.date(2020, 1, 1))).dates[0] == pd.Timestamp("2020-01-02")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"data.start: 2019-12-31 .*2020-01-02 .. 2020-01-07"):  # a NYSE session
        load_market(DataConfig(**cfg, start=dt.date(2019, 12, 31)))  # type: ignore[arg-type]


class _ShortCalendar:
    """A calendar that knows weekdays from 2020-01-06 on only (as a calendar that cannot be built
    earlier would)."""

    name = "SHORT"
    first_session = pd.Timestamp("2020-01-06")
    last_session = pd.Timestamp("2020-12-31")

    def sessions_in_range(self, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DatetimeIndex:
        return pd.bdate_range(lo, hi)


def test_days_before_what_the_calendar_knows_are_judged_like_calendar_none() -> None:
    from algotrade.core.data import _Gaps, check_covered

    dates = pd.bdate_range("2020-01-06", "2020-03-31")
    gaps = _Gaps(_ShortCalendar(), dates)
    check_covered("data", "the data", dt.date(2020, 1, 4), None, dates, gaps)  # a weekend before: fine
    with pytest.raises(DataError, match=r"data.start: 2019-01-01 .*2020-01-06 .. 2020-03-31"):
        check_covered("data", "the data", dt.date(2019, 1, 1), None, dates, gaps)
    with pytest.raises(DataError, match=r"data.end: 2021-06-01"):  # after the calendar's last session
        check_covered("data", "the data", None, dt.date(2021, 6, 1), pd.bdate_range("2020-10-01", "2020-12-31"), gaps)


def test_backtrader_csv_on_its_own_dates() -> None:
    path = shared_data("backtrader/2006-day-001.txt")
    market = load_market(DataConfig(source="csv", symbols=("IDX",), path=str(path), calendar="none"))
    assert len(market.frames["IDX"]) == 255
    assert (market.frames["IDX"]["volume"] == 0).all()
