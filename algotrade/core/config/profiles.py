"""Risk profiles: ``risk: {profile: conservative}`` overlays a shipped profile (profiles/*.yaml,
shipped with the package) or a user's profile file (``profile: my_risk.yaml``, relative to the
experiment file) under the experiment's own keys, which win.

A profile sets any of the sections in PROFILE_SECTIONS. Its ``risk:`` keys merge one by one
(nested mappings such as ``var:`` too) under the file's; any other section (``sizing:`` is one
method, ``stops:`` one set of exits) is taken whole, and only when the experiment does not set it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from algotrade.core.config.messages import Origins
from algotrade.core.config.yaml_io import read_yaml
from algotrade.core.errors import ConfigError

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
#: the experiment sections a profile may set
PROFILE_SECTIONS = ("risk", "sizing", "stops")
#: sections merged key by key; the others are taken whole
KEYWISE = ("risk",)


def shipped_profiles() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PROFILE_DIR.glob("*.yaml")))


def _is_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name


def profile_path(name: Any, experiment: Path | None, where: str = "") -> tuple[Path, str]:
    """The file of profile ``name`` and how --explain names it (``profile conservative``)."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            f"{where}risk.profile: {name!r} is not a profile name; use one of {', '.join(shipped_profiles())} "
            "or a profile file path ending in .yaml"
        )
    if _is_path(name):
        path = Path(name)
        if not path.is_absolute() and experiment is not None:
            path = experiment.parent / path
        if not path.is_file():
            raise ConfigError(
                f"{where}risk.profile: profile file {name!r} does not exist ({path}); the path is relative to "
                "the experiment file"
            )
        return path, f"profile {name}"
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"{where}risk.profile: {name!r} is not a shipped profile; shipped: {', '.join(shipped_profiles())}; "
            "or give your own file: profile: path/to/mine.yaml (relative to the experiment file)"
        )
    return path, f"profile {name}"


def read_profile(path: Path, label: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """A profile file's sections and each key's line; only PROFILE_SECTIONS, no nested profile."""
    raw, lines = read_yaml(path)
    for key, value in raw.items():
        if key not in PROFILE_SECTIONS:
            raise ConfigError(
                f"{path}:{lines.get((str(key),), '?')}: {label}: a profile sets only "
                f"{', '.join(PROFILE_SECTIONS)}; {key!r} belongs in the experiment file"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{path}:{lines.get((key,), '?')}: {label}: {key}: must be a mapping of keys")
    if "profile" in raw.get("risk", {}):
        raise ConfigError(f"{path}:{lines[('risk', 'profile')]}: {label}: a profile cannot name another profile")
    return raw, lines


def _leaves(node: Any, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every key path in ``node`` (sections and values)."""
    if not isinstance(node, dict):
        return []
    out: list[tuple[str, ...]] = []
    for key, value in node.items():
        path = (*prefix, str(key))
        out.append(path)
        out.extend(_leaves(value, path))
    return out


def _fill(target: dict[str, Any], source: dict[str, Any], prefix: tuple[str, ...], added: list[tuple[str, ...]]) -> None:
    """Copy into ``target`` each key of ``source`` it lacks (recursing into mappings both have)."""
    for key, value in source.items():
        path = (*prefix, str(key))
        if key not in target:
            target[key] = value
            added.append(path)
            added.extend(_leaves(value, path))
        elif isinstance(target[key], dict) and isinstance(value, dict):
            _fill(target[key], value, path, added)


def apply_profile(raw: dict[str, Any], experiment: Path | None, lines: dict[tuple[str, ...], int],
                  origins: Origins) -> str | None:
    """Overlay the profile ``raw`` names (risk.profile) under it, in place; record in ``origins``
    which profile (file and line) set each key it added. Returns the profile's label, or None."""
    risk = raw.get("risk")
    if not isinstance(risk, dict) or risk.get("profile") is None:
        return None
    key = ("risk", "profile")
    where = f"{origins[key]}: " if key in origins else (f"{experiment}:{lines[key]}: " if key in lines else "")
    path, label = profile_path(risk["profile"], experiment, where)
    profile, profile_lines = read_profile(path, label)
    if _is_path(risk["profile"]):  # as data.path: a run's config.yaml, read from elsewhere, finds it
        risk["profile"] = str(path.resolve())
    added: list[tuple[str, ...]] = []
    for section in PROFILE_SECTIONS:
        if section not in profile:
            continue
        if section in KEYWISE:
            target = raw.setdefault(section, {})
            if isinstance(target, dict):  # a non-mapping is reported by the experiment's own check
                _fill(target, profile[section], (section,), added)
        elif raw.get(section) is None:
            raw[section] = profile[section]
            added.append((section,))
            added.extend(_leaves(profile[section], (section,)))
    for added_path in added:
        line = profile_lines.get(added_path)
        origins[added_path] = f"{label} line {line}" if line else label
    return label
