"""A real Ray cluster for tests: ``ray start --head`` plus ``ray start --address`` worker nodes,
each its own process group on loopback ports picked free, stopped by process group in teardown.

Only processes started here are ended (``ray stop`` would end every Ray of this user on the
machine). Each node runs with ``--block`` so that it stays the leader of its own process group,
with the drain-on-SIGTERM delay of Ray 2.60 turned off so that stopping takes a second, not 30.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

READY = "Ray runtime started"
START_TIMEOUT = 60.0


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    with ExitStack() as stack:
        socks = [stack.enter_context(closing(socket.socket())) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def ray_command() -> str:
    """The ``ray`` command of this environment (next to its python)."""
    path = Path(sys.executable).with_name("ray")
    return str(path) if path.exists() else (shutil.which("ray") or "ray")


class RayStartError(RuntimeError):
    """``ray start`` did not come up; ``head`` says whether it was the head."""

    def __init__(self, message: str, head: bool) -> None:
        super().__init__(message)
        self.head = head


@dataclass
class RayNode:
    proc: subprocess.Popen[str]
    log: Path
    ready: threading.Event = field(default_factory=threading.Event)

    def signal(self, sig: int) -> None:
        with suppress(ProcessLookupError, PermissionError):  # its children (gcs_server, raylet, workers) share its group
            os.killpg(self.proc.pid, sig)


def stop_nodes(nodes: list[RayNode], grace: float = 10.0) -> None:
    """SIGTERM to every node's process group at once, SIGKILL to whatever is left after ``grace``."""
    for node in nodes:
        if node.proc.poll() is None:
            node.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for node in nodes:
        with suppress(subprocess.TimeoutExpired):
            node.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
    for node in nodes:  # the leader may be gone while a child of it lingers: the group is killed either way
        node.signal(signal.SIGKILL)
        node.proc.wait()
    for node in nodes:  # killed members stay in the group until reaped (by init, the leader gone): wait for that
        _wait_group_gone(node.proc.pid, grace)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    """Until no process is left in group ``pgid`` (nothing to wait on but the kernel's answer)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return  # the id went to another user's group: ours is gone
        if time.monotonic() > deadline:
            raise AssertionError(f"process group {pgid} still has processes {timeout} s after SIGKILL")
        threading.Event().wait(0.01)


def _start_node(args: list[str], env: dict[str, str], log: Path) -> RayNode:
    proc = subprocess.Popen(
        [ray_command(), "start", "--block", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    node = RayNode(proc, log)

    def pump() -> None:  # keeps the pipe drained for the node's whole life; marks it ready on Ray's line
        assert proc.stdout is not None
        with log.open("w") as fh:
            for line in proc.stdout:
                fh.write(line)
                fh.flush()
                if READY in line:
                    node.ready.set()
        node.ready.set()  # the process ended: whoever waits looks at it

    threading.Thread(target=pump, daemon=True).start()
    return node


def _node_ports() -> list[str]:
    nm, om, agent, agent_grpc, env_agent, metrics = free_ports(6)
    return ["--node-ip-address", "127.0.0.1", "--node-manager-port", str(nm), "--object-manager-port", str(om),
            "--dashboard-agent-listen-port", str(agent), "--dashboard-agent-grpc-port", str(agent_grpc),
            "--runtime-env-agent-port", str(env_agent), "--metrics-export-port", str(metrics)]


@dataclass
class RayCluster:
    address: str  # 127.0.0.1:PORT of the head
    home: Path  # HOME of every node (where Ray keeps ~/.ray/auth_token)
    nodes: list[RayNode]


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any Ray address or auth setting, with ``home`` as HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0", RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0", **extra)
    return env


@contextmanager
def ray_cluster(
    home: Path, workers: int = 1, cpus: int = 1, head_env: dict[str, str] | None = None,
    worker_env: dict[str, str] | None = None,
) -> Iterator[RayCluster]:
    """A head and ``workers`` worker nodes of ``cpus`` CPUs each, with ``head_env`` and
    ``worker_env`` added to their environments (e.g. ``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN``).
    Their HOME is ``home``, so a token file at ``home/.ray/auth_token`` turns token
    authentication on at the head, as Ray 2.60 does; a worker node joining a head that checks
    tokens needs ``RAY_AUTH_MODE=token`` (Ray never turns it on for an explicit address)."""
    temp = Path(tempfile.mkdtemp(prefix="atray", dir="/tmp"))  # short: Ray's socket paths live under it
    nodes: list[RayNode] = []
    try:
        (port,) = free_ports(1)
        common = ["--num-cpus", str(cpus), "--temp-dir", str(temp), "--disable-usage-stats"]
        head = _start_node(["--head", "--port", str(port), "--include-dashboard", "false", *common, *_node_ports()],
                           base_env(home, **(head_env or {})), temp / "head.log")
        nodes.append(head)
        _wait_ready(head, True)
        address = f"127.0.0.1:{port}"
        for i in range(workers):
            node = _start_node(["--address", address, *common, *_node_ports()], base_env(home, **(worker_env or {})),
                               temp / f"worker{i}.log")
            nodes.append(node)
        for node in nodes[1:]:
            _wait_ready(node, False)
        yield RayCluster(address, home, nodes)
    finally:
        stop_nodes(nodes)
        shutil.rmtree(temp, ignore_errors=True)


def _wait_ready(node: RayNode, head: bool) -> None:
    if not node.ready.wait(START_TIMEOUT) or node.proc.poll() is not None:
        text = node.log.read_text() if node.log.exists() else ""
        raise RayStartError(f"ray start did not come up ({shlex.join(map(str, node.proc.args))}):\n{text[-3000:]}", head)
