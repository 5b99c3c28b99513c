"""The frozen ib_insync client (server version 176) runs against the gateway simulator too.

ib_insync and ib_async cannot share a virtualenv (both install ``eventkit``), so bin/test builds
``.venv-insync`` (ib_insync and its eventkit first on the path, the rest of .venv after them).
There, every IB test module runs again with ALGOTRADE_IB_CLIENT=ib_insync: the adapter, the
simulator, the live runner and the paper burn-ins, through ib_insync's own code. A scripted
client (tests/insync/client.py) also runs under both clients and must see the same things.

That re-run is the suite's longest item and mostly waits on its gateways and paper runs, so it
starts in the background as soon as the session has collected it (tests/conftest.py,
``pytest_collection_finish``) and runs beside the rest of the suite; its test only collects the
outcome. Nothing in it is left out: the same modules, every test of them, none may skip. The
tests in it that must serve on the fixed live port 4001 take a lock for it first
(``gateway_fixtures.live_port``), so they never overlap with the same tests of the main run.
Under pytest-xdist the controller starts it (its workers collect) and the worker that gets the
test waits for its end on a pidfd.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.core.config import BrokerConfig
from tests.conftest import INSYNC_LOGS, INSYNC_RUN
from tests.gateway_fixtures import make_market

CLIENT = Path(__file__).resolve().parent / "insync" / "client.py"
ROOT = Path(__file__).resolve().parents[1]
IB_MODULES = ("tests/test_gateway.py", "tests/test_gateway_cli.py", "tests/test_gateway_faults.py",
              "tests/test_ib_resilience.py", "tests/test_paper.py", "tests/test_paper_gateway.py",
              "tests/test_paper_faults.py", "tests/test_live_stops.py", "tests/test_paper_stops.py",
              "tests/test_shorts_live.py")


#: sh runs the re-run with its output in files and writes its exit code next to them when it ends,
#: for a process that did not start it to read (an xdist worker: the controller starts it); the trap
#: keeps sh waiting for pytest's own Ctrl-C handling instead of dying first
WRAPPER = 'trap true INT; "$@" >"$0/stdout" 2>"$0/stderr"; echo $? >"$0/rc.tmp" && mv "$0/rc.tmp" "$0/rc"'


@dataclass
class SubRun:
    """The IB test modules running under ib_insync in a pytest process of their own."""

    logs: Path  # its stdout, stderr, pid and, once it has ended, rc: never a full pipe
    proc: subprocess.Popen[bytes] | None = None  # in the process that started it

    @classmethod
    def start(cls, python: str, logs: Path | None = None) -> SubRun:
        env = {**os.environ, "ALGOTRADE_IB_CLIENT": "ib_insync"}
        logs = logs or Path(tempfile.mkdtemp(prefix="algotrade-insync-"))
        proc = subprocess.Popen(["sh", "-c", WRAPPER, str(logs), python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 *IB_MODULES], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # its own group: stop() reaches its gateways too
        (logs / "pid").write_text(f"{proc.pid}\n")
        return cls(logs, proc)

    def result(self, timeout: float) -> tuple[int, str, str]:
        """Its exit code, stdout and stderr, once it has ended."""
        if self.proc is not None:
            self.proc.wait(timeout=timeout)
        else:
            _wait_exit(int((self.logs / "pid").read_text()), timeout)
        return int((self.logs / "rc").read_text()), (self.logs / "stdout").read_text(), (self.logs / "stderr").read_text()

    def stop(self) -> None:
        """End it early (the session ends before its test ran): Ctrl-C, so its fixtures stop the
        runs and gateways it started; kill what is left if that takes too long."""
        if self.proc is None:
            return  # the process that started it stops it
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        shutil.rmtree(self.logs, ignore_errors=True)


def _wait_exit(pid: int, timeout: float) -> None:
    """Until process ``pid`` (not a child of this one) has ended: its pidfd becomes readable then."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # ended, and already reaped by its parent
    try:
        if not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError(f"the ib_insync re-run (pid {pid}) did not end within {timeout:.0f} s")
    finally:
        os.close(fd)


def start_in_background(config: pytest.Config, logs: Path | None = None) -> None:
    """Start the ib_insync re-run now (called once the session has collected its test); ``logs``:
    the folder for its output, when a process other than this one will read it."""
    python = os.environ.get("ALGOTRADE_INSYNC_PYTHON", "")
    if python and Path(python).exists() and INSYNC_RUN not in config.stash:
        config.stash[INSYNC_RUN] = SubRun.start(python, logs)


def _insync_python() -> str:
    path = os.environ.get("ALGOTRADE_INSYNC_PYTHON", "")
    if path and Path(path).exists():
        return path
    if os.environ.get("CI"):
        pytest.fail("ALGOTRADE_INSYNC_PYTHON is not set up in CI: bin/test builds .venv-insync")
    pytest.skip("the ib_insync virtualenv (.venv-insync) is not set up: run the suite through bin/test")


def _scripted_run(python: str, client: str) -> dict[str, object]:
    market = make_market(sessions=40, symbols=("AAA", "BBB"))
    sim = GatewaySimulator(market, BrokerConfig.model_validate({"fill": "next_open",
                                                               "commission": {"per_share": 0.005, "minimum": 1.0}}),
                           start=20)
    with run_in_thread(sim) as (host, port):
        proc = subprocess.Popen([python, str(CLIENT), host, str(port), "AAA", "--client", client],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until the order is placed, then replay the next session
            if '"placed"' in line:
                sim.advance()
                break
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result: dict[str, object] = json.loads(out)
    result["expected_price"] = float(market.frames["AAA"]["open"].iloc[21])
    return result


def _check(result: dict[str, object], server_version: int) -> None:
    assert result["server_version"] == server_version
    assert result["accounts"] == ["DU0000001"]
    assert result["bars"] == 21  # the replay stands at session 20: history ends there
    assert result["status"] == "Filled", result
    (fill,) = result["fills"]  # type: ignore[misc]
    assert fill["shares"] == 10 and fill["price"] == result["expected_price"]
    assert fill["orderRef"] == "insync-test:sma_cross:1" and fill["commission"] == 1.0
    assert result["positions"] == [["AAA", 10.0]]
    assert result["errors"] == [], result["errors"]


def test_ib_insync_client_against_the_simulator() -> None:
    result = _scripted_run(_insync_python(), "ib_insync")
    assert result["version"] == "0.9.86"
    _check(result, 176)


def test_ib_async_client_runs_the_same_script() -> None:
    _check(_scripted_run(sys.executable, "ib_async"), 178)


def test_gateway_command_serves_an_experiment(tmp_path: Path) -> None:
    """`algotrade gateway X.yaml` as a user starts it: a real client connects and reads the bars."""
    from tests import gateway_fixtures as gf

    with gf.gateway_process(tmp_path, ROOT / "experiments" / "quickstart.yaml", "2010-06-01") as gw:
        ib = gf.IB()
        ib.RequestTimeout = 10
        ib.connect("127.0.0.1", gw.port, clientId=3, timeout=10)
        (spx,) = ib.qualifyContracts(gf.ib_client.Stock("SPX", "SMART", "USD"))
        bars = ib.reqHistoricalData(spx, "", "5 D", "1 day", "TRADES", True)
        assert [str(b.date) for b in bars][-1] == "2010-06-01"
        ib.disconnect()


def test_ib_test_modules_pass_under_ib_insync(request: pytest.FixtureRequest) -> None:
    """The whole IB side of the suite, once more under ib_insync (nothing in it may skip); it has
    run in the background since the session collected this test, else it runs now."""
    import re

    python = _insync_python()
    started = getattr(request.config, "workerinput", {}).get(INSYNC_LOGS)
    if started:  # an xdist worker: the controller started it at collection (tests/conftest.py)
        run = SubRun(Path(started))
    else:
        start_in_background(request.config)  # a no-op when the session started it at collection
        run = request.config.stash[INSYNC_RUN]
    env = {**os.environ, "ALGOTRADE_IB_CLIENT": "ib_insync"}
    picked = subprocess.run([python, "-c", "from adapters.ib.client import ib_module as m; "
                             "print(m().__name__, m().__version__)"],
                            env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert picked == ["ib_insync", "0.9.86"]
    code, out, err = run.result(timeout=1800)
    summary = out.strip().splitlines()[-1] if out.strip() else err[-2000:]
    assert code == 0, out[-6000:] + err[-2000:]
    assert re.search(r"^\d+ passed in ", summary), summary  # no skip, no xfail, no error
