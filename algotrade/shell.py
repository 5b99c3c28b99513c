"""Commands the project prints for the user to copy: one form, that works when pasted.

Every such command (a sweep's re-run of one point, the resume after Ctrl-C, ...) starts with
:func:`launcher`: ``bin/algotrade`` when run from the project folder (the form the README uses,
which sets the environment up by itself), the full path of that script from anywhere else, and
``algotrade`` (or ``python -m algotrade``) for an install without the project folder. The rest
is quoted for a POSIX shell; paths stay as the user gave them, relative to the same folder.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def launcher() -> list[str]:
    """The words that start an algotrade command here (see the module doc)."""
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
