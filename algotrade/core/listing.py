"""Plain-text listings for `algotrade strategies`, `engines` and `recipes`.

Docstrings are written in reStructuredText; a terminal shows them as plain text (``x`` and
:func:`x` become x), values as they are written in an experiment file (YAML: ``[0.0, 1.0]``,
``null``, ``month_start``, never a Python repr), and long text wrapped at word boundaries to the
terminal's width, never cut.
"""

from __future__ import annotations

import inspect
import re
import shutil
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

#: the width listings wrap to when the terminal's is unknown or extreme
MIN_WIDTH, MAX_WIDTH = 60, 120

_ROLE = re.compile(r":[\w.+-]+:`~?([^`<]*?)\s*(?:<[^>]*>)?`")  # :func:`x`, :class:`~a.B`, :ref:`text <t>`
_LINK = re.compile(r"`([^`<]+?)\s*<([^>]+)>`__?")  # `text <url>`_
_LITERAL = re.compile(r"``(.+?)``")
_INTERPRETED = re.compile(r"(?<![\w`])`([^`]+)`(?:_(?!\w))?")  # `x` (the default role), `x`_
_STRONG = re.compile(r"(?<![\w*])\*\*(\S(?:.*?\S)?)\*\*(?![\w*])")
_EMPHASIS = re.compile(r"(?<![\w*])\*(\S(?:[^*]*?\S)?)\*(?![\w*])")


def _role_text(match: re.Match[str]) -> str:
    text = match.group(1)
    whole = match.group(0)
    # :class:`~a.b.C` shows the last part only, as Sphinx does
    return text.rsplit(".", 1)[-1] if "`~" in whole else text


def plain(text: str) -> str:
    """reStructuredText inline markup as plain text; whitespace collapsed to single spaces."""
    text = _ROLE.sub(_role_text, text)
    text = _LINK.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _INTERPRETED.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = re.sub(r"::(?=\s|$)", ":", text)
    return " ".join(text.split())


def markdown(text: str) -> str:
    """reStructuredText inline markup as Markdown (for notebooks); line breaks kept.

    ``x``, `x`, **x** and *x* mean the same in Markdown; roles and links do not.
    """
    text = _ROLE.sub(lambda m: f"`{_role_text(m)}`", text)
    text = _LINK.sub(r"[\1](\2)", text)
    return re.sub(r"::(?=\s|$)", ":", text, flags=re.M)


def split_doc(doc: str | None, default: str = "") -> tuple[str, str]:
    """A docstring's summary (its whole first paragraph, on one line) and the rest, still in RST."""
    text = inspect.cleandoc(doc or "")
    if not text:
        return default, ""
    first, _, rest = text.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def summary(doc: str | None, default: str = "") -> str:
    """A docstring's first paragraph as one line of plain text, without its final period."""
    return plain(split_doc(doc, default)[0]).removesuffix(".")


def terminal_width() -> int:
    return max(MIN_WIDTH, min(MAX_WIDTH, shutil.get_terminal_size().columns))


def wrap(text: str, width: int, indent: int = 0, first: int | None = None) -> list[str]:
    """``text`` wrapped at spaces only (never inside a word or at a hyphen), indented."""
    lead = " " * (indent if first is None else first)
    return textwrap.wrap(text, width=max(width, indent + 20), initial_indent=lead,
                         subsequent_indent=" " * indent, break_long_words=False,
                         break_on_hyphens=False) or [lead.rstrip()]


def definitions(rows: Iterable[tuple[str, str | Sequence[str]]], width: int, indent: int = 2,
                key_width: int = 28) -> list[str]:
    """Two columns, a key and its text (one or more paragraphs), both wrapped at spaces.

    The text column starts after the longest key up to ``key_width``; a longer key has its text
    on the lines below it.
    """
    rows = [(k, [t] if isinstance(t, str) else list(t)) for k, t in rows]
    if not rows:
        return []
    column = indent + min(key_width, max(len(k) for k, _ in rows)) + 2
    out: list[str] = []
    for key, paragraphs in rows:
        fits = len(key) <= column - indent - 2
        keys = wrap(key, column - 2 if fits else width, indent=indent + 4, first=indent)
        texts = [line for text in paragraphs if text for line in wrap(text, width, indent=column)]
        if texts and fits:
            out.append(keys[0].ljust(column) + texts[0][column:])
            out += texts[1:]
        else:
            out += keys + texts
    return out


def yaml_value(value: Any) -> str:
    """A value as it is written in an experiment file (YAML flow style)."""
    import yaml
    from pydantic_core import to_jsonable_python

    text: str = yaml.safe_dump(to_jsonable_python(value), default_flow_style=True, width=10**6,
                               allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


# --- the three listings -----------------------------------------------------------------------

def strategy_lines(width: int) -> list[str]:
    """Each strategy: its alias, what it does, and every parameter with its default and meaning."""
    from algotrade.core.registry import STRATEGIES, resolve_strategy

    out = wrap("Strategies (strategy.name in an experiment file) with their parameters (strategy.params), "
               "defaults and meaning:", width)
    key_width = max(len(alias) for alias in STRATEGIES)
    for alias in sorted(STRATEGIES):
        cls = resolve_strategy(alias)
        out += ["", *definitions([(alias, summary(cls.__doc__, alias))], width, indent=0, key_width=key_width)]
        params = []
        for name, field in cls.config_class.model_fields.items():
            default = "(required)" if field.is_required() else yaml_value(
                field.get_default(call_default_factory=True))
            params.append((f"{name}: {default}", plain(field.description or "")))
        out += definitions(params, width, indent=4) or ["    (no parameters)"]
    out += ["", *wrap("In an experiment file: strategy: {name: sma_cross, params: {fast: 5, slow: 20}}", width)]
    return out


def engine_lines(width: int) -> list[str]:
    """The backtest engines and the brokers, each with its status and its adapter."""
    from algotrade.core.registry import adapter_status, brokers, engines, installed_version

    def status(target: str) -> str:
        state, package = adapter_status(target)
        version = installed_version(package) if state == "installed" and package else None
        return f"{state} ({version})" if version else state

    rows: list[tuple[str, str | Sequence[str]]] = [
        (name, [status(target), f"adapter {target}"]) for name, target in engines().items()
    ]
    from algotrade.core.shell import render

    out = wrap(render("Backtest engines (engine: or engines: in an experiment file; algotrade run, compare, sweep):"),
               width)
    out += definitions(rows, width, key_width=12)
    out += ["", *wrap(render("Brokers (algotrade paper, live and kill):"), width)]
    rows = []
    for name, target in brokers().items():
        rows.append((name, [status(target), f"adapter {target}"]))
    out += definitions(rows, width, key_width=12)
    out += ["", *wrap(render("ib is Interactive Brokers' TWS or IB Gateway at ib.host:ib.port (or ALGOTRADE_IB_HOST / "
                             "ALGOTRADE_IB_PORT); algotrade paper --simulate and algotrade gateway use the built-in "
                             "IB Gateway simulator instead, offline."), width)]
    return out


def recipe_lines(table: Sequence[Any], width: int, chapter_titles: dict[str, str]) -> list[str]:
    """The cookbook's table of contents: chapter, recipe, its title and its production wrapper."""
    out: list[str] = []
    key_width = max((len(r.module.rsplit(".", 1)[-1]) for r in table), default=10)
    for chapter in dict.fromkeys(r.chapter for r in table):
        out += ["", *definitions([(chapter, chapter_titles.get(chapter, ""))], width, indent=0,
                                 key_width=len(chapter))]
        rows: list[tuple[str, str | Sequence[str]]] = []
        for r in (r for r in table if r.chapter == chapter):
            text = [r.title]
            if r.wrapped_by:
                parity = r.status or "declared"
                if r.trades is not None:
                    parity += f", {r.trades} trades"
                text.append(f"-> {r.wrapped_by} on {r.engine} ({r.experiment}): {parity}")
            rows.append((r.module.rsplit(".", 1)[-1], text))
        out += definitions(rows, width, indent=2, key_width=key_width)
    return out
