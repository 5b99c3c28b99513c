"""`algotrade recipes`, `strategies`, `engines` and every `--help`: nothing cut, no RST, no Python repr.

Each listing is read at a narrow and a wide terminal. Every word it prints must be a whole word of
the text it lists (a word cut by wrapping or truncation would not be), no line may be wider than
the terminal unless it is one unbreakable word, and no reStructuredText markup (``x``,
:class:`x`, `x`) or Python repr (tuples, None, True, quotes) may reach the terminal.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner
from pydantic_core import to_jsonable_python

import recipes
from algotrade.cli import cli
from algotrade.core import registry
from algotrade.core.listing import definitions, plain, split_doc, summary, wrap, yaml_value
from algotrade.core.shell import render

WIDTHS = (80, 140)
RST = re.compile(r"``|`|:[a-z]+:`|\*\*")


def invoke(args: list[str], width: int, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(cli, args, env={"COLUMNS": str(width), **(env or {})}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def flat(text: str) -> str:
    """Whitespace collapsed, and a hyphenated word wrapped at its hyphen joined again."""
    return " ".join(re.sub(r"(?<=\w-)\n\s+", "", text).split())


def words(text: str) -> set[str]:
    return set(text.split())


def assert_fits(output: str, width: int) -> None:
    for line in output.splitlines():
        assert len(line) <= width or len(line.split()) == 1 or line.startswith(" " * 8), (
            f"line wider than {width} columns: {line!r}")


def recipe_title(name: str) -> str:
    """The recipe's first docstring paragraph, written independently of algotrade.core.listing."""
    first = inspect.cleandoc(importlib.import_module(name).__doc__ or "").partition("\n\n")[0]
    return " ".join(re.sub(r":\w+:`|``|`", "", first).split()).removesuffix(".")


# --- the text helpers -------------------------------------------------------------------------

def test_plain_removes_every_kind_of_inline_markup() -> None:
    assert plain("retrained every ``test_bars`` bars") == "retrained every test_bars bars"
    assert plain("Buy when the RSI is below `oversold`.") == "Buy when the RSI is below oversold."
    assert plain("see :class:`~algotrade.live.broker.LiveRunner` and :func:`crossover`") == "see LiveRunner and crossover"
    assert plain(":ref:`the guide <guide>` and `PyPI <https://pypi.org>`_") == "the guide and PyPI"
    assert plain("**Regimes.** the *expected* price, 2*3 and a*b*c") == "Regimes. the expected price, 2*3 and a*b*c"
    assert plain("Example::\n\n    x") == "Example: x"
    assert plain("every CDL* pattern") == "every CDL* pattern"


def test_split_doc_takes_the_whole_first_paragraph() -> None:
    doc = """Returns and resampling: simple, log and cumulative returns; daily bars to weekly;
    minute bars to daily.

    The body.
    """
    assert split_doc(doc) == ("Returns and resampling: simple, log and cumulative returns; daily bars to weekly; "
                              "minute bars to daily.", "The body.")
    assert summary(doc).endswith("minute bars to daily")
    assert summary(None, "fallback") == "fallback"


def test_wrap_and_definitions_never_cut_a_word() -> None:
    text = "walk-forward out-of-sample " * 6 + "a_very_long_identifier_that_cannot_be_broken_anywhere_at_all_x"
    for width in (30, 50, 80):
        lines = definitions([("key", text), ("a much longer key than the column", ["one", text])], width)
        assert words("\n".join(lines)) <= words(text) | {"key", "a", "much", "longer", "than", "the", "column", "one"}
        assert all(len(line) <= width or len(line.split()) <= 2 for line in lines)
        assert words("\n".join(wrap(text, width, indent=4))) == words(text)


@pytest.mark.parametrize(("value", "written"), [
    ((0.0, 1.0), "[0.0, 1.0]"), (None, "null"), (True, "true"), ("month_start", "month_start"),
    (("ret_1", "rsi_14"), "[ret_1, rsi_14]"), (5, "5"), ("yes", "'yes'"), ({"a": (1, 2)}, "{a: [1, 2]}"),
])
def test_values_are_shown_as_yaml(value: Any, written: str) -> None:
    assert yaml_value(value) == written
    assert yaml.safe_load(written) == to_jsonable_python(value)


# --- algotrade recipes --------------------------------------------------------------------------

@pytest.mark.parametrize("width", WIDTHS)
def test_recipes_lists_every_title_whole(width: int) -> None:
    output = invoke(["recipes"], width)
    assert_fits(output, width)
    assert not RST.search(output)
    for name in recipes.INDEX:
        short = name.rsplit(".", 1)[-1]
        assert f"{short} {recipe_title(name)}" in flat(output), f"{short}: title cut or missing"
    sources = " ".join([*recipes.INDEX, *(recipe_title(n) for n in recipes.INDEX)])
    sources += " " + " ".join(summary(importlib.import_module(f"recipes.{c}").__doc__)
                              for c in {n.split(".")[1] for n in recipes.INDEX})
    sources += " " + " ".join(n.split(".")[1] for n in recipes.INDEX)
    from algotrade.recipes_table import rows

    for r in rows():
        if r.wrapped_by:
            sources += f" -> {r.wrapped_by} on {r.engine} ({r.experiment}): declared"
    stray = words(output) - words(sources) - {name.rsplit(".", 1)[-1] for name in recipes.INDEX}
    assert not stray, f"words that are not whole words of any title: {sorted(stray)[:10]}"


# --- algotrade strategies -----------------------------------------------------------------------

def strategy_params() -> Iterator[tuple[str, str, Any, str]]:
    for alias in sorted(registry.STRATEGIES):
        cls = registry.resolve_strategy(alias)
        for name, field in cls.config_class.model_fields.items():
            yield alias, name, field.get_default(call_default_factory=True), field.description or ""


@pytest.mark.parametrize("width", WIDTHS)
def test_strategies_shows_plain_text_and_yaml_defaults(width: int) -> None:
    output = invoke(["strategies"], width)
    assert_fits(output, width)
    assert not RST.search(output), RST.search(output)
    assert not re.search(r"\b(None|True|False)\b", output), "a Python repr of None or a bool"
    text = flat(output)
    for alias in registry.STRATEGIES:
        doc = registry.resolve_strategy(alias).__doc__
        first = " ".join(re.sub(r"``|`", "", inspect.cleandoc(doc).partition("\n\n")[0]).split())
        assert f"{alias} {first.removesuffix('.')}" in text
    blocks = re.split(r"^(?=\S)", output, flags=re.M)
    section = {b.split()[0]: b for b in blocks if b.strip() and b.split()[0] in registry.STRATEGIES}
    assert set(section) == set(registry.STRATEGIES)
    for alias, name, default, description in strategy_params():
        block = section[alias]
        shown = re.search(rf"^\s+{name}: (.+?)(?:\s{{2,}}|$)", block, flags=re.M)
        assert shown, f"{alias}: parameter {name} not listed"
        # a long value wraps onto the next lines: read it up to the closing bracket
        value = shown.group(1)
        if value.startswith("[") and not value.endswith("]"):
            rest = block[shown.end():]
            value += " " + rest[: rest.index("]") + 1]
        assert yaml.safe_load(value) == to_jsonable_python(default), f"{name}: {value!r} is not {default!r}"
        assert not value.startswith(("(", "'", '"')), f"{name}: {value!r} is a Python repr, not YAML"
        assert " ".join(re.sub(r"``|`", "", description).split()) in flat(block), f"{alias}: {name} description cut"


# --- algotrade engines --------------------------------------------------------------------------

def test_engines_lists_the_engines_and_the_ib_broker_with_their_status() -> None:
    output = invoke(["engines"], 80)
    assert_fits(output, 80)
    for name in registry.ENGINES:
        status = registry.engine_status(name)
        assert re.search(rf"^  {name}\s+{re.escape(status)}", output, flags=re.M), output
    state, client = registry.broker_status("ib")
    assert state == "installed" and client in ("ib_async", "ib_insync")
    assert re.search(rf"^  ib\s+installed \({client} [\d.]+\)", output, flags=re.M), output
    assert "adapters.ib:IbBroker" in output


def test_engines_names_the_missing_ib_client() -> None:
    output = invoke(["engines"], 80, env={"ALGOTRADE_IB_CLIENT": "no_such_ib_client"})
    assert re.search(r"^  ib\s+missing package no_such_ib_client", output, flags=re.M), output
    assert registry.broker_status("ib")[0] == "installed"  # the variable was the runner's only


def test_a_broker_without_an_adapter_is_planned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "brokers", lambda: {"fix": "adapters.no_such_broker:Broker"})
    assert registry.broker_status("fix") == ("planned (adapter not written yet)", "")


def test_engines_come_from_the_entry_points_and_say_why_one_is_unavailable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dict(registry.engines()) == {"backtrader": "adapters.backtrader:BacktraderEngine",
                                        "zipline": "adapters.zipline:ZiplineEngine"}
    assert dict(registry.brokers()) == {"ib": "adapters.ib:IbBroker"}
    (tmp_path / "needs_nothing_here.py").write_text("def requirements():\n    return ('no_such_engine_pkg',)\n")
    (tmp_path / "broken_adapter.py").write_text("raise RuntimeError('half-installed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registry.adapter_status("needs_nothing_here:Engine") == ("missing package no_such_engine_pkg",
                                                                    "no_such_engine_pkg")
    state, _ = registry.adapter_status("broken_adapter:Engine")
    assert state == "unavailable (importing broken_adapter failed: RuntimeError: half-installed)"
    assert registry.adapter_status("no_such_adapter_module:Engine") == ("planned (adapter not written yet)", "")


def test_installed_version_names_the_distribution() -> None:
    assert registry.installed_version("zipline") is not None
    assert registry.installed_version("zipline").startswith("zipline-reloaded ")  # type: ignore[union-attr]
    assert registry.installed_version("no_such_package_here") is None


# --- every --help ---------------------------------------------------------------------------------

def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


ALL = list(commands(cli))


@pytest.mark.parametrize("width", (60, 80))
@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=[" ".join(p) or "algotrade" for p, _ in ALL])
def test_help_shows_every_description_in_full(path: tuple[str, ...], width: int) -> None:
    command = dict(ALL)[path]
    output = invoke([*path, "--help"], width)
    text = flat(output)
    for param in command.params:
        if isinstance(param, click.Option) and param.help:
            shown = render(param.help)  # `algotrade <command>` starts with the launcher on the page
            assert " ".join(shown.split()) in text, f"{' '.join(path)} {param.opts[0]}: help cut"
    if isinstance(command, click.Group):
        listing = output.partition("Commands:")[2]
        assert "..." not in listing, listing
        for name, sub in command.commands.items():
            first = " ".join(w for w in inspect.cleandoc(sub.help or "").partition("\n\n")[0].split() if w != "\b")
            assert f"{name} {first}" in flat(listing), f"{name}: its summary is cut in the command list"


@pytest.mark.parametrize("command", [["recipes"], ["strategies"], ["engines"]])
def test_listings_leave_the_current_folder_alone(command: list[str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    invoke(command, 80)
    assert list(tmp_path.iterdir()) == []
