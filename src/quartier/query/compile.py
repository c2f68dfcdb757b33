"""Compiling a ``$filter`` or ``$orderby`` expression tree to SQL for one entity type.

Paths through relations (``Datastream/Thing/name``) become an ``EXISTS`` subquery around
the comparison or function that uses them, so a to-many relation means "any of them".
A foreign key's id (``Datastream/id``) is read from the row itself. Every literal is a
bound parameter; the SQL text only ever holds names from the entity model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from quartier.errors import BadRequest
from quartier.model.entities import ENTITY_TYPES, EntityType, Kind, Relation, RelationKind
from quartier.query.expr import Binary, Call, ListOf, Literal, Node, Path, Unary
from quartier.query.flavor import (
    BOOL,
    DATE,
    DURATION,
    GEO_PREDICATES,
    GEOMETRY,
    JSON,
    JSONDOC,
    NULL,
    NUMBER,
    RESULT,
    SPAN,
    STRING,
    TIME,
    TIMEOFDAY,
    Flavor,
)
from quartier.query.sqltext import OrderTerm, Sql, bound, fill
from quartier.store import archive, visibility
from quartier.store.tenancy import Reader, tenant_predicate

_RESULT_BOOL, _RESULT_STRING = 3, 4
_TIMES = (TIME, SPAN)
_SQL_OPS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_MIRROR = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_BOUNDING = ("eq", "lt", "le", "gt", "ge")  # comparisons that bound a value
_COLUMN = re.compile(r"t\.\w+")  # a plain column of the entity itself
_TIME_PARTS = ("year", "month", "day", "hour", "minute", "second", "fractionalseconds")
_INTERVAL_FUNCTIONS = ("before", "after", "meets", "during", "overlaps", "starts", "finishes")


@dataclass
class _Join:
    alias: str
    etype: EntityType
    # (table with alias, condition linking it to the previous, the condition's parameters)
    tables: list[tuple[str, str, tuple[Any, ...]]]
    many: bool


@dataclass
class _Joins:
    """The relations one comparison walks through, shared by the paths it contains."""

    steps: dict[tuple[str, ...], _Join] = field(default_factory=dict)

    @property
    def many(self) -> bool:
        return any(j.many for j in self.steps.values())

    def wrap(self, select: str, type_: str) -> Sql:
        """``SELECT select FROM`` the joined tables, ending in the first one's condition,
        with the parameters of the join conditions (not of ``select``)."""
        tables = [t for join in self.steps.values() for t in join.tables]
        first_table, first_condition, first_params = tables[0]
        text = f"SELECT {select} FROM {first_table}"
        params: list[Any] = []
        for table, condition, condition_params in tables[1:]:
            text += f" JOIN {table} ON {condition}"
            params.extend(condition_params)
        # A path sees only what the reader may see along it (public or internal; these
        # conditions have no parameters).
        hidden = [visibility.condition(join.etype, join.alias) for join in self.steps.values()]
        where = " AND ".join([first_condition, *(h for h in hidden if h is not None)])
        return Sql(f"{text} WHERE {where}", (*params, *first_params), type_)


class Compiler:
    def __init__(self, flavor: Flavor, etype: EntityType, alias: str = "t", option: str = "$filter",
                 reader: Reader | None = None):
        self.flavor = flavor
        self.reader = reader  # related entities are narrowed to what it sees
        self.etype = etype
        self.alias = alias
        self.option = option
        self._joins: _Joins | None = None
        self._aliases = 0

    def error(self, pos: int, message: str) -> BadRequest:
        return BadRequest(f"{self.option}: {message} at position {pos + 1}")

    # -- entry points -----------------------------------------------------------------

    def predicate(self, node: Node) -> Sql:
        """The WHERE condition for a ``$filter``; for archived entities, with conditions
        on block bounds that the filter implies (see :mod:`quartier.store.archive`)."""
        sql = self._bool(node)
        hints = self._archive_hints(node) if self.etype.source else []
        if not hints:
            return sql
        return fill(" AND ".join(f"{{{i}}}" for i in range(len(hints) + 1)), sql, *hints)

    def _archive_hints(self, node: Node) -> list[Sql]:
        """Block conditions implied by the filter's top-level ``and`` terms that compare
        ``phenomenonTime`` or ``id`` with a literal."""
        hints: list[Sql] = []
        terms = _chain(node, "and") if isinstance(node, Binary) and node.op == "and" else [node]
        for term in terms:
            if not isinstance(term, Binary) or term.op not in _BOUNDING:
                continue
            op, path, other = term.op, term.left, term.right
            if isinstance(other, Path):  # literal op path: turn it around
                op, path, other = _MIRROR.get(op, op), other, path
            if not (isinstance(path, Path) and isinstance(other, Literal)):
                continue
            if path.segments in (("id",), ("@iot.id",)) and op == "eq" and other.type == NUMBER:
                if isinstance(other.value, int):
                    text, params = archive.id_hint([other.value], self.alias)
                    hints.append(Sql(text, params))
            elif path.segments == ("phenomenonTime",) and other.type in (TIME, "interval"):
                value = self._literal(other.value, other.type)
                if op in ("lt", "le", "eq"):
                    hints.append(fill(archive.time_hint("upper", "{0}", self.alias), _end(value)))
                if op in ("gt", "ge", "eq"):
                    hints.append(fill(archive.time_hint("lower", "{0}", self.alias), _start(value)))
        return hints

    def order_term(self, node: Node, desc: bool) -> list[OrderTerm]:
        """ORDER BY items; to-one paths read the related value with a subquery.

        Nulls sort as the largest values on both databases.
        """
        direction = " DESC" if desc else " ASC"
        return [
            OrderTerm(
                Sql(f"{p.text}{direction}{'' if p.source in ('id', 'notnull') else self.flavor.nulls(desc)}",
                    p.params, p.type),
                desc, is_id=p.source == "id",
                column=p.text.removeprefix(f"{self.alias}.") if _COLUMN.fullmatch(p.text) else "",
            )
            for p in self._order_values(node)
        ]

    def _order_values(self, node: Node) -> list[Sql]:
        self._joins = _Joins()
        try:
            value = self._value(node)
            if value.type in (GEOMETRY, JSONDOC):
                raise self.error(_pos(node), f"cannot order by {_describe(node)}, it is not a single value")
            if value.type == RESULT:
                parts = [value.source["number"], value.source["string"]]
            elif value.type == SPAN:
                assert value.end is not None
                parts = [value, value.end]
            elif value.type == JSON:
                parts = [self._json_as(value, None)]
            elif value.type == STRING:
                parts = [fill(self.flavor.text_order(), value, type_=STRING)]
            else:
                parts = [value]
            joins = self._joins
            if not joins.steps:
                return parts
            if joins.many:
                raise self.error(_pos(node), "cannot order by a path through a to-many relation")
            wrapped = [(p, joins.wrap(p.text, p.type)) for p in parts]
            return [Sql(f"({w.text} LIMIT 1)", (*p.params, *w.params), p.type) for p, w in wrapped]
        finally:
            self._joins = None

    # -- booleans ---------------------------------------------------------------------

    def _bool(self, node: Node) -> Sql:
        if isinstance(node, Binary) and node.op in ("and", "or"):  # a chain: one flat level
            parts = [self._bool(item) for item in _chain(node, node.op)]
            joiner = f" {node.op.upper()} "
            return fill("(" + joiner.join(f"{{{i}}}" for i in range(len(parts))) + ")", *parts)
        if isinstance(node, Unary) and node.op == "not":
            return fill("(NOT {0})", self._bool(node.operand))
        if self._joins is not None:  # a comparison inside a comparison: same joins
            return self._as_bool(self._value(node), node)
        self._joins = _Joins()
        try:
            inner = self._as_bool(self._value(node), node)
            joins = self._joins
        finally:
            self._joins = None
        if not joins.steps:
            return inner
        subquery = joins.wrap("1", BOOL)
        return Sql(f"EXISTS ({subquery.text} AND {inner.text})", (*subquery.params, *inner.params), BOOL)

    def _as_bool(self, value: Sql, node: Node) -> Sql:
        if value.type == BOOL:
            return value
        if value.type == JSON:
            return fill("({0} = {1})", self._json_as(value, BOOL), self._literal(True, BOOL))
        if value.type == RESULT:
            return self._compare("eq", value, self._literal(True, BOOL), _pos(node))
        raise self.error(_pos(node), f"{_describe(node)} is not a condition (true or false)")

    # -- values -----------------------------------------------------------------------

    def _value(self, node: Node) -> Sql:
        if isinstance(node, Literal):
            return self._literal(node.value, node.type)
        if isinstance(node, Path):
            return self._path(node)
        if isinstance(node, Binary):
            if node.op in ("and", "or"):
                return self._bool(node)
            if node.op == "in":
                assert isinstance(node.right, ListOf)
                left = self._value(node.left)
                tests = [self._compare("eq", left, self._value(i), node.pos) for i in node.right.items]
                return fill("(" + " OR ".join(f"{{{i}}}" for i in range(len(tests))) + ")", *tests)
            if node.op in _SQL_OPS:
                return self._compare(node.op, self._value(node.left), self._value(node.right), node.pos)
            return self._arithmetic(node)
        if isinstance(node, Unary):
            if node.op == "not":
                return self._bool(node)
            operand = self._number(self._value(node.operand), node.operand)
            return fill("(-{0})", operand, type_=NUMBER)
        if isinstance(node, Call):
            return self._call(node)
        raise self.error(node.pos, "a list in parentheses may only follow 'in'")

    def _literal(self, value: Any, type_: str) -> Sql:
        if type_ == NULL:
            return Sql("NULL", (), NULL)
        if type_ == "interval":
            start = self._literal(value[0], TIME)
            end = self._literal(value[1], TIME)
            return Sql(start.text, start.params, SPAN, end=end)
        placeholder, bound_value = self.flavor.param(type_, value)
        sql = bound(placeholder, bound_value, type_)
        if type_ == GEOMETRY:
            return fill(self.flavor.geometry_literal(), sql, type_=GEOMETRY)
        if type_ == DURATION:
            return Sql(sql.text, sql.params, DURATION, source=value)
        return sql

    def _path(self, path: Path) -> Sql:
        etype, alias = self.etype, self.alias
        segments = path.segments
        prefix: tuple[str, ...] = ()
        index = 0
        while index < len(segments):
            rel = etype.find_relation(segments[index])
            if rel is None:
                break
            rest = segments[index + 1:]
            if rel.kind is RelationKind.FOREIGN_KEY and rest in (("id",), ("@iot.id",)):
                return Sql(f"{alias}.{rel.column}", (), NUMBER)
            prefix = (*prefix, rel.name)
            alias, etype = self._join(prefix, alias, rel)
            index += 1
        if index == len(segments):
            raise self.error(path.pos, f"{path.text} names related entities, not a value; "
                                       f"add a property, e.g. {path.text}/id")
        name, rest = segments[index], segments[index + 1:]
        if name in ("id", "@iot.id"):
            if rest:
                raise self.error(path.pos, f"the id has no parts: {path.text}")
            return Sql(f"{alias}.id", (), NUMBER, source="id" if alias == self.alias else None)
        prop = etype.find_property(name)
        if prop is None:
            known = ", ".join(["id", *(p.name for p in etype.properties), *(r.name for r in etype.relations)])
            raise self.error(path.pos, f"{etype.name} has no property {name!r}; known: {known}")
        kind = prop.kind
        json_kinds = (Kind.JSON_OBJECT, Kind.JSON_ANY, Kind.UNIT)
        if rest and kind not in (*json_kinds, Kind.RESULT):
            raise self.error(path.pos, f"{etype.name}.{name} has no parts to name with /")
        column = f"{alias}.{prop.column}"
        nullness = "notnull" if not prop.nullable else None
        if kind is Kind.TEXT:
            return Sql(column, (), STRING, source=nullness)
        if kind is Kind.INSTANT:
            return Sql(column, (), TIME, source=nullness)
        if kind in (Kind.INTERVAL, Kind.INSTANT_OR_INTERVAL):
            start, end = f"{column}_start", f"{column}_end"
            return Sql(start, (), SPAN, end=Sql(f"COALESCE({end}, {start})", (), TIME, source=nullness),
                       source=nullness)
        if kind is Kind.GEOMETRY:
            return Sql(self.flavor.geometry_column(alias, prop.column), (), GEOMETRY)
        if kind is Kind.RESULT:
            if rest:
                return self._json_at(f"{alias}.result_json", rest)
            return Sql(f"{alias}.result_number", (), RESULT, source={
                "kind": Sql(f"{alias}.result_type", (), NUMBER),
                "number": Sql(f"{alias}.result_number", (), NUMBER),
                "string": Sql(f"{alias}.result_string", (), STRING),
                "json": Sql(f"{alias}.result_json", (), JSONDOC),
            })
        if rest:
            return self._json_at(column, rest)
        return Sql(column, (), JSONDOC)

    def _json_at(self, column: str, keys: tuple[str, ...]) -> Sql:
        path = bound("?", self.flavor.json_path(keys), JSON)
        return Sql(column, (), JSON, source=(Sql(column, (), JSON), path))

    def _json_as(self, value: Sql, type_: str | None) -> Sql:
        column, path = value.source
        return fill(self.flavor.json_typed(type_ or ""), column, path, type_=type_ or JSON)

    def _join(self, prefix: tuple[str, ...], parent: str, rel: Relation) -> tuple[str, EntityType]:
        assert self._joins is not None
        found = self._joins.steps.get(prefix)
        target = ENTITY_TYPES[rel.target]
        if found is not None:
            return found.alias, found.etype
        self._aliases += 1
        alias = f"{self.alias}{self._aliases}x"
        visible, params = ("1 = 1", ()) if self.reader is None else tenant_predicate(
            self.reader, target, alias)
        if rel.kind is RelationKind.FOREIGN_KEY:
            tables = [(f"{target.rows} {alias}", f"{alias}.id = {parent}.{rel.column} AND {visible}",
                       params)]
        elif rel.kind is RelationKind.REVERSE_KEY:
            tables = [(f"{target.rows} {alias}", f"{alias}.{rel.column} = {parent}.id AND {visible}",
                       params)]
        else:
            link = f"{alias}l"
            tables = [
                (f"{rel.link_table} {link}", f"{link}.{rel.link_self} = {parent}.id", ()),
                (f"{target.rows} {alias}", f"{alias}.id = {link}.{rel.link_other} AND {visible}",
                 params),
            ]
        self._joins.steps[prefix] = _Join(alias, target, tables, rel.many)
        return alias, target

    # -- comparisons ------------------------------------------------------------------

    def _compare(self, op: str, left: Sql, right: Sql, pos: int) -> Sql:
        if NULL in (left.type, right.type):
            return self._null_test(op, left if right.type == NULL else right, pos)
        if left.type in (RESULT, JSON) and right.type not in (RESULT, JSON):
            left = self._typed_view(left, right.type, pos)
        elif right.type in (RESULT, JSON) and left.type not in (RESULT, JSON):
            right = self._typed_view(right, left.type, pos)
        elif left.type in (RESULT, JSON):  # both sides: each type compared with its own
            parts = [
                self._compare(
                    op, self._typed_view(left, type_, pos), self._typed_view(right, type_, pos), pos
                )
                for type_ in (NUMBER, STRING, BOOL)
            ]
            if op in ("eq", "ne") and left.type == RESULT and right.type == RESULT:
                parts.append(fill(f"({{0}} {_SQL_OPS[op]} {{1}})", left.source["json"], right.source["json"]))
            return fill("(" + " OR ".join(f"{{{i}}}" for i in range(len(parts))) + ")", *parts)
        if left.type in _TIMES and right.type in _TIMES and SPAN in (left.type, right.type):
            return self._compare_spans(op, left, right)
        if left.type != right.type:
            raise self.error(pos, f"cannot compare {_TYPE_NAMES[left.type]} with {_TYPE_NAMES[right.type]}")
        if left.type in (GEOMETRY, JSONDOC):
            raise self.error(pos, f"cannot compare {_TYPE_NAMES[left.type]}s with {op}")
        if left.type == STRING and op not in ("eq", "ne"):
            left = fill(self.flavor.text_order(), left, type_=STRING)
        guard = getattr(left, "_guard", None)
        sql = fill(f"({{0}} {_SQL_OPS[op]} {{1}})", left, right)
        return guard(sql) if guard else sql

    def _typed_view(self, value: Sql, type_: str, pos: int) -> Sql:
        """A result or JSON value seen as ``type_``; NULL where it holds another type."""
        if value.type == JSON:
            if type_ not in (NUMBER, STRING, BOOL):
                raise self.error(pos, f"cannot compare a JSON value with {_TYPE_NAMES[type_]}")
            return self._json_as(value, type_)
        source = value.source
        if type_ == NUMBER:
            return fill(f"(CASE WHEN {{0}} <> {_RESULT_BOOL} THEN {{1}} END)", source["kind"],
                        source["number"], type_=NUMBER)
        if type_ == STRING:
            return source["string"]
        if type_ == BOOL:
            return fill(self._bool_result(), source["kind"], source["number"], type_=BOOL)
        raise self.error(pos, f"cannot compare a result with {_TYPE_NAMES[type_]}")

    def _bool_result(self) -> str:
        if self.flavor.name == "postgresql":
            return f"(CASE WHEN {{0}} = {_RESULT_BOOL} THEN {{1}} <> 0 END)"
        return f"(CASE WHEN {{0}} = {_RESULT_BOOL} THEN {{1}} END)"

    def _null_test(self, op: str, value: Sql, pos: int) -> Sql:
        if op not in ("eq", "ne"):
            raise self.error(pos, f"null can only be compared with eq or ne, not {op}")
        negate = "NOT " if op == "ne" else ""
        if value.type == NULL:
            return Sql("(1 = 1)" if op == "eq" else "(1 = 0)", (), BOOL)
        if value.type == RESULT:
            return fill(f"({{0}} {'=' if op == 'eq' else '<>'} 0)", value.source["kind"])
        if value.type == JSON:
            column, path = value.source
            return fill(f"({negate}{self.flavor.json_is_null()})", column, path)
        return fill(f"({{0}} IS {negate}NULL)", value)

    def _compare_spans(self, op: str, left: Sql, right: Sql) -> Sql:
        """Times where one side is an interval: ``lt`` is "before", ``gt`` is "after"."""
        if op in ("eq", "ne"):
            same = fill("({0} = {1} AND {2} = {3})", left, right, _end(left), _end(right))
            return same if op == "eq" else fill("(NOT {0})", same)
        if op in ("gt", "ge"):
            left, right = right, left
        before = self._interval("before", left, right)
        if op in ("lt", "gt"):
            return before
        same = fill("({0} = {1} AND {2} = {3})", left, right, _end(left), _end(right))
        return fill("({0} OR {1})", before, same)

    def _interval(self, name: str, a: Sql, b: Sql) -> Sql:
        a_end, b_end = _end(a), _end(b)
        if name == "after":
            name, a, b, a_end, b_end = "before", b, a, b_end, a_end
        if name == "before":
            return fill("({1} < {2} OR ({1} = {2} AND {0} < {1}))", a, a_end, b)
        if name == "meets":
            return fill("({1} = {2} OR {3} = {0})", a, a_end, b, b_end)
        if name == "during":
            return fill("({2} <= {0} AND {1} <= {3})", a, a_end, b, b_end)
        if name == "overlaps":
            return fill("(({0} < {3} AND {2} < {1}) OR {0} = {2})", a, a_end, b, b_end)
        if name == "starts":
            return fill("({0} = {1})", a, b)
        return fill("({0} = {1})", a_end, b_end)  # finishes

    # -- arithmetic -------------------------------------------------------------------

    def _arithmetic(self, node: Binary) -> Sql:
        left, right = self._value(node.left), self._value(node.right)
        op = node.op
        if op in ("add", "sub") and left.type in _TIMES and right.type == DURATION:
            return self.flavor.shift_time(_start(left), right, 1 if op == "add" else -1)
        if op == "add" and left.type == DURATION and right.type in _TIMES:
            return self.flavor.shift_time(_start(right), left, 1)
        if op == "sub" and left.type in _TIMES and right.type in _TIMES:
            return fill(self.flavor.time_difference(), _start(left), _start(right), type_=DURATION)
        if left.type == DURATION and right.type == DURATION and op in ("add", "sub"):
            sign = "+" if op == "add" else "-"
            return fill(f"({{0}} {sign} {{1}})", left, right, type_=DURATION)
        left = self._number(left, node.left)
        right = self._number(right, node.right)
        if op in ("div", "mod"):
            return fill(self.flavor.call(op), left, right, type_=NUMBER)
        sign = {"add": "+", "sub": "-", "mul": "*"}[op]
        return fill(f"({{0}} {sign} {{1}})", left, right, type_=NUMBER)

    def _number(self, value: Sql, node: Node) -> Sql:
        if value.type in (RESULT, JSON):
            return self._typed_view(value, NUMBER, _pos(node))
        if value.type != NUMBER:
            raise self.error(_pos(node), f"{_describe(node)} is {_TYPE_NAMES[value.type]}, not a number")
        return value

    def _typed(self, node: Node, type_: str) -> Sql:
        value = self._value(node)
        if value.type in (RESULT, JSON):
            return self._typed_view(value, type_, _pos(node))
        if type_ == TIME and value.type == SPAN:
            return _start(value)
        if value.type != type_:
            raise self.error(_pos(node), f"{_describe(node)} is {_TYPE_NAMES[value.type]}, "
                                         f"but {_TYPE_NAMES[type_]} is needed here")
        return value

    # -- functions --------------------------------------------------------------------

    def _call(self, call: Call) -> Sql:
        handler = _FUNCTIONS.get(call.name)
        if handler is None:
            raise self.error(call.pos, f"unknown function {call.name}(); see the SensorThings "
                                       "1.1 specification, table 'built-in filter operations'")
        arity, fn = handler
        if len(call.args) not in arity:
            counts = " or ".join(str(n) for n in arity)
            raise self.error(call.pos, f"{call.name}() takes {counts} argument(s), not {len(call.args)}")
        return fn(self, call)

    def _string_function(self, call: Call) -> Sql:
        args = [self._typed(a, STRING) for a in call.args]
        f = self.flavor
        name = call.name
        if name == "substringof":
            return fill(f"({f.position()} > 0)", args[1], args[0])
        if name == "startswith":
            return fill("(substr({0}, 1, length({1})) = {1})", *args)
        if name == "endswith":
            return fill("(length({1}) <= length({0}) AND substr({0}, length({0}) - length({1}) + 1) = {1})",
                        *args)
        if name == "length":
            return fill("length({0})", *args, type_=NUMBER)
        if name == "indexof":
            return fill(f"({f.position()} - 1)", *args, type_=NUMBER)
        if name == "concat":
            return fill("({0} || {1})", *args, type_=STRING)
        if name == "trim":
            return fill("trim({0})", *args, type_=STRING)
        return fill(f.call(name), *args, type_=STRING)  # tolower, toupper

    def _substring(self, call: Call) -> Sql:
        text = self._typed(call.args[0], STRING)
        numbers = [self._typed(a, NUMBER) for a in call.args[1:]]
        template = self.flavor.call(f"substring{len(call.args)}")
        return fill(template, text, *numbers, type_=STRING)

    def _math(self, call: Call) -> Sql:
        return fill(self.flavor.call(call.name), self._typed(call.args[0], NUMBER), type_=NUMBER)

    def _time_part(self, call: Call) -> Sql:
        moment = self._typed(call.args[0], TIME)
        return fill(self.flavor.time_part(call.name), moment, type_=NUMBER)

    def _date_time(self, call: Call) -> Sql:
        moment = self._typed(call.args[0], TIME)
        if call.name == "date":
            return fill(self.flavor.date_of(), moment, type_=DATE)
        return fill(self.flavor.time_of_day(), moment, type_=TIMEOFDAY)

    def _offset(self, call: Call) -> Sql:
        arg = call.args[0]
        if isinstance(arg, Literal) and arg.type == TIME:  # the offset it was written with
            offset = arg.value.utcoffset()
            return self._literal(int(offset.total_seconds() // 60) if offset else 0, NUMBER)
        moment = self._typed(arg, TIME)
        return fill("(CASE WHEN {0} IS NULL THEN NULL ELSE 0 END)", moment, type_=NUMBER)

    def _constant_time(self, call: Call) -> Sql:
        if call.name == "now":
            value = datetime.now(UTC)
        elif call.name == "mindatetime":
            value = datetime(1, 1, 1, tzinfo=UTC)
        else:
            value = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
        return self._literal(value, TIME)

    def _interval_function(self, call: Call) -> Sql:
        a, b = (self._time_value(arg) for arg in call.args)
        return self._interval(call.name, a, b)

    def _time_value(self, node: Node) -> Sql:
        value = self._value(node)
        if value.type not in _TIMES:
            raise self.error(_pos(node), f"{_describe(node)} is {_TYPE_NAMES[value.type]}, not a time")
        return value

    def _geo(self, call: Call) -> Sql:
        shapes = [self._geometry(a) for a in call.args[:2]]
        template = self.flavor.geo(call.name)
        if call.name == "geo.length":
            return fill(template, shapes[0], type_=NUMBER)
        if call.name == "geo.distance":
            return fill(template, *shapes, type_=NUMBER)
        if call.name == "st_relate":
            pattern = call.args[2]
            if not (isinstance(pattern, Literal) and pattern.type == STRING and _is_de9im(pattern.value)):
                raise self.error(_pos(pattern), "st_relate needs a DE-9IM pattern string such as "
                                                "'T*F**F***' as its third argument")
            matrix = self._literal(pattern.value, STRING)
            return fill(template, *shapes, matrix)
        return fill(template, *shapes)

    def _geometry(self, node: Node) -> Sql:
        value = self._value(node)
        if value.type != GEOMETRY:
            raise self.error(_pos(node), f"{_describe(node)} is {_TYPE_NAMES[value.type]}, not a geometry; "
                                         "write a literal as geography'POINT(7.1 50.7)'")
        return value


def _chain(node: Binary, op: str) -> list[Node]:
    """The operands of ``a op b op c …``, left to right."""
    items: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Binary) and current.op == op:
            stack.extend((current.right, current.left))
        else:
            items.append(current)
    return items


def _start(value: Sql) -> Sql:
    return Sql(value.text, value.params, TIME) if value.type == SPAN else value


def _end(value: Sql) -> Sql:
    return value.end if value.type == SPAN and value.end is not None else _start(value)


def _is_de9im(text: str) -> bool:
    return len(text) == 9 and all(c in "TF*012" for c in text.upper())


def _pos(node: Node) -> int:
    return node.pos


def _describe(node: Node) -> str:
    if isinstance(node, Path):
        return node.text
    if isinstance(node, Call):
        return f"{node.name}()"
    if isinstance(node, Literal):
        return "null" if node.type == NULL else repr(node.value) if node.type == STRING else "the literal"
    return "this expression"


_TYPE_NAMES = {
    NUMBER: "a number", STRING: "a string", BOOL: "a boolean", TIME: "a time", SPAN: "a time",
    DATE: "a date", TIMEOFDAY: "a time of day", DURATION: "a duration", GEOMETRY: "a geometry",
    JSON: "a JSON value", JSONDOC: "a JSON object", RESULT: "a result", NULL: "null",
}

_Handler = Callable[[Compiler, Call], Sql]
_FUNCTIONS: dict[str, tuple[tuple[int, ...], _Handler]] = {
    **{name: ((2,), Compiler._string_function)
       for name in ("substringof", "startswith", "endswith", "indexof", "concat")},
    **{name: ((1,), Compiler._string_function) for name in ("length", "tolower", "toupper", "trim")},
    "substring": ((2, 3), Compiler._substring),
    **{name: ((1,), Compiler._math) for name in ("round", "floor", "ceiling")},
    **{name: ((1,), Compiler._time_part) for name in _TIME_PARTS},
    "date": ((1,), Compiler._date_time),
    "time": ((1,), Compiler._date_time),
    "totaloffsetminutes": ((1,), Compiler._offset),
    **{name: ((0,), Compiler._constant_time) for name in ("now", "mindatetime", "maxdatetime")},
    **{name: ((2,), Compiler._interval_function) for name in _INTERVAL_FUNCTIONS},
    "geo.intersects": ((2,), Compiler._geo),
    "geo.distance": ((2,), Compiler._geo),
    "geo.length": ((1,), Compiler._geo),
    **{name: ((2,), Compiler._geo) for name in GEO_PREDICATES},
    "st_relate": ((3,), Compiler._geo),
}
