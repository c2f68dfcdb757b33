"""SQLite and PostgreSQL agree on ``$filter``: the same rows, loaded through the API into
both, and generated filters (built from the fuzzing grammar of ``test_filter_fuzz``, but
well-typed, so that most of them select something) must find the same ids on both, or
be refused with a 400 by both.

Where the two databases cannot agree, the difference is pinned in :data:`PINNED` with its
reason, and the generator leaves that shape out. What this test found and fixed:
``toupper``/``tolower`` on SQLite mapped ß to SS (Python's full case mapping) while
PostgreSQL maps one character at a time and keeps ß; SQLite now maps as PostgreSQL does
(:func:`quartier.store.sqlite_functions.simple_case`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_filter_fuzz import QUIET, quote

from conftest import Api, TestClient, backend_settings, make_app

THINGS: list[dict[str, Any]] = [
    {"name": "Pegel Nord", "description": " gauge ", "properties": {"district": "Nord", "lamps": 12},
     "Locations": [{"name": "Brücke", "description": "b", "encodingType": "application/geo+json",
                    "location": {"type": "Point", "coordinates": [9.18, 48.78]}}]},
    {"name": "pegel süd", "description": "Gauge", "properties": {"district": "Süd", "lamps": 0}},
    {"name": "Straße 10%", "description": "", "properties": {"district": "Mitte", "lamps": -3.5}},
    {"name": "O'Brien_1", "description": "a_b", "properties": {"district": None}},
    {"name": "ÄÖÜ äöü ß", "description": "  ", "properties": {}},
    {"name": "x", "description": "10", "properties": {"district": "nord", "lamps": 2.5},
     "Locations": [{"name": "Feld", "description": "f", "encodingType": "application/geo+json",
                    "location": {"type": "Polygon", "coordinates": [[[9.0, 48.0], [9.5, 48.0], [9.5, 48.5],
                                                                      [9.0, 48.5], [9.0, 48.0]]]}}]},
    {"name": "Punkt Süd", "description": "p", "properties": {"lamps": "7"},
     "Locations": [{"name": "Süd", "description": "s", "encodingType": "application/geo+json",
                    "location": {"type": "Point", "coordinates": [9.25, 48.25]}}]},
]
# result, phenomenonTime, resultTime
OBSERVATIONS: list[tuple[Any, str, str | None]] = [
    (1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    (-2.5, "2026-01-01T01:30:00+01:00", None),
    (0, "2026-03-29T01:59:59.250Z", "2026-03-29T03:00:00+02:00"),
    (7, "2026-06-30T23:00:00-02:00", None),
    (10.75, "2025-12-31T23:59:59.999Z", "2026-01-01T00:00:00.5Z"),
    ("10", "2026-02-28T12:00:00Z/2026-02-28T13:00:00Z", None),
    ("Hoch", "2026-01-15T08:15:00Z", "2026-01-15T08:16:00Z"),
    ("", "2026-01-15T08:15:00Z", None),
    (True, "2026-01-02T00:00:00Z", None),
    (None, "2026-01-03T00:00:00Z", None),
    (1e15, "2026-01-04T00:00:00Z", None),
    (-7, "2026-01-05T00:00:00Z", None),
    (3, "2026-01-31T12:00:00Z", "2026-01-31T12:00:00.123456Z"),
    (5, "2026-10-25T00:30:00Z/2026-10-25T02:30:00Z", "2026-10-25T03:00:00+01:00"),
]

# -- the grammar: well-typed pieces of the fuzzing grammar -----------------------------------

STRING_LITERALS = ["Nord", "nord", "pegel", "Pegel", "süd", "SÜD", "ß", "ä", "%", "_", "10", "'", " ",
                   "", "gauge", "Gauge", "a_b", "x", "O'Brien_1", "Straße"]
NUMBERS = ["0", "1", "-1", "2", "2.5", "3", "10", "-3.5", "7", "12", "0.5", "100", "1e15"]
TIMES = ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", "2026-01-15T08:15:00Z",
         "2026-03-29T02:00:00Z", "2025-12-31T23:59:59Z"]
COMPARE = ["eq", "ne", "gt", "ge", "lt", "le"]

THING_STRINGS = ["name", "description", "properties/district"]
OBSERVATION_STRINGS = ["Datastream/Thing/name", "Datastream/name"]
STRING_FUNCTIONS = ["tolower({})", "toupper({})", "trim({})", "concat({}, 'x')", "substring({}, 1)",
                    "substring({}, 1, 2)", "substring({}, 0, 3)"]
THING_NUMBERS = ["id", "properties/lamps", "length(name)", "length(description)", "indexof(name, 'e')",
                 "indexof(name, 'Nord')"]
OBSERVATION_NUMBERS = ["id", "result", "result add 1", "result sub 2.5", "result mul 2", "result div 2",
                       "result div 4", "result mod 3", "round(result)", "floor(result)", "ceiling(result)",
                       "-result"]
TIME_PATHS = ["phenomenonTime", "resultTime"]
TIME_PARTS = ["year", "month", "day", "hour", "minute", "second"]


def _strings(paths: list[str]) -> st.SearchStrategy[str]:
    plain = st.sampled_from(paths)
    wrapped = st.builds(lambda f, p: f.format(p), st.sampled_from(STRING_FUNCTIONS), plain)
    return st.one_of(plain, wrapped)


def _string_predicates(paths: list[str]) -> st.SearchStrategy[str]:
    literal = st.sampled_from(STRING_LITERALS).map(quote)
    return st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", _strings(paths), st.sampled_from(COMPARE), literal),
        st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(["startswith", "endswith"]),
                  _strings(paths), literal),
        st.builds(lambda a, b: f"substringof({b}, {a})", _strings(paths), literal),
        st.builds(lambda a, op, n: f"length({a}) {op} {n}", _strings(paths), st.sampled_from(COMPARE),
                  st.sampled_from(["0", "1", "3", "5"])),
    )


def _number_predicates(numbers: list[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda a, op, n: f"{a} {op} {n}", st.sampled_from(numbers), st.sampled_from(COMPARE),
                     st.sampled_from(NUMBERS))


def _time_predicates() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda p, op, t: f"{p} {op} {t}", st.sampled_from(TIME_PATHS), st.sampled_from(COMPARE),
                  st.sampled_from(TIMES)),
        st.builds(lambda f, p, op, n: f"{f}({p}) {op} {n}", st.sampled_from(TIME_PARTS),
                  st.sampled_from(TIME_PATHS), st.sampled_from(COMPARE),
                  st.sampled_from(["0", "1", "2", "3", "8", "15", "23", "59", "2025", "2026"])),
        st.builds(lambda p, op: f"{p} {op} null", st.sampled_from(TIME_PATHS), st.sampled_from(["eq", "ne"])),
    )


def _combined(atoms: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(atoms, lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(["and", "or"]), inner),
        inner.map(lambda a: f"not ({a})"),
    ), max_leaves=3)


# Shapes where databases often part ways: nulls, mixed types, calendar arithmetic, time
# zones, geometry, intervals.
THING_RISKY = [
    "properties/district eq null", "properties/district ne null", "properties/lamps eq null",
    "properties/lamps gt '5'", "properties/lamps eq '7'", "properties/lamps eq 7",
    "properties/lamps mod 2 eq 0",
    "properties/lamps div 0 eq 1", "length(properties/district) eq 4", "concat(name, description) eq 'x10'",
    "geo.distance(Locations/location, geography'POINT(9.18 48.78)') lt 0.1",
    "geo.distance(Locations/location, geography'POINT(9.18 48.78)') gt 0.2",
    "geo.intersects(Locations/location, geography'POINT(9.25 48.25)')",
    "st_within(Locations/location, geography'POLYGON((9 48, 9.3 48, 9.3 48.3, 9 48.3, 9 48))')",
    "st_contains(Locations/location, geography'POINT(9.25 48.25)')",
    "st_intersects(Locations/location, geography'LINESTRING(9.1 48.1, 9.6 48.6)')",
    "st_equals(Locations/location, geography'POINT(9.18 48.78)')",
    "st_touches(Locations/location, geography'POINT(9 48)')",
    "st_disjoint(Locations/location, geography'POINT(0 0)')",
    "geo.length(Locations/location) gt 0", "Locations/location eq null",
    "indexof(name, 'ü') eq 6", "substring(name, 6, 1) eq 'ü'", "toupper(name) eq 'PEGEL SÜD'",
    "trim(description) eq ''", "length(trim(description)) eq 0", "description eq ''",
]
OBSERVATION_RISKY = [
    "result eq null", "result ne null", "result eq true", "result eq false", "result eq 1",
    "result gt '5'", "result lt 'a'", "result eq '10'", "result eq 10", "length(result) eq 2",
    "concat(result, 'x') eq '10x'", "tolower(result) eq 'hoch'", "result mod 2 eq 1", "result mod -3 eq -1",
    "result div 3 gt 2.3", "result mul 1e290 lt 1e306", "result div 0 eq 1", "result add 0.1 eq 1.1",
    "round(result) eq -3", "round(result) eq -2", "round(-2.5) eq -3", "floor(-2.5) eq -3",
    "ceiling(result) eq -2", "result eq 1e15", "result gt 9.99e14",
    "phenomenonTime add duration'P1M' gt 2026-02-28T12:00:00Z",
    "phenomenonTime add duration'P1M' lt 2026-03-01T00:00:00Z",
    "phenomenonTime add duration'P1D' eq 2026-01-02T00:00:00Z",
    "phenomenonTime sub duration'PT1H' lt 2026-01-01T00:00:00Z",
    "resultTime sub phenomenonTime gt duration'PT1H'", "resultTime sub phenomenonTime eq duration'PT0S'",
    "resultTime sub phenomenonTime lt duration'PT1S'",
    "date(phenomenonTime) eq 2026-01-01", "date(phenomenonTime) eq 2025-12-31",
    "time(phenomenonTime) eq 00:00:00", "time(phenomenonTime) gt 12:00:00",
    "fractionalseconds(phenomenonTime) gt 0", "fractionalseconds(resultTime) eq 0.5",
    "totaloffsetminutes(phenomenonTime) eq 0", "second(phenomenonTime) eq 59",
    "day(phenomenonTime add duration'P1M') eq 28", "month(phenomenonTime add duration'P1M') eq 3",
    "phenomenonTime eq 2026-01-01T01:00:00+01:00", "phenomenonTime gt 2026-02-28T12:30:00Z",
    "phenomenonTime lt 2026-02-28T12:30:00Z", "phenomenonTime ge 2026-02-28T12:00:00Z",
    "before(phenomenonTime, 2026-02-28T12:30:00Z)", "after(phenomenonTime, 2026-02-28T12:30:00Z)",
    "during(phenomenonTime, 2026-02-28T00:00:00Z/2026-03-01T00:00:00Z)",
    "overlaps(phenomenonTime, 2026-02-28T12:30:00Z/2026-02-28T14:00:00Z)",
    "meets(phenomenonTime, 2026-02-28T13:00:00Z/2026-02-28T14:00:00Z)",
    "starts(phenomenonTime, 2026-02-28T12:00:00Z/2026-02-28T14:00:00Z)",
    "finishes(phenomenonTime, 2026-02-28T11:00:00Z/2026-02-28T13:00:00Z)",
    "hour(phenomenonTime) eq 1", "day(phenomenonTime) eq 25", "phenomenonTime lt now()",
    "phenomenonTime gt mindatetime()", "resultTime lt maxdatetime()",
    "phenomenonTime eq resultTime", "phenomenonTime lt resultTime",
]
THING_FILTERS = _combined(st.one_of(_string_predicates(THING_STRINGS), _number_predicates(THING_NUMBERS),
                                    st.sampled_from(THING_RISKY)))
OBSERVATION_FILTERS = _combined(st.one_of(
    _number_predicates(OBSERVATION_NUMBERS), _time_predicates(), _string_predicates(OBSERVATION_STRINGS),
    st.builds(lambda op, s: f"result {op} {quote(s)}", st.sampled_from(COMPARE),
              st.sampled_from(["10", "Hoch", "", "hoch"])), st.sampled_from(OBSERVATION_RISKY)))

# -- the two stores ----------------------------------------------------------------------------


def _load(api: Api) -> None:
    for i, thing in enumerate(THINGS):
        thing_id = api.create("Things", thing)
        if i == 0:
            datastream = api.create("Datastreams", {
                "name": "Pegelstand", "description": "d",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation",
                "unitOfMeasurement": {"name": "cm", "symbol": "cm", "definition": "u"},
                "Thing": {"@iot.id": thing_id},
                "Sensor": {"name": "s", "description": "s", "encodingType": "text/plain", "metadata": "m"},
                "ObservedProperty": {"name": "p", "definition": "p", "description": "p"},
            })
    for result, phenomenon, result_time in OBSERVATIONS:
        body: dict[str, Any] = {"result": result, "phenomenonTime": phenomenon,
                                "Datastream": {"@iot.id": datastream}, "FeatureOfInterest": {
                                    "name": "f", "description": "f", "encodingType": "application/geo+json",
                                    "feature": {"type": "Point", "coordinates": [9.18, 48.78]}}}
        if result_time is not None:
            body["resultTime"] = result_time
        api.create("Observations", body)


@pytest.fixture(scope="module")
def stores(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Api]]:
    """The same rows in an SQLite and a PostgreSQL store: backend -> its API."""
    with TestClient(make_app(backend_settings(request, "sqlite", tmp_path_factory.mktemp("lite"))),
                    raise_server_exceptions=False) as lite, \
            TestClient(make_app(backend_settings(request, "postgresql", tmp_path_factory.mktemp("pg"))),
                       raise_server_exceptions=False) as pg:
        apis = {"sqlite": Api(lite), "postgresql": Api(pg)}
        for api in apis.values():
            _load(api)
        yield apis


def _answer(api: Api, collection: str, text: str) -> tuple[int, list[int] | str]:
    response = api.get(collection, **{"$filter": text, "$select": "id", "$orderby": "id", "$top": 1000})
    if response.status_code == 200:
        return 200, [e["@iot.id"] for e in response.json()["value"]]
    assert response.status_code == 400, (collection, text, response.status_code, response.text)
    return 400, response.json()["code"]


def assert_agree(stores: dict[str, Api], collection: str, text: str) -> None:
    lite, pg = (_answer(stores[b], collection, text) for b in ("sqlite", "postgresql"))
    assert lite[0] == pg[0], f"{collection}?$filter={text}: SQLite {lite}, PostgreSQL {pg}"
    if lite[0] == 200:
        assert lite == pg, f"{collection}?$filter={text}: SQLite {lite[1]}, PostgreSQL {pg[1]}"


# Known differences, each with what each backend answers and why; the generator does not
# make these shapes. Found by this test, and kept so that a change of either side shows.
PINNED: list[tuple[str, str, tuple[int, Any], tuple[int, Any], str]] = [
    ("Observations", "result mul 1e300 gt 1", (200, [1, 4, 5, 11, 13, 14]), (400, "bad_request"),
     "a float overflow: SQLite computes 1e15 * 1e300 as Infinity, which is greater than 1; "
     "PostgreSQL refuses the computation ('value out of range: overflow'), which Quartier "
     "answers with a 400. Below the overflow both agree (see OBSERVATION_RISKY)."),
]


@pytest.mark.parametrize(("collection", "text", "lite", "pg", "why"), PINNED, ids=[p[1] for p in PINNED])
def test_pinned_differences_hold(stores: dict[str, Api], collection: str, text: str,
                                 lite: tuple[int, Any], pg: tuple[int, Any], why: str) -> None:
    assert why
    assert _answer(stores["sqlite"], collection, text) == lite
    assert _answer(stores["postgresql"], collection, text) == pg


@pytest.mark.parametrize(("collection", "text"), [("Things", t) for t in THING_RISKY]
                         + [("Observations", t) for t in OBSERVATION_RISKY])
def test_risky_filters_agree(stores: dict[str, Api], collection: str, text: str) -> None:
    assert_agree(stores, collection, text)


def test_both_stores_hold_the_same_rows(stores: dict[str, Api]) -> None:
    for collection in ("Things", "Observations"):
        lite, pg = (_answer(stores[b], collection, "true") for b in ("sqlite", "postgresql"))
        assert lite == pg and len(lite[1]) == len(THINGS if collection == "Things" else OBSERVATIONS)


@settings(max_examples=2000, deadline=None, database=None, derandomize=True, suppress_health_check=QUIET)
@given(text=THING_FILTERS)
@example(text="tolower(name) eq 'pegel süd'")
@example(text="substringof('%', name)")
@example(text="startswith(name, '_')")
@example(text="endswith(toupper(name), 'ß')")  # found by this test: SQLite mapped ß to SS
def test_things_filters_agree(stores: dict[str, Api], text: str) -> None:
    assert_agree(stores, "Things", text)


@settings(max_examples=2000, deadline=None, database=None, derandomize=True, suppress_health_check=QUIET)
@given(text=OBSERVATION_FILTERS)
@example(text="result div 4 eq 0.25")
@example(text="hour(phenomenonTime) eq 0")
def test_observations_filters_agree(stores: dict[str, Api], text: str) -> None:
    assert_agree(stores, "Observations", text)


