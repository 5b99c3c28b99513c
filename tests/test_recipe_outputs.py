"""Where the cookbook writes: a named folder it prints, never the current folder.

Every recipe's output goes through its chapter's ``out_dir``: ``main(out=...)``, else
``$ALGOTRADE_RECIPES_OUT/<chapter>``, else the checkout's ``results/recipes/<chapter>``; the
Zipline bundles of every zipline run go to ``$ZIPLINE_ROOT``, else the checkout's
``.cache/zipline``. The slow test runs every recipe as ``python -m`` would, from an empty folder.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import recipes
from tests.conftest import ROOT

CHAPTERS = sorted({name.split(".")[1] for name in recipes.INDEX})


def test_default_output_is_the_checkouts_results_folder_wherever_it_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(recipes.OUT_ENV, raising=False)
    for chapter in CHAPTERS:
        assert recipes.default_out(chapter) == ROOT / "results" / "recipes" / chapter
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapters_out_dir_is_named_created_and_printed(
        chapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cwd, chosen = tmp_path / "cwd", tmp_path / "chosen"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv(recipes.OUT_ENV, str(chosen))
    out_dir = importlib.import_module(f"recipes.{chapter}").out_dir
    folder = out_dir(None)
    assert folder == chosen / chapter and folder.is_dir()
    assert f"output folder: {folder}" in capsys.readouterr().out
    given = out_dir(tmp_path / "given")
    assert given == tmp_path / "given" and given.is_dir()
    assert f"output folder: {given}" in capsys.readouterr().out
    assert list(cwd.iterdir()) == []


def test_an_installed_cookbook_writes_under_the_temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recipes, "PROJECT", tmp_path / "site-packages")  # no pyproject.toml beside recipes/
    monkeypatch.delenv(recipes.OUT_ENV, raising=False)
    assert recipes.default_out("ch03_vectorized") == (
        Path(tempfile.gettempdir()) / "algotrade" / "results" / "recipes" / "ch03_vectorized")


def test_zipline_bundles_default_to_the_projects_cache_not_the_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.zipline.bundle import zipline_root
    from adapters.zipline.engine import ZiplineEngine

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZIPLINE_ROOT", "placeholder")  # restored after the test
    monkeypatch.delenv("ZIPLINE_ROOT")
    assert zipline_root() == ROOT / ".cache" / "zipline"
    monkeypatch.delenv("ZIPLINE_ROOT")
    assert Path(ZiplineEngine.worker_env()["ZIPLINE_ROOT"]) == ROOT / ".cache" / "zipline"  # a sweep's workers
    assert list(tmp_path.iterdir()) == []


DRIVER = """
import json, runpy, sys
from pathlib import Path

out, names = Path(sys.argv[1]), sys.argv[2:]
written = {}
for name in names:
    before = {p for p in out.rglob("*") if p.is_file()}
    print(f"=== {name}", flush=True)
    runpy.run_module(name, run_name="__main__")
    print(flush=True)
    written[name] = sorted(str(p) for p in out.rglob("*") if p.is_file() and p not in before)
print("=== WRITTEN " + json.dumps(written))
"""


@pytest.mark.slow
def test_every_recipe_run_from_an_empty_folder_leaves_it_empty_and_says_where_it_wrote(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ZIPLINE_ROOT", recipes.OUT_ENV)}
    env.update({"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"})
    # two processes (the suite itself uses one core), split by chapter so that no two share a bundle
    halves = ([n for n in recipes.INDEX if n.split(".")[1] <= "ch05"],
              [n for n in recipes.INDEX if n.split(".")[1] > "ch05"])
    logs = [(tmp_path / f"stdout{i}", tmp_path / f"stderr{i}") for i in range(len(halves))]
    procs = []
    for i, names in enumerate(halves):
        with logs[i][0].open("w") as stdout, logs[i][1].open("w") as stderr:
            procs.append(subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path / f"out{i}"), *names],
                                          cwd=cwd, env={**env, recipes.OUT_ENV: str(tmp_path / f"out{i}")},
                                          stdout=stdout, stderr=stderr))
    for proc in procs:
        proc.wait(timeout=1500)
    written: dict[str, list[str]] = {}
    printed: dict[str, str] = {}
    for proc, (out_log, err_log) in zip(procs, logs, strict=True):
        stdout = out_log.read_text()
        assert proc.returncode == 0, stdout[-3000:] + err_log.read_text()[-3000:]
        pages, _, tail = stdout.rpartition("=== WRITTEN ")
        written |= json.loads(tail)
        printed |= {name: page for name, _, page in (section.partition("\n") for section in pages.split("=== ")[1:])}
    assert sorted(p.name for p in cwd.rglob("*")) == [], "a recipe wrote into the current folder"
    assert set(written) == set(recipes.INDEX) == set(printed)
    wrote_any = 0
    for name, files in written.items():
        folders = [line.removeprefix("output folder: ") for line in printed[name].splitlines()
                   if line.startswith("output folder: ")]
        for file in files:
            assert any(file.startswith(folder + os.sep) for folder in folders), (
                f"{name} wrote {file} without printing its folder")
        wrote_any += bool(files)
    assert wrote_any >= 30, "the recipes should write their plots and files under the named folder"
