"""SQL fragments with their bound parameters, and a way to combine them safely."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_HOLE = re.compile(r"\{(\d+)\}")


@dataclass(frozen=True)
class Sql:
    """SQL text with ``?`` placeholders, the values for them in order, and its value type.

    A time span (an interval property) keeps its end in ``end``; JSON and results keep
    what the compiler needs to pick a typed view in ``source``.
    """

    text: str
    params: tuple[Any, ...] = ()
    type: str = "bool"
    end: Sql | None = None
    source: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class OrderTerm:
    """One ORDER BY item: its SQL with direction (and null placement), whether it sorts
    descending, whether it is the entity's own id (which makes the order total), and the
    column when it is a plain column of the entity."""

    sql: Sql
    descending: bool
    is_id: bool = False
    column: str = ""


def fill(template: str, *parts: Sql, type_: str = "bool") -> Sql:
    """Put ``parts`` into the ``{0}``, ``{1}``… holes; parameters follow the text order.

    A hole may appear more than once; its parameters are then bound each time.
    """
    params: list[Any] = []

    def put(match: re.Match[str]) -> str:
        part = parts[int(match.group(1))]
        params.extend(part.params)
        return part.text

    text = _HOLE.sub(put, template)
    return Sql(text, tuple(params), type_)


def bound(placeholder: str, value: Any, type_: str) -> Sql:
    return Sql(placeholder, (value,), type_)
