"""System query options: ``$top``, ``$skip``, ``$count``, ``$orderby`` and ``$select``.

Options this version does not implement yet (``$filter``, ``$expand``, ``$resultFormat``)
are refused with a 400 naming them, rather than silently ignored, so that no client
mistakes an unfiltered answer for a filtered one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from quartier.errors import BadRequest
from quartier.model.entities import EntityType, Kind, Property

_KNOWN = ("$top", "$skip", "$count", "$orderby", "$select")
_MAX_COUNT = 2**62
_LATER = ("$filter", "$expand", "$resultFormat", "$search", "$format")


@dataclass
class QueryOptions:
    top: int
    skip: int = 0
    count: bool = False
    top_given: bool = False
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    select: list[str] | None = None


def parse_options(
    items: Iterable[tuple[str, str]], default_top: int, max_top: int
) -> QueryOptions:
    seen: dict[str, str] = {}
    for key, value in items:
        if not key.startswith("$"):
            continue  # other parameters are the client's business
        if key in _LATER:
            raise BadRequest(f"the query option {key} is not supported by this server yet")
        if key not in _KNOWN:
            raise BadRequest(f"unknown query option {key}; supported: {', '.join(_KNOWN)}")
        if key in seen:
            raise BadRequest(f"the query option {key} is given twice")
        seen[key] = value
    options = QueryOptions(top=default_top)
    if "$top" in seen:
        options.top = min(_count_value("$top", seen["$top"]), max_top)
        options.top_given = True
    if "$skip" in seen:
        options.skip = _count_value("$skip", seen["$skip"])
    if "$count" in seen:
        if seen["$count"] not in ("true", "false"):
            raise BadRequest(f"$count must be true or false, not {seen['$count']!r}")
        options.count = seen["$count"] == "true"
    if "$orderby" in seen:
        options.orderby = _orderby(seen["$orderby"])
    if "$select" in seen:
        names = [n.strip() for n in seen["$select"].split(",")]
        if not all(names):
            raise BadRequest(f"$select needs a comma-separated list of names: {seen['$select']!r}")
        options.select = names
    return options


def _count_value(name: str, raw: str) -> int:
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest(f"{name} must be a non-negative whole number, not {raw!r}")
    value = int(raw)
    if value > _MAX_COUNT:
        raise BadRequest(f"{name} is too large: {raw}")
    return value


def _orderby(raw: str) -> list[tuple[str, bool]]:
    out = []
    for part in raw.split(","):
        words = part.split()
        if len(words) == 2:
            words[1] = words[1].lower()  # FROST and its clients send ASC/DESC too
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise BadRequest(
                f"$orderby takes 'property [asc|desc]' items separated by commas, not {raw!r}"
            )
        out.append((words[0], len(words) == 2 and words[1] == "desc"))
    return out


def order_terms(etype: EntityType, orderby: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """SQL expressions for ``$orderby`` on an entity type's own properties."""
    terms: list[tuple[str, bool]] = []
    for name, desc in orderby:
        if name in ("id", "@iot.id"):
            terms.append(("t.id", desc))
            continue
        prop = etype.find_property(name)
        if prop is None:
            raise BadRequest(f"$orderby: {etype.name} has no property {name!r} to order by")
        terms.extend((expr, desc) for expr in _sort_columns(prop))
    return terms


def _sort_columns(prop: Property) -> list[str]:
    if prop.kind is Kind.RESULT:
        return ["t.result_number", "t.result_string"]
    if prop.kind in (Kind.INTERVAL, Kind.INSTANT_OR_INTERVAL):
        return [f"t.{prop.columns[0]}", f"t.{prop.columns[1]}"]
    if prop.kind in (Kind.TEXT, Kind.INSTANT):
        return [f"t.{prop.column}"]
    raise BadRequest(f"$orderby: cannot order by {prop.name}, it holds JSON, not a single value")


def check_select(etype: EntityType, select: list[str] | None) -> None:
    if select is None:
        return
    for name in select:
        if name in ("id", "@iot.id", "@iot.selfLink"):
            continue
        if etype.member(name) is None:
            raise BadRequest(f"cannot $select {name!r}: {etype.name} has no such property")
