"""Every bad input gives one clear error, exit code 2, no traceback, and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from algotrade.cli import cli
from tests.stubs import write_csv, write_experiment

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "experiments" / "quickstart.yaml")

GOOD_ROWS = [("2020-01-02", 10, 11, 9, 10.5, 100), ("2020-01-03", 10.5, 11, 10, 10.8, 100),
             ("2020-01-06", 10.8, 11.2, 10.1, 11, 100)]

# (case, extra --set overrides, words the message must contain)
SET_CASES = [
    ("unknown key", ["data.symbls=[SPX]"], ["data.symbls", "did you mean 'symbols'"]),
    ("wrong type", ["broker.cash=lots"], ["broker.cash", "'lots'"]),
    ("negative cash", ["broker.cash=-5"], ["broker.cash", "greater than 0"]),
    ("start after end", ["data.start=2013-06-01"], ["start 2013-06-01 is after end 2012-12-31"]),
    ("dates outside the data", ["data.start=1990-01-01"], ["1990-01-01", "1999-01-04", "set data.start"]),
    ("unknown symbol", ["data.symbols=[SPY]"], ["'SPY'", "did you mean 'SPX'", "available: SPX, IXIC"]),
    ("unknown strategy", ["strategy.name=sma_crosss"], ["strategy.name", "did you mean 'sma_cross'", "rsi_reversion"]),
    ("unknown engine", ["engine=backtrade"], ["'backtrade'", "did you mean 'backtrader'", "known engines"]),
    ("fast >= slow", ["strategy.params.fast=30"], ["strategy.params", "fast (30) must be smaller than slow (30)"]),
    ("unknown fill model", ["broker.fill=next_tick"], ["broker.fill", "'next_tick'", "next_close", "next_open"]),
    ("negative commission", ["broker.commission={per_share: -0.01}"], ["broker.commission.per_share", "-0.01"]),
    ("unknown calendar", ["data.calendar=NYSEE"], ["data.calendar", "'NYSEE'"]),
    ("impossible date", ["data.start=2010-02-30"], ["--set data.start=2010-02-30: data.start", "'2010-02-30'"]),
    ("impossible month", ["data.end=2010-13-01"], ["--set data.end=2010-13-01: data.end", "'2010-13-01'"]),
    ("range without a session", ["data.start=2010-01-02", "data.end=2010-01-03"],
     ["2010-01-02 .. 2010-01-03", "holds no session", "1999-01-04 .. 2018-12-31"]),
    ("end after the data", ["data.end=2019-06-28"], ["data.end: 2019-06-28", "1999-01-04 .. 2018-12-31", "set data.end"]),
]


def _run(args: list[str], cwd: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


@pytest.mark.parametrize(("case", "overrides", "words"), SET_CASES, ids=[c[0] for c in SET_CASES])
def test_bad_override_is_one_clear_error(case: str, overrides: list[str], words: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", QUICKSTART, "--out", str(out)]
    for item in overrides:
        args += ["--set", item]
    code, text = _run(args, tmp_path)
    assert code == 2, text
    for word in words:
        assert word in text, (word, text)
    assert "Traceback" not in text
    assert not out.exists()


def test_missing_file(tmp_path: Path) -> None:
    code, text = _run(["run", str(tmp_path / "nope.yaml")], tmp_path)
    assert code == 2 and "does not exist" in text


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndata:\n  symbols: [SPX\nstrategy: {name: sma_cross}\n")
    code, text = _run(["validate", str(path)], tmp_path)
    assert code == 2 and "YAML syntax error" in text and "bad.yaml:4" in text


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    code, text = _run(["validate", str(path)], tmp_path)
    assert code == 2 and "empty" in text


def _csv_experiment(tmp_path: Path, rows: list) -> Path:  # type: ignore[type-arg]
    write_csv(tmp_path / "x.csv", rows)
    return write_experiment(tmp_path, data={"source": "csv", "symbols": ["X"], "path": "x.csv", "calendar": "none"},
                            strategy={"name": "sma_cross", "params": {"fast": 1, "slow": 2}})


def test_csv_with_missing_columns(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("Date,Open,High,Close,Volume\n2020-01-02,1,2,1.5,100\n")
    path = write_experiment(tmp_path, data={"source": "csv", "symbols": ["X"], "path": "x.csv", "calendar": "none"})
    code, text = _run(["run", str(path), "--out", str(tmp_path / "out")], tmp_path)
    assert code == 2 and "missing column(s) low" in text
    assert not (tmp_path / "out").exists()


def test_csv_with_unparseable_dates(tmp_path: Path) -> None:
    path = _csv_experiment(tmp_path, [*GOOD_ROWS, ("2020-13-45", 1, 2, 0.5, 1.5, 100)])
    code, text = _run(["run", str(path), "--out", str(tmp_path / "out")], tmp_path)
    assert code == 2 and "'2020-13-45'" in text and "line 5" in text


def test_bar_with_high_below_open(tmp_path: Path) -> None:
    path = _csv_experiment(tmp_path, [*GOOD_ROWS, ("2020-01-07", 3, 2, 0.5, 1.5, 100)])
    code, text = _run(["run", str(path), "--out", str(tmp_path / "out")], tmp_path)
    assert code == 2 and "X 2020-01-07 high=2.0" in text
    assert not (tmp_path / "out").exists()


def test_real_process_prints_no_traceback_and_exits_2(tmp_path: Path) -> None:
    """The same through a real interpreter, as a user runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "algotrade", "validate", QUICKSTART, "--set", "broker.cash=-1"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("config error:") and "Traceback" not in proc.stderr


def test_debug_flag_shows_the_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "algotrade", "--debug", "validate", QUICKSTART, "--set", "broker.cash=-1"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr
