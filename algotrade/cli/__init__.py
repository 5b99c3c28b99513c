"""The ``algotrade`` command line (``algotrade.cli:main``). Only this package maps errors to exit codes.

``app`` holds the group, its help and the error handling; each other module one family of
commands: ``backtest`` (run, compare, validate, schema, data), ``research`` (sweep), ``trading``
(paper, live, kill, resume, reconcile), ``listings`` (strategies, engines, recipes). Other
packages add theirs through the ``algotrade.commands`` entry points (the IB adapter: gateway,
gateway-ctl, in ``adapters/ib/commands.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from algotrade.cli.app import (
    COMMAND_GROUP,
    EXAMPLES,
    EXIT_BROKEN_PIPE,
    EXIT_DATA,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OTHER,
    cli,
    set_option,
)
from algotrade.cli.backtest import compare, data, data_list, data_validate, run, schema, validate
from algotrade.cli.listings import engines, recipes, strategies
from algotrade.cli.research import sweep
from algotrade.cli.trading import kill, live, paper, reconcile_cmd, resume

__all__ = ["COMMAND_GROUP", "EXAMPLES", "EXIT_BROKEN_PIPE", "EXIT_DATA", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_OTHER",
           "cli", "compare", "data", "data_list", "data_validate", "engines", "kill", "live", "main", "paper",
           "recipes", "reconcile_cmd", "resume", "run", "schema", "set_option", "strategies", "sweep", "validate"]


def main(argv: Sequence[str] | None = None) -> None:
    import shlex

    from algotrade.core.shell import launcher
    from algotrade.live.signals import hold_early

    if argv is None:  # the process's own command line (python -m algotrade did it already, first thing)
        hold_early(sys.argv[1:])

    try:  # click's own messages ("Usage: ...", "Try '... run -h' for help.") name the launcher too
        cli.main(args=list(argv) if argv is not None else None, prog_name=shlex.join(launcher()))
    finally:
        forget_caught_interrupts()


def forget_caught_interrupts() -> None:
    """Lets the process end with the command's own exit code after a stop signal or Ctrl-C it
    handled. CPython remembers a KeyboardInterrupt that left an ``exec`` or ``eval`` of a string
    (a dataclass or a namedtuple being made while a module imports, say) even when the program
    caught it further up, and then ends the process by SIGINT instead of by its exit code (an exit
    0 or 130 seen as "killed by signal 2"); each such run of a string forgets what an earlier one
    remembered (CPython's ``run_eval_code_obj``, ``Py_RunMain``). A stop signal may land anywhere,
    so the command ends by running one string: a KeyboardInterrupt still uncaught after it
    (``--debug``) is remembered as before."""
    exec("pass")


if __name__ == "__main__":  # pragma: no cover
    main()
