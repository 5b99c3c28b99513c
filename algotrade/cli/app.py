"""The ``algotrade`` group: its options, its help, and the one place errors become exit codes.

Imports here are kept to click and the standard library: engines, pandas and pydantic load only
inside the command that needs them, so ``algotrade --help`` answers at once. The commands are
added by the modules of this package (one per family) and, through the entry-point group
``algotrade.commands``, by other packages (the IB adapter's ``gateway`` and ``gateway-ctl``).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

EXAMPLES = """
\b
Examples:
  algotrade run experiments/quickstart.yaml
  algotrade run experiments/quickstart.yaml --set strategy.params.fast=5 --out /tmp/res
  algotrade compare experiments/quickstart.yaml --engines backtrader,zipline
  algotrade sweep experiments/sweep_sma.yaml --workers 2
  algotrade validate experiments/quickstart.yaml
  algotrade schema
  algotrade data list
  algotrade data validate experiments/quickstart.yaml
  algotrade strategies
  algotrade engines
  algotrade recipes --check
  algotrade gateway experiments/quickstart.yaml --port 7497 --speed 5
  algotrade paper experiments/paper_quickstart.yaml --simulate
"""


class _FullShortHelp(click.Command):
    """In a group's list of commands, a command's whole first paragraph: click would cut it at ~45 chars.
    The help's commands (examples, `algotrade schema`) start as the user started this one
    (algotrade.core.shell.render: bin/algotrade in the project folder)."""

    _help: str | None = None
    _epilog: str | None = None

    @property  # type: ignore[override]
    def help(self) -> str | None:
        from algotrade.core.shell import render

        return render(self._help) if self._help else self._help

    @help.setter
    def help(self, text: str | None) -> None:
        self._help = text

    @property  # type: ignore[override]
    def epilog(self) -> str | None:
        from algotrade.core.shell import render

        return render(self._epilog) if self._epilog else self._epilog

    @epilog.setter
    def epilog(self, text: str | None) -> None:
        self._epilog = text

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Options' help too: every ``algotrade <subcommand>`` on the page starts with the launcher."""
        from algotrade.core.shell import render

        super().format_help(ctx, formatter)
        formatter.buffer[:] = [render("".join(formatter.buffer))]

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help or not self.help or self.deprecated:
            return super().get_short_help_str(limit)
        import inspect

        first = inspect.cleandoc(self.help).partition("\n\n")[0]
        return " ".join(word for word in first.split() if word != "\b")


def _reader_gone() -> NoReturn:
    """`algotrade ... | head`: the reader has what it wanted; exit as a shell's pipeline does."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(EXIT_BROKEN_PIPE)


#: exit codes of the CLI itself (the errors carry theirs: algotrade.core.errors, algotrade.live.paper.EXIT_*)
EXIT_OK = 0
EXIT_OTHER = 1
EXIT_DATA = 2  # as DataError's: data validate found a problem that stops a run
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

#: the entry-point group through which another package adds commands (``name = "package.module:command"``)
COMMAND_GROUP = "algotrade.commands"


class _Group(_FullShortHelp, click.Group):
    """Turns algotrade errors into one clear message and an exit code (no traceback)."""

    command_class = _FullShortHelp
    group_class = type  # subgroups (algotrade data) are _Group too

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:  # `algotrade --help | head` (click itself would exit 1)
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:
            _reader_gone()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            _reader_gone()
        except KeyboardInterrupt:  # click would print "Aborted!" and exit 1
            if (ctx.obj or {}).get("debug"):
                raise
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            debug = bool((ctx.obj or {}).get("debug"))
            if debug:
                raise
            from algotrade.core.errors import AlgotradeError

            if isinstance(exc, AlgotradeError):
                from algotrade.core.errors import (
                    BrokerError,
                    ClusterError,
                    ConfigError,
                    DataError,
                    StrategyError,
                )

                kind = next((label for cls, label in ((ConfigError, "config error"), (DataError, "data error"),
                                                      (BrokerError, "broker error"), (StrategyError, "strategy error"),
                                                      (ClusterError, "cluster error"))
                             if isinstance(exc, cls)), "error")
                click.echo(f"{kind}: {exc}", err=True)
                sys.exit(exc.exit_code)
            click.echo(
                f"internal error: {type(exc).__name__}: {exc}\n"
                "this is a bug in algotrade; rerun with --debug for the traceback and report it",
                err=True,
            )
            sys.exit(EXIT_OTHER)


def _adopted(command: click.Command) -> click.Command:
    """A contributed command presented as the CLI's own (_FullShortHelp: its whole first paragraph in
    the list of commands, the launcher in every command of its help)."""
    if not isinstance(command, _FullShortHelp):
        text, epilog = vars(command).pop("help", None), vars(command).pop("epilog", None)
        command.__class__ = type(type(command).__name__, (_FullShortHelp, type(command)), {})
        command.help, command.epilog = text, epilog
    return command


def _contributed(name: str, target: str) -> click.Command:
    """The command an entry point names; one that does not import is listed as unavailable, and
    running it says why (exit 2), as a broken adapter is listed by ``algotrade engines``."""
    from algotrade.core.registry import resolve

    try:
        found = resolve(target, f"command {name}", {})
        if not isinstance(found, click.Command):
            raise TypeError(f"{target} is a {type(found).__name__}, not a click command")
        return _adopted(found)
    except Exception as exc:
        why = f"the package that adds it is broken ({COMMAND_GROUP} entry point {name} = {target}: " \
              f"{type(exc).__name__}: {exc}); reinstall or remove it"

        def refuse(args: tuple[str, ...]) -> None:
            from algotrade.core.errors import ConfigError

            raise ConfigError(f"{name}: {why}")

        return _adopted(click.Command(name, callback=refuse, help=f"Unavailable: {why}.",
                                      params=[click.Argument(["args"], nargs=-1)],
                                      context_settings={"ignore_unknown_options": True}))


class _App(_Group):
    """The top group: its own commands and those contributed through COMMAND_GROUP, which are read
    from the installed metadata and imported only when the commands are listed or one is run."""

    group_class = _Group  # type: ignore[assignment]  # subgroups (algotrade data) have no contributed commands

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        """Every command, the contributed ones imported at the first look."""
        own: dict[str, click.Command] = self.__dict__["_own"]
        if not self.__dict__.get("_contributed"):
            from algotrade.core.registry import registered

            self._contributed = True
            for name, target in registered(COMMAND_GROUP).items():
                own.setdefault(name, _contributed(name, target))
        return own

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._own = value

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._own[name] = cmd  # adding one is no look: the contributed ones stay unimported

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._own.get(cmd_name) or self.commands.get(cmd_name)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("algotrade")
    except PackageNotFoundError:
        return "unknown"


@click.group(cls=_App, epilog=EXAMPLES,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
@click.version_option(message="algotrade %(version)s", version=None, package_name="algotrade")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """algotrade: cookbook strategies, run unchanged on Backtrader, Zipline and IB.

    Every command takes an experiment file (YAML); `algotrade schema` documents every key.

    \b
    Exit codes (every command):
      0    ok (paper, live: the verdict is GO; compare: the engines agree)
      1    anything else (compare: the engines differ; sweep: every run failed; recipes: a check differs)
      2    a problem in the experiment file, the data or the options (a refused live start too)
      3    paper, live: the verdict is NO-GO; reconcile: the journal and the broker disagree
      4    the strategy raised
      5    the broker (IB) refused or failed; sweep: the Ray cluster is unreachable or refuses us
      6    paper, live: halted by the kill switch (run `algotrade resume`)
      130  interrupted (Ctrl-C; paper, live: also SIGTERM, SIGHUP; the gateway exits 0 on those)
      141  the reader of the output went away (algotrade schema | head)
    """
    ctx.obj = {"debug": debug}
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("algotrade").setLevel(logging.DEBUG if debug else logging.INFO)


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Override one named field, e.g. --set strategy.params.fast=5 (repeatable).",
)
