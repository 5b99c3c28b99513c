"""`algotrade sweep --executor ray` joining a real Ray cluster, started separately with
``ray start --head`` (plus a ``ray start --address`` worker node), as a user's own process:
token authentication whichever way the head turned it on, ``RAY_ADDRESS``, and addresses
where no cluster answers (fast, one line, exit code 5, nothing written)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
import pytest

from algotrade.core.errors import ClusterError
from algotrade.research.ray_join import Joined, Target, probe
from algotrade.research.sweep import TIMING_COLUMNS, run_sweep
from tests.ray_cluster import RayCluster, RayStartError, base_env, free_ports, ray_cluster, ray_command
from tests.test_sweep import sweep_file

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
ALGOTRADE = str(ROOT / "bin" / "algotrade")
TOKEN = "0123456789abcdef0123456789abcdef"  # what `RAY_AUTH_TOKEN=...` on a head would carry
#: an unreachable address must fail well within this (it took 25 s of Ray warnings before)
FAST = 10.0


def _sweep(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    proc = subprocess.run([ALGOTRADE, "sweep", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    return proc, time.monotonic() - t0


@contextmanager
def _started(home: Path, workers: int, head_env: dict[str, str], worker_env: dict[str, str]) -> Iterator[RayCluster]:
    """A cluster, or a skip when no Ray head can start here; afterwards, none of its processes is left."""
    try:
        with ray_cluster(home, workers=workers, head_env=head_env, worker_env=worker_env) as cluster:
            yield cluster
    except RayStartError as exc:
        if exc.head:
            pytest.skip(f"a Ray head cannot start on this machine: {str(exc)[-500:]}")
        raise
    for node in cluster.nodes:  # every process of every node is gone (each node is its own process group)
        with pytest.raises(ProcessLookupError):
            os.killpg(node.proc.pid, 0)


@pytest.fixture(scope="module")
def token_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """The case of the issue: `ray start --head` on a machine where Ray has written its token
    file (~/.ray/auth_token, here by `ray get-auth-token --generate`), so Ray 2.60 turns token
    authentication on; a second node joins it with RAY_AUTH_MODE=token."""
    home = tmp_path_factory.mktemp("home")
    subprocess.run([ray_command(), "get-auth-token", "--generate"], env=base_env(home), check=True,
                   capture_output=True, timeout=60)
    assert (home / ".ray" / "auth_token").is_file()
    with _started(home, 1, {}, {"RAY_AUTH_MODE": "token"}) as cluster:
        yield cluster


def test_a_sweep_joins_a_token_cluster_of_two_nodes_and_equals_the_local_table(
    token_cluster: RayCluster, tmp_path: Path
) -> None:
    path = sweep_file(tmp_path)  # a 2x2 grid
    env = base_env(token_cluster.home)  # the head's machine and user: the token file Ray wrote, no RAY_* variable
    proc, _ = _sweep([str(path), "--executor", "ray", "--address", token_cluster.address, "--out", "ray", "-q"],
                     env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""  # no Ray warnings: the report path is all it prints
    summary = json.loads((tmp_path / "ray" / "sw" / "sweep.json").read_text())
    # one worker per CPU of the cluster, one CPU per node: the second node ran runs too
    assert summary["executor"] == "ray" and summary["workers"] == 2 and summary["ok"] == summary["runs"] == 4
    local = run_sweep(path, out=tmp_path / "local", executor="local", workers=2)
    a = pd.read_parquet(local.folder / "sweep.parquet").drop(columns=list(TIMING_COLUMNS))
    b = pd.read_parquet(tmp_path / "ray" / "sw" / "sweep.parquet").drop(columns=list(TIMING_COLUMNS))
    pd.testing.assert_frame_equal(a, b)
    for folder in a["folder"]:
        for name in ("trades.csv", "equity.csv"):
            assert (local.folder / folder / name).read_bytes() == (tmp_path / "ray" / "sw" / folder / name).read_bytes()


def _probe(monkeypatch: pytest.MonkeyPatch, address: str, home: Path, **env: str) -> Joined:
    """The check `sweep` makes before joining, in this process's environment set to ``env``."""
    for key in [k for k in os.environ if k.startswith("RAY_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return probe(Target(address, f"--address {address}"))


@pytest.mark.parametrize("source", ["RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE=token"])
def test_a_token_from_the_environment_is_used(
    token_cluster: RayCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    token = (token_cluster.home / ".ray" / "auth_token").read_text().strip()
    (tmp_path / "token.txt").write_text(token + "\n")
    env = {"RAY_AUTH_TOKEN": {"RAY_AUTH_TOKEN": token}, "RAY_AUTH_TOKEN_PATH": {"RAY_AUTH_TOKEN_PATH": str(tmp_path / "token.txt")},
           "RAY_AUTH_MODE=token": {"RAY_AUTH_MODE": "token"}}[source]
    home = token_cluster.home if source == "RAY_AUTH_MODE=token" else tmp_path  # tmp_path: no token file
    assert _probe(monkeypatch, token_cluster.address, home, **env).auth == "token"


def test_a_cluster_that_refuses_us_is_one_line_that_says_how_to_get_in(token_cluster: RayCluster, tmp_path: Path) -> None:
    proc, seconds = _sweep([str(sweep_file(tmp_path)), "--executor", "ray", "--address", token_cluster.address,
                            "--out", "out"], base_env(tmp_path), tmp_path)  # no token anywhere here
    assert proc.returncode == ClusterError.exit_code == 5, proc.stderr
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cluster error: --address {token_cluster.address}: "), lines
    for word in ("requires an authentication token", "no token is set", "RAY_AUTH_TOKEN", "ray get-auth-token"):
        assert word in lines[0], (word, lines[0])
    assert seconds < FAST and not (tmp_path / "out").exists()


def test_ray_address_and_ray_auth_token_join_like_the_options(token_cluster: RayCluster, tmp_path: Path) -> None:
    """Joined through the environment alone (no token file here): the cluster's 2 CPUs are read,
    and 3 workers are refused at once, before any actor starts."""
    token = (token_cluster.home / ".ray" / "auth_token").read_text().strip()
    env = base_env(tmp_path, RAY_ADDRESS=token_cluster.address, RAY_AUTH_TOKEN=token)
    proc, _ = _sweep([str(sweep_file(tmp_path)), "--executor", "ray", "--workers", "3", "--out", "out"], env, tmp_path)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("config error: --workers 3: ") and "has 2 CPU(s)" in lines[0], lines
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"RAY_AUTH_TOKEN": "f" * 32}, ["rejected the token from RAY_AUTH_TOKEN", "ray get-auth-token"]),
        ({"RAY_AUTH_MODE": "disabled"}, ["RAY_AUTH_MODE=disabled", "RAY_AUTH_MODE=token"]),
    ],
    ids=["wrong-token", "auth-disabled-here"],
)
def test_a_wrong_token_or_auth_turned_off_here_is_named(
    token_cluster: RayCluster, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(ClusterError) as info:
        _probe(monkeypatch, token_cluster.address, token_cluster.home, **env)
    text = str(info.value)
    assert text.startswith(f"--address {token_cluster.address}: ") and "\n" not in text
    for word in words:
        assert word in text, (word, text)


HEADS = {  # heads whose auth the mode variable decides; their HOME also holds a (stale) token file
    "RAY_AUTH_MODE=token": ({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}, {"RAY_AUTH_TOKEN": TOKEN}, "token"),
    "RAY_AUTH_MODE=disabled": ({"RAY_AUTH_MODE": "disabled"}, {}, "disabled"),
}


def test_heads_started_with_the_mode_variable_are_joined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("e" * 32)  # ignored by both heads: the variables decide
    with ExitStack() as stack, ThreadPoolExecutor(len(HEADS)) as pool:  # the heads start side by side
        started = {name: pool.submit(stack.enter_context, _started(home, 0, head, {}))
                   for name, (head, _client, _auth) in HEADS.items()}
        for name, future in started.items():
            cluster = future.result()
            _head, client, auth = HEADS[name]
            assert _probe(monkeypatch, cluster.address, home, **client).auth == auth, name


# --------------------------------------------------------------------------------------------
# nobody answering: no cluster needed


def _silent_listener() -> tuple[socket.socket, int]:
    """A port that accepts connections and never says a word (not a Ray head)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


@pytest.mark.parametrize("where", ["closed-port", "closed-port-in-RAY_ADDRESS", "silent-port", "unresolvable-host"])
def test_an_address_where_no_cluster_answers_fails_fast_in_one_line(tmp_path: Path, where: str) -> None:
    (port,) = free_ports(1)
    server = None
    if where == "silent-port":
        server, port = _silent_listener()
    address = "no-such-host.invalid:6379" if where == "unresolvable-host" else f"127.0.0.1:{port}"
    env = base_env(tmp_path)
    args = [str(ROOT / "experiments" / "sweep_sma.yaml"), "--executor", "ray", "--out", str(tmp_path / "out")]
    if where.endswith("RAY_ADDRESS"):
        env["RAY_ADDRESS"] = address
        label = f"RAY_ADDRESS={address}"
    else:
        args += ["--address", address]
        label = f"--address {address}"
    try:
        proc, seconds = _sweep(args, env, tmp_path)
    finally:
        if server is not None:
            server.close()
    text = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 5, text
    assert len(text.splitlines()) == 1 and text.startswith(f"cluster error: {label}: "), text
    assert ("ray start --head" in text) if where != "unresolvable-host" else ("does not resolve" in text)
    assert seconds < FAST, seconds
    assert not (tmp_path / "out").exists()
