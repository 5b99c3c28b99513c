"""Sweep constraints: small expressions over the swept names, parsed without ``eval``.

A constraint such as ``fast < slow`` or ``slow - fast >= 10 and len(symbols) == 1`` is parsed
with :mod:`ast` and checked against a whitelist (comparisons, ``and``/``or``/``not``, arithmetic,
numbers and strings, ``abs``/``min``/``max``/``len``, names and dotted names). Anything else —
attribute access on objects, subscripts, lambdas, comprehensions, other calls — is refused
when the experiment file is read, so no code from the file ever runs.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max, "len": len}


class ConstraintSyntaxError(ValueError):
    """The text is not an allowed constraint expression."""


def _dotted(node: ast.expr) -> str | None:
    """``strategy.params.fast`` written as attribute access -> its dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _check(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Expression):
        _check(node.body, names)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, names)
    elif isinstance(node, ast.Compare):
        if not all(type(op) in _COMPARE for op in node.ops):
            raise ConstraintSyntaxError("only <, <=, >, >=, ==, !=, in and not in compare values")
        for part in (node.left, *node.comparators):
            _check(part, names)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ConstraintSyntaxError("only + - * / // % are allowed in arithmetic")
        _check(node.left, names)
        _check(node.right, names)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ConstraintSyntaxError("only not, - and + apply to one value")
        _check(node.operand, names)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float | str | bool | type(None)):
            raise ConstraintSyntaxError(f"the constant {node.value!r} is not allowed; use numbers or strings")
    elif isinstance(node, ast.Tuple | ast.List):
        for element in node.elts:
            _check(element, names)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise ConstraintSyntaxError(f"the only functions are {', '.join(_FUNCTIONS)}")
        for arg in node.args:
            _check(arg, names)
    elif isinstance(node, ast.Name | ast.Attribute):
        dotted = _dotted(node)
        if dotted is None:
            raise ConstraintSyntaxError("names are swept keys such as fast or strategy.params.fast")
        names.add(dotted)
    else:
        raise ConstraintSyntaxError(f"{type(node).__name__} is not allowed in a constraint")


@dataclass(frozen=True)
class Constraint:
    """A parsed constraint: its text, the names it reads, and the checked syntax tree."""

    text: str
    names: frozenset[str]
    tree: ast.Expression

    def holds(self, values: Mapping[str, Any]) -> bool:
        return bool(_evaluate(self.tree.body, values))


def parse_constraint(text: str) -> Constraint:
    """Parse and whitelist-check one constraint; :class:`ConstraintSyntaxError` says what is wrong."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConstraintSyntaxError(f"not an expression ({exc.msg}); write e.g. fast < slow") from None
    names: set[str] = set()
    _check(tree, names)
    return Constraint(text, frozenset(names), tree)


def _evaluate(node: ast.expr, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_evaluate(v, values) for v in node.values)
        return any(_evaluate(v, values) for v in node.values)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(right_node, values)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_evaluate(e, values) for e in node.elts)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(_evaluate(a, values) for a in node.args))
    name = _dotted(node)
    if name is None or name not in values:
        raise KeyError(name)
    return values[name]
