"""Parity on any calendar, any date range the calendar can be built for, and any symbol spelling.

Each case runs both engines for real (Backtrader's Cerebro, Zipline's run_algorithm on a real
bundle) on data nobody here chose: every exchange_calendars calendar on a short range, early
history before a calendar's default start, the data's own dates with weekend bars, share-class
spellings that Zipline's asset finder merges, and a lower-case csv symbol. A range a calendar
cannot be built for is refused in one line, exit 2.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from algotrade.backtest.run import execute
from algotrade.cli import cli
from algotrade.core.config import SyntheticConfig, experiment_from_dict
from algotrade.core.data import get_calendar, load_market
from algotrade.core.synthetic import generate
from tests.conftest import ROOT, shared_data

pytestmark = pytest.mark.slow

STRATEGY = {"name": "sma_cross", "params": {"fast": 3, "slow": 10}}


def _sessions(calendar: str, start: str, end: str) -> tuple[str, str]:
    """The first and last session of ``calendar`` within start..end (data.start/end must be sessions)."""
    cal = get_calendar(calendar, pd.Timestamp(start).date(), pd.Timestamp(end).date())
    sessions = cal.sessions_in_range(max(pd.Timestamp(start), cal.first_session), end)
    return str(sessions[0].date()), str(sessions[-1].date())


def _synthetic(calendar: str, start: str, end: str, symbols: tuple[str, ...] = ("AAA", "BBB"), seed: int = 7) -> dict[str, Any]:
    if calendar == "none":  # synthetic bars on weekdays
        days = pd.bdate_range(start, end)
        first, last = str(days[0].date()), str(days[-1].date())
    else:
        first, last = _sessions(calendar, start, end)
    return {"source": "synthetic", "symbols": list(symbols), "start": first, "end": last, "calendar": calendar,
            "synthetic": {"seed": seed, "correlation": 0.2}}


def _write(folder: Path, name: str, data: dict[str, Any], strategy: dict[str, Any] = STRATEGY) -> Path:
    doc = {"name": name, "data": data, "strategy": strategy, "engines": ["backtrader", "zipline"],
           "output": {"dir": str(folder / "results"), "report": False}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output  # stdout and stderr, as a terminal shows them


def _compare(folder: Path, name: str, data: dict[str, Any], strategy: dict[str, Any] = STRATEGY) -> Path:
    """``algotrade compare`` as a user runs it: exit 0 (the engines agree); the run folders."""
    code, text = _cli("compare", str(_write(folder, name, data, strategy)))
    assert code == 0, text
    assert "internal error" not in text
    out = folder / "results" / name
    for engine in ("backtrader", "zipline"):
        assert len(pd.read_csv(out / engine / "trades.csv")) > 0, f"no trades on {engine}: the case proves nothing"
    return out


def _trades(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "trades.csv", dtype={"symbol": str, "date": str}, keep_default_na=False)


def _same_runs(data: dict[str, Any]) -> int:
    """Both engines in process: identical fills and order outcomes, equal equity; the fill count."""
    exp = experiment_from_dict({"name": "cal", "data": data, "strategy": STRATEGY,
                                "engines": ["backtrader", "zipline"], "output": {"report": False}})
    market = load_market(exp.data)
    hosts = [execute(exp, market, engine)[0] for engine in ("backtrader", "zipline")]
    fills = [[(f.date, f.symbol, f.quantity, f.price, round(f.commission, 9)) for f in h.fills] for h in hosts]
    orders = [[(o.id, o.created, o.symbol, o.quantity, o.status) for o in h.orders] for h in hosts]
    assert fills[0] == fills[1]
    assert orders[0] == orders[1]
    equity = [np.array([v for _, _, v in h.equity]) for h in hosts]
    assert [d for d, _, _ in hosts[0].equity] == [d for d, _, _ in hosts[1].equity] == list(market.bars().dates)
    np.testing.assert_allclose(equity[0], equity[1], rtol=1e-9)
    return len(fills[0])


# --------------------------------------------------------------------------------------------
# every calendar exchange_calendars knows


def _canonical_calendars() -> list[str]:
    import exchange_calendars as xc

    return xc.get_calendar_names(include_aliases=False)


@pytest.mark.parametrize("calendar", [*_canonical_calendars(), "NYSE", "LSE", "JPX", "none"])
def test_every_calendar_gives_identical_trades_on_both_engines(calendar: str) -> None:
    # the first half of 2023: a range every calendar can be built for (XSAU starts in 2021)
    assert _same_runs(_synthetic(calendar, "2023-01-01", "2023-06-30")) > 0


@pytest.mark.parametrize(
    ("calendar", "start", "end"),
    [
        ("XLON", "2015-01-01", "2016-12-31"),
        ("XFRA", "2015-01-01", "2016-12-31"),
        ("XTKS", "2015-01-01", "2016-12-31"),
        ("XHKG", "2015-01-01", "2016-12-31"),  # lunch breaks
        ("24/7", "2019-01-01", "2019-12-31"),  # weekends are sessions
        ("XTAE", "2015-01-01", "2016-12-31"),  # Sunday to Thursday until 2026
        ("XNZE", "2015-01-01", "2016-12-31"),  # sessions open on the previous UTC day
        ("CMES", "2015-01-01", "2016-12-31"),
    ],
)
def test_compare_agrees_on_exchange_calendars(calendar: str, start: str, end: str, tmp_path: Path) -> None:
    out = _compare(tmp_path, "cal", _synthetic(calendar, start, end))
    dates = _trades(out / "zipline")["date"]
    sessions = get_calendar(calendar, pd.Timestamp(start).date()).sessions_in_range(start, end)
    assert set(dates) <= {str(d.date()) for d in sessions}


# --------------------------------------------------------------------------------------------
# history before a calendar's default start, and ranges a calendar cannot be built for


@pytest.mark.parametrize(
    ("calendar", "start", "end"),
    [
        ("XNYS", "1986-01-01", "1991-06-30"),  # zipline builds XNYS from 1990 only
        ("XLON", "1985-01-01", "1987-12-31"),  # exchange_calendars: 20 years before today
        ("XFRA", "1985-01-01", "1987-12-31"),
        ("XTKS", "1997-01-01", "1998-06-30"),  # the first date exchange_calendars can build XTKS for
        ("XHKG", "1975-01-01", "1976-12-31"),
    ],
)
def test_compare_agrees_on_history_before_the_default_start(calendar: str, start: str, end: str, tmp_path: Path) -> None:
    _compare(tmp_path, "early", _synthetic(calendar, start, end))


def test_csv_history_from_1986_without_data_start(tmp_path: Path) -> None:
    sessions = get_calendar("XNYS", dt.date(1986, 1, 2)).sessions_in_range("1986-01-02", "1990-12-31")
    frame = generate(("X",), sessions, SyntheticConfig(seed=11))["X"].rename(columns=str.title)
    frame.index.name = "Date"
    frame.to_csv(tmp_path / "x.csv")
    _compare(tmp_path, "csv86", {"source": "csv", "symbols": ["X"], "path": str(tmp_path / "x.csv")})


@pytest.mark.parametrize(
    ("calendar", "start", "end", "words"),
    [
        ("XTKS", "1995-01-04", "1999-12-30", ["XTKS", "from 1997-01-01", "1995-01-04", "data.start to 1997-01-01"]),
        ("XBOM", "2025-01-01", "2027-06-30", ["XBOM", "to 2026-12-31", "2027-06-30", "data.end to 2026-12-31"]),
        ("XSAU", "2019-01-01", "2021-06-30", ["XSAU", "from 2021-01-01", "data.start to 2021-01-01"]),
        ("XSAU", None, None, ["XSAU", "from 2021-01-01", "2010-01-04"]),  # the generator's default range
    ],
)
def test_a_range_the_calendar_cannot_cover_is_refused_in_one_line(calendar: str, start: str | None, end: str | None,
                                                                   words: list[str], tmp_path: Path) -> None:
    data = {"source": "synthetic", "symbols": ["AAA"], "calendar": calendar}
    data.update({k: v for k, v in (("start", start), ("end", end)) if v is not None})
    for command in ("run", "compare"):
        code, text = _cli(command, str(_write(tmp_path, "refused", data)))
        assert code == 2, text
        lines = text.strip().splitlines()
        assert len(lines) == 1, text
        for word in words:
            assert word in lines[0], (word, text)
        assert "Traceback" not in text and "internal error" not in text
        assert not (tmp_path / "results").exists()


def test_csv_history_before_the_calendars_first_date_is_refused_in_one_line(tmp_path: Path) -> None:
    frame = generate(("X",), pd.bdate_range("1995-01-04", "1998-12-30"), SyntheticConfig(seed=2))["X"]
    frame.rename(columns=str.title).rename_axis("Date").to_csv(tmp_path / "x.csv")
    path = _write(tmp_path, "tks", {"source": "csv", "symbols": ["7203.T"], "path": str(tmp_path / "x.csv"),
                                    "calendar": "XTKS"})
    code, text = _cli("compare", str(path))
    assert code == 2, text
    assert text.strip().count("\n") == 0 and "XTKS" in text and "from 1997-01-01" in text and "1995-01-04" in text
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------------------------
# the data's own dates


def test_own_dates_with_weekend_bars_agree(tmp_path: Path) -> None:
    days = pd.date_range("2021-01-01", "2021-12-31").delete([9, 10, 40, 41, 42, 200])  # every day of the week, some gaps
    frame = generate(("X",), days, SyntheticConfig(seed=5))["X"].rename(columns=str.title)
    frame.index.name = "Date"
    frame.to_csv(tmp_path / "btc.csv")
    out = _compare(tmp_path, "own", {"source": "csv", "symbols": ["btc-usd"], "path": str(tmp_path / "btc.csv"),
                                     "calendar": "none"})
    equity = pd.read_csv(out / "zipline" / "equity.csv")
    assert list(equity["date"]) == [str(d.date()) for d in days]
    assert (pd.to_datetime(_trades(out / "zipline")["date"]).dt.dayofweek >= 5).any()
    assert set(_trades(out / "backtrader")["symbol"]) == {"btc-usd"}


def test_real_index_on_its_own_dates(tmp_path: Path) -> None:
    path = shared_data("backtrader/2006-day-001.txt")
    _compare(tmp_path, "own_real", {"source": "csv", "symbols": ["stoxx"], "path": str(path), "calendar": "none"})


# --------------------------------------------------------------------------------------------
# symbols


def test_share_class_spellings_trade_identically_in_the_users_spelling(tmp_path: Path) -> None:
    symbols = ("BRK.B", "BRK_B", "brk.b", "BRK-B", "BRK/B", "BRK B", "nvda", "NVDA", "^GSPC", "EUR=X", "3M", "日経225")
    data = _synthetic("XNYS", "2015-01-01", "2017-12-31", symbols, seed=3)
    out = _compare(tmp_path, "brk", data, {"name": "momentum_rebalance", "params": {"lookback": 21, "top_n": 4}})
    bt, zl = _trades(out / "backtrader"), _trades(out / "zipline")
    pd.testing.assert_frame_equal(bt, zl)
    assert set(zl["symbol"]) == set(symbols)  # every symbol traded, each under the user's spelling
    for name in ("orders.csv",):
        assert set(pd.read_csv(out / "zipline" / name, dtype={"symbol": str}, keep_default_na=False)["symbol"]) <= set(symbols)
    run = json.loads((out / "zipline" / "run.json").read_text())
    assert run["engine_info"]["symbols"]["BRK_B"] == "BRK_B#2"


def test_two_share_class_spellings_alone(tmp_path: Path) -> None:
    out = _compare(tmp_path, "brk2", _synthetic("XNYS", "2015-01-01", "2016-12-31", ("BRK.B", "BRK_B"), seed=4))
    zl = _trades(out / "zipline")
    pd.testing.assert_frame_equal(_trades(out / "backtrader"), zl)
    assert set(zl["symbol"]) == {"BRK.B", "BRK_B"}


def _yahoo_csv(path: Path, calendar: str = "XNYS", start: str = "2016-01-04", end: str = "2018-12-31") -> Path:
    sessions = get_calendar(calendar, pd.Timestamp(start).date()).sessions_in_range(start, end)
    frame = generate(("X",), sessions, SyntheticConfig(seed=9))["X"]
    table = pd.DataFrame({"Date": frame.index.strftime("%Y-%m-%d"), "Open": frame["open"], "High": frame["high"],
                          "Low": frame["low"], "Close": frame["close"], "Adj Close": frame["close"],
                          "Volume": frame["volume"]})
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("symbol", ["nvda", "Nvda", "brk.b"])
def test_a_lower_case_csv_symbol_runs_on_both_engines(symbol: str, tmp_path: Path) -> None:
    out = _compare(tmp_path, "lower", {"source": "csv", "symbols": [symbol], "path": str(_yahoo_csv(tmp_path / "x.csv"))})
    for engine in ("backtrader", "zipline"):
        assert set(_trades(out / engine)["symbol"]) == {symbol}


def test_real_nvda_csv_in_lower_case(tmp_path: Path) -> None:
    path = shared_data("yahoo_daily/nvda-1999-2014.csv")
    data = {"source": "csv", "symbols": ["nvda"], "path": str(path), "start": "2004-01-02", "end": "2008-12-31"}
    out = _compare(tmp_path, "nvda", data, {"name": "sma_cross", "params": {"fast": 10, "slow": 30}})
    assert set(_trades(out / "zipline")["symbol"]) == {"nvda"}


def _ib_experiment(tmp_path: Path, symbols: tuple[str, ...]) -> Path:
    doc = {"name": "ibsym", "data": _synthetic("XNYS", "2015-01-01", "2015-12-31", symbols, seed=8),
           "strategy": {"name": "momentum_rebalance", "params": {"lookback": 21, "top_n": 2}},
           "engine": "backtrader", "output": {"dir": str(tmp_path / "results"), "report": False},
           "burnin": {"min_sessions": 100, "min_trades": 5}}
    path = tmp_path / "ibsym.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_simulated_ib_gateway_sees_the_users_spelling(tmp_path: Path) -> None:
    """Three symbols IB spells otherwise (``BRK B``, ``BF B``, ``RDS A``): the paper run trades
    them like the backtest, under the user's spelling."""
    from algotrade.live.paper import paper_simulated

    symbols = ("brk.b", "BF_B", "rds-a")
    result = paper_simulated(_ib_experiment(tmp_path, symbols))
    paper = [(f.date, f.symbol, f.quantity, f.price) for f in result.paper.fills]
    assert paper == [(f.date, f.symbol, f.quantity, f.price) for f in result.shadow.fills]
    assert {s for _, s, _, _ in paper} == set(symbols)


def test_two_spellings_of_one_ib_contract_are_refused_for_ib_in_one_line(tmp_path: Path) -> None:
    """``brk.b`` and ``BRK_B`` are two series to a backtest but one contract at IB: a paper run
    is refused (exit 2) with a line naming both and the fix, before it trades."""
    path = _ib_experiment(tmp_path, ("brk.b", "BRK_B", "nvda"))
    code, text = _cli("paper", str(path), "--simulate", "--sessions", "5")
    assert code == 2, text
    assert "'brk.b' and 'BRK_B' are the same symbol 'BRK B' on IB; list only one of them" in text
    assert "Traceback" not in text


# --------------------------------------------------------------------------------------------
# the bundle cache


def _zipline_results(path: Path) -> dict[str, Any]:
    folder = path.parent / "results" / "cache" / "zipline"
    return {"run": json.loads((folder / "run.json").read_text()), "trades": _trades(folder)}


def test_a_cached_bundle_on_a_ranged_calendar_is_reused_by_a_new_process(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "cache", _synthetic("XLON", "1986-01-01", "1988-12-31", ("brk.b", "BRK_B")))
    monkeypatch.setenv("ZIPLINE_ROOT", str(tmp_path / "zipline"))
    code, text = _cli("run", str(path), "--engine", "zipline")  # ingests, in this process
    assert code == 0, text
    first = _zipline_results(path)
    proc = subprocess.run([sys.executable, "-m", "algotrade", "run", str(path), "--engine", "zipline"],
                          capture_output=True, text=True, env={**os.environ}, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr  # a new process: the ranged calendar is registered again
    second = _zipline_results(path)
    assert first["run"]["engine_info"]["ingested"] is True
    assert second["run"]["engine_info"]["ingested"] is False
    assert first["run"]["engine_info"]["bundle"] == second["run"]["engine_info"]["bundle"]
    pd.testing.assert_frame_equal(first["trades"], second["trades"])
    assert len(second["trades"]) > 0


def test_the_zipline_calendar_is_part_of_the_bundle_key() -> None:
    from adapters.zipline.bundle import asset_symbols
    from adapters.zipline.calendars import calendar_name
    from adapters.zipline.mapping import bundle_name

    def key(calendar: str, start: str, end: str) -> tuple[str, str]:
        exp = experiment_from_dict({"name": "k", "data": _synthetic(calendar, start, end), "strategy": STRATEGY,
                                    "engine": "zipline"})
        market = load_market(exp.data)
        name = calendar_name(market)
        return name, bundle_name(market.data_hash, name, asset_symbols(market).to_engine.values())

    early, late, xlon = key("XNYS", "1989-01-01", "1990-06-30"), key("XNYS", "1990-01-01", "1990-06-30"), key("XLON", "1990-01-01", "1990-06-30")
    assert early[0] == "ALGOTRADE-XNYS-19890103-19900629"  # before 1990: a calendar of its own, named by its range
    assert late[0] == "XNYS"  # zipline's own XNYS
    assert xlon[0].startswith("ALGOTRADE-XLON-")
    assert len({early[1], late[1], xlon[1]}) == 3
