"""Golden acceptance tests: every experiment on every engine it names, pinned in CSV/JSON.

Regenerate with `python tests/regen_goldens.py` after an intended change, and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algotrade.backtest.run import run_experiment
from algotrade.core.config import load_experiment
from tests.regen_goldens import ENGINES, GOLDEN, experiments, produce

CASES = [(p, e) for p in experiments() for e in ENGINES]


@pytest.mark.parametrize(("path", "engine"), CASES, ids=[f"{p.stem}-{e}" for p, e in CASES])
def test_experiment_matches_its_golden(path: Path, engine: str, tmp_path: Path) -> None:
    exp = load_experiment(path)
    folder = GOLDEN / exp.name / engine
    assert folder.exists(), f"no golden for {exp.name}/{engine}: run python tests/regen_goldens.py"
    trades, summary = produce(path, engine, tmp_path)
    assert trades == (folder / "trades.csv").read_text()
    expected = json.loads((folder / "summary.json").read_text())
    assert summary.keys() == expected.keys()
    for key, value in expected.items():
        assert summary[key] == pytest.approx(value, rel=1e-12, abs=1e-9), key
    assert summary["trade_count"] > 0


def test_rerun_is_identical(tmp_path: Path) -> None:
    path = Path(__file__).resolve().parents[1] / "experiments" / "quickstart.yaml"
    first = run_experiment(path, out=tmp_path / "a")
    second = run_experiment(path, out=tmp_path / "b")
    for name in ("trades.csv", "orders.csv", "equity.csv", "metrics.json", "config.yaml"):
        assert (first.folder / name).read_bytes() == (second.folder / name).read_bytes(), name
    run_a = json.loads((first.folder / "run.json").read_text())
    run_b = json.loads((second.folder / "run.json").read_text())
    assert run_a["config_id"] == run_b["config_id"] and run_a["data_hash"] == run_b["data_hash"]
