"""SQL functions the embedded backend lacks, registered on each SQLite connection.

They give ``$filter`` on SQLite the same answers as PostgreSQL/PostGIS: Unicode case
mapping, floor and ceiling, calendar arithmetic on the stored UTC text, and geometry
predicates through shapely (on the GeoJSON the rows hold and the WKT of literals).
A value a function cannot work with gives NULL, as SQL functions do.
"""

from __future__ import annotations

import calendar
import math
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import ciso8601
import orjson
import shapely
import shapely.wkt
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from quartier.model.times import fixed_width_utc


def _null_safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        if any(a is None for a in args):
            return None
        try:
            return fn(*args)
        except (ValueError, TypeError, OverflowError, ArithmeticError, shapely.errors.ShapelyError):
            return None

    return wrapper


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _number(value: Any) -> float:
    if isinstance(value, str | bytes):
        raise TypeError("not a number")
    return float(value)


def _time(text: str) -> datetime:
    return ciso8601.parse_rfc3339(text)


def time_add(text: str, months: int, micros: int) -> str:
    moment = _time(text)
    if months:
        total = moment.year * 12 + moment.month - 1 + int(months)
        year, month = divmod(total, 12)
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        moment = moment.replace(year=year, month=month + 1, day=day)
    moment += timedelta(microseconds=int(micros))
    return fixed_width_utc(moment)


def time_diff(a: str, b: str) -> int:
    delta = _time(a) - _time(b)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@lru_cache(maxsize=4096)
def geometry(text: str) -> BaseGeometry:
    if text.lstrip().startswith("{"):
        data = orjson.loads(text)
        if data.get("type") == "Feature":
            data = data.get("geometry")
        return shape(data)
    return shapely.wkt.loads(text)


def geo_predicate(op: str, a: str, b: str) -> int:
    return int(bool(getattr(geometry(a), op)(geometry(b))))


def line_length(geom: BaseGeometry) -> float:
    """The length of the lines in a geometry; areas and points have none (as in PostGIS)."""
    if geom.geom_type in ("LineString", "LinearRing", "MultiLineString"):
        return float(geom.length)
    if geom.geom_type == "GeometryCollection":
        return sum(line_length(part) for part in geom.geoms)
    return 0.0


def geo_relate(a: str, b: str, pattern: str) -> int:
    return int(geometry(a).relate_pattern(geometry(b), pattern))


def simple_case(text: str, change: Callable[[str], str]) -> str:
    """``text`` in upper or lower case one character at a time, as PostgreSQL's upper()
    and lower() map it: a character whose mapping takes more than one (ß to SS, İ to i̇)
    stays as it is, so that ``toupper(name)`` finds the same rows on both backends."""
    out = []
    for char in text:
        changed = change(char)
        out.append(changed if len(changed) == 1 else char)
    return "".join(out)


def _array_position(array: Any, value: Any) -> None:
    # Only the archive's block conditions call it, on NULL arrays: SQLite has no blocks.
    return None


def register(conn: sqlite3.Connection) -> None:
    functions: list[tuple[str, int, Callable[..., Any]]] = [
        ("quartier_lower", 1, lambda s: simple_case(_text(s), str.lower)),
        ("quartier_upper", 1, lambda s: simple_case(_text(s), str.upper)),
        ("quartier_floor", 1, lambda x: float(math.floor(_number(x)))),
        ("quartier_ceiling", 1, lambda x: float(math.ceil(_number(x)))),
        ("quartier_mod", 2, lambda a, b: math.fmod(_number(a), _number(b)) if b else None),
        ("quartier_time_add", 3, time_add),
        ("quartier_time_diff", 2, time_diff),
        ("quartier_geo", 3, geo_predicate),
        ("quartier_geo_distance", 2, lambda a, b: geometry(a).distance(geometry(b))),
        ("quartier_geo_length", 1, lambda a: line_length(geometry(a))),
        ("quartier_geo_relate", 3, geo_relate),
        ("array_position", 2, _array_position),
    ]
    for name, arity, fn in functions:
        conn.create_function(name, arity, _null_safe(fn), deterministic=True)
