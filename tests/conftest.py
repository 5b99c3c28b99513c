from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.test_gateway_insync import SubRun

#: the table of a --parity-fuzz run, printed at the end of the session (tests/test_parity_fuzz.py)
PARITY_FUZZ_TABLE = pytest.StashKey[str]()
#: the ib_insync re-run of the IB test modules, started at collection (tests/test_gateway_insync.py)
INSYNC_RUN: pytest.StashKey[SubRun] = pytest.StashKey()

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


def _is_insync_rerun(item: pytest.Item) -> bool:
    return item.name == "test_ib_test_modules_pass_under_ib_insync" and item.path.name == "test_gateway_insync.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ib_insync re-run's test goes last: the re-run starts in the background once collection
    is done (below), and its test, which waits for it to end, then waits beside the whole suite."""
    items.sort(key=_is_insync_rerun)  # stable: every other test keeps its order


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the ib_insync re-run of the IB test modules in the background when its test is among
    those to run, so that it waits on its gateways beside the rest of the suite (its test collects
    the outcome: tests/test_gateway_insync.py). Not for --collect-only; not in an xdist worker (the
    test starts it there)."""
    if hasattr(session.config, "workerinput") or session.config.option.collectonly:
        return
    for item in session.items:
        if _is_insync_rerun(item):
            item.module.start_in_background(session.config)  # type: ignore[attr-defined]
            return


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A re-run still going when the session ends (stopped early, or its test deselected) stops too."""
    run = session.config.stash.get(INSYNC_RUN, None)
    if run is not None:
        run.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    table = config.stash.get(PARITY_FUZZ_TABLE, None)
    if table:
        terminalreporter.section("parity fuzz")
        terminalreporter.write_line(table)
