"""Commands the project prints for the user to copy: one form, that works when pasted.

Every such command (a sweep's re-run of one point, the resume after Ctrl-C, ...) starts with
:func:`launcher`: ``bin/algotrade`` when run from the project folder (the form the README uses,
which sets the environment up by itself), the full path of that script from anywhere else, and
``algotrade`` (or ``python -m algotrade``) for an install without the project folder. The rest
is quoted for a POSIX shell; paths stay as the user gave them, relative to the same folder.
Installed as a console script and called by it (``algotrade ...`` or ``.venv/bin/algotrade ...``),
the commands start the way the user started this one.

:func:`render` gives prose (``--help``, ``algotrade schema``, listings) the same form: each
``algotrade <subcommand>`` in it starts with the launcher. It imports nothing heavy, so
``algotrade --help`` stays fast.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: the subcommands of ``algotrade`` (tests/test_printed_commands.py keeps it equal to the CLI's)
SUBCOMMANDS = ("compare", "data", "engines", "gateway", "gateway-ctl", "kill", "live", "paper", "recipes", "reconcile", "resume", "run", "schema",
               "strategies", "sweep", "validate")

#: ``algotrade <subcommand>`` as a word, not already part of a launcher (``bin/algotrade run``,
#: ``python -m algotrade run``)
COMMAND_WORDS = re.compile(rf"(?<![\w/.-])(?<!-m )algotrade(?= (?:{'|'.join(SUBCOMMANDS)})\b)")


def _console_script() -> str | None:
    """How the installed ``algotrade`` console script was typed, when it started this process."""
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name != "algotrade" or not Path(argv0).is_file():
        return None
    found = shutil.which("algotrade")
    if found and Path(found).resolve() == Path(argv0).resolve():
        return "algotrade"
    return argv0


def launcher() -> list[str]:
    """The words that start an algotrade command here (see the module doc)."""
    typed = _console_script()
    if typed:
        return [typed]
    script = ROOT / "bin" / "algotrade"
    if script.is_file() and os.access(script, os.X_OK):
        try:
            here = Path.cwd().resolve()
        except OSError:  # the current folder was removed
            here = None
        return ["bin/algotrade"] if here == ROOT else [str(script)]
    if shutil.which("algotrade"):
        return ["algotrade"]
    return [sys.executable, "-m", "algotrade"]


def command(*args: str | os.PathLike[str]) -> str:
    """``launcher() + args`` as one line to paste into a shell."""
    return shlex.join([*launcher(), *(os.fspath(a) for a in args)])


def project_command(*args: str | os.PathLike[str]) -> str:
    """The command in the README's form, ``bin/algotrade ...``, for files committed to the project
    (docs/recipes.md), which are read in the project folder whoever generated them."""
    return shlex.join(["bin/algotrade", *(os.fspath(a) for a in args)])


def render(text: str) -> str:
    """``text`` with every ``algotrade <subcommand>`` started by :func:`launcher`."""
    words = shlex.join(launcher())
    return text if words == "algotrade" else COMMAND_WORDS.sub(lambda _: words, text)
