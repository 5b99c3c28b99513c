"""What a sweep leaves behind, for the analysis and the report: its result, and the command
that re-runs one run of it alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from algotrade.core.config import Experiment
from algotrade.core.shell import command
from algotrade.research.executors import Outcome
from algotrade.research.sweep_plan import Plan, Run


@dataclass
class SweepResult:
    experiment: Experiment
    folder: Path
    plan: Plan
    rows: list[dict[str, Any]]
    outcomes: dict[str, Outcome]
    summary: dict[str, Any]
    interrupted: bool = False
    tests: dict[tuple[str, int], Run | None] = field(default_factory=dict)

    @property
    def table_path(self) -> Path:
        return self.folder / "sweep.csv"

    @property
    def report_path(self) -> Path:
        return self.folder / "sweep.html"


#: the folder, inside the sweep's, where the re-run commands write
RERUN_DIR = "rerun"


def rerun_command(folder: Path, row: dict[str, Any]) -> str:
    """The command that re-runs one run of the table alone, as ``algotrade run`` of its
    config.yaml, writing a full results folder with report.html at :func:`rerun_folder`."""
    return command("run", folder / row["folder"] / "config.yaml", "--out", folder / RERUN_DIR,
                   "--set", "output.report=true")


def rerun_folder(folder: Path, row: dict[str, Any]) -> Path:
    """Where :func:`rerun_command` writes: ``OUT/<name>/rerun/<config id>/<engine>/`` (a run's
    experiment is named by its config id)."""
    return folder / RERUN_DIR / str(row["config_id"]) / str(row["engine"])
