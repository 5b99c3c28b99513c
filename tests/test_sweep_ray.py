"""The Ray executor gives exactly the table of the local process pool (one local Ray per module)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from algotrade.research.sweep import TIMING_COLUMNS, run_sweep
from tests.test_sweep import WALKFORWARD, sweep_file

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield
    ray.shutdown()


def test_local_and_ray_executors_give_identical_tables(ray_session: None, tmp_path: Path) -> None:
    path = sweep_file(tmp_path, walkforward=WALKFORWARD)
    local = run_sweep(path, out=tmp_path / "local", executor="local", workers=2)
    on_ray = run_sweep(path, out=tmp_path / "ray", executor="ray", workers=2)
    assert on_ray.summary["executor"] == "ray" and on_ray.summary["ok"] == on_ray.summary["runs"] == 19
    a = pd.read_parquet(local.folder / "sweep.parquet").drop(columns=list(TIMING_COLUMNS))
    b = pd.read_parquet(on_ray.folder / "sweep.parquet").drop(columns=list(TIMING_COLUMNS))
    pd.testing.assert_frame_equal(a, b)
    for name in ("trades.csv", "equity.csv", "metrics.json"):  # and each run's files, byte for byte
        for folder in a["folder"]:
            assert (local.folder / folder / name).read_bytes() == (on_ray.folder / folder / name).read_bytes()
    assert local.summary["spa"]["pvalue"] == on_ray.summary["spa"]["pvalue"]
    assert local.summary["walkforward"] == on_ray.summary["walkforward"]


def test_a_failing_point_on_ray_is_recorded_and_the_sweep_goes_on(ray_session: None, tmp_path: Path) -> None:
    path = sweep_file(tmp_path, strategy={"name": "tests.sweep_probe:SweepProbe"},
                      space={"strategy.params.fast": [5, 10], "strategy.params.fail": [False, True]},
                      constraints=[], heatmap=["fast", "fail"])
    result = run_sweep(path, out=tmp_path / "out", executor="ray", workers=2)
    table = pd.read_csv(result.folder / "sweep.csv")
    assert sorted(table["status"]) == ["failed", "failed", "ok", "ok"]
    assert table.loc[table["status"] == "failed", "error"].str.contains("planted failure").all()
