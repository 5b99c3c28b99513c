"""What every section of an experiment file shares: the frozen, strict base model, and the
one-line form of a symbol list that messages about sections use."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Base of every config model: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def symbols_text(symbols: tuple[str, ...] | list[str], limit: int = 5) -> str:
    """Symbols for a one-line summary: all of a few, else the first few and the count
    ('A, B, C, D, E and 495 more: 500 symbols')."""
    if len(symbols) <= limit + 1:
        return ", ".join(symbols)
    return f"{', '.join(symbols[:limit])} and {len(symbols) - limit} more: {len(symbols)} symbols"
