"""Docs as tests: every shell command shown in README.md and docs/ runs here, as a reader runs it.

A command is a line of a fenced ``bash``/``sh`` block, or an inline code span that starts with
``bin/`` or ``.venv/bin/``. Each one runs from a sandbox folder that looks like a checkout to the
reader's shell (``bin/...`` is this checkout's, ``experiments/``, ``bench/`` and ``.venv`` are
linked, ``docs/`` and ``notebooks/`` are copies), so results land in the sandbox and nothing in
the repository changes. A command that cannot run here (a live account, a cluster, the suite
itself) is listed in ``NOT_RUN`` with the reason; a new command in the docs that is neither run
nor listed fails the suite. Long-running benchmarks run with their smallest size (``SMALLER``);
servers run in the background until they answer, then get SIGTERM (``SERVERS``).

The output the README shows for the quickstart, the command synopsis and the counts it states
(recipes, chapters, shipped experiments) are checked against a real run and the code.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "recipes" / "README.md"]
NESTED = "ALGOTRADE_DOCS_TEST_NESTED"

# commands shown in the docs that the suite does not run, and why (a prefix of the command)
NOT_RUN: dict[str, str] = {  # a regular expression matching the whole command: the reason
    r"bin/test": "the test suite itself: CI runs it (.ci/run calls bin/test); a nested run would recurse",
    r"bin/algotrade": "the script's name in a sentence; alone it prints its usage",
    r"bin/lock": "re-resolves requirements.lock from the package index: minutes, and it rewrites the lock",
    r"ALGOTRADE_IB_PORT=4002 .*": "needs a real paper TWS or IB Gateway (tests/test_paper_gateway.py runs it against the simulator)",
    r".* --address 10\.0\.0\.5:\d+": "needs a Ray cluster at that address (the sweep tests join a real one on loopback)",
    r"bin/algotrade gateway(-ctl)? .*\b7600\b.*": "a walkthrough across one gateway's lifetime in two terminals; tests/test_gateway_faults.py drives the same control commands against a gateway process",
    r"bin/test tests/test_parity_fuzz\.py --parity-fuzz .*": "the larger generated parity run (minutes to tens of minutes); the suite runs its 224 generated cases, and docs/engine-parity.md records the last larger run",
    r"bin/algotrade resume X\.yaml.*": "X.yaml stands for a halted run's experiment; tests/test_paper_gateway.py kills a run, then resumes it",
    r"\.venv/bin/python tests/regen_goldens\.py": "rewrites tests/golden/; tests/test_golden.py runs its produce() for every experiment and engine",
}
# benchmarks run with their smallest size: the same script, the same JSON lines
SMALLER: dict[str, list[str]] = {
    ".venv/bin/python bench/sweep_throughput.py": ["--rounds", "1", "--no-ray"],
    ".venv/bin/python bench/adapter_overhead.py": ["--runs", "1", "--only", "backtrader"],
    ".venv/bin/python bench/risk_overhead.py": ["--runs", "1", "--sessions", "80", "--engines", "backtrader"],
    ".venv/bin/python bench/ib_latency.py": ["--sessions", "60", "--rounds", "1"],
}
# commands that serve until stopped: the line they print once ready
SERVERS: dict[str, str] = {
    "bin/algotrade gateway": "gateway: serving",
    "bin/lab": "/lab?token=",
}


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{self.text[:60]}"


_FENCE = re.compile(r"^```(\S*)")
_INLINE = re.compile(r"`((?:bin/|\.venv/bin/)[^`]+)`")


def _strip_comment(line: str) -> str:
    """Drop an unquoted trailing ``# ...`` comment, keep the command as written."""
    out, quote = [], ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            break
        out.append(ch)
    return "".join(out).strip()


def shell_commands(path: Path) -> list[Command]:
    """The shell commands a reader of ``path`` would type, in order: fenced shell lines, and inline
    spans (a paragraph's text joined, so a span may wrap) that start with ``bin/`` or ``.venv/bin/``."""
    found: list[Command] = []
    fence: str | None = None
    pending = ""
    paragraph: list[str] = []
    start = 0
    rel = str(path.relative_to(ROOT))

    def flush() -> None:
        text = " ".join(ln.strip() for ln in paragraph)
        found.extend(Command(rel, start, " ".join(m.group(1).replace("\\|", "|").split()))  # a table's \| is a pipe
                     for m in _INLINE.finditer(text))
        paragraph.clear()

    for n, raw in enumerate(path.read_text().splitlines(), 1):
        m = _FENCE.match(raw.strip())
        if m:
            flush()
            fence = (m.group(1) or "text") if fence is None else None
            continue
        if fence in ("bash", "sh", "shell", "console"):
            line = _strip_comment(raw)
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line, pending = (pending + line).strip(), ""
            if line:
                found.append(Command(rel, n, line))
        elif fence is None:
            if not raw.strip():
                flush()
                continue
            if not paragraph:
                start = n
            paragraph.append(raw)
    flush()
    return found


def all_commands() -> list[Command]:
    seen: set[str] = set()
    out = []
    for doc in DOCS:
        for cmd in shell_commands(doc):
            if cmd.text not in seen and cmd.text != "bin/":
                seen.add(cmd.text)
                out.append(cmd)
    return out


def _reason_not_run(text: str) -> str | None:
    return next((why for pattern, why in NOT_RUN.items() if re.fullmatch(pattern, text)), None)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    box = tmp_path_factory.mktemp("reader")
    for name in ("experiments", "bench", ".venv", "tests", "recipes"):
        (box / name).symlink_to(ROOT / name)
    for name in ("docs", "notebooks"):
        shutil.copytree(ROOT / name, box / name)
    (box / "bin").mkdir()
    for script in (ROOT / "bin").iterdir():
        (box / "bin" / script.name).symlink_to(script)
    return box


def _argv(text: str, box: Path) -> tuple[list[str], dict[str, str]]:
    words = shlex.split(text)
    env = dict(os.environ)
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    # bin/X is this checkout's script (it finds its .venv by its own path), run from the sandbox
    if words[0].startswith("bin/"):
        words[0] = str(ROOT / words[0])
    for prefix, extra in SMALLER.items():
        if text.startswith(prefix):
            words += extra
    env[NESTED] = "1"
    env.pop("PYTEST_CURRENT_TEST", None)
    return words, env


def _substitute(text: str, box: Path) -> str:
    """Placeholders the docs use for values only a previous command knows."""
    if "<id>" in text:
        import json

        summary = json.loads((box / "results" / "sweep_sma" / "sweep.json").read_text())
        best = summary.get("best") or {}
        text = text.replace("<id>", str(best.get("config_id")))
    return text


COMMANDS = all_commands()


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.id for c in COMMANDS])
def test_documented_command_runs(cmd: Command, sandbox: Path) -> None:
    if os.environ.get(NESTED):
        pytest.skip("inside a documented command's own run")
    why = _reason_not_run(cmd.text)
    if why:
        pytest.skip(f"not run here: {why}")
    text = _substitute(cmd.text, sandbox)
    argv, env = _argv(text, sandbox)
    ready = next((line for prefix, line in SERVERS.items() if text.startswith(prefix)), None)
    if ready:
        _serve_then_stop(argv, env, sandbox, ready, cmd)
        return
    if re.search(r"[|;&<>]", text):  # a pipeline: the reader's shell runs it
        argv = ["bash", "-c", re.sub(r"(?<![\w/.])bin/", f"{ROOT}/bin/", text)]
    proc = subprocess.run(argv, cwd=sandbox, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (f"{cmd.doc}:{cmd.line}: `{cmd.text}` exited {proc.returncode}\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    if "bench/" in text:
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        assert lines, f"`{cmd.text}` printed no JSON line:\n{proc.stdout[-2000:]}"


def _serve_then_stop(argv: list[str], env: dict[str, str], box: Path, ready: str, cmd: Command) -> None:
    proc = subprocess.Popen(argv, cwd=box, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        seen = []
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            seen.append(line)
            if ready in line or time.monotonic() > deadline:
                break
        assert any(ready in ln for ln in seen), f"`{cmd.text}` never printed {ready!r}:\n{''.join(seen)}"
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        assert code == 0, f"`{cmd.text}` exited {code} on SIGTERM"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_every_documented_command_is_run_or_listed() -> None:
    """A listed reason that no longer matches any command is stale too."""
    texts = [c.text for c in COMMANDS]
    unused = [p for p in NOT_RUN if not any(_reason_not_run(t) == NOT_RUN[p] for t in texts)]
    assert not unused, f"NOT_RUN entries that match no documented command: {unused}"
    assert len(COMMANDS) >= 10


# --- what the README states, against the code ------------------------------------------------


def _readme() -> str:
    return (ROOT / "README.md").read_text()


def _block_after(text: str, marker: str, kind: str = "text") -> list[str]:
    start = text.index(marker)
    fence = text.index(f"```{kind}\n", start) + len(kind) + 4
    return text[fence:text.index("```", fence)].splitlines()


def test_quickstart_output_in_readme_matches_a_real_run(tmp_path: Path) -> None:
    shown = _block_after(_readme(), "The run prints a summary")
    proc = subprocess.run([str(ROOT / "bin" / "algotrade"), "run", str(ROOT / "experiments" / "quickstart.yaml"),
                           "--out", "results"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    real = [ln.rstrip() for ln in proc.stdout.splitlines()]
    for line in shown:
        if line.strip() in ("", "..."):
            continue
        assert line.rstrip() in real, f"README shows {line!r}; the real run printed:\n" + "\n".join(real)


def test_command_synopsis_matches_the_cli() -> None:
    from algotrade.cli import cli

    shown = [ln.split() for ln in _block_after(_readme(), "## Commands") if ln.startswith("algotrade ")]
    groups = {name for name, c in cli.commands.items() if getattr(c, "commands", None)}
    listed = {" ".join(w[1:3]) if w[1] in groups else w[1] for w in shown}
    real = {f"{name} {sub}" if name in groups else name
            for name, command in cli.commands.items() for sub in (getattr(command, "commands", None) or [""])}
    assert listed == real, f"README lists {sorted(listed - real)} that the CLI lacks; the CLI has {sorted(real - listed)} unlisted"


def test_counts_stated_in_readme_hold() -> None:
    import recipes

    text = _readme()
    chapters = {m.split(".")[1] for m in recipes.INDEX}
    m = re.search(r"(\d+) recipes in (\d+)\s+chapters", text)
    assert m, "README no longer states how many recipes and chapters the cookbook has"
    assert (int(m.group(1)), int(m.group(2))) == (len(recipes.INDEX), len(chapters))
    shipped = {p.stem for p in (ROOT / "experiments").glob("*.yaml")}
    missing = sorted(s for s in shipped if f"`{s}`" not in text)
    assert not missing, f"experiments not described in README: {missing}"


def test_shell_command_extraction() -> None:
    doc = ROOT / "README.md"
    cmds = shell_commands(doc)
    assert cmds[0].text == "bin/algotrade run experiments/quickstart.yaml"
    assert _strip_comment("bin/x --set a='b # c'   # note") == "bin/x --set a='b # c'"
