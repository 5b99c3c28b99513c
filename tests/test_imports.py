"""`algotrade --help` stays fast: it imports no engine, no pandas, no numpy, no pydantic."""

from __future__ import annotations

import subprocess
import sys

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
