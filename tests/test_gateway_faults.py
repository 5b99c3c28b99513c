"""The gateway under faults, driven from outside its process, through the real IB client.

`algotrade gateway ... --control 0` runs as its own process; the tests step it and inject IB's
connectivity codes (1100/1101/1102), a daily restart and a dropped socket through its control
port (what `algotrade gateway-ctl` sends) or a `--faults` schedule; it persists its broker in a
`--state` file across a kill -9; half-open connections are closed by the handshake timeout.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.ib.gateway.control import send
from algotrade.cli import cli
from tests import gateway_fixtures as gf

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "paper_quickstart.yaml"
ib_guard = gf.ib_guard
MarketOrder = gf.ib_client.MarketOrder
LimitOrder = gf.ib_client.LimitOrder


def client(port: int, client_id: int = 5) -> Any:
    ib = gf.IB()
    ib.RequestTimeout = gf.TIMEOUT
    ib.connect("127.0.0.1", port, clientId=client_id, timeout=10)
    return ib


def spx(ib: Any) -> Any:
    (contract,) = ib.qualifyContracts(gf.ib_client.Stock("SPX", "SMART", "USD"))
    return contract


def stream(ib: Any, contract: Any) -> Any:
    return ib.reqHistoricalData(contract, "", "1 M", "1 day", "TRADES", True, keepUpToDate=True)


def codes_of(ib: Any) -> list[int]:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    return codes


def round_trip(ib: Any) -> None:
    """A request answered after everything the gateway sent before it has been read."""
    ib.reqCurrentTime()


def test_1100_stops_data_and_orders_then_1102_delivers_what_happened(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    ib_guard.allow(1100, 1102, 201, 202, 162)
    with gf.controlled_gateway(tmp_path, EXPERIMENT) as gw:
        ib = client(gw.port)
        codes = codes_of(ib)
        contract = spx(ib)
        bars = stream(ib, contract)
        working = ib.placeOrder(contract, MarketOrder("BUY", 10))  # fills at the next session's open
        far = ib.placeOrder(contract, LimitOrder("BUY", 1, 1.0))   # never fills
        gf.wait_until(ib, lambda: far.orderStatus.status == "PreSubmitted", what="the orders acknowledged")

        assert "connectivity lost" in gw.ctl("1100")
        gf.wait_until(ib, lambda: 1100 in codes, what="error 1100")
        refused = ib.placeOrder(contract, MarketOrder("BUY", 5, orderRef="during-1100"))
        gf.wait_until(ib, lambda: refused.orderStatus.status == "Cancelled", what="the order refused")
        ib.cancelOrder(far.order)
        n = len(bars)
        assert "replayed 2 session 2011-06-03" in gw.ctl("advance 2")
        round_trip(ib)
        assert len(bars) == n  # no market data
        assert working.orderStatus.status == "PreSubmitted" and not working.fills  # not reported yet
        assert far.orderStatus.status == "PendingCancel"  # the cancel waits in the gateway
        assert 201 in codes
        assert len(ib.reqHistoricalData(contract, "", "1 M", "1 day", "TRADES", True)) == 0
        assert 162 in codes  # no history either

        assert "connectivity ok" in gw.ctl("1102")
        gf.wait_until(ib, lambda: working.orderStatus.status == "Filled" and len(bars) == n + 2
                      and far.orderStatus.status == "Cancelled", what="the held fill, the missed bars, the cancel")
        assert [str(b.date) for b in bars[-2:]] == ["2011-06-02", "2011-06-03"]
        assert working.fills[0].execution.time.date().isoformat() == "2011-06-02"  # it filled at "IB" meanwhile
        assert codes.index(1100) < codes.index(1102)
        completed = ib.reqCompletedOrders(False)
        assert [t.orderStatus.status for t in completed if t.order.orderRef == "during-1100"] == ["Cancelled"]
        ib.disconnect()


def test_1101_drops_the_market_data_subscriptions(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    ib_guard.allow(1100, 1101)
    with gf.controlled_gateway(tmp_path, EXPERIMENT) as gw:
        ib = client(gw.port)
        codes = codes_of(ib)
        contract = spx(ib)
        bars = stream(ib, contract)
        n = len(bars)
        gw.ctl("1100")
        gw.ctl("advance")
        gw.ctl("1101")
        gf.wait_until(ib, lambda: 1101 in codes, what="error 1101")
        gw.ctl("advance")
        round_trip(ib)
        assert len(bars) == n  # data lost: neither the held bar nor the next one comes
        again = stream(ib, contract)  # subscribing again works, from the current session
        assert str(again[-1].date) == "2011-06-03"
        gw.ctl("advance")
        gf.wait_until(ib, lambda: str(again[-1].date) == "2011-06-06", what="the resubscribed stream")
        assert len(bars) == n
        ib.disconnect()


def test_a_fault_schedule_injects_by_session_date(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    ib_guard.allow(1100, 1102)
    ib_guard.allow_text("Peer closed connection")
    with gf.controlled_gateway(tmp_path, EXPERIMENT, "--faults", "1100@2011-06-02,1102@2011-06-03,drop@2011-06-06") as gw:
        gw.line(r"3 faults scheduled: 1100@2011-06-02, 1102@2011-06-03, drop@2011-06-06")
        ib = client(gw.port)
        codes = codes_of(ib)
        gw.ctl("advance")
        gf.wait_until(ib, lambda: codes[-1:] == [1100], what="1100 after 2011-06-02")
        assert gw.status()["connectivity"] == "lost"
        gw.ctl("advance")
        gf.wait_until(ib, lambda: codes[-1:] == [1102], what="1102 after 2011-06-03")
        gw.ctl("advance")
        gf.wait_until(ib, lambda: not ib.isConnected(), what="the socket dropped after 2011-06-06")
        again = client(gw.port)  # the port stays open
        assert again.reqCurrentTime().date().isoformat() == "2011-06-06"
        again.disconnect()


def test_a_fault_schedule_injects_by_wall_clock_offset(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    ib_guard.allow(1100)
    with gf.controlled_gateway(tmp_path, EXPERIMENT, "--faults", "1100@+0.5s") as gw:
        ib = gf.IB()
        ib.RequestTimeout = gf.TIMEOUT
        codes = codes_of(ib)  # before connecting: a client that connects after the fault hears 1100 at once
        ib.connect("127.0.0.1", gw.port, clientId=5, timeout=10)
        gf.wait_until(ib, lambda: 1100 in codes, what="1100 half a second after the gateway listens")
        assert gw.status()["connectivity"] == "lost"
        gw.line(r"gateway: fault 1100 at 2011-06-01")
        ib.disconnect()


def test_daily_restart_refuses_connections_then_serves_the_same_broker(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    ib_guard.allow_text("Peer closed connection")
    with gf.controlled_gateway(tmp_path, EXPERIMENT) as gw:
        ib = client(gw.port)
        contract = spx(ib)
        bought = ib.placeOrder(contract, MarketOrder("BUY", 7))
        resting = ib.placeOrder(contract, LimitOrder("BUY", 1, 1.0))
        gw.ctl("advance")
        gf.wait_until(ib, lambda: bought.orderStatus.status == "Filled", what="the fill")
        exec_id = bought.fills[0].execution.execId

        assert "port down" in gw.ctl("restart 3")
        assert send("127.0.0.1", gw.control, "restart").startswith("error a restart is under way")
        gf.wait_until(ib, lambda: not ib.isConnected(), what="the restart dropping the client")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", gw.port), timeout=5).close()
        assert gw.status()["port"] == "down"
        gw.ctl("advance")  # "IB" goes on during the window
        gw.ctl("pause")
        gw.line(r"gateway: serving again after the restart, at 2011-06-03 \(restart 1\)", timeout=60)

        back = client(gw.port)
        assert [(p.contract.symbol, float(p.position)) for p in back.reqPositions()] == [("SPX", 7.0)]
        assert [t.order.permId for t in back.reqAllOpenOrders()] == [resting.order.permId]
        assert [f.execution.execId for f in back.reqExecutions()] == [exec_id]
        assert gw.status()["restarts"] == "1"
        back.disconnect()


def fill_one(ib: Any, contract: Any, gw: gf.ControlledGateway, qty: int, ref: str) -> Any:
    order = MarketOrder("BUY", qty)
    order.orderRef = ref
    trade = ib.placeOrder(contract, order)
    gw.ctl("advance")
    gf.wait_until(ib, lambda: trade.orderStatus.status == "Filled", what=f"the fill of {ref}")
    return trade


def test_state_survives_a_kill_and_ids_never_repeat(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    ib_guard.allow_text("Peer closed connection")
    state = str(tmp_path / "gw.sqlite")
    exec_ids: list[str] = []
    perm_ids: list[int] = []
    with gf.controlled_gateway(tmp_path, EXPERIMENT, "--state", state) as gw:
        gw.line(r"an empty broker, persisted in")
        ib = client(gw.port)
        contract = spx(ib)
        first = fill_one(ib, contract, gw, 10, "first")
        resting = ib.placeOrder(contract, LimitOrder("BUY", 1, 1.0))
        gf.wait_until(ib, lambda: resting.orderStatus.status == "PreSubmitted", what="the resting order")
        exec_ids.append(first.fills[0].execution.execId)
        perm_ids += [first.order.permId, resting.order.permId]
        last_id = resting.order.orderId
        gw.kill()
        gf.wait_until(ib, lambda: not ib.isConnected(), what="the crash")

    with gf.controlled_gateway(tmp_path, EXPERIMENT, "--state", state) as gw:  # the same command again
        gw.line(r"resumed the broker state of .* at session 2011-06-02 \(1 open orders, 1 executions, SPX 10\)")
        assert gw.status()["session"] == "2011-06-02"
        ib = client(gw.port)
        assert [(p.contract.symbol, float(p.position)) for p in ib.reqPositions()] == [("SPX", 10.0)]
        assert [t.order.permId for t in ib.reqAllOpenOrders()] == [resting.order.permId]
        assert [f.execution.execId for f in ib.reqExecutions()] == exec_ids
        done = ib.reqCompletedOrders(False)
        assert [(t.order.permId, t.order.orderRef, t.orderStatus.status) for t in done] == [
            (first.order.permId, "first", "Filled")]
        assert ib.client.getReqId() > last_id  # nextValidId continues
        contract = spx(ib)
        second = fill_one(ib, contract, gw, 3, "second")
        assert second.order.orderId > last_id
        exec_ids.append(second.fills[0].execution.execId)
        perm_ids.append(second.order.permId)
        ib.disconnect()

    with gf.controlled_gateway(tmp_path, EXPERIMENT, "--state", state, "--fresh") as gw:  # a broker that lost it all
        gw.line(r"an empty broker, persisted in")
        ib = client(gw.port)
        assert (len(ib.reqPositions()), len(ib.reqAllOpenOrders()), len(ib.reqExecutions())) == (0, 0, 0)
        contract = spx(ib)
        third = fill_one(ib, contract, gw, 2, "third")
        exec_ids.append(third.fills[0].execution.execId)
        perm_ids.append(third.order.permId)
        ib.disconnect()

    with gf.controlled_gateway(tmp_path, EXPERIMENT) as gw:  # no state at all: empty, and still new ids
        ib = client(gw.port)
        fourth = fill_one(ib, spx(ib), gw, 1, "fourth")
        exec_ids.append(fourth.fills[0].execution.execId)
        perm_ids.append(fourth.order.permId)
        ib.disconnect()
    assert len(set(exec_ids)) == len(exec_ids) == 4, exec_ids
    assert len(set(perm_ids)) == len(perm_ids) == 5, perm_ids
    assert all(len(e.split(".")) == 4 for e in exec_ids)  # IB's shape: 0000e0d5.6789abcd.01.01


def test_half_open_connections_are_closed_and_a_real_client_is_served(tmp_path: Path, ib_guard: gf.LogGuard) -> None:
    ib_guard.allow_text("Peer closed connection")
    handshake_s, idle_s, margin_s = 1.0, 2.0, 2.0
    with gf.controlled_gateway(tmp_path, EXPERIMENT, "--handshake-timeout", str(handshake_s),
                               "--idle-timeout", str(idle_s)) as gw:
        socks = []
        t0 = time.monotonic()
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
            if i % 4 == 1:
                s.sendall(b"API\0")  # the greeting, then nothing
            elif i % 4 == 2:
                s.sendall(b"API\0" + struct.pack(">I", 8) + b"v100..17")  # versions, never startApi
            elif i % 4 == 3:
                s.sendall(b"API\0" + struct.pack(">I", 100))  # a frame announced, never sent
            s.setblocking(False)
            socks.append(s)
        ib = client(gw.port)  # served while 200 others hang
        assert str(stream(ib, spx(ib))[-1].date) == "2011-06-01"
        closed = wait_closed(socks, deadline=t0 + handshake_s + margin_s)
        elapsed = time.monotonic() - t0
        assert closed == len(socks), f"{len(socks) - closed} of 200 still open after {elapsed:.1f} s"
        assert elapsed >= handshake_s * 0.9
        for s in socks:
            s.close()
        # a connected client that says nothing for the idle timeout is closed too
        gf.wait_until(ib, lambda: not ib.isConnected(), timeout=idle_s + margin_s, what="the idle timeout")
        again = client(gw.port)
        assert again.reqCurrentTime().date().isoformat() == "2011-06-01"
        again.disconnect()


def wait_closed(socks: list[socket.socket], deadline: float) -> int:
    """How many of ``socks`` the server closed (EOF or reset) before ``deadline``."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    while closed < len(socks) and (left := deadline - time.monotonic()) > 0:
        for key, _ in sel.select(timeout=left):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, BlockingIOError) as exc:
                if isinstance(exc, BlockingIOError):
                    continue
                data = b""
            if not data:
                sel.unregister(sock)
                closed += 1
    sel.close()
    return closed


# ---------------------------------------------------------------------------------------- bad options


@pytest.mark.parametrize(("args", "message"), [
    (["--faults", "1103@2011-06-02"], "config error: --faults '1103@2011-06-02': fault '1103' is not one of 1100"),
    (["--faults", "1100@2011-06-04"], "config error: --faults '1100@2011-06-04': 2011-06-04 is not a session"),
    (["--faults", "1100"], "config error: --faults '1100': not KIND[:SECONDS]@WHEN"),
    (["--faults", "1100:5@+1s"], "config error: --faults '1100:5@+1s': only restart takes :SECONDS"),
    (["--faults", "drop@soon"], "config error: --faults 'drop@soon': 'soon' is neither a session date"),
    (["--fresh"], "config error: --fresh: empties a state file; give it with --state PATH"),
    (["--handshake-timeout", "0"], "Invalid value for '--handshake-timeout'"),
    (["--state", "/no-such-folder/gw.sqlite"],
     "config error: --state /no-such-folder/gw.sqlite: the folder /no-such-folder does not exist; create it first"),
    (["--state", "/tmp"], "Invalid value for '--state': File '/tmp' is a directory."),
])
def test_bad_fault_and_state_options_are_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["gateway", str(EXPERIMENT), "--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_state_file_of_another_account_or_other_data_or_not_sqlite_is_refused(tmp_path: Path) -> None:
    from adapters.ib.gateway import GatewaySimulator
    from adapters.ib.gateway.state import StateStore

    state = tmp_path / "gw.sqlite"
    market = gf.make_market()
    store = StateStore(state)
    GatewaySimulator(market, state=store, account="DU0000002")
    store.close()
    result = CliRunner().invoke(cli, ["gateway", str(EXPERIMENT), "--port", "0", "--state", str(state)])
    assert result.exit_code == 2
    assert f"config error: --state {state}: holds account DU0000002, not DU0000001" in result.output
    other = tmp_path / "other.sqlite"
    store = StateStore(other)
    GatewaySimulator(market, state=store, start=3)  # saved at 2021-03-04, a session the experiment lacks
    store.close()
    result = CliRunner().invoke(cli, ["gateway", str(EXPERIMENT), "--port", "0", "--state", str(other)])
    assert result.exit_code == 2
    assert (f"config error: --state {other}: was saved at session 2021-03-04, which the data (2010-01-04..2012-12-31) "
            "does not have") in result.output
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all " * 100)
    result = CliRunner().invoke(cli, ["gateway", str(EXPERIMENT), "--port", "0", "--state", str(junk)])
    assert result.exit_code == 2
    assert f"config error: --state {junk}: not a gateway state file" in result.output


def test_gateway_ctl_refuses_unknown_commands_and_a_missing_gateway() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = CliRunner().invoke(cli, ["gateway-ctl", str(port), "status"])
    assert result.exit_code == 2
    assert f"config error: PORT {port}: no gateway control port at 127.0.0.1:{port}" in result.output


def test_control_commands_answer_one_line(tmp_path: Path) -> None:
    with gf.controlled_gateway(tmp_path, EXPERIMENT) as gw:
        result = CliRunner().invoke(cli, ["gateway-ctl", str(gw.control), "advance", "3"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("replayed 3 session 2011-06-06 index ")
        result = CliRunner().invoke(cli, ["gateway-ctl", str(gw.control), "advance", "0"])
        assert result.exit_code == 2 and "advance 0: give a positive number of sessions" in result.output
        result = CliRunner().invoke(cli, ["gateway-ctl", str(gw.control), "warp", "9"])
        assert result.exit_code == 2 and "unknown command 'warp 9'" in result.output
        with contextlib.closing(socket.create_connection(("127.0.0.1", gw.control))) as raw:
            raw.sendall(b"status\nplay 0\n")
            lines = raw.makefile()
            answers = lines.readline(), lines.readline()
        assert answers[0].startswith("ok session 2011-06-06 ")
        assert answers[1].startswith("error ")
