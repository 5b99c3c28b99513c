"""Joining a Ray cluster: which address, whether anything answers there, and how to authenticate.

Before ``ray.init`` joins a cluster, :func:`probe` checks the address in a few seconds and
without a word from Ray: a TCP connection (:data:`CONNECT_TIMEOUT`), then one call to the head's
GCS from a short-lived child process (``python -m algotrade.research.ray_join``) whose stderr, where Ray's
C++ client logs its retries, is discarded, and which is killed after :data:`ANSWER_TIMEOUT`. A
failure is one :class:`~algotrade.core.errors.ClusterError` line naming the address and the fix.

Token authentication (Ray 2.60 turns it on for a head started by ``ray start --head`` whenever a
token exists: ``~/.ray/auth_token``, ``RAY_AUTH_TOKEN_PATH`` or ``RAY_AUTH_TOKEN``) is decided
the way the head needs it: a head that refuses the call without a token is called again in
token mode when this machine has a token, and the sweep then joins in token mode (Ray itself
never turns it on for an explicit address). ``RAY_AUTH_MODE``, when set, is used as it is.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algotrade.core.errors import ClusterError, ConfigError

#: seconds a TCP connection to the address may take (nothing listening fails at once)
CONNECT_TIMEOUT = 3.0
#: seconds the head may take to answer one call once the probe is running
ANSWER_TIMEOUT = 4.0
#: seconds the probe process may take to start (importing Ray's core, ~0.5 s when warm)
START_TIMEOUT = 30.0

TOKEN_HELP = ("`ray get-auth-token` on the head prints its token; set RAY_AUTH_TOKEN to it here, or copy the "
              "head's ~/.ray/auth_token to this machine")


@dataclass(frozen=True)
class Target:
    """Where to join: ``address`` as given, ``label`` how the user gave it (for messages)."""

    address: str
    label: str


@dataclass(frozen=True)
class Joined:
    """A probed cluster: its GCS ``address`` (host:port), the auth mode that works there
    (token/disabled) and how the user named it (``label``, for messages)."""

    address: str
    auth: str
    label: str


def target(option: str | None) -> Target | None:
    """The cluster to join: ``--address``, else ``RAY_ADDRESS``; None for a private local Ray."""
    if option:
        return Target(option, f"--address {option}")
    env = os.environ.get("RAY_ADDRESS", "").strip()
    return Target(env, f"RAY_ADDRESS={env}") if env else None


def host_port(t: Target) -> tuple[str, int]:
    host, sep, port = t.address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"{t.label}: write the address as HOST:PORT (e.g. 10.0.0.5:6379, as `ray start --head` prints it) or auto"
        )
    return host.strip("[]"), int(port)


def check_reachable(t: Target, host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> None:
    """Something accepts TCP connections at host:port, or a ClusterError within ``timeout``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror:
        raise ClusterError(f"{t.label}: the host name {host!r} does not resolve; give the head's IP address or "
                           "a name this machine can resolve") from None
    except OSError as exc:
        reason = f"no answer within {timeout:.0f} s" if isinstance(exc, TimeoutError) else (
            exc.strerror or type(exc).__name__).lower()
        raise ClusterError(
            f"{t.label}: no Ray cluster answers there ({reason}); start one with `ray start --head` and pass the "
            "address it prints, or leave out the address (and RAY_ADDRESS) for a Ray on this machine"
        ) from None


def probe(t: Target) -> Joined:
    """Check that a Ray head answers at ``t`` and find the auth mode it needs (see the module doc)."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise ConfigError("--executor ray needs the Python package 'ray', which is not installed; run bin/algotrade "
                          "once to set up the project environment, or use --executor local")
    if t.address.startswith("ray://"):
        if importlib.util.find_spec("grpc") is None:
            raise ConfigError(
                f"{t.label}: ray:// (Ray Client) addresses need the ray[client] package, which this environment does "
                "not install; give the head's own address, HOST:6379 as `ray start --head` prints it"
            )
        check_reachable(t, *host_port(t))
        return Joined(t.address, os.environ.get("RAY_AUTH_MODE", "disabled"), t.label)
    if t.address != "auto":
        check_reachable(t, *host_port(t))
    answer = _run_child(t)
    kind = answer.get("kind")
    if kind == "ok":
        return Joined(str(answer["address"]), str(answer["auth"]), t.label)
    where = f"{t.label}" + (f" ({answer['address']})" if answer.get("address") not in (None, t.address) else "")
    if kind == "no-cluster":
        raise ClusterError(f"{t.label}: no Ray cluster started with `ray start` runs on this machine; start one with "
                           "`ray start --head`, or leave out the address for a private local Ray")
    if kind == "unreachable":
        raise ClusterError(f"{where}: no Ray cluster answers there ({answer.get('error')}); start one with "
                           "`ray start --head` and pass the address it prints")
    if kind == "auth":
        mode, source = answer.get("mode"), answer.get("token")
        named = os.environ.get("RAY_AUTH_TOKEN_PATH", "").strip()
        if mode == "disabled":
            why = "RAY_AUTH_MODE=disabled here; unset it (a token is then used when one is found) or set RAY_AUTH_MODE=token"
        elif named and not source and not os.environ.get("RAY_AUTH_TOKEN", "").strip():
            why = f"RAY_AUTH_TOKEN_PATH names {named}, which is not a file; {TOKEN_HELP}"
        elif source:
            why = f"it rejected the token from {source}; {TOKEN_HELP}"
        else:
            why = f"no token is set on this machine; {TOKEN_HELP}"
        raise ClusterError(f"{where}: the Ray cluster there requires an authentication token and {why}")
    raise ClusterError(
        f"{where}: it accepts connections but does not answer as a Ray head ({answer.get('error', 'no answer')}); "
        "give the address `ray start --head` printed (its --port, 6379 by default), and make sure this machine runs "
        f"the same Ray version ({_ray_version()})"
    )


def _ray_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"ray {version('ray')}"
    except PackageNotFoundError:
        return "ray is not installed"


def _run_child(t: Target) -> dict[str, object]:
    """Run the probe process; its first line says it is ready, the second is the answer (JSON)."""
    env = dict(os.environ)
    env["RAY_gcs_rpc_server_connect_timeout_s"] = str(int(ANSWER_TIMEOUT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "algotrade.research.ray_join", t.address], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, env=env,
    )
    lines: list[str] = []
    started, answered = threading.Event(), threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            (answered if len(lines) > 1 else started).set()
        started.set()
        answered.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not started.wait(START_TIMEOUT):
            return {"kind": "other", "error": f"the probe did not start within {START_TIMEOUT:.0f} s"}
        if not answered.wait(ANSWER_TIMEOUT):
            return {"kind": "other", "error": f"no answer within {ANSWER_TIMEOUT:.0f} s"}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(timeout=5)
    try:
        answer = json.loads(lines[1])
    except (IndexError, json.JSONDecodeError):
        return {"kind": "other", "error": f"the probe ended with exit code {proc.returncode}"}
    return answer if isinstance(answer, dict) else {"kind": "other", "error": "an unreadable answer"}


# --------------------------------------------------------------------------------------------
# the probe process


def _token_source() -> str | None:
    """Where Ray would read a token from, as Ray's token loader looks (first match), or None."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH", "").strip()
    if path:
        return f"RAY_AUTH_TOKEN_PATH ({path})" if Path(path).expanduser().is_file() else None
    default = Path.home() / ".ray" / "auth_token"
    return str(default).replace(str(Path.home()), "~", 1) if default.is_file() and default.read_text().strip() else None


def _raylet() -> Any:
    """Ray's core library (its type stubs omit the client and config classes used here)."""
    import importlib

    return importlib.import_module("ray._raylet")


def _child(address: str) -> dict[str, object]:
    from ray.exceptions import AuthenticationError

    raylet = _raylet()
    GcsClient = raylet.GcsClient

    print("ready", flush=True)
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        try:
            resolved = canonicalize_bootstrap_address("auto")
        except ConnectionError:
            resolved = None
        if not resolved:
            return {"kind": "no-cluster"}
        address = resolved
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
                pass
        except OSError as exc:
            return {"kind": "unreachable", "address": address, "error": (exc.strerror or type(exc).__name__).lower()}
    mode = os.environ.get("RAY_AUTH_MODE")
    try:
        GcsClient(address=address)
        return {"kind": "ok", "address": address, "auth": mode or "disabled"}
    except AuthenticationError:
        source = _token_source()
        if mode is not None or source is None:
            return {"kind": "auth", "address": address, "mode": mode, "token": source}
    except Exception as exc:
        return {"kind": "other", "address": address, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
    os.environ["RAY_AUTH_MODE"] = "token"  # what Ray does for a local head when a token exists
    _refresh()
    try:
        GcsClient(address=address)
    except AuthenticationError:
        return {"kind": "auth", "address": address, "mode": None, "token": source}
    except Exception as exc:
        return {"kind": "other", "address": address, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
    return {"kind": "ok", "address": address, "auth": "token"}


def use_auth(mode: str) -> str | None:
    """Make this process join in ``mode`` (before or after Ray is imported); returns the previous
    RAY_AUTH_MODE, for :func:`restore_auth`."""
    previous = os.environ.get("RAY_AUTH_MODE")
    if mode == "token" and previous != "token":
        os.environ["RAY_AUTH_MODE"] = "token"
        _refresh()
    return previous


def restore_auth(previous: str | None) -> None:
    if os.environ.get("RAY_AUTH_MODE") == previous:
        return
    if previous is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = previous
    _refresh()


def _refresh() -> None:
    """Ray caches its config (the auth mode among it) in its core library: read it again."""
    if "ray._raylet" in sys.modules:
        raylet = _raylet()
        raylet.Config.initialize("")
        raylet.AuthenticationTokenLoader.instance().reset_cache()


if __name__ == "__main__":  # pragma: no cover - run by _run_child
    print(json.dumps(_child(sys.argv[1])), flush=True)
