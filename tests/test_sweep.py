"""`algotrade sweep` on small grids: results, re-running a point alone, resume after a kill or
Ctrl-C, failures recorded without stopping the sweep, data loaded once, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from algotrade.backtest.run import run_experiment
from algotrade.cli import cli
from algotrade.research.sweep import run_sweep
from tests.stubs import write_experiment

ROOT = Path(__file__).resolve().parents[1]
DATA = {"source": "sample", "symbols": ["SPX"], "start": "2010-01-04", "end": "2012-12-31"}
SPACE = {"strategy.params.fast": [5, 10], "strategy.params.slow": [20, 50]}
WALKFORWARD = {"train": 252, "test": 126, "purge": 5}


def sweep_file(folder: Path, name: str = "sw", strategy: dict[str, Any] | None = None, **sweep: Any) -> Path:
    section = {"space": SPACE, "constraints": ["fast < slow"], "metric": "sharpe", "min_trades": 1, **sweep}
    extra: dict[str, Any] = {"sweep": section}
    if "walkforward" in section:
        extra["walkforward"] = section.pop("walkforward")
    return write_experiment(folder, name, data=DATA, strategy=strategy or {"name": "sma_cross"}, **extra)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("sweep")
    path = sweep_file(folder, walkforward=WALKFORWARD)
    return run_sweep(path, out=folder / "out", workers=2)


def test_sweep_writes_one_row_per_run_and_the_report(small: Any) -> None:
    table = pd.read_csv(small.folder / "sweep.csv")
    parquet = pd.read_parquet(small.folder / "sweep.parquet")
    assert list(parquet.columns) == list(table.columns) and parquet["config_id"].tolist() == table["config_id"].tolist()
    grid = table[table["phase"] == "grid"]
    assert len(grid) == 4 and set(zip(grid["fast"], grid["slow"], strict=True)) == {(5, 20), (5, 50), (10, 20), (10, 50)}
    windows = small.plan.windows
    assert len(windows) == 3
    assert len(table[table["phase"] == "train"]) == 4 * 3 and len(table[table["phase"] == "test"]) == 3
    assert (table["status"] == "ok").all() and table["config_id"].is_unique
    assert sorted(grid["rank"].tolist()) == [1, 2, 3, 4]
    for row in table.itertuples():
        folder = small.folder / row.folder
        run = json.loads((folder / "run.json").read_text())
        assert run["config_id"] == row.config_id and folder.name == row.engine == "backtrader"
        assert not (folder / "report.html").exists()  # sweep.reports is off by default
    page = (small.folder / "sweep.html").read_text()
    for words in ("Superior Predictive Ability", "Walk-forward", "Stitched out-of-sample", "sharpe across the grid", "algotrade run "):
        assert words in page, words
    assert page.count("<img") == 3 and "http" not in page.replace("http-equiv", "")
    summary = json.loads((small.folder / "sweep.json").read_text())
    assert summary["ran"] == 19 and summary["resumed"] == 0 and 0 <= summary["spa"]["pvalue"] <= 1


def test_any_run_reruns_alone_with_algotrade_run(small: Any, tmp_path: Path) -> None:
    table = pd.read_csv(small.folder / "sweep.csv")
    for phase in ("grid", "test"):
        row = table[table["phase"] == phase].iloc[0]
        folder = small.folder / row["folder"]
        again = run_experiment(folder / "config.yaml", out=tmp_path / phase)
        assert again.experiment.config_id == row["config_id"]
        assert (again.folder / "trades.csv").read_bytes() == (folder / "trades.csv").read_bytes()
        assert (again.folder / "equity.csv").read_bytes() == (folder / "equity.csv").read_bytes()
        assert json.loads((again.folder / "metrics.json").read_text()) == json.loads((folder / "metrics.json").read_text())


def test_a_second_start_runs_nothing_again(small: Any) -> None:
    path = small.folder.parent.parent / "sw.yaml"
    mtimes = {p: p.stat().st_mtime_ns for p in (small.folder / "runs").glob("*/*/run.json")}
    again = run_sweep(path, out=small.folder.parent, workers=1)
    assert again.summary["ran"] == 0 and again.summary["resumed"] == 19
    assert mtimes == {p: p.stat().st_mtime_ns for p in (small.folder / "runs").glob("*/*/run.json")}
    assert again.rows == small.rows


def _lines(path: Path) -> list[dict[str, Any]]:
    """The complete lines of points.jsonl (one being written may be cut short: a record can take
    more than one write)."""
    if not path.exists():
        return []
    text = path.read_text()
    return [json.loads(x) for x in text[: text.rfind("\n") + 1].splitlines() if x.strip()]


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_lines(path)) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {n} lines")


def _start(path: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "algotrade", "sweep", str(path), "--out", str(out), "--workers", "2", "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


SLOW = {"name": "tests.sweep_probe:SweepProbe", "params": {"delay": 0.5}}
SLOW_SPACE = {"strategy.params.fast": [5, 10, 15, 20], "strategy.params.slow": [30, 50]}


def _interrupted(tmp_path: Path, lines: int, sig: int) -> tuple[Path, Path, Path, subprocess.Popen[str]]:
    """A slow sweep started as a command, sent ``sig`` (to its whole process group) once
    ``lines`` runs are recorded; returns its file, out folder, points.jsonl and process."""
    path = sweep_file(tmp_path, strategy=SLOW, space=SLOW_SPACE)
    out = tmp_path / "out"
    proc = _start(path, out)
    jsonl = out / "sw" / "points.jsonl"
    _wait_for_lines(jsonl, lines, proc)
    os.killpg(proc.pid, sig)
    return path, out, jsonl, proc


def test_resume_after_a_killed_sweep_redoes_nothing_finished(tmp_path: Path) -> None:
    path, out, jsonl, proc = _interrupted(tmp_path, 2, signal.SIGKILL)  # the sweep and its workers, at once
    proc.wait(timeout=30)
    finished = {r["key"]: r for r in _lines(jsonl) if r["status"] == "ok"}
    assert 2 <= len(finished) < 8
    mtimes = {k: (out / "sw" / r["folder"] / "run.json").stat().st_mtime_ns for k, r in finished.items()}

    again = run_sweep(path, out=out, workers=2)
    assert again.summary["resumed"] == len(finished) and again.summary["ran"] == 8 - len(finished)
    assert again.summary["ok"] == 8
    for key, record in finished.items():  # not run again: the folders are the killed sweep's
        assert (out / "sw" / record["folder"] / "run.json").stat().st_mtime_ns == mtimes[key]
    keys = [r["key"] for r in _lines(jsonl)]
    assert len(keys) == len(set(keys)) == 8  # every run recorded exactly once


def test_ctrl_c_stops_cleanly_and_leaves_a_resumable_state(tmp_path: Path) -> None:
    _path, out, jsonl, proc = _interrupted(tmp_path, 1, signal.SIGINT)  # what a terminal sends on Ctrl-C
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    table = pd.read_csv(out / "sw" / "sweep.csv")  # the partial table
    done = set(table.loc[table["status"] == "ok", "config_id"])
    assert len(table) == 8 and 1 <= len(done) < 8 and set(table["status"]) <= {"ok", "pending"}
    assert done == {r["config_id"] for r in _lines(jsonl)}
    again = err.split("resume with: ", 1)[1].strip()  # pasted into a shell in the same folder, as printed
    assert again.startswith("bin/algotrade sweep "), again  # the project's own form, from the project folder
    pasted = subprocess.run(again, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert pasted.returncode == 0, pasted.stderr
    summary = json.loads((out / "sw" / "sweep.json").read_text())
    assert summary["resumed"] == len(done) and summary["ran"] == 8 - len(done) and summary["ok"] == 8


def test_the_printed_rerun_command_works_when_pasted_and_writes_a_report_where_it_says(tmp_path: Path) -> None:
    """From a folder other than the project's, with relative paths, as a user types them."""
    sweep_file(tmp_path, space={"strategy.params.fast": [5, 10], "strategy.params.slow": [50]})
    proc = subprocess.run([str(ROOT / "bin" / "algotrade"), "sweep", "sw.yaml", "--out", "res", "--workers", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("re-run it alone"))
    report = Path(lines[at].split("(", 1)[1].rsplit(")", 1)[0])
    command = lines[at + 1].strip()
    assert command.startswith(f"{ROOT / 'bin' / 'algotrade'} run "), command  # a path that works from here
    summary = json.loads((tmp_path / "res" / "sw" / "sweep.json").read_text())
    assert summary["best"]["rerun"] == command and summary["best"]["rerun_report"] == str(report)
    assert not (tmp_path / report).exists()
    pasted = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert pasted.returncode == 0, pasted.stderr
    folder = (tmp_path / report).parent
    assert (tmp_path / report).stat().st_size > 0  # the full run folder, report included, where the summary said
    ran = tmp_path / "res" / "sw" / summary["best"]["folder"]
    for name in ("trades.csv", "equity.csv", "orders.csv"):
        assert (folder / name).read_bytes() == (ran / name).read_bytes(), name
    assert json.loads((folder / "run.json").read_text())["config_id"] == summary["best"]["config_id"]


def test_printed_commands_start_with_the_launcher_that_works_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from algotrade.core.shell import command, launcher

    monkeypatch.chdir(ROOT)
    assert launcher() == ["bin/algotrade"]
    assert command("run", "a b.yaml") == "bin/algotrade run 'a b.yaml'"  # quoted for the shell
    monkeypatch.chdir(tmp_path)
    assert launcher() == [str(ROOT / "bin" / "algotrade")]
    assert Path(launcher()[0]).is_file()


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, strategy={"name": "tests.sweep_probe:SweepProbe"},
                      space={"strategy.params.fast": [5, 10], "strategy.params.fail": [False, True]},
                      constraints=[], heatmap=["fast", "fail"])
    result = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "sw" / "sweep.csv")
    failed = table[table["status"] == "failed"]
    assert sorted(failed["fast"]) == [5, 10] and failed["fail"].all()
    assert failed["error"].str.contains("StrategyError").all() and failed["error"].str.contains("planted failure").all()
    assert (table.loc[table["status"] == "ok", "fail"] == False).all()  # noqa: E712
    assert "Failed runs (2)" in (tmp_path / "out" / "sw" / "sweep.html").read_text()


def test_every_run_failing_exits_1(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, strategy={"name": "tests.sweep_probe:SweepProbe", "params": {"fail": True}},
                      space={"strategy.params.fast": [5, 10]}, constraints=[], heatmap=None)
    result = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1", "-q"])
    assert result.exit_code == 1
    assert "every run failed" in result.output


def test_a_random_search_runs_its_draws(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, space={"strategy.params.fast": {"low": 3, "high": 15}, "strategy.params.slow": [20, 50]},
                      method="random", samples=4, seed=5)
    result = run_sweep(path, out=tmp_path / "out", workers=2)
    table = pd.read_csv(result.folder / "sweep.csv")
    assert len(table) == 4 and (table["status"] == "ok").all() and table["fast"].between(3, 15).all()
    assert (result.folder / "sweep.html").exists()


def test_data_is_loaded_once_per_data_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import algotrade.core.data

    calls: list[tuple[str, ...]] = []
    real = algotrade.core.data.load_market

    def counting(cfg: Any, *named: Any) -> Any:
        calls.append(cfg.symbols)
        return real(cfg, *named)

    monkeypatch.setattr(algotrade.core.data, "load_market", counting)
    path = sweep_file(tmp_path, space={"strategy.params.fast": [5, 10], "data.symbols": [["SPX"], ["IXIC"]]},
                      constraints=[], walkforward={"train": 252, "test": 252})
    result = run_sweep(path, out=tmp_path / "out", workers=2)
    assert result.summary["ok"] == result.summary["runs"] and len(result.plan.windows) == 1
    assert sorted(calls) == [("IXIC",), ("SPX",)]


def test_zipline_bundles_are_ingested_once_by_the_sweep_not_by_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZIPLINE_ROOT", str(tmp_path / "zipline"))
    data = {**DATA, "start": "2012-01-03"}
    path = write_experiment(tmp_path, "zl", data=data, engine="zipline",
                            sweep={"space": {"strategy.params.fast": [5, 10]}, "heatmap": None})
    result = run_sweep(path, out=tmp_path / "out", workers=2)
    assert result.summary["ok"] == 2
    for row in result.rows:
        info = json.loads((result.folder / row["folder"] / "run.json").read_text())["engine_info"]
        assert info["ingested"] is False  # the bundle was ready before the workers started
    assert len([p for p in (tmp_path / "zipline" / "data").iterdir() if p.name.startswith("algotrade-")]) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--workers", "0"], ["--workers 0", "1 or more"]),
        (["--address", "127.0.0.1:6379"], ["--address", "--executor ray"]),
        (["--executor", "ray", "--address", "nonsense"], ["--address nonsense", "HOST:PORT"]),
        (["--executor", "ray", "--address", "10.0.0.5:99999"], ["--address 10.0.0.5:99999", "HOST:PORT"]),
        (["--set", "sweep.space={strategy.params.fsat: [1, 2]}", "--set", "sweep.heatmap=null"],
         ["'strategy.params.fsat'", "did you mean 'fast'"]),
        (["--set", "sweep.constraints=[]"], ["sweep point", "fast (20) must be smaller than slow (20)", "sweep.constraints"]),
        (["--set", "sweep.constraints=['__import__(\"os\").system(\"true\")']"], ["sweep.constraints", "only functions"]),
        (["--set", "sweep=null", "--set", "walkforward=null"], ["has no sweep: section"]),
    ],
    ids=["workers-0", "address-without-ray", "bad-address", "bad-port", "unknown-param", "invalid-point",
         "code-in-constraint", "no-sweep"],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(args: list[str], words: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["sweep", str(ROOT / "experiments" / "sweep_sma.yaml"), "--out", str(out), *args])
    text = result.output  # stdout and stderr
    assert result.exit_code == 2, text
    for word in words:
        assert word in text, (word, text)
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1
    assert not out.exists()
