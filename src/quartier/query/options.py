"""System query options: ``$filter``, ``$expand``, ``$select``, ``$orderby``, ``$top``,
``$skip``, ``$count`` and ``$resultFormat``, parsed and checked against an entity type.

The same parser serves the request's options and those inside ``$expand=Rel(…;…)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from quartier.errors import BadRequest
from quartier.model.entities import ENTITY_TYPES, EntityType, Relation
from quartier.query.expr import DEFAULT_MAX_NODES, Node, parse_filter, parse_orderby

_KNOWN = ("$filter", "$expand", "$select", "$orderby", "$top", "$skip", "$count", "$resultFormat")
_IN_EXPAND = ("$filter", "$expand", "$select", "$orderby", "$top", "$skip", "$count")
_UNSUPPORTED = ("$search", "$format", "$apply", "$compute", "$levels", "$index", "$schemaversion")
_MAX_COUNT = 2**62
RESULT_FORMATS = ("dataArray", "GeoJSON", "CSV")


@dataclass(frozen=True)
class Limits:
    default_top: int
    max_top: int
    max_expand_depth: int = 5
    max_filter_length: int = 8_000
    max_filter_nodes: int = DEFAULT_MAX_NODES


@dataclass
class Expand:
    """One relation to expand, with the options that apply to the related entities."""

    relation: Relation
    options: QueryOptions
    raw: dict[str, str]  # the option texts as given, for the next page's link
    implicit: bool = False  # added by the server (GeoJSON geometry), not asked for


@dataclass
class QueryOptions:
    top: int
    skip: int = 0
    count: bool = False
    top_given: bool = False
    filter: Node | None = None
    orderby: list[tuple[Node, bool]] = field(default_factory=list)  # (expression, descending)
    select: list[str] | None = None
    expand: list[Expand] = field(default_factory=list)
    result_format: str | None = None


def parse_options(
    items: Iterable[tuple[str, str]], etype: EntityType, limits: Limits
) -> QueryOptions:
    seen: dict[str, str] = {}
    for key, value in items:
        if not key.startswith("$"):
            continue  # other parameters are the client's business
        _check_name(key, _KNOWN)
        if key in seen:
            raise BadRequest(f"the query option {key} is given twice")
        seen[key] = value
    return build_options(seen, etype, limits, depth=0)


def _check_name(key: str, known: tuple[str, ...]) -> None:
    if key in _UNSUPPORTED:
        raise BadRequest(f"the query option {key} is not supported by this server")
    if key not in known:
        raise BadRequest(f"unknown query option {key}; supported: {', '.join(known)}")


def build_options(seen: dict[str, str], etype: EntityType, limits: Limits, depth: int = 0) -> QueryOptions:
    options = QueryOptions(top=limits.default_top)
    if "$top" in seen:
        options.top = _count_value("$top", seen["$top"])
        if options.top > limits.max_top:
            raise BadRequest(f"$top may be at most {limits.max_top}, not {options.top}; "
                             "follow @iot.nextLink for more")
        options.top_given = True
    if "$skip" in seen:
        options.skip = _count_value("$skip", seen["$skip"])
    if "$count" in seen:
        if seen["$count"] not in ("true", "false"):
            raise BadRequest(f"$count must be true or false, not {seen['$count']!r}")
        options.count = seen["$count"] == "true"
    if "$filter" in seen:
        options.filter = parse_filter(_within("$filter", seen["$filter"], limits.max_filter_length),
                                      limits.max_filter_nodes)
    if "$orderby" in seen:
        options.orderby = parse_orderby(_within("$orderby", seen["$orderby"], limits.max_filter_length),
                                        limits.max_filter_nodes)
    if "$select" in seen:
        options.select = _select(etype, seen["$select"])
    if "$expand" in seen:
        options.expand = _expand(etype, seen["$expand"], limits, depth)
    if "$resultFormat" in seen:
        fmt = seen["$resultFormat"]
        if fmt not in RESULT_FORMATS:
            raise BadRequest(f"$resultFormat must be one of {', '.join(RESULT_FORMATS)}, not {fmt!r}")
        if fmt == "dataArray" and etype.name != "Observation":
            raise BadRequest("$resultFormat=dataArray is only for Observations")
        options.result_format = fmt
    return options


def _within(name: str, text: str, limit: int) -> str:
    if len(text) > limit:
        raise BadRequest(f"{name} is {len(text)} characters long; at most {limit} are allowed")
    return text


def _count_value(name: str, raw: str) -> int:
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest(f"{name} must be a non-negative whole number, not {raw!r}")
    value = int(raw)
    if value > _MAX_COUNT:
        raise BadRequest(f"{name} is too large: {raw}")
    return value


def _select(etype: EntityType, raw: str) -> list[str]:
    names = [n.strip() for n in raw.split(",")]
    if not all(names):
        raise BadRequest(f"$select needs a comma-separated list of names: {raw!r}")
    for name in names:
        if name in ("id", "@iot.id", "@iot.selfLink"):
            continue
        if etype.member(name) is None:
            raise BadRequest(f"cannot $select {name!r}: {etype.name} has no such property")
    return names


# -- $expand ------------------------------------------------------------------------


def split_top_level(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside parentheses and quoted strings."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest(f"$expand: unbalanced ')' at position {index + 1} in {text!r}")
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth != 0 or quoted:
        raise BadRequest(f"$expand: unbalanced parentheses or quotes in {text!r}")
    parts.append(text[start:])
    return parts


def _expand(etype: EntityType, raw: str, limits: Limits, depth: int) -> list[Expand]:
    if depth >= limits.max_expand_depth:
        raise BadRequest(f"$expand nests deeper than the allowed {limits.max_expand_depth} levels")
    items: dict[str, tuple[Relation, dict[str, str], list[str]]] = {}
    for item in split_top_level(raw, ","):
        item = item.strip()
        if not item:
            raise BadRequest(f"$expand needs a comma-separated list of relations: {raw!r}")
        head, options = item, ""
        if "(" in item:
            if not item.endswith(")"):
                raise BadRequest(f"$expand: options in parentheses must end the item: {item!r}")
            head, options = item[: item.index("(")], item[item.index("(") + 1 : -1]
        first, _, rest = head.strip().partition("/")
        rel = etype.find_relation(first)
        if rel is None:
            known = ", ".join(r.name for r in etype.relations)
            raise BadRequest(f"cannot $expand {first!r}: {etype.name} has the relations {known}")
        entry = items.setdefault(rel.name, (rel, {}, []))
        if rest:  # Datastreams/Sensor(…) means Datastreams($expand=Sensor(…))
            entry[2].append(rest + (f"({options})" if options else ""))
        elif options:
            for option in split_top_level(options, ";"):
                key, sep, value = option.partition("=")
                key = key.strip()
                if not sep:
                    raise BadRequest(f"$expand: expected option=value inside {item!r}, not {option!r}")
                _check_name(key, _IN_EXPAND)
                if key in entry[1] and key != "$expand":
                    raise BadRequest(f"$expand: {key} is given twice for {rel.name}")
                if key == "$expand":
                    entry[2].append(value)
                else:
                    entry[1][key] = value
    out = []
    for rel, opts, nested in items.values():
        raw_options = dict(opts)
        if nested:
            raw_options["$expand"] = ",".join(nested)
        target = ENTITY_TYPES[rel.target]
        out.append(Expand(rel, build_options(raw_options, target, limits, depth + 1), raw_options))
    return out
