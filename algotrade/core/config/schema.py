"""``algotrade schema``: every field of the experiment file with its type, default and description."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel

from algotrade.core.config.experiment import Experiment


def explain(model: type[BaseModel] = Experiment, indent: int = 0) -> str:
    """Every field with its type, default and description, as an indented tree."""
    out: list[str] = []
    pad = "  " * indent
    for name, field in model.model_fields.items():
        annotation = field.annotation
        nested = [
            a
            for a in (annotation, *getattr(annotation, "__args__", ()))
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        default = "" if field.is_required() else f" = {_default_text(field)}"
        typename = _type_text(annotation)
        out.append(f"{pad}{name}: {typename}{default}")
        if field.description:
            out.append(f"{pad}    {field.description}")
        for sub in nested:
            if len(nested) > 1:
                out.append(f"{pad}  as {sub.__name__}:")
            out.append(explain(sub, indent + 1))
    return "\n".join(x for x in out if x)


def _type_text(annotation: Any) -> str:
    """`sample | synthetic | ...` for a Literal, the class name for a model, else a readable form."""
    import typing

    if typing.get_origin(annotation) is Literal:
        return " | ".join(str(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is Annotated:
        return _type_text(typing.get_args(annotation)[0])
    args = typing.get_args(annotation)
    if args and typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType):
        return " | ".join(_type_text(a) for a in args)
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _default_text(field: Any) -> str:
    if field.default_factory is not None:
        return "{...}"
    value = field.default
    if isinstance(value, BaseModel):
        return json.dumps(value.model_dump(mode="json"))
    return json.dumps(value, default=str)
