from __future__ import annotations

import os
from pathlib import Path

import pytest

#: the table of a --parity-fuzz run, printed at the end of the session (tests/test_parity_fuzz.py)
PARITY_FUZZ_TABLE = pytest.StashKey[str]()

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def root() -> Path:
    return ROOT


def shared_data(relative: str) -> Path:
    """A file under ../shared/data, or a skip that says why when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real test data {path} is absent (../shared/data is only on developer and CI machines)")
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("algotrade")
    group.addoption(
        "--parity-fuzz", type=int, default=None, metavar="N", dest="parity_fuzz",
        help="tests/test_parity_fuzz.py: run N generated experiments on fresh data, keep every outcome, "
        "and write results/parity-fuzz/summary.json (default: 200 over a fixed pool of data sets)",
    )
    group.addoption(
        "--parity-fuzz-seed", type=int, default=20260513, metavar="S", dest="parity_fuzz_seed",
        help="seed of the generated parity experiments (default 20260513)",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    table = config.stash.get(PARITY_FUZZ_TABLE, None)
    if table:
        terminalreporter.section("parity fuzz")
        terminalreporter.write_line(table)
