"""A newcomer's first hour with experiment files (issue 12): calendar dates for data.start/end,
an engine by default, impossible dates, errors blamed on the flag that caused them, results
folders of --set variants, short summaries, a one-line validate and data validate."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from algotrade.cli import cli
from algotrade.core.config import DataConfig, Experiment, explain, load_experiment, symbols_text
from algotrade.core.data import get_calendar, load_market
from algotrade.core.errors import AlgotradeError, DataError
from tests.conftest import shared_data
from tests.stubs import write_experiment

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"
FAST = {"name": "sma_cross", "params": {"fast": 2, "slow": 5}}


def _cli(*args: str) -> tuple[int, str]:
    """Exit code and what the command printed: its output, or its error when it failed."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout if result.exit_code == 0 else result.stdout + result.stderr


def _bars_csv(path: Path, dates: pd.DatetimeIndex) -> Path:
    """A csv (Backtrader layout) with one consistent bar per date."""
    lines = ["Date,Open,High,Low,Close,Volume"]
    for i, day in enumerate(dates):
        close = round(100 + 5 * ((i * 7) % 11) / 11 + 0.1 * i, 2)
        lines.append(f"{day.date()},{close},{close + 1},{close - 1},{close},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def _sessions(calendar: str, start: str, end: str) -> pd.DatetimeIndex:
    index = get_calendar(calendar, dt.date.fromisoformat(start)).sessions_in_range(start, end)
    return index.tz_localize(None) if index.tz is not None else index


# --------------------------------------------------------------------------------------------
# calendar dates: each case is data whose first and last bar sit next to a weekend or holiday
# (source, calendar, data section without start/end, first bar, last bar,
#  a start on a weekend/holiday before the first bar, an end on one after the last bar,
#  a start long before the data, a range inside the data that holds no session)


class Case(typing.NamedTuple):
    id: str
    calendar: str
    data: dict[str, Any]
    first: str
    last: str
    start: str
    end: str
    far_start: str | None
    empty: tuple[str, str]


def _case(case_id: str, tmp_path: Path) -> Case:
    if case_id == "sample-XNYS":  # SPX 1999-01-04 .. 2018-12-31; 1999-01-01 and 2019-01-01 are NYSE holidays
        return Case(case_id, "XNYS", {"source": "sample", "symbols": ["SPX"], "calendar": "XNYS"},
                    "1999-01-04", "2018-12-31", "1999-01-01", "2019-01-01", "1980-01-01", ("2010-01-02", "2010-01-03"))
    if case_id == "csv-XLON":  # London: 2020-01-01 a holiday, 2020-04-10 .. 04-13 Good Friday to Easter Monday
        path = _bars_csv(tmp_path / "lse.csv", _sessions("XLON", "2020-01-02", "2020-04-09"))
        return Case(case_id, "XLON", {"source": "csv", "symbols": ["VOD"], "path": str(path), "calendar": "XLON"},
                    "2020-01-02", "2020-04-09", "2020-01-01", "2020-04-13", "2019-06-03", ("2020-02-08", "2020-02-09"))
    if case_id == "csv-none":  # the data's own dates: weekdays 2021-03-01 (Mon) .. 2021-05-28 (Fri)
        path = _bars_csv(tmp_path / "own.csv", pd.bdate_range("2021-03-01", "2021-05-28"))
        return Case(case_id, "none", {"source": "csv", "symbols": ["OWN"], "path": str(path), "calendar": "none"},
                    "2021-03-01", "2021-05-28", "2021-02-27", "2021-05-30", "2020-01-01", ("2021-04-10", "2021-04-11"))
    if case_id == "synthetic-XFRA":  # generated on Frankfurt's sessions: 2019-01-01 and 12-24 .. 12-26 are closed
        return Case(case_id, "XFRA", {"source": "synthetic", "symbols": ["A", "B"], "calendar": "XFRA"},
                    "2019-01-02", "2019-12-23", "2019-01-01", "2019-12-26", None, ("2019-12-24", "2019-12-26"))
    assert case_id == "synthetic-none"
    return Case(case_id, "none", {"source": "synthetic", "symbols": ["A"], "calendar": "none"},
                "2019-01-07", "2019-06-28", "2019-01-05", "2019-06-30", None, ("2019-06-01", "2019-06-02"))


CASES = ["sample-XNYS", "csv-XLON", "csv-none", "synthetic-XFRA", "synthetic-none"]


def _experiment(tmp_path: Path, case: Case, **dates: str) -> Path:
    return write_experiment(tmp_path, name="snap", data={**case.data, **dates}, strategy=FAST,
                            output={"dir": str(tmp_path / "results"), "report": False})


@pytest.mark.parametrize("case_id", CASES)
@pytest.mark.parametrize("via", ["yaml", "set"])
def test_calendar_dates_snap_to_the_nearest_sessions(case_id: str, via: str, tmp_path: Path) -> None:
    case = _case(case_id, tmp_path)
    if via == "yaml":
        path, sets = _experiment(tmp_path, case, start=case.start, end=case.end), []
    else:
        path = _experiment(tmp_path, case)
        sets = ["--set", f"data.start={case.start}", "--set", f"data.end={case.end}"]
    code, text = _cli("run", str(path), *sets)
    assert code == 0, text
    first_line, note = text.splitlines()[:2]
    assert f"{case.first} .. {case.last}" in first_line
    assert f"data.start {case.start} -> {case.first}" in note and f"data.end {case.end} -> {case.last}" in note
    folder = next((tmp_path / "results").glob("snap*/backtrader"))
    run = json.loads((folder / "run.json").read_text())
    assert (run["data"]["first"], run["data"]["last"]) == (case.first, case.last)
    assert run["data"]["requested"] == {"start": case.start, "end": case.end}
    equity = pd.read_csv(folder / "equity.csv")
    assert (equity["date"].iloc[0], equity["date"].iloc[-1]) == (case.first, case.last)
    code, text = _cli("validate", str(path), *sets)
    assert code == 0 and f"{case.first} .. {case.last}" in text and f"data.start {case.start} -> {case.first}" in text


@pytest.mark.parametrize("case_id", [c for c in CASES if not c.startswith("synthetic")])
@pytest.mark.parametrize("via", ["yaml", "set"])
def test_a_start_long_before_the_data_is_refused_with_its_range(case_id: str, via: str, tmp_path: Path) -> None:
    case = _case(case_id, tmp_path)
    assert case.far_start is not None
    for field, value in (("start", case.far_start), ("end", str(pd.Timestamp(case.last) + pd.Timedelta(days=60))[:10])):
        if via == "yaml":
            path, sets = _experiment(tmp_path, case, **{field: value}), []
        else:
            path, sets = _experiment(tmp_path, case), ["--set", f"data.{field}={value}"]
        code, text = _cli("run", str(path), *sets)
        assert code == 2, text
        assert text.startswith("data error: ") and len(text.strip().splitlines()) == 1, text
        assert f"data.{field}: {value}" in text and f"{case.first} .. {case.last}" in text
        assert "Traceback" not in text and not (tmp_path / "results").exists()


@pytest.mark.parametrize("case_id", CASES)
@pytest.mark.parametrize("via", ["yaml", "set"])
def test_a_range_without_a_session_is_refused(case_id: str, via: str, tmp_path: Path) -> None:
    case = _case(case_id, tmp_path)
    start, end = case.empty
    if via == "yaml":
        path, sets = _experiment(tmp_path, case, start=start, end=end), []
    else:
        path, sets = _experiment(tmp_path, case), ["--set", f"data.start={start}", "--set", f"data.end={end}"]
    code, text = _cli("run", str(path), *sets)
    assert code == 2, text
    assert len(text.strip().splitlines()) == 1 and "holds no session" in text and f"{start} .. {end}" in text
    if not case_id.startswith("synthetic"):
        assert f"{case.first} .. {case.last}" in text
    assert not (tmp_path / "results").exists()


def test_start_on_the_first_day_of_a_month_on_the_backtrader_index(tmp_path: Path) -> None:
    """The issue's example: 2006-01-01 .. 2006-12-31 on a file whose bars run 2006-01-02 .. 2006-12-29."""
    path = shared_data("backtrader/2006-day-001.txt")
    market = load_market(DataConfig(source="csv", symbols=("IDX",), path=str(path), calendar="none",
                                    start=dt.date(2006, 1, 1), end=dt.date(2006, 12, 31)))
    assert (str(market.dates[0].date()), str(market.dates[-1].date()), len(market.dates)) == ("2006-01-02", "2006-12-29", 255)
    with pytest.raises(DataError, match=r"data.start: 2005-11-01 .*2006-01-02 .. 2006-12-29"):
        load_market(DataConfig(source="csv", symbols=("IDX",), path=str(path), calendar="none", start=dt.date(2005, 11, 1)))


def test_several_symbols_each_must_cover_the_range(tmp_path: Path) -> None:
    folder = tmp_path / "bars"
    folder.mkdir()
    for sym, first in (("EARLY", "2020-01-02"), ("LATE", "2020-03-02")):
        lines = ["date,open,high,low,close,volume,dividend,split"]
        lines += [f"{d.date()},10,11,9,10.5,100,0,1" for d in _sessions("XNYS", first, "2020-06-30")]
        (folder / f"{sym}.csv").write_text("\n".join(lines) + "\n")
    cfg = {"source": "csvdir", "symbols": ("EARLY", "LATE"), "path": str(folder)}
    with pytest.raises(DataError, match=r"data.start: 2020-01-01 is before the data of LATE, .*2020-03-02 .. 2020-06-30"):
        load_market(DataConfig(**cfg, start=dt.date(2020, 1, 1)))  # type: ignore[arg-type]
    market = load_market(DataConfig(**cfg, start=dt.date(2020, 2, 29)))  # type: ignore[arg-type]  # a Saturday
    assert market.dates[0] == pd.Timestamp("2020-03-02")


def test_a_window_snaps_like_the_data_range() -> None:
    market = load_market(DataConfig(source="sample", symbols=("SPX",), start=dt.date(2010, 1, 4), end=dt.date(2010, 12, 31)))
    part = market.between(dt.date(2010, 1, 2), dt.date(2011, 1, 2))  # weekends around the loaded sessions
    assert (part.dates[0], part.dates[-1]) == (market.dates[0], market.dates[-1])
    part = market.between(dt.date(2010, 3, 6), dt.date(2010, 3, 14))
    assert (str(part.dates[0].date()), str(part.dates[-1].date())) == ("2010-03-08", "2010-03-12")
    with pytest.raises(DataError, match=r"window.start: 2009-06-01 .*2010-01-04 .. 2010-12-31"):
        market.between(dt.date(2009, 6, 1), None)
    with pytest.raises(DataError, match=r"window.end: 2011-03-01 .*2010-01-04 .. 2010-12-31"):
        market.between(None, dt.date(2011, 3, 1))
    own = load_market(DataConfig(source="synthetic", symbols=("A",), calendar="none",
                                 start=dt.date(2019, 1, 7), end=dt.date(2019, 3, 29)))
    assert own.between(dt.date(2019, 1, 5), None).dates[0] == own.dates[0]
    with pytest.raises(DataError, match=r"window.start"):
        own.between(dt.date(2018, 12, 1), None)


def test_sweep_and_walkforward_use_the_snapped_sessions() -> None:
    from algotrade.research.sweep_plan import plan_grid, plan_walkforward

    exp = load_experiment(ROOT / "experiments" / "sweep_sma.yaml", ("data.start=2005-01-01", "data.end=2013-01-01"))
    plan = plan_grid(exp)
    markets = {plan.grid[0].market_key: load_market(plan.grid[0].experiment.data)}
    assert {r.market_key for r in plan.grid} == set(markets)
    plan_walkforward(plan, markets)
    market = next(iter(markets.values()))
    assert (str(market.dates[0].date()), str(market.dates[-1].date())) == ("2005-01-03", "2012-12-31")
    assert plan.windows[0].train_dates[0] == dt.date(2005, 1, 3)
    for run in plan.train:  # every window is made of sessions, so it is cut as written
        assert run.experiment.window is not None and run.experiment.window.start in {d.date() for d in market.dates}


# --------------------------------------------------------------------------------------------
# an engine by default


def test_an_experiment_without_engine_runs_on_backtrader(tmp_path: Path) -> None:
    doc = yaml.safe_load(QUICKSTART.read_text())
    del doc["engine"]
    path = tmp_path / "noengine.yaml"
    path.write_text(yaml.safe_dump(doc))
    exp = load_experiment(path)
    assert exp.engine == "backtrader" and exp.engine_names == ("backtrader",)
    assert exp.config_id == load_experiment(QUICKSTART).config_id == "bbdacd88ce67"  # ids are unchanged
    doc["engine"] = None
    path.write_text(yaml.safe_dump(doc))
    assert load_experiment(path).engine_names == ("backtrader",)
    code, text = _cli("run", str(path), "--out", str(tmp_path / "out"), "--set", "output.report=false")
    assert code == 0, text
    assert "on backtrader" in text.splitlines()[0] and (tmp_path / "out" / "quickstart" / "backtrader" / "trades.csv").exists()
    assert 'engine: str = "backtrader"' in explain()


def test_engine_and_engines_together_are_still_refused(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, engines=["backtrader", "zipline"])
    with pytest.raises(AlgotradeError, match="either engine or engines"):
        load_experiment(path)
    only = write_experiment(tmp_path, name="only", engine=None, engines=["zipline", "backtrader"])
    exp = load_experiment(only)
    assert exp.engine_names == ("zipline", "backtrader")
    assert load_experiment(only, engine="backtrader").engine_names == ("backtrader",)


def test_compare_needs_no_engine_key_and_variants_get_their_own_folder(tmp_path: Path) -> None:
    path = write_experiment(
        tmp_path, name="cmp", engine=None, strategy=FAST, output={"dir": "results", "report": False},
        data={"source": "synthetic", "symbols": [f"S{i}" for i in range(8)], "start": "2019-01-01", "end": "2019-06-30"},
    )
    out = tmp_path / "out"
    code, text = _cli("compare", str(path), "--engines", "backtrader,zipline", "--out", str(out))
    assert code == 0, text
    first = text.splitlines()[0]
    assert "AGREE" in first and "S0, S1, S2, S3, S4 and 3 more: 8 symbols" in first and "S7" not in first
    assert (out / "cmp" / "compare" / "compare.json").exists()
    for engine in ("backtrader", "zipline"):  # each folder's config.yaml re-runs that folder's engine
        assert load_experiment(out / "cmp" / engine / "config.yaml").engine_names == (engine,)
    code, text = _cli("compare", str(path), "--out", str(out), "--set", "strategy.params.fast=3")
    assert code == 0, text
    variant = out / f"cmp@{load_experiment(path, ('strategy.params.fast=3',)).config_id}"
    assert (variant / "compare" / "compare.json").exists() and (variant / "zipline" / "trades.csv").exists()
    assert f"{variant}/" in text


# --------------------------------------------------------------------------------------------
# impossible dates, in every date field, however given


def _date_fields(model: type[BaseModel] = Experiment, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        kinds = (field.annotation, *typing.get_args(field.annotation))
        if dt.date in kinds:
            out.append((*prefix, name))
        for sub in kinds:
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                out += _date_fields(sub, (*prefix, name))
    return out


DATE_FIELDS = _date_fields()


def test_every_date_field_is_found() -> None:
    assert {("data", "start"), ("data", "end"), ("window", "start"), ("window", "end"),
            ("window", "evaluate_from")} <= set(DATE_FIELDS)


@pytest.mark.parametrize("field", DATE_FIELDS, ids=[".".join(f) for f in DATE_FIELDS])
@pytest.mark.parametrize("value", ["2010-13-01", "2010-02-30", "2011-02-29", "2010-00-10"])
def test_an_impossible_date_is_a_config_error_on_its_field(field: tuple[str, ...], value: str, tmp_path: Path) -> None:
    dotted = ".".join(field)
    doc = yaml.safe_load(QUICKSTART.read_text())
    doc.setdefault(field[0], {})[field[1]] = "PLACEHOLDER"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc).replace("PLACEHOLDER", value))  # unquoted, as a person types it
    assert value in path.read_text() and f"'{value}'" not in path.read_text()
    ways = {
        "file": (str(path),),
        "--set": (str(QUICKSTART), "--set", f"{dotted}={value}"),
        "--set section": (str(QUICKSTART), "--set", f"{field[0]}={{{field[1]}: {value}}}"),
    }
    for way, args in ways.items():
        code, text = _cli("validate", *args)
        assert code == 2, (way, text)
        assert text.startswith("config error: ") and "internal error" not in text, (way, text)
        assert dotted in text and value in text and "YYYY-MM-DD" in text, (way, text)
        assert ("bad.yaml:" in text) == (way == "file"), (way, text)


def test_impossible_date_in_a_real_process_exits_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "algotrade", "run", str(QUICKSTART), "--set", "data.end=2012-02-30"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.startswith("config error: --set data.end=2012-02-30: data.end")


# --------------------------------------------------------------------------------------------
# errors blamed on the flag that caused them


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--set", "brokr.cash=1"], ["config error: --set brokr.cash=1: unknown key 'brokr'", "did you mean 'broker'"]),
        (["--set", "broker.csh=1"], ["config error: --set broker.csh=1: unknown key 'broker.csh'", "did you mean 'cash'"]),
        (["--set", "broker={cash: -1}"], ["config error: --set broker={cash: -1}: broker.cash", "greater than 0"]),
        (["--set", "strategy.params.fast=abc"], ["config error: --set strategy.params.fast=abc: strategy.params.fast"]),
        (["--set", "strategy.name=sma_crosss"], ["config error: --set strategy.name=sma_crosss: strategy.name",
                                                 "did you mean 'sma_cross'"]),
        (["--engine", "ziplne"], ["config error: --engine ziplne: engine", "did you mean 'zipline'"]),
    ],
)
def test_a_bad_flag_is_named_not_the_file(args: list[str], words: list[str], tmp_path: Path) -> None:
    code, text = _cli("run", str(QUICKSTART), "--out", str(tmp_path / "out"), *args)
    assert code == 2, text
    for word in words:
        assert word in text, (word, text)
    assert "quickstart.yaml" not in text and not (tmp_path / "out").exists()


def test_a_bad_swept_name_set_by_a_flag_is_named() -> None:
    flag = "sweep.space={strategy.params.fsat: [1, 2]}"
    code, text = _cli("validate", str(ROOT / "experiments" / "sweep_sma.yaml"), "--set", flag, "--set", "sweep.heatmap=null")
    assert code == 2 and text.startswith(f"config error: --set {flag}: sweep.space") and "did you mean 'fast'" in text


def test_bad_engines_flag_is_named(tmp_path: Path) -> None:
    code, text = _cli("compare", str(QUICKSTART), "--engines", "backtrader,ziplne", "--out", str(tmp_path))
    assert code == 2 and text.startswith("config error: --engines: 'ziplne'") and "did you mean 'zipline'" in text


def test_a_bad_key_in_the_file_is_still_blamed_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(QUICKSTART.read_text().replace("broker:", "brokr:"))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("brokr:"))
    code, text = _cli("validate", str(path), "--set", "strategy.params.fast=5")
    assert code == 2 and f"typo.yaml:{line}: unknown key 'brokr'" in text and "--set" not in text


# --------------------------------------------------------------------------------------------
# results folders of --set variants


def test_set_variants_never_overwrite_the_file_or_each_other(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, name="v", output={"dir": str(tmp_path / "results"), "report": False},
                            data={"source": "sample", "symbols": ["SPX"], "start": "2011-01-03", "end": "2012-12-31"})
    base = tmp_path / "results" / "v" / "backtrader"
    code, text = _cli("run", str(path))
    assert code == 0 and f"results  {base}/" in text
    before = (base / "trades.csv").read_bytes()
    folders = set()
    for fast in (3, 5):
        code, text = _cli("run", str(path), "--set", f"strategy.params.fast={fast}")
        config_id = load_experiment(path, (f"strategy.params.fast={fast}",)).config_id
        folder = tmp_path / "results" / f"v@{config_id}" / "backtrader"
        assert code == 0 and f"results  {folder}/" in text and f"a --set variant, config id {config_id}" in text, text
        assert f"the file as written goes to {base}/" in text
        assert json.loads((folder / "run.json").read_text())["config_id"] == config_id
        folders.add(folder)
    assert len(folders) == 2 and (base / "trades.csv").read_bytes() == before
    # overrides that change nothing computed, and --engine, keep the plain folder
    code, text = _cli("run", str(path), "--set", "output.report=false", "--set", "name=v")
    assert code == 0 and f"results  {base}/" in text and "--set variant" not in text
    code, text = _cli("run", str(path), "--set", "strategy.params.fast=3", "--out", str(tmp_path / "elsewhere"))
    assert code == 0 and (tmp_path / "elsewhere").is_dir() and any((tmp_path / "elsewhere").glob("v@*/backtrader/run.json"))


def test_a_run_that_replaces_other_results_says_so(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, name="edit", output={"dir": str(tmp_path / "results"), "report": True},
                            data={"source": "sample", "symbols": ["SPX"], "start": "2012-01-03", "end": "2012-12-31"})
    code, text = _cli("run", str(path))
    old_id = load_experiment(path).config_id
    assert code == 0 and "replaced" not in text
    code, text = _cli("run", str(path))  # the same again replaces nothing that differs
    assert code == 0 and "replaced" not in text
    doc = yaml.safe_load(path.read_text())
    doc["strategy"]["params"]["fast"] = 4
    doc["output"]["report"] = False
    path.write_text(yaml.safe_dump(doc))
    code, text = _cli("run", str(path))
    assert code == 0 and f"replaced the results of config id {old_id}" in text
    assert not (tmp_path / "results" / "edit" / "backtrader" / "report.html").exists()  # no stale report beside them


# --------------------------------------------------------------------------------------------
# short summaries, validate, data validate


def test_symbols_text_names_a_few_and_the_count() -> None:
    assert symbols_text(("SPX",)) == "SPX"
    assert symbols_text(tuple("ABCDEF")) == "A, B, C, D, E, F"
    many = tuple(f"S{i:03d}" for i in range(500))
    assert symbols_text(many) == "S000, S001, S002, S003, S004 and 495 more: 500 symbols"


def test_the_run_summary_of_many_symbols_stays_short(tmp_path: Path) -> None:
    symbols = [f"SYM{i:03d}" for i in range(60)]
    path = write_experiment(tmp_path, name="wide", strategy=FAST, output={"dir": str(tmp_path / "r"), "report": False},
                            data={"source": "synthetic", "symbols": symbols, "start": "2019-01-02", "end": "2019-02-28"})
    code, text = _cli("run", str(path))
    assert code == 0, text
    assert max(len(line) for line in text.splitlines()) < 200
    assert "and 55 more: 60 symbols" in text.splitlines()[0]
    code, text = _cli("validate", str(path))
    assert code == 0 and len(text.splitlines()) == 1 and "SYM000, SYM001, SYM002, SYM003, SYM004 and 55 more: 60 symbols" in text and "SYM059" not in text
    code, text = _cli("data", "validate", str(path))
    assert code == 0 and len(text.splitlines()) <= 10 and "60 in all" in text


def test_validate_prints_one_line_and_the_resolved_config_only_when_asked() -> None:
    code, text = _cli("validate", str(QUICKSTART))
    assert code == 0 and len(text.splitlines()) == 1
    for fact in ("config id bbdacd88ce67", "sma_cross", "on backtrader", "1 symbol (SPX)", "2013 sessions",
                 "2005-01-03 .. 2012-12-31"):
        assert fact in text, fact
    code, text = _cli("validate", str(QUICKSTART), "--resolved")
    assert code == 0 and "broker:" in text and "repair: engine_safe" in text and len(text.splitlines()) > 30
    assert "--resolved" in _cli("validate", "--help")[1]


def test_validate_checks_the_data_too(tmp_path: Path) -> None:
    code, text = _cli("validate", str(QUICKSTART), "--set", "data.start=1990-01-02")
    assert code == 2 and text.startswith("data error: data.start: 1990-01-02") and "1999-01-04 .. 2018-12-31" in text


def test_data_validate_counts_repairs_and_lists_them_only_on_request() -> None:
    code, text = _cli("data", "validate", str(QUICKSTART))
    assert code == 0 and text.splitlines()[-1] == "ok: the data is usable"
    assert len(text.splitlines()) <= 5 and "has more than 3 decimals" not in text
    counts = dict(part.split(" x") for part in text.split("every engine: ")[1].split(" (")[0].split(", "))
    assert set(counts) == {"price_decimals", "volume_overflow"}
    code, full = _cli("data", "validate", str(QUICKSTART), "--all")
    assert code == 0
    assert sum("has more than 3 decimals" in line for line in full.splitlines()) == int(counts["price_decimals"])
    assert sum("is 2**32 or more" in line for line in full.splitlines()) == int(counts["volume_overflow"])


def test_a_closed_pipe_is_not_an_internal_error() -> None:
    """`algotrade data validate X --all | head -1`: far more output than a pipe holds."""
    proc = subprocess.Popen([sys.executable, "-m", "algotrade", "data", "validate", str(QUICKSTART), "--all"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"SPX: ")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "internal error" not in err and "Traceback" not in err
