from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.test_gateway_insync import SubRun

#: the table of a --parity-fuzz run, printed at the end of the session (tests/test_parity_fuzz.py)
PARITY_FUZZ_TABLE = pytest.StashKey[str]()
#: the ib_insync re-run of the IB test modules, started at collection (tests/test_gateway_insync.py)
INSYNC_RUN: pytest.StashKey[SubRun] = pytest.StashKey()
#: under xdist, the folder of that re-run's output, given to the workers (the controller starts it)
INSYNC_LOGS = "algotrade_insync_logs"
_INSYNC_FOLDER = pytest.StashKey[Path]()

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


#: under pytest-xdist (bin/test with ALGOTRADE_TEST_WORKERS=2: ``-n 2 --dist loadgroup``), modules that
#: start a local Ray instance or a Ray cluster share one worker, one at a time (``ray.init()`` may join
#: a cluster another module started); every other module is a group of its own, so its module-scoped
#: fixtures are built once. The live port 4001 needs no group: its tests lock it (gateway_fixtures.live_port).
XDIST_GROUPS = {"test_sweep_ray.py": "ray", "test_sweep_cluster.py": "ray", "test_docs.py": "ray"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The ib_insync re-run's test goes last: the re-run starts in the background once collection
    is done (below), and its test, which waits for it to end, then waits beside the whole suite.
    Under ``--dist loadgroup`` each test gets its module's group (XDIST_GROUPS)."""
    items.sort(key=_is_insync_rerun)  # stable: every other test keeps its order
    if getattr(config.option, "dist", "no") == "loadgroup":
        for item in items:
            if not any(item.iter_markers("xdist_group")):  # the re-run's test: a last group of its own
                group = "ib_insync-rerun" if _is_insync_rerun(item) else XDIST_GROUPS.get(item.path.name, item.path.name)
                item.add_marker(pytest.mark.xdist_group(group))


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


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist's controller: every worker learns where the ib_insync re-run will write (it starts
    once the workers have collected its test, before any test runs)."""
    import tempfile

    if _INSYNC_FOLDER not in node.config.stash:
        node.config.stash[_INSYNC_FOLDER] = Path(tempfile.mkdtemp(prefix="algotrade-insync-"))
    node.workerinput[INSYNC_LOGS] = str(node.config.stash[_INSYNC_FOLDER])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """xdist's controller: start the ib_insync re-run when a worker has collected its test."""
    if any("test_gateway_insync.py::test_ib_test_modules_pass_under_ib_insync" in i for i in ids):
        from tests.test_gateway_insync import start_in_background

        start_in_background(node.config, node.config.stash[_INSYNC_FOLDER])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A re-run still going when the session ends (stopped early, or its test deselected) stops too."""
    run = session.config.stash.get(INSYNC_RUN, None)
    if run is not None:
        run.stop()
    folder = session.config.stash.get(_INSYNC_FOLDER, None)  # xdist's controller: made, perhaps unused
    if folder is not None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    table = config.stash.get(PARITY_FUZZ_TABLE, None)
    if table:
        terminalreporter.section("parity fuzz")
        terminalreporter.write_line(table)
