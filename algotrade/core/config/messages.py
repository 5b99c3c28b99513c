"""A pydantic ValidationError as one readable ConfigError: each problem on a line naming the field,
who set it (the file and line, or the command-line flag), the bad value and the fix."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from algotrade.core.config.sections import TAGS
from algotrade.core.errors import ConfigError
from algotrade.core.registry import suggest

_FIXES = {
    "date_from_datetime_parsing": "write a date that exists, as YYYY-MM-DD",
    "date_parsing": "write a date that exists, as YYYY-MM-DD",
    "date_type": "write a date that exists, as YYYY-MM-DD",
    "date_from_datetime_inexact": "write a date without a time, as YYYY-MM-DD",
    "literal_error": "use one of the values listed",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a value that is not negative",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
}


def _types_in(annotation: object) -> list[object]:
    """The types an annotation allows, through Annotated, unions and Optional."""
    args = getattr(annotation, "__args__", None)
    if getattr(annotation, "__metadata__", None) is not None:  # Annotated[X, ...]
        return _types_in(getattr(annotation, "__origin__", None))
    if args is not None and getattr(annotation, "__origin__", None) is not dict:
        return [t for a in args for t in _types_in(a)]
    return [annotation]


def _model_at(path: tuple[str | int, ...], model: type[BaseModel]) -> type[BaseModel] | None:
    """The model class that owns the last key of ``path`` (for did-you-mean on unknown keys);
    through unions (the branch that has the next key) and mappings (a key of a dict of models)."""
    candidates: list[object] = [model]
    for part in path[:-1]:
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        owner = next((m for m in models if str(part) in m.model_fields), None)
        if owner is not None:
            candidates = _types_in(owner.model_fields[str(part)].annotation)
            continue
        if isinstance(part, int):  # an item of a list or tuple of models: its types are the candidates
            continue
        dicts = [c for c in candidates if getattr(c, "__origin__", None) is dict]
        if not dicts:
            return None
        candidates = [t for d in dicts for t in _types_in(getattr(d, "__args__", (None, None))[1])]
    nxt = path[-1] if path else None
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    return next((m for m in models if str(nxt) in m.model_fields), models[0] if models else None)


#: key path -> the command-line flag that set it (``--set broker.cash=1``, ``--engine zipline``)
Origins = dict[tuple[str, ...], str]


def _where(
    path: tuple[str, ...], lines: dict[tuple[str, ...], int] | None, source: str, origins: Origins | None
) -> str:
    """Who to blame for a problem at ``path``: the flag that set it or a section above it, else
    the file (and line); a flag that set something inside ``path`` is named next to the file."""
    origins = origins or {}
    for k in range(len(path), 0, -1):
        if path[:k] in origins:
            return f"{origins[path[:k]]}: "
    line = (lines or {}).get(path)
    inside = next((flag for key, flag in origins.items() if key[: len(path)] == path), None)
    here = f"{source}:{line}" if source and line else source
    if inside:
        return f"{here} with {inside}: " if here else f"{inside}: "
    return f"{here}: " if here else ""


def format_validation_error(
    exc: ValidationError,
    model: type[BaseModel],
    prefix: tuple[str, ...] = (),
    lines: dict[tuple[str, ...], int] | None = None,
    source: str = "",
    origins: Origins | None = None,
) -> ConfigError:
    """One readable ConfigError from a pydantic ValidationError (all problems, one per line)."""
    messages: list[str] = []
    seen: set[str] = set()
    for err in exc.errors():
        # drop union-branch tags such as 'PerShareCommission' from the location
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in TAGS))
        field = ".".join(str(p) for p in (*prefix, *loc)) or "(top level)"
        where = _where(tuple(str(p) for p in (*prefix, *loc)), lines, source, origins)
        kind = err["type"]
        if kind == "extra_forbidden":
            owner = _model_at(loc, model)
            allowed = sorted(owner.model_fields) if owner else []
            key = str(loc[-1])
            hint = suggest(key, allowed)
            msg = f"{where}unknown key {field!r}{hint or ';'} allowed keys here: {', '.join(allowed)}"
        elif kind == "missing":
            from algotrade.core.shell import command

            msg = f"{where}{field}: this key is required; add it (see `{command('schema')}`)"
        else:
            value = err.get("input")
            text = err["msg"].removeprefix("Value error, ")
            fix = _FIXES.get(kind, "")
            if kind in ("literal_error", "invalid_choice"):
                msg = f"{where}{field}: {value!r} is not allowed; {text[0].lower()}{text[1:]}"
            elif kind == "value_error":
                msg = f"{where}{field}: {text}"
            else:
                msg = f"{where}{field}: {text} (got {value!r})" + (f"; {fix}" if fix else "")
        if msg not in seen:
            seen.add(msg)
            messages.append(msg)
    return ConfigError("\n".join(messages))
