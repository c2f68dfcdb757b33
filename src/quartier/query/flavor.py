"""How each database spells what ``$filter`` needs: typed parameters, JSON, times, geometry.

The compiler asks a flavor for SQL fragments with ``{0}``-style holes for its operands;
values always travel as bound parameters (``?``), never inside SQL text.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from quartier.model.times import fixed_width_utc
from quartier.query.expr import Duration
from quartier.query.sqltext import Sql, bound, fill

# Value types of compiled expressions
NUMBER, STRING, BOOL, TIME, SPAN, DATE, TIMEOFDAY, DURATION, GEOMETRY = (
    "number", "string", "bool", "time", "span", "date", "timeofday", "duration", "geometry",
)
JSON, JSONDOC, RESULT, NULL = "json", "jsondoc", "result", "null"

_TIME_PARTS_SQLITE = {"year": (1, 4), "month": (6, 2), "day": (9, 2), "hour": (12, 2),
                      "minute": (15, 2), "second": (18, 2)}


class Flavor:
    """SQLite: times are fixed-width UTC text, JSON is text, geometry is GeoJSON text."""

    name = "sqlite"

    def param(self, type_: str, value: Any) -> tuple[str, Any]:
        """A placeholder for a literal of ``type_`` and the value to bind."""
        if type_ == TIME:
            return "?", fixed_width_utc(value)
        if type_ == DATE:
            return "?", value.isoformat()
        if type_ == TIMEOFDAY:
            return "?", value.strftime("%H:%M:%S.%f")
        if type_ == BOOL:
            return "?", 1 if value else 0
        if type_ == GEOMETRY:
            return "?", value.wkt
        if type_ == DURATION:
            return "?", value.approx_micros
        return "?", value

    def geometry_literal(self) -> str:
        return "{0}"

    def nulls(self, desc: bool) -> str:
        """Make NULL sort as PostgreSQL sorts it: after every value."""
        return " NULLS FIRST" if desc else " NULLS LAST"

    def geometry_column(self, alias: str, column: str) -> str:
        return f"{alias}.{column}"

    def json_path(self, keys: tuple[str, ...]) -> Any:
        return "$" + "".join(f'."{k}"' for k in keys)

    def json_typed(self, type_: str) -> str:
        """``{0}`` the column, ``{1}`` the path: the value when it has ``type_``, else NULL."""
        if type_ == NUMBER:
            return "(CASE WHEN json_type({0}, {1}) IN ('integer', 'real') THEN json_extract({0}, {1}) END)"
        if type_ == BOOL:
            return "(CASE WHEN json_type({0}, {1}) IN ('true', 'false') THEN json_extract({0}, {1}) END)"
        if type_ == STRING:
            return "(CASE WHEN json_type({0}, {1}) = 'text' THEN json_extract({0}, {1}) END)"
        return "json_extract({0}, {1})"  # for ordering and null tests

    def json_is_null(self) -> str:
        return "(json_type({0}, {1}) IS NULL OR json_type({0}, {1}) = 'null')"

    def text_order(self) -> str:
        return "{0}"

    def time_part(self, part: str) -> str:
        if part == "fractionalseconds":
            return "(CAST(substr({0}, 21, 6) AS INTEGER) / 1000000.0)"
        start, length = _TIME_PARTS_SQLITE[part]
        return f"CAST(substr({{0}}, {start}, {length}) AS INTEGER)"

    def date_of(self) -> str:
        return "substr({0}, 1, 10)"

    def time_of_day(self) -> str:
        return "substr({0}, 12, 15)"

    def position(self) -> str:
        """1-based position of ``{1}`` in ``{0}``, 0 when absent."""
        return "instr({0}, {1})"

    def call(self, name: str) -> str:
        return {
            "tolower": "quartier_lower({0})", "toupper": "quartier_upper({0})",
            "floor": "quartier_floor({0})", "ceiling": "quartier_ceiling({0})",
            "round": "round({0})", "mod": "quartier_mod({0}, {1})",
            "div": "(CAST({0} AS REAL) / NULLIF({1}, 0))",
            "substring2": "substr({0}, {1} + 1)", "substring3": "substr({0}, {1} + 1, {2})",
        }[name]

    def shift_time(self, moment: Sql, duration: Sql, sign: int) -> Sql:
        """A time moved by a duration; a literal's months are calendar months."""
        literal = duration.source
        if isinstance(literal, Duration):
            months = bound("?", sign * literal.months, NUMBER)
            micros = bound("?", sign * literal.micros, NUMBER)
            return fill("quartier_time_add({0}, {1}, {2})", moment, months, micros, type_=TIME)
        return fill(f"quartier_time_add({{0}}, 0, {sign} * {{1}})", moment, duration, type_=TIME)

    def time_difference(self) -> str:
        return "quartier_time_diff({0}, {1})"

    def geo(self, name: str) -> str:
        if name == "geo.distance":
            return "quartier_geo_distance({0}, {1})"
        if name == "geo.length":
            return "quartier_geo_length({0})"
        if name == "st_relate":
            return "quartier_geo_relate({0}, {1}, {2})"
        return f"quartier_geo('{_GEO_PREDICATES[name]}', {{0}}, {{1}})"


_GEO_PREDICATES = {
    "geo.intersects": "intersects", "st_intersects": "intersects", "st_equals": "equals",
    "st_disjoint": "disjoint", "st_touches": "touches", "st_within": "within",
    "st_overlaps": "overlaps", "st_crosses": "crosses", "st_contains": "contains",
}
GEO_PREDICATES = frozenset(_GEO_PREDICATES)


class PostgresFlavor(Flavor):
    """PostgreSQL with PostGIS: native timestamps, jsonb and geometry columns."""

    name = "postgresql"

    def param(self, type_: str, value: Any) -> tuple[str, Any]:
        if type_ == NUMBER:
            if isinstance(value, int) and not isinstance(value, bool):
                return "CAST(? AS bigint)", value
            return "CAST(? AS double precision)", float(value)
        cast = {
            STRING: "text", BOOL: "boolean", TIME: "timestamptz", DATE: "date",
            TIMEOFDAY: "time", GEOMETRY: "text",
        }.get(type_)
        if type_ == GEOMETRY:
            return "CAST(? AS text)", value.wkt
        if type_ == TIME:  # as text: asyncpg would send the years 1 and 9999 as infinity
            return "CAST(CAST(? AS text) AS timestamptz)", value.astimezone(UTC).isoformat()
        if type_ == DURATION:
            return "CAST(CAST(? AS text) AS interval)", f"{value.months} months {value.micros} microseconds"
        if cast is None:
            return "?", value
        return f"CAST(? AS {cast})", value

    def geometry_literal(self) -> str:
        return "ST_GeomFromText({0}, 4326)"

    def nulls(self, desc: bool) -> str:
        return ""

    def geometry_column(self, alias: str, column: str) -> str:
        return f"{alias}.{column}_geom"

    def json_path(self, keys: tuple[str, ...]) -> Any:
        return list(keys)

    def json_typed(self, type_: str) -> str:
        value = "({0} #> CAST({1} AS text[]))"
        if type_ == NUMBER:
            return (f"(CASE WHEN jsonb_typeof({value}) = 'number' "
                    f"THEN CAST({value} #>> '{{}}' AS double precision) END)")
        if type_ == BOOL:
            return (f"(CASE WHEN jsonb_typeof({value}) = 'boolean' "
                    f"THEN CAST({value} #>> '{{}}' AS boolean) END)")
        if type_ == STRING:
            return f"(CASE WHEN jsonb_typeof({value}) = 'string' THEN {value} #>> '{{}}' END)"
        return value

    def json_is_null(self) -> str:
        return "(({0} #> CAST({1} AS text[])) IS NULL OR jsonb_typeof({0} #> CAST({1} AS text[])) = 'null')"

    def text_order(self) -> str:
        return '({0} COLLATE "C")'

    def time_part(self, part: str) -> str:
        utc = "({0} AT TIME ZONE 'UTC')"
        if part == "fractionalseconds":
            return f"(CAST(EXTRACT(MICROSECONDS FROM {utc}) AS bigint) % 1000000 / 1000000.0)"
        if part == "second":
            return f"CAST(floor(EXTRACT(SECOND FROM {utc})) AS integer)"
        return f"CAST(EXTRACT({part.upper()} FROM {utc}) AS integer)"

    def date_of(self) -> str:
        return "CAST(({0} AT TIME ZONE 'UTC') AS date)"

    def time_of_day(self) -> str:
        return "CAST(({0} AT TIME ZONE 'UTC') AS time)"

    def position(self) -> str:
        return "strpos({0}, {1})"

    def call(self, name: str) -> str:
        return {
            "tolower": "lower({0})", "toupper": "upper({0})",
            "floor": "floor({0})", "ceiling": "ceil({0})",
            "round": "CAST(round(CAST({0} AS numeric)) AS double precision)",
            "mod": "CAST(mod(CAST({0} AS numeric), NULLIF(CAST({1} AS numeric), 0)) AS double precision)",
            "div": "(CAST({0} AS double precision) / NULLIF({1}, 0))",
            "substring2": "substr({0}, CAST({1} AS integer) + 1)",
            "substring3": "substr({0}, CAST({1} AS integer) + 1, CAST({2} AS integer))",
        }[name]

    def shift_time(self, moment: Sql, duration: Sql, sign: int) -> Sql:
        # Times beyond the years 1 to 9999 are NULL, as on SQLite.
        shifted = fill(f"({{0}} {'+' if sign > 0 else '-'} {{1}})", moment, duration, type_=TIME)
        return fill("(CASE WHEN {0} BETWEEN CAST('0001-01-01T00:00:00Z' AS timestamptz) AND "
                    "CAST('9999-12-31T23:59:59.999999Z' AS timestamptz) THEN {0} END)", shifted, type_=TIME)

    def time_difference(self) -> str:
        return "({0} - {1})"

    def geo(self, name: str) -> str:
        if name == "geo.distance":
            return "ST_Distance({0}, {1})"
        if name == "geo.length":
            return "ST_Length({0})"
        if name == "st_relate":
            return "ST_Relate({0}, {1}, {2})"
        return f"ST_{_GEO_PREDICATES[name].capitalize()}({{0}}, {{1}})"


def flavor_for(dialect_name: str) -> Flavor:
    return _FLAVORS[dialect_name]


_FLAVORS: dict[str, Flavor] = {"sqlite": Flavor(), "postgresql": PostgresFlavor()}
