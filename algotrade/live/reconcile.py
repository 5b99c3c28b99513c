"""Reconciliation: the journal's view of a run against the broker's, as a plan. Pure.

:func:`reconcile` takes what the journal says (intents with their broker ids, fills and closures;
exec ids seen; the positions its fills imply) and what the broker says (open and completed
orders with their ``orderRef`` and filled quantity, executions, positions), and returns a
:class:`ReconcilePlan`. It does no I/O, and the same inputs always give the same plan.

The rules, per intent of this run (``orderRef`` starting with ``f"{run_id}:"``):

1. **The broker knows the orderRef** (an open or completed order, or an execution): it is never
   sent again. If the journal has no broker id for it (killed right after sending), the order is
   **attached** (the journal records the broker's id). A broker order whose symbol or quantity
   differs from the intent is a mismatch, and is not attached.
2. **The broker does not know it and the journal has no broker id** (killed after the journal
   write, before the send; or held while disconnected): it is **sent once** under policy
   ``"send"``, or **dropped** (closed as never sent) under policy ``"drop"``.
3. **Executions the journal has not seen** (by orderRef and exec id: a broker that restarted may
   number executions from scratch, so an exec id alone does not identify a fill) are
   **recorded**, in broker order.
4. **An open intent the broker no longer has open** and that is not fully filled is **closed**
   with the broker's final status (cancelled when the broker does not say).
5. **A cancel the journal requested** for an order still open at the broker is **re-sent**.
6. **Mismatches** are listed, each with a message naming what differs and what to do: a
   position that differs from the journal's fills (plus the fills recorded now), broker orders
   or executions carrying this run's prefix that the journal never wrote, one orderRef under two
   broker order ids, a broker id that differs from the journal's, more filled than ordered, and
   foreign orders open on this run's symbols.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from algotrade.live.journal import Intent, Journal

UnsentPolicy = Literal["send", "drop"]


@dataclass(frozen=True)
class BrokerOrder:
    """An order as the broker reports it."""

    broker_id: str
    order_ref: str  # "" when the order carries none
    symbol: str
    quantity: int  # signed: + buy, - sell
    filled: int = 0  # signed, like quantity
    status: str = "open"  # open | filled | cancelled | rejected | expired
    type: str = "market"
    limit: float | None = None
    stop: float | None = None
    reason: str = ""


def bracket_id(leg_ids: list[str]) -> str:
    """The broker id of one algotrade order carried as several broker orders (a protective exit's
    stop and take-profit legs): the legs' ids joined by ``+``."""
    return "+".join(leg_ids)


def bracket_legs(broker_id: str) -> set[str]:
    """The broker orders behind one broker id (one, or a bracket's legs)."""
    return set(broker_id.split("+"))


def _same_levels(a: tuple[int, float | None, float | None], b: tuple[int, float | None, float | None]) -> bool:
    return a[0] == b[0] and all((x is None) == (y is None) and (x is None or y is None or math.isclose(x, y))
                                for x, y in zip(a[1:], b[1:], strict=True))


def _collapse(ids: set[str]) -> list[str]:
    """Broker ids of one orderRef with each bracket leg folded into its bracket (a leg's own
    execution or a half-cancelled bracket is the same order, not a duplicate)."""
    kept = {i for i in ids if not any(i != j and bracket_legs(i) <= bracket_legs(j) for j in ids)}
    merged: list[set[str]] = []
    for i in sorted(kept):
        for group in merged:
            if any(bracket_legs(i) & bracket_legs(g) for g in group):
                group.add(i)
                break
        else:
            merged.append({i})
    return sorted(max(g, key=lambda i: (len(bracket_legs(i)), i)) for g in merged)


@dataclass(frozen=True)
class Execution:
    """One execution (fill) as the broker reports it."""

    exec_id: str
    order_ref: str
    broker_id: str
    symbol: str
    quantity: int  # signed
    price: float
    commission: float
    date: str  # ISO date of the session it filled in


@dataclass(frozen=True)
class BrokerView:
    open_orders: tuple[BrokerOrder, ...] = ()
    executions: tuple[Execution, ...] = ()
    positions: Mapping[str, int] = field(default_factory=dict)
    completed_orders: tuple[BrokerOrder, ...] = ()


@dataclass(frozen=True)
class JournalView:
    intents: tuple[Intent, ...] = ()
    fill_keys: frozenset[tuple[str, str]] = frozenset()  # (orderRef, exec id) of every recorded fill
    positions: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_journal(cls, journal: Journal, run_id: str) -> JournalView:
        return cls(
            tuple(journal.intents(run_id)), journal.fill_keys(run_id), journal.positions(run_id)
        )


@dataclass(frozen=True)
class Mismatch:
    kind: str  # position | unknown_order | unknown_execution | duplicate_order | broker_id | intent_differs | overfill | foreign_order
    subject: str  # the symbol, orderRef or broker id concerned
    message: str


@dataclass(frozen=True)
class ReconcilePlan:
    attach: tuple[tuple[str, str], ...] = ()  # (orderRef, broker id)
    record_fills: tuple[Execution, ...] = ()
    send: tuple[str, ...] = ()  # orderRefs, sent once
    drop: tuple[str, ...] = ()  # orderRefs closed as never sent
    close: tuple[tuple[str, str, str], ...] = ()  # (orderRef, status, reason)
    cancel: tuple[str, ...] = ()  # broker ids to cancel again
    mismatches: tuple[Mismatch, ...] = ()
    modify: tuple[str, ...] = ()  # orderRefs of exits whose journaled modification the broker lacks

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        parts = [
            f"attach {len(self.attach)}", f"record fills {len(self.record_fills)}",
            f"send {len(self.send)}", f"drop {len(self.drop)}", f"close {len(self.close)}",
            f"cancel {len(self.cancel)}", f"mismatches {len(self.mismatches)}",
        ]
        lines = ["reconcile: " + ", ".join(parts)]
        lines += [f"  {m.kind}: {m.message}" for m in self.mismatches]
        return "\n".join(lines)


def _seq_key(ref: str) -> tuple[str, int, str]:
    head, _, tail = ref.rpartition(":")
    return (head, int(tail), ref) if tail.isdigit() else (ref, -1, ref)


def reconcile(
    journal: JournalView,
    broker: BrokerView,
    run_id: str,
    symbols: Iterable[str] = (),
    policy: UnsentPolicy = "send",
) -> ReconcilePlan:
    """The plan that brings the journal in line with the broker (see the module docstring)."""
    if policy not in ("send", "drop"):
        raise ValueError(f"policy must be 'send' or 'drop', not {policy!r}")
    prefix = f"{run_id}:"
    intents = {i.order_ref: i for i in journal.intents if i.run_id == run_id}
    universe = set(symbols) | {i.symbol for i in intents.values()}
    mismatches: list[Mismatch] = []

    # every broker order, open ones first so that an open status wins
    by_ref: dict[str, dict[str, BrokerOrder]] = {}
    open_ids = {o.broker_id for o in broker.open_orders}
    for o in (*broker.open_orders, *broker.completed_orders):
        by_ref.setdefault(o.order_ref, {}).setdefault(o.broker_id, o)
    exec_by_ref: dict[str, list[Execution]] = {}
    for ex in broker.executions:
        exec_by_ref.setdefault(ex.order_ref, []).append(ex)

    # broker orders and executions of this run the journal never wrote; foreign open orders
    for bo in sorted(broker.open_orders, key=lambda o: (o.order_ref, o.broker_id)):
        if bo.order_ref.startswith(prefix) and bo.order_ref not in intents:
            mismatches.append(Mismatch(
                "unknown_order", bo.order_ref,
                f"broker order {bo.broker_id} ({bo.quantity:+d} {bo.symbol}) carries this run's "
                f"orderRef {bo.order_ref} but the journal never wrote it; cancel it at the broker "
                "or restore the journal",
            ))
        elif not bo.order_ref.startswith(prefix) and bo.symbol in universe:
            mismatches.append(Mismatch(
                "foreign_order", bo.broker_id,
                f"broker order {bo.broker_id} ({bo.quantity:+d} {bo.symbol}, orderRef "
                f"{bo.order_ref or '(none)'}) is open on a symbol this run trades but is not this "
                "run's; cancel it or run on a separate account",
            ))
    for ref in sorted(exec_by_ref, key=_seq_key):
        if ref.startswith(prefix) and ref not in intents:
            ids = ", ".join(e.exec_id for e in exec_by_ref[ref])
            mismatches.append(Mismatch(
                "unknown_execution", ref,
                f"executions {ids} carry this run's orderRef {ref} but the journal has no such "
                "intent; their quantity is not in the journal's positions",
            ))

    attach: list[tuple[str, str]] = []
    record: list[Execution] = []
    send: list[str] = []
    drop: list[str] = []
    close: list[tuple[str, str, str]] = []
    cancel: list[str] = []
    modify: list[str] = []

    for ref in sorted(intents, key=_seq_key):
        intent = intents[ref]
        orders = by_ref.get(ref, {})
        execs = exec_by_ref.get(ref, [])
        broker_ids = _collapse(set(orders) | {e.broker_id for e in execs})
        if len(broker_ids) > 1:
            mismatches.append(Mismatch(
                "duplicate_order", ref,
                f"orderRef {ref} was sent more than once: broker orders {', '.join(broker_ids)}; "
                "cancel the extra ones at the broker",
            ))
        new = [e for e in execs if (e.order_ref, e.exec_id) not in journal.fill_keys]
        record.extend(new)
        filled = intent.filled + sum(e.quantity for e in new)
        if abs(filled) > abs(intent.levels[0]) or (filled and (filled > 0) != (intent.quantity > 0)):
            mismatches.append(Mismatch(
                "overfill", ref,
                f"orderRef {ref} ordered {intent.quantity:+d} {intent.symbol} but {filled:+d} filled; "
                "check the broker's executions",
            ))

        if not broker_ids:  # the broker has never seen this orderRef
            if intent.broker_id is not None and intent.is_open:
                close.append((ref, "cancelled",
                              f"the broker no longer knows order {intent.broker_id}; closed at reconcile"))
            elif intent.broker_id is None and intent.is_open:
                (send if policy == "send" else drop).append(ref)
            continue

        bid = broker_ids[0]
        if intent.broker_id is not None and not bracket_legs(intent.broker_id) & bracket_legs(bid):
            mismatches.append(Mismatch(
                "broker_id", ref,
                f"orderRef {ref}: the journal has broker order {intent.broker_id}, the broker has "
                f"{', '.join(broker_ids)}; investigate before trading",
            ))
            continue
        order = orders.get(bid)
        if order is not None and intent.modified is not None and bid in open_ids and intent.is_open:
            if not _same_levels(intent.levels, (order.quantity, order.limit, order.stop)):
                modify.append(ref)  # journaled, then killed before the broker had it: sent again
        elif order is not None and (order.symbol != intent.symbol or order.quantity != intent.quantity):
            mismatches.append(Mismatch(
                "intent_differs", ref,
                f"orderRef {ref}: journal intent {intent.quantity:+d} {intent.symbol}, broker order "
                f"{bid} is {order.quantity:+d} {order.symbol}; cancel it at the broker",
            ))
            continue
        if intent.broker_id is None:
            attach.append((ref, bid))
        if intent.is_open and filled != intent.levels[0]:
            if bid in open_ids:
                if intent.cancel_requested:
                    cancel.append(bid)
            else:
                status = order.status if order is not None and order.status not in ("open", "filled") else "cancelled"
                reason = (order.reason if order is not None and order.reason else
                          f"not open at the broker at reconcile; {filled:+d} of {intent.quantity:+d} filled")
                close.append((ref, status, reason))

    # positions: the journal's fills plus the ones recorded now, against the broker's
    implied = dict(journal.positions)
    for ex in record:
        implied[ex.symbol] = implied.get(ex.symbol, 0) + ex.quantity
    for sym in sorted(universe | {s for s, q in implied.items() if q}):
        have, want = int(broker.positions.get(sym, 0)), int(implied.get(sym, 0))
        if have != want:
            mismatches.append(Mismatch(
                "position", sym,
                f"{sym}: the broker holds {have:+d}, the journal's fills imply {want:+d} "
                f"(difference {have - want:+d}); trade the difference out at the broker or find the "
                "missing fills before trading",
            ))

    return ReconcilePlan(
        tuple(attach), tuple(record), tuple(send), tuple(drop), tuple(close), tuple(cancel), tuple(mismatches),
        tuple(modify),
    )


def diff_lines(journal: JournalView, broker: BrokerView, run_id: str, symbols: Iterable[str] = ()) -> list[str]:
    """The journal against the broker, per symbol (positions) and per order (status, filled), one
    line each, then the reconcile's mismatches; what ``algotrade reconcile`` prints."""
    plan = reconcile(journal, broker, run_id, symbols)
    lines = [f"{'symbol':<12} {'journal':>10} {'broker':>10}  "]
    syms = sorted(set(symbols) | set(journal.positions) | {s for s, q in broker.positions.items() if q})
    for sym in syms:
        j, b = int(journal.positions.get(sym, 0)), int(broker.positions.get(sym, 0))
        lines.append(f"{sym:<12} {j:>+10d} {b:>+10d}  {'ok' if j == b else f'DIFFERS by {b - j:+d}'}")
    by_ref: dict[str, BrokerOrder] = {}
    for o in (*broker.completed_orders, *broker.open_orders):
        by_ref[o.order_ref] = o
    filled: dict[str, int] = {}
    for ex in broker.executions:
        filled[ex.order_ref] = filled.get(ex.order_ref, 0) + ex.quantity
    lines.append(f"{'orderRef':<32} {'journal':>22} {'broker':>22}")
    for intent in sorted((i for i in journal.intents if i.run_id == run_id), key=lambda i: _seq_key(i.order_ref)):
        bo = by_ref.get(intent.order_ref)
        mine = f"{intent.status} {intent.filled:+d}/{intent.quantity:+d}"
        got = filled.get(intent.order_ref, bo.filled if bo is not None else 0)
        theirs = f"{bo.status} {got:+d}/{bo.quantity:+d}" if bo is not None else (
            f"executions {got:+d}" if intent.order_ref in filled else "unknown")
        lines.append(f"{intent.order_ref:<32} {mine:>22} {theirs:>22}")
    lines.append(plan.summary())
    return lines


__all__ = [
    "BrokerOrder",
    "bracket_id",
    "bracket_legs",
    "BrokerView",
    "Execution",
    "JournalView",
    "Mismatch",
    "ReconcilePlan",
    "UnsentPolicy",
    "diff_lines",
    "reconcile",
]
