"""$filter (and $orderby expressions) on a small, hand-made town, on both backends.

Every expected answer below is derived by hand from the data set in ``town`` and the
SensorThings 1.1 rules (OGC 18-088 §9.3.3.5, built-in operators and functions), with the
implementation's documented choices where the specification leaves room:

* a result is typed: ``result gt 3`` looks at numeric results only, ``result gt '3'`` at
  string results only, ``result eq true`` at boolean results only;
* null (a null resultTime, a missing JSON key) matches no comparison with a value, not even
  ``ne``, and ``not`` of such a comparison does not match it either (SQL's rule, as FROST
  has it; the issue asks that a null time match no comparison); it is ``eq null``;
* a phenomenonTime that is an interval is half-open ``[start, end)``; ``lt`` means
  "before" and ``gt`` "after" (compile.py ``_compare_spans`` / ``_interval``);
* a path through a to-many relation means "any of them";
* null sorts as the largest value in ``$orderby`` (after values ascending, first descending).

All tests of one backend share one app and one data set (module-scoped), since no test
here writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from conftest import Api, TestClient, make_app
from quartier.settings import Settings

Ids = dict[str, int]

# -- the data set ------------------------------------------------------------------------
#
# Things                      properties                                         Location
#   T1 "Pegel Nord"           {"district": "Nord", "lamps": 12,                  L1 POINT(1 1)
#      "water level gauge"     "info": {"owner": "Stadt", "year": 2020}}
#   T2 "Lampe Süd"            {"district": "Süd", "lamps": 4,                    L2 POINT(5 5)
#      "Street Light"          "info": {"owner": "Land"}}
#   T3 "Bare"                 (none)                                             L3 LINESTRING(0 0, 3 4)
#      "  padded  "
#
# Datastreams: D1 "Level" (T1, unit cm), D2 "Status" (T2, unit 1), D3 "Empty" (T3, no obs)
#
# FeaturesOfInterest (square = POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))):
#   F1 POINT(1 1) inside the square       F2 the square itself
#   F3 LINESTRING(-1 2, 6 2) crossing it   F4 POINT(4 2) on its edge
#   F5 POINT(10 10) far away
#
# Observations (day = 2026-01-01):
#   O1  D1 F1  result 1        pt day 00:00                 rt day 00:00:05   params {method radar, depth 2}
#   O2  D1 F2  result 2.5      pt day 01:00                 rt null
#   O3  D1 F1  result -2.5     pt day 00:00/day 02:00       rt 2026-01-02T00:00:00Z
#   O4  D1 F4  result 7        pt day 02:00/day 03:00       rt null
#   O5  D1 F1  result 10       pt 2026-02-28T12:34:56.250Z  rt null             params {method manual}
#   O6  D2 F3  "Hello World"   pt 2026-03-15T23:59:59Z      rt 2026-03-16T00:00:00Z
#   O7  D2 F3  "10"            pt 2025-12-31T23:00:00Z      rt null
#   O8  D2 F5  true            pt day 03:00                 rt null
#   O9  D2 F5  null            pt day 04:00                 rt null
#   O10 D2 F5  {"level": 5, "max": 10, "status": "ok", "nested": {"a": 1}}   pt day 05:00   rt null
#   O11 D2 F3  false           pt day 06:00                 rt null
#
# D1's observedArea is the convex hull of F1, F2, F4: the square. D2's is the hull of F3 and
# F5: the triangle (-1 2), (6 2), (10 10). D3 has none.

SQUARE = "POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))"
DAY = "2026-01-01"
ALL_OBS = {f"O{i}" for i in range(1, 12)}
D1_OBS = {"O1", "O2", "O3", "O4", "O5"}
D2_OBS = ALL_OBS - D1_OBS


def _point(x: float, y: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [x, y]}


def _location(name: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "description": f"location {name}",
            "encodingType": "application/geo+json", "location": geometry}


def _feature(name: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "description": f"feature {name}",
            "encodingType": "application/geo+json", "feature": geometry}


def _datastream(name: str, symbol: str, thing: int) -> dict[str, Any]:
    return {
        "name": name, "description": f"datastream {name}",
        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        "unitOfMeasurement": {"name": name, "symbol": symbol, "definition": "https://example.org/u"},
        "Thing": {"@iot.id": thing},
        "Sensor": {"name": f"sensor {name}", "description": "s", "encodingType": "application/pdf",
                   "metadata": "https://example.org/s.pdf"},
        "ObservedProperty": {"name": f"property {name}", "definition": "https://example.org/p",
                             "description": "p"},
    }


THINGS = {
    "T1": ("Pegel Nord", "water level gauge",
           {"district": "Nord", "lamps": 12, "info": {"owner": "Stadt", "year": 2020}},
           ("L1", _point(1, 1))),
    "T2": ("Lampe Süd", "Street Light", {"district": "Süd", "lamps": 4, "info": {"owner": "Land"}},
           ("L2", _point(5, 5))),
    "T3": ("Bare", "  padded  ", None,
           ("L3", {"type": "LineString", "coordinates": [[0, 0], [3, 4]]})),
}
FEATURES = {
    "F1": _point(1, 1),
    "F2": {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]]},
    "F3": {"type": "LineString", "coordinates": [[-1, 2], [6, 2]]},
    "F4": _point(4, 2),
    "F5": _point(10, 10),
}
DATASTREAMS = {"D1": ("Level", "cm", "T1"), "D2": ("Status", "1", "T2"), "D3": ("Empty", "m", "T3")}
OBSERVATIONS: dict[str, tuple[str, str, Any, str, str | None, dict[str, Any] | None]] = {
    "O1": ("D1", "F1", 1, f"{DAY}T00:00:00Z", f"{DAY}T00:00:05Z", {"method": "radar", "depth": 2}),
    "O2": ("D1", "F2", 2.5, f"{DAY}T01:00:00Z", None, None),
    "O3": ("D1", "F1", -2.5, f"{DAY}T00:00:00Z/{DAY}T02:00:00Z", "2026-01-02T00:00:00Z", None),
    "O4": ("D1", "F4", 7, f"{DAY}T02:00:00Z/{DAY}T03:00:00Z", None, None),
    "O5": ("D1", "F1", 10, "2026-02-28T12:34:56.250Z", None, {"method": "manual"}),
    "O6": ("D2", "F3", "Hello World", "2026-03-15T23:59:59Z", "2026-03-16T00:00:00Z", None),
    "O7": ("D2", "F3", "10", "2025-12-31T23:00:00Z", None, None),
    "O8": ("D2", "F5", True, f"{DAY}T03:00:00Z", None, None),
    "O9": ("D2", "F5", None, f"{DAY}T04:00:00Z", None, None),
    "O10": ("D2", "F5", {"level": 5, "max": 10, "status": "ok", "nested": {"a": 1}}, f"{DAY}T05:00:00Z",
            None, None),
    "O11": ("D2", "F3", False, f"{DAY}T06:00:00Z", None, None),
}


def build_town(api: Api) -> Ids:
    ids: Ids = {}
    for label, (name, description, properties, (loc_label, geometry)) in THINGS.items():
        body: dict[str, Any] = {"name": name, "description": description,
                                "Locations": [_location(loc_label, geometry)]}
        if properties is not None:
            body["properties"] = properties
        ids[label] = api.create("Things", body)
        ids[loc_label] = api.ok(f"Things({ids[label]})/Locations")["value"][0]["@iot.id"]
    for label, geometry in FEATURES.items():
        ids[label] = api.create("FeaturesOfInterest", _feature(label, geometry))
    for label, (name, symbol, thing) in DATASTREAMS.items():
        ids[label] = api.create("Datastreams", _datastream(name, symbol, ids[thing]))
    for label, (ds, foi, result, phenomenon, result_time, parameters) in OBSERVATIONS.items():
        body = {"result": result, "phenomenonTime": phenomenon, "resultTime": result_time,
                "Datastream": {"@iot.id": ids[ds]}, "FeatureOfInterest": {"@iot.id": ids[foi]}}
        if parameters is not None:
            body["parameters"] = parameters
        ids[label] = api.create("Observations", body)
    return ids


@pytest.fixture(scope="module")
def town_api(module_settings: Settings) -> Iterator[Api]:
    with TestClient(make_app(module_settings), raise_server_exceptions=False) as client:
        yield Api(client)


@pytest.fixture(scope="module")
def town(town_api: Api) -> Ids:
    return build_town(town_api)


@pytest.fixture
def api(town_api: Api, town: Ids) -> Api:
    """The shared app of this backend, with the town in it (these tests only read)."""
    return town_api


# -- helpers -----------------------------------------------------------------------------

_LABEL = re.compile(r"<([A-Z]\d+)>")


def fill_ids(text: str, ids: Ids) -> str:
    """``<T1>`` in a filter becomes the id the server gave T1."""
    return _LABEL.sub(lambda m: str(ids[m.group(1)]), text)


def labels(ids: Ids, prefix: str, values: list[dict[str, Any]]) -> list[str]:
    by_id = {v: k for k, v in ids.items() if k[0] == prefix}
    return [by_id[v["@iot.id"]] for v in values]


def found(api: Api, ids: Ids, path: str, expression: str, **params: Any) -> set[str]:
    """The labels of the entities ``path?$filter=expression`` returns (one page)."""
    path = fill_ids(path, ids)
    collection = path.rsplit("/", 1)[-1]
    prefix = {"Things": "T", "Locations": "L", "Datastreams": "D", "Observations": "O",
              "FeaturesOfInterest": "F"}[collection]
    body = api.ok(path, **{"$filter": fill_ids(expression, ids), "$top": 1000, **params})
    assert "@iot.nextLink" not in body
    result = labels(ids, prefix, body["value"])
    assert len(result) == len(set(result)), f"duplicates in {result}"
    return set(result)


def check(api: Api, ids: Ids, path: str, expression: str, expected: set[str]) -> None:
    assert found(api, ids, path, expression) == expected, f"{path}?$filter={expression}"


def assert_filter_error(response: Any, *mentions: str, position: int | None = None) -> str:
    assert response.status_code == 400, f"{response.status_code}: {response.text[:500]}"
    assert response.headers.get("content-type", "").startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("code"), str) and body["code"], body
    message = body.get("message")
    assert isinstance(message, str) and message.strip(), body
    for word in mentions:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    if position is not None:
        assert f"at position {position}" in message, message
    return message


def obs(*numbers: int) -> set[str]:
    return {f"O{n}" for n in numbers}


def case(path: str, expression: str, expected: set[str], id_: str | None = None) -> Any:
    return pytest.param(path, expression, expected, id=id_ or expression[:60])


# -- comparison, logic, precedence -------------------------------------------------------

COMPARISONS = [
    case("Things", "name eq 'Lampe Süd'", {"T2"}),
    case("Things", "name ne 'Bare'", {"T1", "T2"}),
    # Strings order by code point on both backends ('B' < 'L' < 'P').
    case("Things", "name gt 'Lampe Süd'", {"T1"}),
    case("Things", "name ge 'Lampe Süd'", {"T1", "T2"}),
    case("Things", "name lt 'Lampe Süd'", {"T3"}),
    case("Things", "name le 'Bare'", {"T3"}),
    case("Things", "name eq 'O''Brien'", set(), "doubled quote in a string"),
    case("Things", "name in ('Bare', 'Lampe Süd', 'nobody')", {"T2", "T3"}),
    case("Observations", "result in (1, 7, 99)", obs(1, 4)),
    case("Observations", "result in ('10', 'x')", obs(7)),
    case("Observations", "id eq <O3>", obs(3)),
    case("Observations", "id in (<O2>, <O9>)", obs(2, 9)),
    case("Observations", "result gt 2 and result lt 8", obs(2, 4)),
    case("Observations", "result gt -3 and result lt 0", obs(3)),
    case("Observations", "result eq 2.5 or result eq true", obs(2, 8)),
    case("Datastreams(<D1>)/Observations", "result ne 1", obs(2, 3, 4, 5)),
    case("Datastreams(<D1>)/Observations", "result le 2.5", obs(1, 2, 3)),
    case("Datastreams(<D1>)/Observations", "result ge 7", obs(4, 5)),
    case("Datastreams(<D1>)/Observations", "not (result gt 3)", obs(1, 2, 3)),
    # or binds looser than and: Bare or (Pegel Nord and false)
    case("Things", "name eq 'Bare' or name eq 'Pegel Nord' and properties/lamps gt 100", {"T3"},
         "or binds looser than and"),
    case("Things", "(name eq 'Bare' or name eq 'Pegel Nord') and properties/lamps gt 10", {"T1"},
         "parentheses group first"),
    case("Things", "name eq 'Pegel Nord' and properties/lamps gt 100 or name eq 'Bare'", {"T3"},
         "and first, then or"),
    # Documented precedence: not is looser than comparisons, so this is not (name eq 'Bare').
    case("Things", "not name eq 'Bare'", {"T1", "T2"}),
    case("Things", "not not name eq 'Bare'", {"T3"}),
    case("Things", "not (name eq 'Bare' or name eq 'Lampe Süd')", {"T1"}),
    case("Things", "true", {"T1", "T2", "T3"}),
    case("Things", "false or 1 eq 1", {"T1", "T2", "T3"}),
    case("Things", "1 eq 2", set()),
    # OData 4.01: operators and function names are case-insensitive.
    case("Things", "name EQ 'Bare' Or TOLOWER(name) Eq 'pegel nord'", {"T1", "T3"},
         "case-insensitive operators"),
]


@pytest.mark.parametrize(("path", "expression", "expected"), COMPARISONS)
def test_comparison_and_logic(api: Api, town: Ids, path: str, expression: str, expected: set[str]) -> None:
    check(api, town, path, expression, expected)


ARITHMETIC = [
    case("Observations", "result add 1 eq 2", obs(1)),
    case("Observations", "result sub 1 eq 6", obs(4)),
    case("Observations", "result mul 2 eq 5", obs(2)),
    case("Observations", "result div 2 eq 5", obs(5)),
    case("Observations", "result eq 10 div 4", obs(2), "div is not integer division"),
    case("Observations", "result mod 3 eq 1", obs(1, 4, 5)),
    # The sign of mod follows the dividend on both backends: -2.5 mod 2 = -0.5.
    case("Observations", "result mod 2 eq -0.5", obs(3)),
    # mul before add: 7 + 2*3 = 13 (and (7+2)*3 = 27 with parentheses)
    case("Observations", "result add 2 mul 3 eq 13", obs(4), "mul before add"),
    case("Observations", "(result add 2) mul 3 eq 27", obs(4)),
    # left-associative: (7 - 1) - 1 = 5, and (10 / 2) / 5 = 1
    case("Observations", "result sub 1 sub 1 eq 5", obs(4), "sub is left-associative"),
    case("Observations", "result div 2 div 5 eq 1", obs(5), "div is left-associative"),
    case("Observations", "result eq 7 mod 4 sub 2", obs(1)),
    case("Observations", "-result eq 2.5", obs(3), "unary minus on a property"),
    case("Observations", "result eq -2.5", obs(3)),
    case("Observations", "result eq 0 sub 2.5", obs(3)),
    case("Observations", "result eq --1", obs(1), "double negation"),
    case("Observations", "result eq 10.0", obs(5)),
    case("Observations", "result eq 1e1", obs(5)),
    case("Observations", "result eq 10L", obs(5), "number with a type suffix"),
    case("Observations", "result div 0 eq 1", set(), "division by zero is no match"),
    case("Observations", "result mod 0 eq 1", set(), "mod by zero is no match"),
    case("Observations", "result eq 99999999999999999999", set(), "huge integer literal"),
]


@pytest.mark.parametrize(("path", "expression", "expected"), ARITHMETIC)
def test_arithmetic(api: Api, town: Ids, path: str, expression: str, expected: set[str]) -> None:
    check(api, town, path, expression, expected)


# -- literal typing and null -------------------------------------------------------------

TYPING = [
    case("Observations", "result gt 3", obs(4, 5), "numbers only, never the string '10'"),
    case("Observations", "result gt '3'", obs(6), "strings only: 'Hello World' > '3' > '10'"),
    case("Observations", "result eq 10", obs(5)),
    case("Observations", "result eq '10'", obs(7)),
    case("Observations", "result eq true", obs(8)),
    case("Observations", "result eq false", obs(11)),
    case("Observations", "result", obs(8), "result alone means result eq true"),
    case("Observations", "result eq null", obs(9)),
    case("Observations", "result ne null", ALL_OBS - obs(9)),
    case("Observations", "resultTime eq null", obs(2, 4, 5, 7, 8, 9, 10, 11)),
    case("Observations", "resultTime ne null", obs(1, 3, 6)),
    case("Observations", "validTime eq null", ALL_OBS),
    case("Observations", "parameters/method ne null", obs(1, 5)),
    case("Observations", "parameters/method eq null", ALL_OBS - obs(1, 5)),
    case("Things", "properties/district eq null", {"T3"}),
    case("Things", "properties/district ne null", {"T1", "T2"}),
    case("Things", "properties/lamps eq '12'", set(), "a JSON number is not the string '12'"),
    case("Things", "properties/lamps eq 12", {"T1"}),
    case("Datastreams", "observedArea eq null", {"D3"}),
    case("Datastreams", "phenomenonTime eq null", {"D3"}),
    # A null resultTime matches no comparison with a time: neither lt nor ge.
    case("Observations", "resultTime lt 2026-01-01T12:00:00Z", obs(1)),
    case("Observations", "resultTime ge 2026-01-01T12:00:00Z", obs(3, 6)),
    case("Observations", "resultTime lt 2026-01-01T12:00:00Z or resultTime ge 2026-01-01T12:00:00Z",
         obs(1, 3, 6), "null resultTime is neither lt nor ge"),
]


@pytest.mark.parametrize(("path", "expression", "expected"), TYPING)
def test_literal_typing_and_null(
    api: Api, town: Ids, path: str, expression: str, expected: set[str]
) -> None:
    check(api, town, path, expression, expected)


def test_null_matches_no_comparison(api: Api, town: Ids) -> None:
    """A null value is neither equal nor unequal to a value: ``ne`` skips it too."""
    check(api, town, "Observations", "resultTime ne 2026-01-01T00:00:05Z", obs(3, 6))
    check(api, town, "Things", "properties/district ne 'Nord'", {"T2"})


def test_not_over_a_comparison_with_null(api: Api, town: Ids) -> None:
    """``not`` of an unknown comparison stays unknown: the rows with a null resultTime are
    in neither ``X`` nor ``not X``."""
    check(api, town, "Observations", "not (resultTime lt 2026-01-01T12:00:00Z)", obs(3, 6))


def test_result_compared_with_result(api: Api, town: Ids) -> None:
    """Every non-null result equals itself, whatever its type."""
    check(api, town, "Datastreams(<D1>)/Observations", "result eq result", D1_OBS)
    check(api, town, "Observations", "result eq result", ALL_OBS - obs(9))


def test_json_numbers_compare_as_numbers(api: Api, town: Ids) -> None:
    """Two JSON numbers compare by value: 5 < 10 although '5' > '10' as text."""
    check(api, town, "Observations", "result/level lt result/max", obs(10))
    check(api, town, "Observations", "result/max gt result/level", obs(10))
    check(api, town, "Observations", "result/level gt result/nested/a", obs(10))


def test_in_with_more_than_ten_values(api: Api, town: Ids) -> None:
    values = ", ".join(str(n) for n in range(100, 111))  # 11 values that match nothing
    check(api, town, "Observations", f"result in ({values}, 7)", obs(4))
    names = ", ".join(f"'n{n}'" for n in range(12))
    check(api, town, "Things", f"name in ({names}, 'Bare')", {"T3"})


# -- string functions --------------------------------------------------------------------

STRINGS = [
    case("Things", "substringof('Nord', name)", {"T1"}),
    case("Things", "substringof('pe', name)", {"T2"}, "substringof is case-sensitive"),
    case("Things", "substringof('light', tolower(description))", {"T2"}),
    case("Things", "startswith(name, 'Pe')", {"T1"}),
    case("Things", "startswith(name, 'pe')", set()),
    case("Things", "endswith(name, 'Süd')", {"T2"}),
    case("Things", "endswith(name, 'e')", {"T3"}),
    case("Things", "endswith(name, 'Bare and more')", set()),
    case("Things", "length(name) eq 4", {"T3"}),
    case("Things", "length(name) eq 9", {"T2"}, "length counts characters, not bytes"),
    case("Things", "indexof(name, 'Nord') eq 6", {"T1"}, "indexof is 0-based"),
    case("Things", "indexof(name, 'e') eq 1", {"T1"}),
    case("Things", "indexof(name, 'x') eq -1", {"T1", "T2", "T3"}, "indexof is -1 when absent"),
    case("Things", "substring(name, 6) eq 'Nord'", {"T1"}, "substring is 0-based"),
    case("Things", "substring(name, 6) eq 'Süd'", {"T2"}),
    case("Things", "substring(name, 0, 3) eq 'Peg'", {"T1"}),
    case("Things", "substring(name, 1, 2) eq 'ar'", {"T3"}),
    case("Things", "substring(name, 10) eq ''", {"T1", "T2", "T3"}),
    # tolower/toupper on ASCII only: a PostgreSQL database with a C locale leaves 'ü' alone,
    # where SQLite (Python) maps it.
    case("Things", "tolower(name) eq 'pegel nord'", {"T1"}),
    case("Things", "toupper(name) eq 'BARE'", {"T3"}),
    case("Things", "trim(description) eq 'padded'", {"T3"}),
    case("Things", "description eq '  padded  '", {"T3"}),
    case("Things", "concat(name, '!') eq 'Bare!'", {"T3"}),
    case("Things", "concat(concat(name, '/'), description) eq 'Pegel Nord/water level gauge'", {"T1"}),
    case("Things", "length(concat(name, description)) eq 14", {"T3"}),
    case("Things", "name eq concat('Ba', 're')", {"T3"}),
    # on results: only string results take part
    case("Observations", "substringof('World', result)", obs(6)),
    case("Observations", "startswith(result, '1')", obs(7), "numeric result 1 or 10 is no string"),
    case("Observations", "endswith(result, 'd')", obs(6)),
    case("Observations", "length(result) eq 2", obs(7)),
    case("Observations", "tolower(result) eq 'hello world'", obs(6)),
    case("Observations", "toupper(result) eq 'HELLO WORLD'", obs(6)),
    case("Observations", "indexof(result, 'World') eq 6", obs(6)),
    case("Observations", "substring(result, 6) eq 'World'", obs(6)),
    case("Observations", "substring(result, 0, 5) eq 'Hello'", obs(6)),
    case("Observations", "concat(result, 'x') eq '10x'", obs(7)),
    case("Observations", "trim(concat(' ', result)) eq 'Hello World'", obs(6)),
    case("Observations", "result/status eq 'ok' and length(result/status) eq 2", obs(10)),
    case("Datastreams", "startswith(Thing/name, 'Lampe')", {"D2"}),
]


@pytest.mark.parametrize(("path", "expression", "expected"), STRINGS)
def test_string_functions(api: Api, town: Ids, path: str, expression: str, expected: set[str]) -> None:
    check(api, town, path, expression, expected)


# -- math --------------------------------------------------------------------------------

MATH = [
    # round is half away from zero on both backends
    case("Observations", "round(result) eq 3", obs(2), "round 2.5 is 3"),
    case("Observations", "round(result) eq -3", obs(3), "round -2.5 is -3"),
    case("Observations", "round(result) eq 1", obs(1)),
    case("Observations", "floor(result) eq 2", obs(2)),
    case("Observations", "floor(result) eq -3", obs(3)),
    case("Observations", "ceiling(result) eq 3", obs(2)),
    case("Observations", "ceiling(result) eq -2", obs(3)),
    case("Observations", "floor(result) eq result", obs(1, 4, 5), "whole numbers only"),
    case("Things", "round(0.5) eq 1 and round(-0.5) eq -1 and round(1.5) eq 2 and round(-1.4) eq -1",
         {"T1", "T2", "T3"}, "round of constants"),
    case("Things", "floor(-0.5) eq -1 and ceiling(-0.5) eq 0 and ceiling(0.1) eq 1",
         {"T1", "T2", "T3"}, "floor and ceiling of constants"),
    case("Things", "round(properties/lamps div 5) eq 2", {"T1"}, "12/5 = 2.4"),
    case("Things", "floor(properties/lamps div 5) eq 0", {"T2"}, "4/5 = 0.8"),
]


@pytest.mark.parametrize(("path", "expression", "expected"), MATH)
def test_math_functions(api: Api, town: Ids, path: str, expression: str, expected: set[str]) -> None:
    check(api, town, path, expression, expected)


# -- date and time -----------------------------------------------------------------------

TIMES = [
    case("Observations", "year(phenomenonTime) eq 2025", obs(7)),
    case("Observations", "month(phenomenonTime) eq 2", obs(5)),
    case("Observations", "day(phenomenonTime) eq 28", obs(5)),
    case("Observations", "hour(phenomenonTime) eq 12", obs(5)),
    case("Observations", "minute(phenomenonTime) eq 34", obs(5)),
    case("Observations", "second(phenomenonTime) eq 56", obs(5)),
    case("Observations", "second(phenomenonTime) eq 59", obs(6)),
    case("Observations", "fractionalseconds(phenomenonTime) eq 0.25", obs(5)),
    case("Observations", "fractionalseconds(phenomenonTime) gt 0", obs(5)),
    case("Observations", "hour(phenomenonTime) eq 2", obs(4), "of an interval, its start"),
    case("Observations", "day(resultTime) eq 2", obs(3)),
    case("Observations", "date(phenomenonTime) eq 2026-02-28", obs(5)),
    case("Observations", "date(phenomenonTime) lt 2026-01-01", obs(7)),
    case("Observations", "date(resultTime) eq 2026-01-02", obs(3)),
    case("Observations", "time(phenomenonTime) eq 12:34:56.250", obs(5)),
    case("Observations", "time(phenomenonTime) eq 23:59:59", obs(6)),
    case("Observations", "time(phenomenonTime) lt 00:30:00", obs(1, 3)),
    case("Observations", "totaloffsetminutes(phenomenonTime) eq 0", ALL_OBS, "stored in UTC"),
    case("Observations", "totaloffsetminutes(resultTime) eq 0", obs(1, 3, 6)),
    case("Observations", "phenomenonTime gt mindatetime()", ALL_OBS),
    case("Observations", "resultTime lt maxdatetime()", obs(1, 3, 6)),
    case("Observations", "resultTime gt maxdatetime()", set()),
    # offsets: 01:00+01:00 is 00:00Z, 00:00-01:00 is 01:00Z
    case("Observations", "phenomenonTime eq 2026-01-01T01:00:00+01:00", obs(1), "offset +01:00"),
    case("Observations", "phenomenonTime eq 2026-01-01T00:00:00-01:00", obs(2), "offset -01:00"),
    case("Observations", "resultTime eq 2026-01-01T00:00:05.000Z", obs(1)),
    case("Observations", "resultTime eq 2026-01-01T00:00:05.000001Z", set(), "microseconds count"),
    case("Observations", "resultTime eq 2026-01-01T01:00:05+01:00", obs(1)),
    # durations
    case("Observations", "phenomenonTime add duration'P1D' eq 2026-01-02T01:00:00Z", obs(2)),
    case("Observations", "phenomenonTime add duration'P1M' eq 2026-03-28T12:34:56.250Z", obs(5),
         "a month is a calendar month"),
    case("Observations", "phenomenonTime sub duration'PT1H' eq 2026-01-01T00:00:00Z", obs(2)),
    case("Observations", "duration'PT1H' add phenomenonTime eq 2026-01-01T02:00:00Z", obs(2)),
    case("Observations", "phenomenonTime sub duration'-P1D' eq 2026-01-02T01:00:00Z", obs(2)),
    case("Observations", "phenomenonTime add -duration'P1D' eq 2025-12-31T01:00:00Z", obs(2)),
    case("Observations", "phenomenonTime add duration'PT1H30M' eq 2026-01-01T02:30:00Z", obs(2)),
    case("Observations", "resultTime sub phenomenonTime eq duration'PT5S'", obs(1)),
    case("Observations", "resultTime sub phenomenonTime gt duration'PT1H'", obs(3)),
    case("Observations", "resultTime sub phenomenonTime lt duration'PT2S'", obs(6)),
    case("Observations", "resultTime sub phenomenonTime lt duration'P1M'", obs(1, 3, 6)),
    case("Observations", "resultTime sub phenomenonTime ge duration'P1D'", obs(3)),
]


@pytest.mark.parametrize(("path", "expression", "expected"), TIMES)
def test_date_and_time(api: Api, town: Ids, path: str, expression: str, expected: set[str]) -> None:
    check(api, town, path, expression, expected)


def test_now(api: Api, town: Ids) -> None:
    now = datetime.now(UTC)
    with_result_time = {label for label, row in OBSERVATIONS.items() if row[4] is not None}
    before_now = {label for label in with_result_time
                  if datetime.fromisoformat(str(OBSERVATIONS[label][4])) < now}
    assert before_now, "the data set lies in the future of this machine's clock"
    check(api, town, "Observations", "resultTime lt now()", before_now)
    check(api, town, "Observations", "now() gt 2026-01-01T00:00:00Z and now() lt 2100-01-01T00:00:00Z",
          ALL_OBS if now.year < 2100 else set())
    check(api, town, "Observations", "phenomenonTime gt now()", set())


def test_parts_of_min_and_max_datetime(api: Api, town: Ids) -> None:
    """mindatetime() is 0001-01-01T00:00:00Z and maxdatetime() 9999-12-31T23:59:59.999999Z:
    real times with parts, not infinities."""
    everything = {"T1", "T2", "T3"}
    check(api, town, "Things", "year(mindatetime()) eq 1 and month(mindatetime()) eq 1", everything)
    check(api, town, "Things", "year(maxdatetime()) eq 9999 and second(maxdatetime()) eq 59", everything)
    check(api, town, "Things", "year(0001-01-01T00:00:00Z) eq 1", everything)


def test_time_arithmetic_past_year_9999(api: Api, town: Ids) -> None:
    """A computed time outside the years 1 to 9999 is null on both backends, so it matches
    no comparison; the same answer from each, and no error."""
    for op in ("gt", "lt"):
        response = api.get("Observations", **{
            "$filter": f"phenomenonTime add duration'P9999Y' {op} 2026-01-01T00:00:00Z", "$top": 1000,
        })
        assert response.status_code == 200, response.text
        assert response.json()["value"] == []


def test_total_offset_minutes_of_a_literal(api: Api, town: Ids) -> None:
    """OData: totaloffsetminutes is the offset written in the value, 60 for +01:00."""
    check(api, town, "Things", "totaloffsetminutes(2026-01-01T01:00:00+01:00) eq 60", {"T1", "T2", "T3"})


def test_unencoded_plus_in_an_offset(api: Api, town: Ids) -> None:
    """A '+' sent unencoded arrives as a space; the offset still counts."""
    body = api.client.get(api.url("Observations?$filter=phenomenonTime eq 2026-01-01T01:00:00+01:00"))
    assert body.status_code == 200, body.text
    assert set(labels(town, "O", body.json()["value"])) == obs(1)


# -- intervals ---------------------------------------------------------------------------

X = f"{DAY}T00:00:00Z/{DAY}T02:00:00Z"
INTERVALS = [
    # before: ends before the other starts (an interval ending where it starts counts)
    case("Observations", f"before(phenomenonTime, {X})", obs(7)),
    case("Observations", f"after(phenomenonTime, {X})", obs(4, 5, 6, 8, 9, 10, 11),
         "after: starts at or after the end of a half-open interval"),
    case("Observations", f"meets(phenomenonTime, {X})", obs(1, 4)),
    case("Observations", f"during(phenomenonTime, {X})", obs(1, 2, 3)),
    case("Observations", f"overlaps(phenomenonTime, {X})", obs(1, 2, 3)),
    case("Observations", f"starts(phenomenonTime, {X})", obs(1, 3)),
    case("Observations", f"finishes(phenomenonTime, {X})", obs(3)),
    case("Observations", f"before(phenomenonTime, {DAY}T02:00:00Z)", obs(1, 2, 3, 7),
         "[00:00, 02:00) is before 02:00"),
    case("Observations", f"after(phenomenonTime, {DAY}T02:00:00Z)", obs(5, 6, 8, 9, 10, 11),
         "[02:00, 03:00) holds 02:00, so is not after it"),
    case("Observations", f"before({DAY}T01:30:00Z, phenomenonTime)", obs(4, 5, 6, 8, 9, 10, 11)),
    case("Observations", f"during({DAY}T01:30:00Z, phenomenonTime)", obs(3)),
    case("Observations", f"phenomenonTime lt {DAY}T02:00:00Z", obs(1, 2, 3, 7), "lt means before"),
    case("Observations", f"phenomenonTime gt {DAY}T02:00:00Z", obs(5, 6, 8, 9, 10, 11),
         "gt means after"),
    case("Observations", f"phenomenonTime ge {DAY}T03:00:00Z", obs(5, 6, 8, 9, 10, 11)),
    case("Observations", f"phenomenonTime le {DAY}T01:00:00Z", obs(1, 2, 7)),
    case("Observations", f"phenomenonTime eq {DAY}T01:00:00Z", obs(2)),
    case("Observations", f"phenomenonTime eq {DAY}T00:00:00Z", obs(1), "an interval is not its start"),
    case("Observations", f"phenomenonTime eq {X}", obs(3)),
    case("Observations", f"phenomenonTime ne {X}", ALL_OBS - obs(3)),
    case("Observations", f"phenomenonTime lt {DAY}T02:00:00Z/{DAY}T03:00:00Z", obs(1, 2, 3, 7)),
    case("Observations", f"{DAY}T02:00:00Z gt phenomenonTime", obs(1, 2, 3, 7), "mirrored"),
    case("Observations", f"resultTime lt {X}", set(), "resultTime of O1 lies inside"),
    case("Observations", f"during(resultTime, {X})", obs(1)),
    case("Datastreams", f"overlaps(phenomenonTime, {X})", {"D1", "D2"}),
    case("Datastreams", "during(phenomenonTime, 2025-12-31T23:00:00Z/2026-03-15T23:59:59Z)", {"D1", "D2"}),
    case("Datastreams", "during(phenomenonTime, 2026-01-01T00:00:00Z/2026-03-15T23:59:59Z)", {"D1"}),
]


@pytest.mark.parametrize(("path", "expression", "expected"), INTERVALS)
def test_interval_functions(api: Api, town: Ids, path: str, expression: str, expected: set[str]) -> None:
    check(api, town, path, expression, expected)


# -- geometry ----------------------------------------------------------------------------

GEO = [
    case("FeaturesOfInterest", f"st_equals(feature, geography'{SQUARE}')", {"F2"}),
    case("FeaturesOfInterest", f"st_within(feature, geography'{SQUARE}')", {"F1", "F2"},
         "a point on the edge is not within"),
    case("FeaturesOfInterest", "st_contains(feature, geography'POINT(1 1)')", {"F1", "F2"}),
    case("FeaturesOfInterest", f"st_contains(geography'{SQUARE}', feature)", {"F1", "F2"}),
    case("FeaturesOfInterest", f"st_touches(feature, geography'{SQUARE}')", {"F4"}),
    case("FeaturesOfInterest", f"st_crosses(feature, geography'{SQUARE}')", {"F3"}),
    case("FeaturesOfInterest", "st_overlaps(feature, geography'POLYGON((2 2, 6 2, 6 6, 2 6, 2 2))')",
         {"F2"}),
    case("FeaturesOfInterest", f"st_intersects(feature, geography'{SQUARE}')", {"F1", "F2", "F3", "F4"}),
    case("FeaturesOfInterest", f"geo.intersects(feature, geography'{SQUARE}')", {"F1", "F2", "F3", "F4"}),
    case("FeaturesOfInterest", f"st_disjoint(feature, geography'{SQUARE}')", {"F5"}),
    case("FeaturesOfInterest", f"not st_disjoint(feature, geography'{SQUARE}')", {"F1", "F2", "F3", "F4"}),
    case("FeaturesOfInterest", f"st_relate(feature, geography'{SQUARE}', 'T********')", {"F1", "F2", "F3"},
         "interiors intersect"),
    case("FeaturesOfInterest", f"st_relate(feature, geography'{SQUARE}', 'FF*FF****')", {"F5"},
         "DE-9IM of disjoint"),
    case("FeaturesOfInterest", f"st_relate(feature, geography'{SQUARE}', 'F0*******')", {"F4"},
         "point on the boundary"),
    # distances in CRS units (degrees)
    case("FeaturesOfInterest", "geo.distance(feature, geography'POINT(1 1)') eq 0", {"F1", "F2"}),
    case("FeaturesOfInterest", "geo.distance(feature, geography'POINT(1 1)') le 1", {"F1", "F2", "F3"}),
    case("FeaturesOfInterest", "geo.distance(feature, geography'POINT(7 -2)') eq 5", {"F4"},
         "(4 2) to (7 -2) is 5"),
    case("FeaturesOfInterest", "geo.distance(feature, geography'POINT(10 10)') lt 1", {"F5"}),
    case("FeaturesOfInterest", "geo.length(feature) eq 7", {"F3"}),
    case("FeaturesOfInterest", "geo.length(geography'LINESTRING(0 0, 3 4, 3 5)') eq 6", {"F1", "F2", "F3",
                                                                                          "F4", "F5"}),
    case("Locations", "geo.length(location) eq 5", {"L3"}),
    case("Locations", "geo.distance(location, geography'POINT(1 1)') lt 1", {"L1", "L3"},
         "the line passes 0.2 from (1 1)"),
    case("Locations", "st_equals(location, geometry'POINT(5 5)')", {"L2"}),
    case("Locations", f"st_within(location, geography'{SQUARE}')", {"L1", "L3"}),
    case("Datastreams", f"st_equals(observedArea, geography'{SQUARE}')", {"D1"},
         "hull of F1, F2 and F4"),
    case("Datastreams", "st_intersects(observedArea, geography'POINT(1 1)')", {"D1"}),
    case("Datastreams", "geo.intersects(observedArea, geography'POINT(10 10)')", {"D2"}),
    case("Datastreams", "st_contains(observedArea, geography'POINT(6 4)')", {"D2"},
         "inside the triangle (-1 2), (6 2), (10 10)"),
    case("Observations", f"st_within(FeatureOfInterest/feature, geography'{SQUARE}')", obs(1, 2, 3, 5)),
    case("Observations", f"st_touches(FeatureOfInterest/feature, geography'{SQUARE}')", obs(4)),
    case("Things", f"st_within(Locations/location, geography'{SQUARE}')", {"T1", "T3"}),
    case("Things", f"st_intersects(Datastreams/Observations/FeatureOfInterest/feature, geography'{SQUARE}')",
         {"T1", "T2"}),
]


@pytest.mark.parametrize(("path", "expression", "expected"), GEO)
def test_geospatial(api: Api, town: Ids, path: str, expression: str, expected: set[str]) -> None:
    check(api, town, path, expression, expected)


def test_geo_length_is_for_lines(api: Api, town: Ids) -> None:
    """geo.length measures lines (OData: 'the total length of its line string'); a polygon
    or a point has no length along a line, as PostGIS ST_Length answers. The backends must
    agree: a square of side 4 is not 16 long on one and 0 on the other."""
    check(api, town, "FeaturesOfInterest", "geo.length(feature) gt 1", {"F3"})
    check(api, town, "Observations", "geo.length(FeatureOfInterest/feature) gt 1", obs(6, 7, 11))


# -- related entities and JSON -----------------------------------------------------------

PATHS = [
    case("Observations", "Datastream/Thing/name eq 'Pegel Nord'", D1_OBS),
    case("Observations", "Datastream/name eq 'Status' and result eq null", obs(9)),
    case("Observations", "Datastream/id eq <D2> and result eq null", obs(9), "foreign key id"),
    case("Observations", "FeatureOfInterest/id eq <F5>", obs(8, 9, 10)),
    case("Observations", "FeatureOfInterest/name eq 'F3'", obs(6, 7, 11)),
    case("Datastreams", "Thing/id eq <T1>", {"D1"}),
    case("Datastreams", "Thing/properties/district eq 'Süd'", {"D2"}),
    case("Datastreams", "Sensor/name eq 'sensor Empty'", {"D3"}),
    case("Datastreams", "ObservedProperty/name eq 'property Level'", {"D1"}),
    case("Things", "Datastreams/Observations/result gt 5", {"T1"}, "any of the Observations"),
    case("Things", "Datastreams/Observations/result lt 0", {"T1"}),
    case("Things", "Datastreams/Observations/result eq '10'", {"T2"}),
    case("Things", "not (Datastreams/Observations/result gt 5)", {"T2", "T3"}, "none of them"),
    case("Things", "not Datastreams/Observations/result gt 5", {"T2", "T3"}),
    case("Things", "Datastreams/Observations/result eq 'Hello World' and Datastreams/name eq 'Status'",
         {"T2"}),
    case("Things", "Datastreams/Observations/FeatureOfInterest/name eq 'F4'", {"T1"}),
    case("Things", "Locations/name eq 'L3'", {"T3"}),
    case("Things", "HistoricalLocations/Locations/name eq 'L2'", {"T2"}),
    case("Locations", "Things/name eq 'Bare'", {"L3"}),
    case("FeaturesOfInterest", "Observations/result eq true", {"F5"}),
    case("FeaturesOfInterest", "Observations/Datastream/name eq 'Level'", {"F1", "F2", "F4"}),
    # JSON properties
    case("Things", "properties/district eq 'Nord'", {"T1"}),
    case("Things", "properties/district eq 'Süd'", {"T2"}),
    case("Things", "properties/lamps gt 10", {"T1"}),
    case("Things", "properties/lamps gt 3", {"T1", "T2"}),
    case("Things", "properties/lamps add 1 eq 5", {"T2"}),
    case("Things", "properties/info/owner eq 'Land'", {"T2"}, "nested key"),
    case("Things", "properties/info/year eq 2020", {"T1"}),
    case("Things", "properties/info/year eq null", {"T2", "T3"}),
    case("Things", "properties/nothing/deeper eq null", {"T1", "T2", "T3"}),
    case("Datastreams", "unitOfMeasurement/symbol eq 'cm'", {"D1"}),
    case("Datastreams", "unitOfMeasurement/name eq 'Status'", {"D2"}),
    case("Observations", "result/level eq 5", obs(10)),
    case("Observations", "result/level gt 4", obs(10)),
    case("Observations", "result/nested/a eq 1", obs(10)),
    case("Observations", "result/status eq 'ok'", obs(10)),
    case("Observations", "result/status eq 5", set()),
    case("Observations", "parameters/method eq 'radar'", obs(1)),
    case("Observations", "parameters/depth gt 1", obs(1)),
]


@pytest.mark.parametrize(("path", "expression", "expected"), PATHS)
def test_related_entities_and_json(
    api: Api, town: Ids, path: str, expression: str, expected: set[str]
) -> None:
    check(api, town, path, expression, expected)


# -- $orderby ----------------------------------------------------------------------------


def ordered(api: Api, ids: Ids, path: str, **params: Any) -> list[str]:
    path = fill_ids(path, ids)
    prefix = {"Things": "T", "Datastreams": "D", "Observations": "O"}[path.rsplit("/", 1)[-1]]
    filled = {key: fill_ids(str(value), ids) for key, value in params.items()}
    return labels(ids, prefix, api.ok(path, **{"$top": 1000, **filled})["value"])


@pytest.mark.parametrize(("path", "orderby", "expected"), [
    ("Datastreams(<D1>)/Observations", "result mul -1", ["O5", "O4", "O2", "O1", "O3"]),
    ("Datastreams(<D1>)/Observations", "result desc", ["O5", "O4", "O2", "O1", "O3"]),
    ("Datastreams(<D1>)/Observations", "result mod 3, result desc", ["O3", "O5", "O4", "O1", "O2"]),
    ("Things", "length(name) desc", ["T1", "T2", "T3"]),
    ("Things", "length(name)", ["T3", "T2", "T1"]),
    ("Things", "name", ["T3", "T2", "T1"]),
    ("Things", "properties/lamps desc", ["T3", "T1", "T2"]),
    ("Things", "properties/district", ["T1", "T2", "T3"]),
    ("Things", "properties/district desc", ["T3", "T2", "T1"]),
    # nulls are the largest value: last ascending, first descending, on both backends
    ("Observations", "resultTime", ["O1", "O3", "O6", "O2", "O4", "O5", "O7", "O8", "O9", "O10", "O11"]),
    # ties are broken by id in the direction of the last term
    ("Observations", "resultTime desc", ["O11", "O10", "O9", "O8", "O7", "O5", "O4", "O2", "O6", "O3", "O1"]),
    ("Observations", "resultTime desc, id asc",
     ["O2", "O4", "O5", "O7", "O8", "O9", "O10", "O11", "O6", "O3", "O1"]),
    ("Observations", "resultTime desc, id desc",
     ["O11", "O10", "O9", "O8", "O7", "O5", "O4", "O2", "O6", "O3", "O1"]),
    # intervals order by start, then end
    ("Observations", "phenomenonTime desc",
     ["O6", "O5", "O11", "O10", "O9", "O8", "O4", "O2", "O3", "O1", "O7"]),
    ("Observations", "phenomenonTime", ["O7", "O1", "O3", "O2", "O4", "O8", "O9", "O10", "O11", "O5", "O6"]),
    # through a to-one path
    ("Observations", "Datastream/name desc, phenomenonTime desc",
     ["O6", "O11", "O10", "O9", "O8", "O7", "O5", "O4", "O2", "O3", "O1"]),
    # result: numbers (false 0, true 1) first, then strings, then neither (null, JSON object)
    ("Observations", "Datastream/Thing/name desc, result, id",
     ["O3", "O1", "O2", "O4", "O5", "O11", "O8", "O7", "O6", "O9", "O10"]),
    ("Datastreams", "Thing/properties/lamps", ["D2", "D1", "D3"]),
])
def test_orderby(api: Api, town: Ids, path: str, orderby: str, expected: list[str]) -> None:
    assert ordered(api, town, path, **{"$orderby": orderby}) == expected


def test_orderby_result_numbers_then_strings_then_null(api: Api, town: Ids) -> None:
    order = ordered(api, town, "Observations", **{"$orderby": "result",
                                                  "$filter": "not (id in (<O8>, <O11>))"})
    assert order[:5] == ["O3", "O1", "O2", "O4", "O5"]  # -2.5, 1, 2.5, 7, 10
    assert order[5:7] == ["O7", "O6"]  # '10' < 'Hello World'
    assert set(order[7:]) == obs(9, 10)  # no number and no string: null and the JSON object


def test_orderby_with_filter_and_paging(api: Api, town: Ids) -> None:
    params = {"$filter": "Datastream/id eq <D1>", "$orderby": "result desc", "$top": 2, "$count": "true"}
    url: str | None = api.url(
        "Observations?" + "&".join(f"{k}={fill_ids(str(v), town)}" for k, v in params.items())
    )
    seen: list[str] = []
    pages = 0
    while url is not None and pages < 5:
        response = api.client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["@iot.count"] == 5
        seen.extend(labels(town, "O", body["value"]))
        url = body.get("@iot.nextLink")
        pages += 1
    assert pages == 3
    assert seen == ["O5", "O4", "O2", "O1", "O3"]


def test_orderby_through_to_many_is_refused(api: Api, town: Ids) -> None:
    response = api.get("Things", **{"$orderby": "Datastreams/name"})
    assert_filter_error(response, "to-many", position=1)
    response = api.get("Observations", **{"$orderby": "id, Datastream/Thing/Locations/name desc"})
    assert_filter_error(response, "to-many", position=5)


# -- $filter with the other options ------------------------------------------------------


def test_count_is_of_the_filtered_rows(api: Api, town: Ids) -> None:
    body = api.ok("Observations", **{"$filter": "result gt 3", "$count": "true"})
    assert body["@iot.count"] == 2
    assert set(labels(town, "O", body["value"])) == obs(4, 5)
    none = api.ok("Observations", **{"$filter": "result gt 100", "$count": "true"})
    assert none["@iot.count"] == 0
    assert none["value"] == []


def test_top_skip_and_next_link_keep_the_filter(api: Api, town: Ids) -> None:
    first = api.ok("Observations", **{"$filter": "resultTime eq null", "$top": 3, "$count": "true"})
    assert first["@iot.count"] == 8
    assert len(first["value"]) == 3
    seen = labels(town, "O", first["value"])
    url = first.get("@iot.nextLink")
    pages = 1
    while url is not None and pages < 6:
        assert "filter" in url
        body = api.client.get(url).json()
        assert body["@iot.count"] == 8
        seen.extend(labels(town, "O", body["value"]))
        url = body.get("@iot.nextLink")
        pages += 1
    assert pages == 3
    assert len(seen) == 8
    assert set(seen) == obs(2, 4, 5, 7, 8, 9, 10, 11)
    skipped = api.ok("Observations", **{"$filter": "resultTime eq null", "$skip": 6, "$orderby": "id"})
    assert labels(town, "O", skipped["value"]) == ["O10", "O11"]
    assert "@iot.nextLink" not in skipped


def test_filter_on_navigation_paths(api: Api, town: Ids) -> None:
    check(api, town, "Datastreams(<D1>)/Observations", "result gt 3", obs(4, 5))
    check(api, town, "Datastreams(<D2>)/Observations", "result gt 3", set())
    check(api, town, "Datastreams(<D2>)/Observations", "result eq '10'", obs(7))
    check(api, town, "Things(<T1>)/Datastreams", "unitOfMeasurement/symbol eq 'cm'", {"D1"})
    check(api, town, "Things(<T2>)/Datastreams", "unitOfMeasurement/symbol eq 'cm'", set())
    check(api, town, "FeaturesOfInterest(<F5>)/Observations", "result ne null", obs(8, 10))
    body = api.ok(fill_ids("Datastreams(<D1>)/Observations", town),
                  **{"$filter": "result lt 5", "$count": "true"})
    assert body["@iot.count"] == 3


def test_filter_inside_expand(api: Api, town: Ids) -> None:
    body = api.ok("Datastreams", **{
        "$expand": "Observations($filter=result gt 3;$count=true;$orderby=result desc)",
        "$orderby": "id",
    })
    expanded = {labels(town, "D", [d])[0]: d for d in body["value"]}
    assert labels(town, "O", expanded["D1"]["Observations"]) == ["O5", "O4"]
    assert expanded["D1"]["Observations@iot.count"] == 2
    assert expanded["D2"]["Observations"] == []
    assert expanded["D3"]["Observations"] == []
    # the outer filter and the expand's filter each apply to their own level
    things = api.ok("Things", **{
        "$filter": "Datastreams/Observations/result eq null",
        "$expand": "Datastreams($filter=name eq 'Status';$expand=Observations($filter=result eq true))",
    })
    assert labels(town, "T", things["value"]) == ["T2"]
    datastreams = things["value"][0]["Datastreams"]
    assert labels(town, "D", datastreams) == ["D2"]
    assert labels(town, "O", datastreams[0]["Observations"]) == ["O8"]
    # a to-one expand with a filter that excludes it
    one = api.ok(fill_ids("Observations(<O1>)", town), **{"$expand": "Datastream($filter=name eq 'x')"})
    assert one.get("Datastream") is None


def test_filter_inside_expand_errors(api: Api, town: Ids) -> None:
    response = api.get("Datastreams", **{"$expand": "Observations($filter=nope eq 1)"})
    assert_filter_error(response, "nope", position=1)


# -- errors ------------------------------------------------------------------------------

ERRORS = [
    # (collection, filter, words the message must contain, 1-based position or None)
    ("Things", "nope eq 1", ("no property", "nope"), 1),
    ("Things", "name eq 'x' and foo(name) eq 1", ("unknown function", "foo"), 17),
    ("Things", "length(name, 'a') eq 1", ("length()", "1 argument", "not 2"), 1),
    ("Things", "substring(name) eq 'a'", ("substring()", "2 or 3"), 1),
    ("Things", "now(1) lt now()", ("now()", "0 argument"), 1),
    ("Things", "name gt 3", ("cannot compare", "string", "number"), 6),
    ("Things", "year(name) eq 1", ("name", "string", "time"), 6),
    ("Things", "substring(name, 'a') eq 'x'", ("'a'", "number"), 17),
    ("Observations", "result gt 2026-01-01T00:00:00Z", ("cannot compare", "result", "time"), 8),
    ("Things", "properties eq 1", ("JSON object",), 12),
    ("Things", "geo.distance(name, geography'POINT(1 1)') lt 1", ("geometry",), 14),
    ("Things", "name eq 'abc", ("closing quote",), 9),
    ("Things", "(name eq 'a'", ("expected ')'",), 13),
    ("Things", "name eq 'a')", ("unexpected ')'",), 12),
    ("Things", "((name eq 'a')", ("expected ')'",), 15),
    ("Things", "length(name eq 'a'", ("expected ')'",), 19),
    ("Things", "name eq 'a' xyz", ("unexpected 'xyz'",), 13),
    ("Things", "name eq 'a' 5", ("unexpected '5'",), 13),
    ("Things", "1 lt 2 lt 3", ("cannot be chained",), 8),
    ("Things", "name eq 'a' eq true", ("cannot be chained",), 13),
    ("Observations", "phenomenonTime gt 2026-13-01T00:00:00Z", ("invalid literal", "2026-13-01"), 19),
    ("Observations", "phenomenonTime gt 2026-02-30T00:00:00Z", ("invalid literal",), 19),
    ("Observations", f"phenomenonTime gt {DAY}T02:00:00Z/{DAY}T01:00:00Z", ("ends before it starts",), 19),
    ("Observations", "phenomenonTime add duration'P1X' eq 1", ("duration",), 20),
    ("Locations", "st_within(location, geography'POLYGON((0 0, 1 1))')", ("invalid literal", "WKT"), 21),
    ("Locations", "st_within(location, geography'NOT A SHAPE')", ("WKT",), 21),
    ("Locations", "st_relate(location, geography'POINT(1 1)', 'XYZ')", ("DE-9IM",), 44),
    ("Locations", "st_relate(location, geography'POINT(1 1)', 'T*F**F**')", ("DE-9IM",), 44),
    ("Locations", "st_relate(location, geography'POINT(1 1)', name)", ("DE-9IM",), 44),
    ("Things", "name eq #", ("unexpected character '#'",), 9),
    ("Things", "", ("empty",), 1),
    ("Things", "name", ("not a condition",), 1),
    ("Things", "Datastreams", ("related entities",), 1),
    ("Things", "Datastreams/Observations eq null", ("related entities",), 1),
    ("Things", "name lt null", ("null", "eq or ne"), 6),
    ("Things", "id in 1", ("expected '('",), 7),
    ("Things", "name/foo eq 1", ("no parts",), 1),
    ("Things", "id/foo eq 1", ("no parts",), 1),
    ("Things", "eq 1", ("needs a value before it",), 1),
    ("Things", "name eq", ("ends where a value was expected",), 8),
    ("Things", "name eq 'a' and", ("ends where a value was expected",), 16),
    ("Things", "name eq ,", ("found ','",), 9),
    ("Things", "Datastreams/", ("path segment",), 13),
    ("Things", "(" * 70 + "true" + ")" * 70, ("nests more than",), None),
]


@pytest.mark.parametrize(("path", "expression", "mentions", "position"), ERRORS,
                         ids=[e[1][:50] or "empty" for e in ERRORS])
def test_errors(
    api: Api, town: Ids, path: str, expression: str, mentions: tuple[str, ...], position: int | None
) -> None:
    message = assert_filter_error(api.get(path, **{"$filter": expression}), *mentions, position=position)
    assert message.startswith("$filter")


@pytest.fixture(scope="module")
def short_filters(module_settings: Settings, town: Ids) -> Iterator[Api]:
    """The same store, served with max_filter_length 30."""
    tuned = Settings.validated({
        "database": module_settings.database, "data_dir": module_settings.data_dir, "max_filter_length": 30,
    })
    with TestClient(make_app(tuned), raise_server_exceptions=False) as client:
        yield Api(client)


def test_filter_length_limit(short_filters: Api, town: Ids) -> None:
    exactly = "name eq 'Bare' or id eq 123456"
    assert len(exactly) == 30
    assert labels(town, "T", short_filters.ok("Things", **{"$filter": exactly})["value"]) == ["T3"]
    too_long = exactly + " "
    message = assert_filter_error(short_filters.get("Things", **{"$filter": too_long}), "31", "30")
    assert "$filter" in message
    inside = short_filters.get("Datastreams", **{"$expand": f"Observations($filter={too_long})"})
    assert_filter_error(inside, "$filter", "30")


def test_orderby_length_limit(short_filters: Api, town: Ids) -> None:
    """The setting's documentation: the longest $filter (and $orderby) text."""
    orderby = "name desc, " * 3  # 33 characters
    response = short_filters.get("Things", **{"$orderby": orderby.rstrip(", ") + ", id desc"})
    assert_filter_error(response, "$orderby", "30")

