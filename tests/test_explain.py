"""`algotrade validate X.yaml --explain`: every merged value and who set it, pinned by a text golden.

Regenerate the golden (then review the git diff): .venv/bin/python -m tests.test_explain
"""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from algotrade.cli import cli
from algotrade.core.config.loading import explain_values
from tests.stubs import write_experiment

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "explain" / "risk_profile.txt"
ARGS = ["validate", "experiments/risk_profile.yaml", "--explain",
        "--set", "risk.max_positions=4", "--set", "sizing.target_percent=0.12"]


def _output() -> str:
    cwd = os.getcwd()
    os.chdir(ROOT)  # the golden names the file as a user in the repo root types it
    try:
        result = CliRunner().invoke(cli, ARGS)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return result.output


def test_explain_output_matches_the_golden() -> None:
    assert _output() == GOLDEN.read_text()


def test_every_origin_kind_is_named(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("risk:\n  max_positions: 3\n  var:\n    limit: 0.03\nstops: {trailing: 0.1}\n")
    path = write_experiment(tmp_path, risk={"profile": "mine.yaml", "max_gross_leverage": 1.0})
    lines = {row[0]: row for row in explain_values(path, ("broker.cash=5000",), engine="zipline")}
    text = path.read_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if "max_gross_leverage" in t)
    assert lines["risk.max_gross_leverage"][1:] == ("1.0", f"file {path} line {line}")
    assert lines["risk.max_positions"][1:] == ("3", "profile mine.yaml line 2")
    assert lines["risk.var.limit"][1:] == ("0.03", "profile mine.yaml line 4")
    assert lines["risk.var.confidence"][1:] == ("0.99", "default")  # the profile set var but not this key
    assert lines["stops.trailing"][1:] == ("0.1", "profile mine.yaml line 5")
    assert lines["stops.atr_window"][1:] == ("14", "default")
    assert lines["broker.cash"][1:] == ("5000.0", "--set broker.cash=5000")
    assert lines["engine"][1:] == ('"zipline"', "--engine zipline")
    assert lines["sizing.target_percent"][1:] == ("0.95", "default")
    assert lines["strategy.params.fast"][2].startswith("file ")
    # every leaf of the merged experiment is listed once
    keys = [row[0] for row in explain_values(path)]
    assert len(keys) == len(set(keys)) and {"ib.port", "burnin.min_sessions", "data.synthetic.seed"} <= set(keys)


if __name__ == "__main__":
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(_output())
    print(f"wrote {GOLDEN.relative_to(ROOT)}")
