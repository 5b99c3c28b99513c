"""The chapter notebooks are up to date with the recipes and execute from top to bottom."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("ch*.ipynb"))


def snapshot() -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((ROOT / "notebooks").iterdir())
            if p.is_file()}


def build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "notebooks" / "build.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_notebooks_are_built_from_the_current_recipes() -> None:
    before = snapshot()
    proc = build("--check")
    assert proc.returncode == 0, proc.stderr
    assert snapshot() == before, "--check wrote a file"


@pytest.mark.parametrize("args", [("--help",), ("-h",), ("--no-such-option",), ("stray",)])
def test_build_help_and_bad_arguments_change_no_file(args: tuple[str, ...]) -> None:
    before = snapshot()
    proc = build(*args)
    assert snapshot() == before, f"build.py {' '.join(args)} rewrote notebooks"
    if args[0] in ("--help", "-h"):
        assert proc.returncode == 0 and proc.stdout.startswith("usage: notebooks/build.py")
        assert "--check" in proc.stdout
    else:
        assert proc.returncode == 2 and "usage:" in proc.stderr


def test_notebooks_are_stored_without_outputs() -> None:
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {}))
    printed = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream")
    assert printed >= 1, "the notebook showed nothing"
    assert images >= 1 or "ch01" in path.stem, "a chapter notebook should show at least one plot"
