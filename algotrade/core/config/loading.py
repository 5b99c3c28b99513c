"""Experiments in and out: read, override and validate a file (the strategy's own parameters and
the sweep's names included), and dump one back to YAML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from algotrade.core.config.experiment import Experiment
from algotrade.core.config.messages import Origins, _where, format_validation_error
from algotrade.core.config.profiles import apply_profile
from algotrade.core.config.sections import StrategyRef
from algotrade.core.config.yaml_io import _set_path, parse_override, read_yaml
from algotrade.core.errors import ConfigError
from algotrade.core.registry import resolve_strategy, suggest


def validate_strategy_params(
    ref: StrategyRef,
    lines: dict[tuple[str, ...], int] | None = None,
    source: str = "",
    origins: Origins | None = None,
) -> StrategyRef:
    """Check params against the strategy's own config class; return them with defaults filled."""
    try:
        strategy_cls = resolve_strategy(ref.name)
    except ConfigError as exc:
        raise ConfigError(f"{_where(('strategy', 'name'), lines, source, origins)}strategy.name: {exc}") from None
    config_cls: type[BaseModel] | None = getattr(strategy_cls, "config_class", None)
    if config_cls is None:
        raise ConfigError(
            f"{_where(('strategy', 'name'), lines, source, origins)}strategy {ref.name!r} has no config_class; "
            "is it an algotrade Strategy?"
        )
    try:
        cfg = config_cls.model_validate(ref.params)
    except ValidationError as exc:
        raise format_validation_error(
            exc, config_cls, prefix=("strategy", "params"), lines=lines, source=source, origins=origins
        ) from None
    return ref.model_copy(update={"params": cfg.model_dump()})


def load_experiment(path: str | Path, overrides: tuple[str, ...] = (), engine: str | None = None) -> Experiment:
    """Read, override and validate an experiment file: the one way configs come in.

    ``overrides`` are ``--set field.path=value`` items; ``engine`` is ``--engine NAME`` (the run's
    one engine, replacing the file's engine or engines). A problem with either is blamed on the flag.
    """
    return _load(Path(path), overrides, engine)[0]


def explain_values(path: str | Path, overrides: tuple[str, ...] = (), engine: str | None = None) -> list[tuple[str, str, str]]:
    """Each value of the merged experiment as (dotted key, value as YAML, who set it): ``default``,
    ``profile NAME line N``, ``file PATH line N`` or the flag (``--set ...``)."""
    exp, raw, lines, origins = _load(Path(path), overrides, engine)
    rows: list[tuple[str, str, str]] = []

    def origin(key: tuple[str, ...]) -> str:
        node: Any = raw
        for part in key:
            if not isinstance(node, dict) or part not in node:
                return "default"
            node = node[part]
        for k in range(len(key), 0, -1):
            if key[:k] in origins:
                return origins[key[:k]]
            if key[:k] in lines:
                return f"file {path} line {lines[key[:k]]}"
        return "default"

    def walk(node: Any, key: tuple[str, ...]) -> None:
        if isinstance(node, dict) and node:
            for name, value in node.items():
                walk(value, (*key, str(name)))
        else:
            rows.append((".".join(key), json.dumps(node), origin(key)))

    walk(exp.model_dump(mode="json"), ())
    return rows


def _load(path: Path, overrides: tuple[str, ...], engine: str | None
          ) -> tuple[Experiment, dict[str, Any], dict[tuple[str, ...], int], Origins]:
    raw, lines = read_yaml(path)
    origins: Origins = {}
    for item in overrides:
        key, value = parse_override(item)
        _set_path(raw, key, value, f"--set {item}", origins)
    if engine is not None:
        _set_path(raw, "engine", engine, f"--engine {engine}", origins)
        _set_path(raw, "engines", None, f"--engine {engine}", origins)
    apply_profile(raw, path, lines, origins)
    exp = experiment_from_dict(raw, lines=lines, source=str(path), origins=origins)
    data = exp.data
    if data.path and not Path(data.path).is_absolute():
        data = data.model_copy(update={"path": str((path.parent / data.path).resolve())})
    return exp.model_copy(update={"data": data}), raw, lines, origins


def experiment_from_dict(
    raw: dict[str, Any], lines: dict[tuple[str, ...], int] | None = None, source: str = "",
    origins: Origins | None = None,
) -> Experiment:
    try:
        exp = Experiment.model_validate(raw)
    except ValidationError as exc:
        raise format_validation_error(exc, Experiment, lines=lines, source=source, origins=origins) from None
    exp = exp.model_copy(update={"strategy": validate_strategy_params(exp.strategy, lines, source, origins)})
    if exp.walkforward is not None and exp.sweep is None:
        where = _where(("walkforward",), lines, source, origins)
        raise ConfigError(f"{where}walkforward: needs a sweep: section, whose space gives the parameters to choose from")
    if exp.sweep is not None:
        check_sweep_names(exp, lines or {}, source, origins)
    return exp


def _config_fields(ref: StrategyRef) -> tuple[str, ...]:
    return tuple(resolve_strategy(ref.name).config_class.model_fields)


def check_sweep_names(
    exp: Experiment, lines: dict[tuple[str, ...], int], source: str = "", origins: Origins | None = None
) -> None:
    """Swept strategy parameters exist, and constraints name only known fields (did you mean ...)."""
    assert exp.sweep is not None
    sweep = exp.sweep

    def where(*path: str) -> str:
        return _where(("sweep", *path), lines, source, origins)

    params = _config_fields(exp.strategy)
    for path in sweep.space:
        if path.startswith("strategy.params."):
            name = path.removeprefix("strategy.params.")
            if name not in params:
                raise ConfigError(
                    f"{where('space', path)}sweep.space: {path!r}: {name!r} is not a parameter of strategy "
                    f"{exp.strategy.name}{suggest(name, params)} parameters: {', '.join(params)}"
                )
    known = {**{p: p for p in params}, **sweep.names}
    from algotrade.core.constraints import parse_constraint

    for i, text in enumerate(sweep.constraints):
        for name in sorted(parse_constraint(text).names - set(known)):
            raise ConfigError(
                f"{where('constraints', str(i))}sweep.constraints[{i}]: {text!r} uses {name!r}, which is not swept "
                f"or a strategy parameter{suggest(name, tuple(known))} names: {', '.join(sorted(set(known)))}"
            )
    if sweep.heatmap is not None:
        names = sweep.names
        for name in sweep.heatmap:
            if name not in names:
                raise ConfigError(
                    f"{where('heatmap')}sweep.heatmap: {name!r} is not swept{suggest(name, tuple(names))} "
                    f"swept: {', '.join(sweep.short_names)}"
                )
        if names[sweep.heatmap[0]] == names[sweep.heatmap[1]]:
            raise ConfigError(f"{where('heatmap')}sweep.heatmap: name two different swept fields")


#: optional sections left out of a dump when unset (a run's config.yaml stays as it was)
_OMIT_UNSET = ("sweep", "walkforward", "window")


def dump_experiment(exp: Experiment) -> str:
    omit = {k for k in _OMIT_UNSET if getattr(exp, k) is None}
    if exp.engines:
        omit.add("engine")  # the engines list says which engines; engine would be the unused default
    return yaml.safe_dump(exp.model_dump(mode="json", exclude=omit), sort_keys=False)
