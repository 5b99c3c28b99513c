"""The frozen ib_insync client (server version 176) runs against the gateway simulator too.

ib_insync and ib_async cannot share a virtualenv (both install ``eventkit``), so bin/test builds
``.venv-insync`` (ib_insync and its eventkit first on the path, the rest of .venv after them).
There, every IB test module runs again with ALGOTRADE_IB_CLIENT=ib_insync: the adapter, the
simulator, the live runner and the paper burn-ins, through ib_insync's own code. A scripted
client (tests/insync/client.py) also runs under both clients and must see the same things.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.core.config import BrokerConfig
from tests.gateway_fixtures import make_market

CLIENT = Path(__file__).resolve().parent / "insync" / "client.py"
ROOT = Path(__file__).resolve().parents[1]
IB_MODULES = ("tests/test_gateway.py", "tests/test_gateway_cli.py", "tests/test_gateway_faults.py",
              "tests/test_ib_resilience.py", "tests/test_paper.py", "tests/test_paper_gateway.py",
              "tests/test_paper_faults.py")


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


def test_ib_test_modules_pass_under_ib_insync() -> None:
    """The whole IB side of the suite, once more under ib_insync (nothing in it may skip)."""
    import re

    python = _insync_python()
    env = {**os.environ, "ALGOTRADE_IB_CLIENT": "ib_insync"}
    picked = subprocess.run([python, "-c", "from adapters.ib.client import ib_module as m; "
                             "print(m().__name__, m().__version__)"],
                            env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert picked == ["ib_insync", "0.9.86"]
    proc = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *IB_MODULES],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert re.search(r"^\d+ passed in ", summary), summary  # no skip, no xfail, no error
