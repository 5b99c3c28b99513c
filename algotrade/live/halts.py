"""How a halted run reads, in every output (summary, messages, the burn-in page)."""

from __future__ import annotations


def is_kill_halt(halted: object) -> bool:
    from algotrade.live.broker import KILL_SWITCH_HALT

    return isinstance(halted, str) and halted.startswith(f"{KILL_SWITCH_HALT} at ")


def halt_text(halted: str) -> str:
    """A halt as every output shows it: "halted by the kill switch at ..." or "halted: ..."."""
    return f"halted by the {halted}" if is_kill_halt(halted) else f"halted: {halted}"
