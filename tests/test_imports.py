"""`algotrade --help` stays fast: it imports no engine, no pandas, no numpy, no pydantic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import algotrade

HEAVY = ("pandas", "numpy", "backtrader", "zipline", "pydantic", "talib", "matplotlib", "yaml")


def test_help_imports_no_engine_and_no_pandas() -> None:
    code = (
        "import sys\n"
        "from algotrade.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stdout.strip().splitlines()[-1].removeprefix('LOADED=')
    assert loaded == "", f"--help imported {loaded}"


def test_public_names_are_sorted_and_resolve() -> None:
    assert algotrade.__all__ == sorted(algotrade.__all__)
    for name in algotrade.__all__:
        assert getattr(algotrade, name) is not None, name


def test_every_old_module_path_is_the_module_at_its_new_path() -> None:
    from algotrade._moved import MOVED

    # in a fresh interpreter, each old path imported before its new one
    code = (
        "import importlib, sys\n"
        "from algotrade._moved import MOVED\n"
        "for old, new in MOVED.items():\n"
        "    module = importlib.import_module(old)\n"
        "    assert module is sys.modules[new] and module.__name__ == new and module.__spec__.name == new, old\n"
        "from algotrade.strategy import Strategy\n"
        "from algotrade.config import load_experiment\n"
        "from algotrade.data import load_market\n"
        "from algotrade.indicators import SMA\n"
        "import algotrade.core.strategy as s, algotrade.core.config as c, algotrade.core.data as d\n"
        "import algotrade.core.indicators as i\n"
        "assert (Strategy, load_experiment, load_market, SMA) == (s.Strategy, c.load_experiment, d.load_market, i.SMA)\n"
        "from algotrade.report import write_report\n"  # algotrade.report was the run report's module
        "import algotrade.report.run_report as r\n"
        "assert write_report is r.write_report\n"
        "print(len(MOVED))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) == len(MOVED)
    # an old path names a module that moved: no file is left behind at it, and its new file exists
    root = Path(algotrade.__file__).parent.parent
    for old, new in MOVED.items():
        assert not (root / (old.replace(".", "/") + ".py")).exists(), old
        file = root / new.replace(".", "/")
        assert file.with_suffix(".py").is_file() or (file / "__init__.py").is_file(), new  # a module or a package


def test_an_unknown_old_path_still_fails_to_import() -> None:
    import importlib

    import pytest

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("algotrade.no_such_module")
