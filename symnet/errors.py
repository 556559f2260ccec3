"""The exception family: every error symnet raises on bad input is a SymnetError."""

from __future__ import annotations

__all__ = [
    "SymnetError",
    "FormulaError",
    "ModelFileError",
    "GraphError",
    "GraphCycleError",
    "ArityError",
    "UnknownOpError",
    "OperandError",
    "NameConflictError",
    "InputError",
    "NumericalError",
    "ExportLimitError",
    "GradCheckError",
]


class SymnetError(Exception):
    """Base of every error symnet raises on bad input or a failed computation."""


class FormulaError(SymnetError, ValueError):
    """A formula string could not be read (syntax, unknown name, a limit)."""


class ModelFileError(SymnetError, ValueError):
    """A saved model file is malformed, of the wrong version, hostile or unwritable."""


class GraphError(SymnetError, ValueError):
    """A graph is malformed: wrong arity, bad operand, cycle, unknown op, bad names."""


class GraphCycleError(GraphError):
    """The graph has a cycle."""


class ArityError(GraphError):
    """An operation got the wrong number of children."""


class UnknownOpError(GraphError):
    """An operation name is not in the op table."""


class OperandError(GraphError, TypeError):
    """An operand is neither a node nor a finite real number."""


class NameConflictError(GraphError):
    """Two inputs or parameters share a name, or a name is not a valid identifier."""


class InputError(SymnetError, ValueError):
    """Values given to a network (predict, gradients, training data) are wrong."""


class NumericalError(SymnetError, ArithmeticError):
    """A value overflowed, left an op's domain or became non-finite."""


class ExportLimitError(SymnetError):
    """A symbolic export would exceed a documented size or depth limit."""


class GradCheckError(SymnetError, AssertionError):
    """A gradient check failed (raised only when the caller asks for it)."""


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages; safe for any
    object (the repr of a 5000-digit integer raises ValueError, so it is described).

    >>> shown(10**400), shown("abc"), shown(list(range(100)), 12)
    ('an integer of 401 digits', "'abc'", '[0, 1, 2,...')
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        digits = len(str(abs(value))) if value.bit_length() < 4000 else int(value.bit_length() * 0.30103) + 1
        return f"an integer of {'about ' if value.bit_length() >= 4000 else ''}{digits} digits"
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
