"""`bin/lab` opens the cookbook's notebooks in JupyterLab from the project's environment.

The server runs as a subprocess on a free loopback port with a throwaway home (its runtime files
and a decoy user-wide kernel go there); the test reads its output until it prints the URL, asks
the contents API for the notebooks, and stops it with SIGTERM. A ``BROWSER`` stand-in records
whether a browser was started: never without a display, once with one.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT

LAB = ROOT / "bin" / "lab"
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("ch*.ipynb"))
URL = re.compile(r"http://(?:127\.0\.0\.1|localhost):(\d+)/lab\?token=(\w+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lab_env(home: Path, display: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY") and not k.startswith("JUPYTER")}
    browser = home / "browser"
    browser.write_text(f"#!/bin/sh\necho \"$@\" >> {home / 'browser-opened'}\n")
    browser.chmod(0o755)
    # a user-wide "python3" kernel of another Python: the project's own must win over it
    decoy = home / ".local" / "share" / "jupyter" / "kernels" / "python3"
    decoy.mkdir(parents=True)
    (decoy / "kernel.json").write_text(json.dumps(
        {"argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "decoy", "language": "python"}))
    env.update(HOME=str(home), BROWSER=str(browser), XDG_DATA_HOME=str(home / ".local" / "share"),
               XDG_CONFIG_HOME=str(home / ".config"))
    if display:
        env["DISPLAY"] = display
    return env


@contextmanager
def running_lab(home: Path, display: str | None = None, folder: Path | None = None) -> Iterator[tuple[str, str]]:
    """bin/lab on a free port (on ``folder``: ALGOTRADE_LAB_DIR); yields (base URL, token) once its
    server answers over HTTP."""
    env = lab_env(home, display) | ({"ALGOTRADE_LAB_DIR": str(folder)} if folder else {})
    proc = subprocess.Popen([str(LAB), "--port", str(free_port()), "--ServerApp.port_retries=0"],
                            cwd=home, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def next_line(timeout: float) -> str:
        line = lines.get(timeout=timeout)
        assert line is not None, "bin/lab exited before serving:\n" + "".join(seen)
        seen.append(line)
        return line

    threading.Thread(target=read, daemon=True).start()
    try:
        found = None
        while not found:
            found = URL.search(next_line(timeout=180))  # first use may set up .venv
        base, token = f"http://127.0.0.1:{found.group(1)}", found.group(2)
        # the URL is printed just before the server binds its port: retry each time it prints
        # something more, or at the latest every quarter second, until it answers
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"{base}/api/status?token={token}")
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "bin/lab never answered:\n" + "".join(seen)
                with contextlib.suppress(queue.Empty):
                    next_line(timeout=0.25)
        yield base, token
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:  # loopback only
        return json.loads(response.read())


def put(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # loopback only
        return json.loads(response.read())


def test_lab_help_says_how_without_starting_anything(tmp_path: Path) -> None:
    proc = subprocess.run([str(LAB), "--help"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: bin/lab")
    assert "--port" in proc.stdout and "nbconvert" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_lab_serves_the_notebooks_and_opens_no_browser_without_a_display(tmp_path: Path) -> None:
    with running_lab(tmp_path) as (base, token):
        listing = get(f"{base}/api/contents?token={token}")
        kernels = get(f"{base}/api/kernelspecs?token={token}")
        notebook = get(f"{base}/api/contents/{NOTEBOOKS[0]}?token={token}")
    names = {item["name"] for item in listing["content"] if item["type"] == "notebook"}
    assert set(NOTEBOOKS) <= names and len(NOTEBOOKS) >= 10
    assert notebook["type"] == "notebook" and notebook["content"]["cells"]
    assert kernels["kernelspecs"]["python3"]["spec"]["display_name"] != "decoy"  # .venv's own kernel
    assert not (tmp_path / "browser-opened").exists()


def test_lab_opens_a_browser_where_there_is_a_display(tmp_path: Path) -> None:
    with running_lab(tmp_path, display=":99") as (base, token):
        assert get(f"{base}/api/status?token={token}")
    # the server opens the browser from a thread it waits for on exit: the record is complete now
    assert (tmp_path / "browser-opened").read_text().strip()


def test_saving_a_run_notebook_in_lab_keeps_it_as_committed(tmp_path: Path) -> None:
    """What a reader's save after running a notebook (JupyterLab has filled in the kernel's
    metadata, outputs and counts) writes: the committed file, byte for byte; an edit is kept."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in NOTEBOOKS[:2]:
        shutil.copy(ROOT / "notebooks" / name, folder / name)
    ran, edited = NOTEBOOKS[:2]
    with running_lab(tmp_path, None, folder) as (base, token):
        for name in (ran, edited):
            content = json.loads((folder / name).read_text())
            content["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
            content["metadata"]["language_info"] = {"name": "python", "version": "3.11.7"}
            for i, cell in enumerate(c for c in content["cells"] if c["cell_type"] == "code"):
                cell["execution_count"] = i + 1
                cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["printed\n"]}]
                cell["metadata"].update(scrolled=True, execution={"iopub.status.idle": "2026-01-01T00:00:00Z"})
            if name == edited:
                content["cells"][0]["source"] = "# an edited title"
            put(f"{base}/api/contents/{name}?token={token}", {"type": "notebook", "format": "json", "content": content})
    assert (folder / ran).read_bytes() == (ROOT / "notebooks" / ran).read_bytes()
    saved = json.loads((folder / edited).read_text())
    committed = json.loads((ROOT / "notebooks" / edited).read_text())
    assert saved["cells"][0]["source"] == ["# an edited title"]
    assert saved["metadata"] == committed["metadata"]
    assert all(not c["outputs"] and c["execution_count"] is None and not c["metadata"]
               for c in saved["cells"] if c["cell_type"] == "code")
