"""Reading experiment YAML: the file with each key's line, ``--set field.path=value`` items, and
setting a dotted path in the raw document (remembering which flag set it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from algotrade.core.config.messages import Origins
from algotrade.core.errors import ConfigError


def _node_lines(node: yaml.Node | None, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path in a composed YAML document to its 1-based line."""
    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            lines[path] = key.start_mark.line + 1
            lines.update(_node_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            lines[(*prefix, str(i))] = value.start_mark.line + 1
            lines.update(_node_lines(value, (*prefix, str(i))))
    return lines


def _set_path(raw: dict[str, Any], dotted: str, value: Any, flag: str = "", origins: Origins | None = None) -> None:
    """Set ``a.b.c`` in the raw document; record in ``origins`` that ``flag`` set it (and any
    section it had to create)."""
    flag = flag or f"--set {dotted}"
    parts = dotted.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict):
            raise ConfigError(f"{flag}: {parts[i - 1]!r} is not a section; check the field name")
        if part not in node and origins is not None:
            origins[tuple(parts[: i + 1])] = flag
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise ConfigError(f"{flag}: {'.'.join(parts[:-1])} is a value, not a section; set it whole")
    node[parts[-1]] = value
    if origins is not None:
        origins[tuple(parts)] = flag


class _Loader(yaml.SafeLoader):
    """YAML as safe_load reads it, except that a date that does not exist (2010-02-30) stays a
    string, so the field it belongs to reports it like any other bad value."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)  # type: ignore[arg-type]


def load_yaml(text: str) -> Any:
    """Parse YAML text the one way experiment files and --set values are parsed."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects


def parse_override(text: str) -> tuple[str, Any]:
    """``strategy.params.fast=5`` -> ('strategy.params.fast', 5); the value is read as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: write it as field.path=value, e.g. strategy.params.fast=5")
    try:
        return key.strip(), load_yaml(value) if value.strip() else None
    except yaml.YAMLError:
        return key.strip(), value


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    if not path.exists():
        raise ConfigError(f"experiment file {str(path)!r} does not exist; check the path (try `ls experiments/`)")
    if path.is_dir():
        raise ConfigError(f"{str(path)!r} is a folder; give the path of an experiment .yaml file")
    text = path.read_text(encoding="utf-8")
    try:
        raw = load_yaml(text)
        lines = _node_lines(yaml.compose(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: YAML syntax error: {problem}; fix the indentation or quoting there") from None
    if raw is None:
        raise ConfigError(f"{path}: the file is empty; start from experiments/quickstart.yaml")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (name:, data:, strategy:, ...), got {type(raw).__name__}")
    return raw, lines
