"""Validating property values from JSON, and mapping them to and from stored columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from quartier.errors import BadRequest
from quartier.model.entities import EntityType, Kind, Property
from quartier.model.geometry import GEOJSON_ENCODINGS, geometry_of
from quartier.model.times import (
    _json_kind,
    format_instant,
    format_interval,
    parse_instant,
    parse_instant_or_interval,
    parse_interval,
)

# Column value kinds the store must encode for its dialect.
TIME = "time"
JSON = "json"
PLAIN = "plain"

_RESULT_NULL, _RESULT_INT, _RESULT_FLOAT, _RESULT_BOOL, _RESULT_STRING, _RESULT_JSON = range(6)
_MAX_EXACT_INT = 2**53


def column_kinds(prop: Property) -> tuple[str, ...]:
    kind = prop.kind
    if kind in (Kind.JSON_OBJECT, Kind.JSON_ANY, Kind.UNIT, Kind.GEOMETRY):
        return (JSON,)
    if kind is Kind.INSTANT:
        return (TIME,)
    if kind in (Kind.INTERVAL, Kind.INSTANT_OR_INTERVAL):
        return (TIME, TIME)
    if kind is Kind.RESULT:
        return (PLAIN, PLAIN, PLAIN, JSON)
    return (PLAIN,)


def parse_property(etype: EntityType, prop: Property, raw: Any) -> Any:
    """The validated value of one property from a request body; 400 when it is wrong."""
    return property_parser(etype, prop)(raw)


PropertyParser = Callable[[Any], Any]


def property_parser(etype: EntityType, prop: Property) -> PropertyParser:
    """:func:`parse_property` for one property, its checks chosen once: bulk input
    (a dataArray) parses many values of the same property."""
    # Kept by the two names (strings hash once): hashing the Property itself, a dataclass,
    # would hash every field on each call, and every value of every body comes here.
    key = (etype.name, prop.name)
    parser = _PARSERS_MADE.get(key)
    if parser is None:
        parser = _PARSERS_MADE[key] = _parser(etype.name, prop)
    return parser


_PARSERS_MADE: dict[tuple[str, str], PropertyParser] = {}


def _parser(etype_name: str, prop: Property) -> PropertyParser:
    what = f"{etype_name}.{prop.name}"
    kind = prop.kind
    check = _PARSERS[kind]
    nul_checked = kind is not Kind.GEOMETRY
    null_ok = kind is Kind.RESULT or (prop.nullable and not prop.required)

    def parse(raw: Any) -> Any:
        if raw is None:
            if null_ok:
                return None
            raise BadRequest(f"{what} may not be null")
        if nul_checked and _has_nul(raw):
            raise BadRequest(f"{what} contains the character U+0000, which cannot be stored")
        return check(raw, what)

    return parse


def _parse_text(raw: Any, what: str) -> str:
    if not isinstance(raw, str):
        raise BadRequest(f"{what} must be a string, not {_json_kind(raw)}")
    return raw


def _parse_object(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest(f"{what} must be a JSON object, not {_json_kind(raw)}")
    return raw


def _parse_geometry(raw: Any, what: str) -> Any:
    geometry_of(raw, what)
    return raw


def _parse_result(raw: Any, what: str) -> Any:
    if isinstance(raw, float) and raw != raw:  # NaN cannot come from JSON, but be safe
        raise BadRequest(f"{what} is not a number")
    return raw


def _parse_any(raw: Any, what: str) -> Any:
    return raw


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def check_encoding(etype: EntityType, values: dict[str, Any]) -> None:
    """Locations and Features must declare GeoJSON, the one encoding the server can index
    (Sensors and Actuators describe theirs freely)."""
    prop = etype.find_property("encodingType")
    if prop is None or etype.name in ("Sensor", "Actuator"):
        return
    encoding = values.get("encodingType")
    if encoding is not None and encoding not in GEOJSON_ENCODINGS:
        raise BadRequest(
            f"{etype.name}.encodingType must be one of {', '.join(sorted(GEOJSON_ENCODINGS))}, "
            f"not {encoding!r}"
        )


def _parse_unit(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest(
            f"{what} must be an object with name, symbol and definition, not {_json_kind(raw)}"
        )
    for key in ("name", "symbol", "definition"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{what}.{key} must be a string or null, not {_json_kind(value)}")
    return raw


_PARSERS: dict[Kind, Callable[[Any, str], Any]] = {
    Kind.TEXT: _parse_text,
    Kind.JSON_OBJECT: _parse_object,
    Kind.JSON_ANY: _parse_any,
    Kind.UNIT: _parse_unit,
    Kind.GEOMETRY: _parse_geometry,
    Kind.INSTANT: parse_instant,
    Kind.INTERVAL: parse_interval,
    Kind.INSTANT_OR_INTERVAL: parse_instant_or_interval,
    Kind.RESULT: _parse_result,
}


def to_columns(prop: Property, value: Any) -> tuple[Any, ...]:
    """The stored column values of one parsed property value, in ``prop.columns`` order."""
    kind = prop.kind
    if kind is Kind.INTERVAL or kind is Kind.INSTANT_OR_INTERVAL:
        if value is None:
            return (None, None)
        return (value[0], value[1])
    if kind is Kind.RESULT:
        return encode_result(value)
    return (value,)


def encode_result(value: Any) -> tuple[int, float | None, str | None, Any]:
    if value is None:
        return (_RESULT_NULL, None, None, None)
    if isinstance(value, bool):
        return (_RESULT_BOOL, 1.0 if value else 0.0, None, None)
    if isinstance(value, int):
        if abs(value) < _MAX_EXACT_INT:
            return (_RESULT_INT, float(value), None, None)
        return (_RESULT_JSON, float(value), None, value)
    if isinstance(value, float):
        return (_RESULT_FLOAT, value, None, None)
    if isinstance(value, str):
        return (_RESULT_STRING, None, value, None)
    return (_RESULT_JSON, None, None, value)


def decode_result(kind: int | None, number: float | None, string: str | None, data: Any) -> Any:
    if kind == _RESULT_INT and number is not None:
        return int(number)
    if kind == _RESULT_FLOAT:
        return number
    if kind == _RESULT_BOOL:
        return bool(number)
    if kind == _RESULT_STRING:
        return string
    if kind == _RESULT_JSON:
        return data
    return None


def from_columns(prop: Property, values: tuple[Any, ...]) -> Any:
    """The JSON value of one property from its decoded stored columns."""
    kind = prop.kind
    if kind is Kind.INSTANT:
        value = values[0]
        return format_instant(value) if isinstance(value, datetime) else None
    if kind is Kind.INTERVAL or kind is Kind.INSTANT_OR_INTERVAL:
        start, end = values
        if kind is Kind.INTERVAL and start is not None and end is None:
            end = start
        return format_interval(start, end)
    if kind is Kind.RESULT:
        return decode_result(*values)
    return values[0]


ValueReader = Callable[[Sequence[Any], int], Any]


def value_reader(prop: Property) -> ValueReader | None:
    """A fast :func:`from_columns` for columns the driver already decoded: reads the
    property's value from ``row`` at its first column's index. None when the value is
    the column's, as it is."""
    kind = prop.kind
    if kind is Kind.INSTANT:
        return lambda row, i: None if row[i] is None else format_instant(row[i])
    if kind is Kind.INTERVAL:
        return lambda row, i: None if row[i] is None else format_interval(
            row[i], row[i + 1] if row[i + 1] is not None else row[i])
    if kind is Kind.INSTANT_OR_INTERVAL:
        return lambda row, i: None if row[i] is None else format_interval(row[i], row[i + 1])
    if kind is Kind.RESULT:
        return lambda row, i: decode_result(row[i], row[i + 1], row[i + 2], row[i + 3])
    return None
