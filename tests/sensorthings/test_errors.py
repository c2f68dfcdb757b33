"""Bad input gets a clear 4xx in the one error shape and changes nothing, on both backends.

All tests of a backend share one app and one seeded town (module-scoped fixtures): each
test compares every collection before and after its request, so it needs no fresh store,
and the several hundred cases stay quick.

Every refused request is checked the same way: its status, a JSON body with a non-empty
``code`` and ``message``, and that all eight collections read back exactly as before
(counts and contents), so that a partly written request cannot pass unnoticed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from conftest import (
    POINT,
    Api,
    TestClient,
    actuator_body,
    capability_body,
    datastream_body,
    full_thing_body,
    location_body,
    make_app,
    observed_property_body,
    sensor_body,
    thing_body,
)
from quartier.model.entities import ENTITY_SETS as entity_sets
from quartier.settings import Settings

ENTITY_SETS = tuple(entity_sets)  # every entity set, in the model's order
MISSING_ID = 999999
NO_BODY = object()
Ids = dict[str, int]


# -- helpers ---------------------------------------------------------------------------


def link(entity_id: Any) -> dict[str, Any]:
    return {"@iot.id": entity_id}


def snapshot(api: Api) -> dict[str, tuple[int, list[Any]]]:
    """Count and contents of every collection, as the API serves them."""
    state = {}
    for name in ENTITY_SETS:
        page = api.ok(name, **{"$count": "true", "$top": "1000"})
        assert "@iot.nextLink" not in page, f"{name} has too many entities for a snapshot"
        state[name] = (page["@iot.count"], page["value"])
    return state


def assert_unchanged(api: Api, before: dict[str, tuple[int, list[Any]]]) -> None:
    after = snapshot(api)
    counts_before = {name: count for name, (count, _) in before.items()}
    counts_after = {name: count for name, (count, _) in after.items()}
    assert counts_after == counts_before, "a refused request wrote entities"
    for name in ENTITY_SETS:
        assert after[name] == before[name], f"a refused request changed {name}"


def assert_error(response: Any, status: int, *mentions: str) -> dict[str, Any]:
    """The status, the one JSON error shape, and words the message must contain."""
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text[:500]}"
    )
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.headers.get("content-type")
    )
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("code"), str), body
    assert body["code"], body
    message = body.get("message")
    assert isinstance(message, str), body
    assert message.strip(), body
    for word in mentions:
        assert word.lower() in message.lower(), f"{word!r} not in the message {message!r}"
    return body


def send(
    api: Api, method: str, path: str, body: Any = NO_BODY, *, content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not NO_BODY:
        kwargs["json"] = body
    if content is not None:
        kwargs["content"] = content
    return api.client.request(method, api.url(path), **kwargs)


def refused(
    api: Api, status: int, method: str, path: str, body: Any = NO_BODY,
    mentions: tuple[str, ...] = (), **kwargs: Any,
) -> tuple[Any, dict[str, Any]]:
    """Send a request that must fail with ``status`` and leave every collection as it was."""
    before = snapshot(api)
    response = send(api, method, path, body, **kwargs)
    error = assert_error(response, status, *mentions)
    assert_unchanged(api, before)
    return response, error


def seed(api: Api, name: str) -> Ids:
    """A Thing with a Location, a Datastream (new Sensor and ObservedProperty) and one
    Observation; returns the id of each entity that made."""
    thing = api.create("Things", full_thing_body(name))

    def first(path: str) -> int:
        return int(api.ok(path)["value"][0]["@iot.id"])

    datastream = first(f"Things({thing})/Datastreams")
    observation = api.create(
        f"Datastreams({datastream})/Observations",
        {"result": 1.0, "phenomenonTime": "2026-11-22T10:00:00Z"},
    )
    capability = api.create("TaskingCapabilities", capability_body(thing))
    return {
        "TaskingCapability": capability,
        "Actuator": api.ok(f"TaskingCapabilities({capability})/Actuator")["@iot.id"],
        "Thing": thing,
        "Location": first(f"Things({thing})/Locations"),
        "HistoricalLocation": first(f"Things({thing})/HistoricalLocations"),
        "Datastream": datastream,
        "Sensor": api.ok(f"Datastreams({datastream})/Sensor")["@iot.id"],
        "ObservedProperty": api.ok(f"Datastreams({datastream})/ObservedProperty")["@iot.id"],
        "Observation": observation,
        "FeatureOfInterest": api.ok(f"Observations({observation})/FeatureOfInterest")["@iot.id"],
    }


@pytest.fixture(scope="module")
def shared_api(module_settings: Settings) -> Iterator[Api]:
    with TestClient(make_app(module_settings), raise_server_exceptions=False) as client:
        yield Api(client)


@pytest.fixture
def api(shared_api: Api) -> Api:
    return shared_api


@pytest.fixture(scope="module")
def ids(shared_api: Api) -> Ids:
    return seed(shared_api, "Pegel Mühlbach")


@pytest.fixture(scope="module")
def other(shared_api: Api, ids: Ids) -> Ids:
    """A second Thing with its own Datastream, Location and Observation."""
    return seed(shared_api, "Pegel Neckar")


def valid_body(entity_set: str, ids: Ids) -> dict[str, Any]:
    """A body that POST to ``entity_set`` accepts, linking to the seeded entities."""
    bodies: dict[str, dict[str, Any]] = {
        "Things": thing_body("Pegel Nesenbach"),
        "Locations": location_body("Brücke Nesenbach"),
        "HistoricalLocations": {
            "time": "2026-11-22T10:00:00Z", "Thing": link(ids["Thing"]),
            "Locations": [link(ids["Location"])],
        },
        "Datastreams": datastream_body(
            "Temperature", Thing=link(ids["Thing"]), Sensor=link(ids["Sensor"]),
            ObservedProperty=link(ids["ObservedProperty"]),
        ),
        "Sensors": sensor_body("Thermometer"),
        "ObservedProperties": observed_property_body("Water temperature"),
        "Observations": {
            "result": 12.5, "phenomenonTime": "2026-11-22T10:00:00Z",
            "resultTime": "2026-11-22T10:00:05Z",
            "validTime": "2026-11-22T10:00:00Z/2026-11-22T11:00:00Z",
            "parameters": {"method": "radar"}, "Datastream": link(ids["Datastream"]),
        },
        "FeaturesOfInterest": {
            "name": "Bridge", "description": "the bridge over the Nesenbach",
            "encodingType": "application/geo+json", "feature": POINT,
        },
        "Actuators": actuator_body("Relay"),
        "TaskingCapabilities": capability_body(ids["Thing"]),
        "Tasks": {"taskingParameters": {"switch": "off", "dim": 20},
                  "TaskingCapability": link(ids["TaskingCapability"])},
    }
    return copy.deepcopy(bodies[entity_set])


def with_value(entity_set: str, ids: Ids, key: str, value: Any) -> dict[str, Any]:
    body = valid_body(entity_set, ids)
    body[key] = value
    return body


# -- the sample bodies are valid, so each refusal below is caused by its one defect ---------


@pytest.mark.parametrize("entity_set", ENTITY_SETS)
def test_valid_body_is_accepted(api: Api, ids: Ids, entity_set: str) -> None:
    response = api.post(entity_set, valid_body(entity_set, ids))
    assert response.status_code == 201, response.text


# -- the body as a whole: syntax, emptiness, shape ------------------------------------------

WRITES = [("POST", "Things"), ("PATCH", "Things({Thing})"), ("PUT", "Things({Thing})"),
          ("POST", "Things({Thing})/Datastreams")]

MALFORMED = {
    "truncated": (b'{"name": ', "JSON"),
    "unquoted key": (b'{name: "x"}', "JSON"),
    "single quotes": (b"{'name': 'x'}", "JSON"),
    "trailing comma": (b'{"name": "x",}', "JSON"),
    "trailing garbage": (b'{"name": "x"} and more', "JSON"),
    "NaN literal": (b'{"name": NaN}', "JSON"),
    "number overflows a double": (b'{"name": "x", "properties": {"v": 1e400}}', "JSON"),
    "invalid UTF-8": (b'{"name": "\xff\xfe"}', "JSON"),
    "nesting too deep": (b'{"properties": ' + b"[" * 5000 + b"]" * 5000 + b"}", "JSON"),
    "empty": (b"", "empty"),
    "whitespace only": (b"  \r\n\t ", "empty"),
    "array": (b"[]", "object"),
    "array of entities": (b'[{"name": "a", "description": "b"}]', "object"),
    "string": (b'"Things"', "object"),
    "number": (b"42", "object"),
    "null": (b"null", "object"),
    "boolean": (b"true", "object"),
}


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_or_misshapen_body(api: Api, ids: Ids, method: str, path: str,
                                     case: str) -> None:
    content, mention = MALFORMED[case]
    refused(api, 400, method, path.format(**ids), content=content,
            headers={"content-type": "application/json"}, mentions=(mention,))


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", "Things", "text/plain"),
        ("POST", "Things", "application/xml"),
        ("POST", "Things", "application/x-www-form-urlencoded"),
        ("POST", "Things", "multipart/form-data; boundary=x"),
        ("POST", "Things", "application/json-patch+json"),
        ("PATCH", "Things({Thing})", "text/plain"),
        ("PUT", "Things({Thing})", "application/json-patch+json"),
        ("PUT", "Things({Thing})", "application/merge-patch+json"),
    ],
)
def test_unsupported_media_type(api: Api, ids: Ids, method: str, path: str,
                                content_type: str) -> None:
    body = b'{"name": "Pegel", "description": "changed"}'
    refused(api, 415, method, path.format(**ids), content=body,
            headers={"content-type": content_type}, mentions=("application/json",))


def test_json_with_charset_parameter_is_accepted(api: Api) -> None:
    response = send(api, "POST", "Things", content=b'{"name": "a", "description": "b"}',
                    headers={"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 201, response.text


# -- the size limit ---------------------------------------------------------------------------

LIMIT = 1000


@pytest.fixture
def small_api(module_settings: Settings) -> Iterator[Api]:
    """The API with a body limit of LIMIT bytes, on the same store as the shared app."""
    settings = module_settings
    small = Settings.validated({
        "database": settings.database, "data_dir": settings.data_dir, "max_body_bytes": LIMIT,
    })
    with TestClient(make_app(small), raise_server_exceptions=False) as client:
        yield Api(client)


def _sized(size: int) -> bytes:
    """A valid Thing body of exactly ``size`` bytes."""
    head, tail = b'{"name": "big", "description": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 256):
        yield data[start:start + 256]


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_oversized_body(small_api: Api, method: str, streamed: bool) -> None:
    thing = small_api.create("Things", {"name": "small", "description": "fits"})
    path = "Things" if method == "POST" else f"Things({thing})"
    data = _sized(LIMIT + 1)
    content: Any = _chunks(data) if streamed else data
    before = snapshot(small_api)
    response = small_api.client.request(
        method, small_api.url(path), content=content,
        headers={"content-type": "application/json"},
    )
    assert_error(response, 413, str(LIMIT))
    assert_unchanged(small_api, before)


def test_body_at_the_limit_is_accepted(small_api: Api) -> None:
    response = small_api.client.post(small_api.url("Things"), content=_sized(LIMIT),
                                      headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text


# -- properties: unknown names, missing, wrong types ------------------------------------------

UNKNOWN = [
    ("Things", "nmae"), ("Things", "Datastream"), ("Things", "@odata.id"),
    ("Locations", "Thing"), ("Datastreams", "Observation"), ("Datastreams", "unitOfMeasure"),
    ("Sensors", "metaData"), ("ObservedProperties", "Datastream"),
    ("Observations", "FeatureOfInterests"), ("Observations", "phenomenontime"),
    ("FeaturesOfInterest", "location"), ("HistoricalLocations", "Location"),
]


@pytest.mark.parametrize(("entity_set", "key"), UNKNOWN)
def test_unknown_property(api: Api, ids: Ids, entity_set: str, key: str) -> None:
    refused(api, 400, "POST", entity_set, with_value(entity_set, ids, key, "x"),
            mentions=(key,))


MANDATORY = {
    "Things": ("name", "description"),
    "Locations": ("name", "description", "encodingType", "location"),
    "HistoricalLocations": ("time", "Thing"),
    "Datastreams": ("name", "description", "unitOfMeasurement", "observationType",
                    "Thing", "Sensor", "ObservedProperty"),
    "Sensors": ("name", "description", "encodingType", "metadata"),
    "ObservedProperties": ("name", "definition", "description"),
    "Observations": ("result", "Datastream"),
    "FeaturesOfInterest": ("name", "description", "encodingType", "feature"),
}
MANDATORY_CASES = [(s, key) for s, keys in MANDATORY.items() for key in keys]


@pytest.mark.parametrize(("entity_set", "key"), MANDATORY_CASES)
def test_missing_mandatory_property_or_link(api: Api, ids: Ids, entity_set: str,
                                            key: str) -> None:
    body = valid_body(entity_set, ids)
    del body[key]
    refused(api, 400, "POST", entity_set, body, mentions=(key,))


@pytest.mark.parametrize(
    ("entity_set", "key"), [c for c in MANDATORY_CASES if c != ("Observations", "result")]
)
def test_mandatory_property_or_link_as_null(api: Api, ids: Ids, entity_set: str,
                                            key: str) -> None:
    refused(api, 400, "POST", entity_set, with_value(entity_set, ids, key, None),
            mentions=(key,))


BAD_INSTANTS = {
    "empty": "",
    "words": "yesterday",
    "month 13": "2026-13-01T10:00:00Z",
    "30 days in November": "2026-11-31T10:00:00Z",
    "hour 25": "2026-11-22T25:00:00Z",
    "offset out of range": "2026-11-22T10:00:00+25:00",
    "no UTC offset": "2026-11-22T10:00:00",
    "date without offset": "2026-11-22",
    "number": 20261122,
    "object": {"time": "2026-11-22T10:00:00Z"},
    "before year 1 in UTC": "0001-01-01T00:30:00+01:00",
    "after year 9999 in UTC": "9999-12-31T23:30:00-01:00",
}
BAD_INTERVALS = {
    "an instant": "2026-11-22T10:00:00Z",
    "end before start": "2026-11-22T11:00:00Z/2026-11-22T10:00:00Z",
    "no end": "2026-11-22T10:00:00Z/",
    "no start": "/2026-11-22T10:00:00Z",
    "three parts": "2026-11-22T10:00:00Z/2026-11-22T11:00:00Z/2026-11-22T12:00:00Z",
    "no UTC offset": "2026-11-22T10:00:00/2026-11-22T11:00:00",
    "words": "today/tomorrow",
    "array": ["2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"],
}
BAD_INSTANTS_OR_INTERVALS = {
    **{k: v for k, v in BAD_INSTANTS.items() if k != "empty"},
    **{f"interval: {k}": v for k, v in BAD_INTERVALS.items() if k != "an instant"},
}
BAD_GEOMETRIES = {
    "unknown type": {"type": "Circle", "coordinates": [9.18, 48.78]},
    "lower-case type": {"type": "point", "coordinates": [9.18, 48.78]},
    "no type": {"coordinates": [9.18, 48.78]},
    "no coordinates": {"type": "Point"},
    "empty coordinates": {"type": "Point", "coordinates": []},
    "one ordinate": {"type": "Point", "coordinates": [9.18]},
    "four ordinates": {"type": "Point", "coordinates": [9.18, 48.78, 250, 1]},
    "coordinates as text": {"type": "Point", "coordinates": "9.18,48.78"},
    "NaN strings": {"type": "Point", "coordinates": ["NaN", "NaN"]},
    "Infinity string": {"type": "Point", "coordinates": ["Infinity", 48.78]},
    "numeric strings": {"type": "Point", "coordinates": ["9.18", "48.78"]},
    "booleans": {"type": "Point", "coordinates": [True, False]},
    "nulls": {"type": "Point", "coordinates": [None, None]},
    "point nested in an array": {"type": "Point", "coordinates": [[9.18, 48.78]]},
    "line of one point": {"type": "LineString", "coordinates": [[9.18, 48.78]]},
    "ring of three points": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]},
    "ring not closed": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
    "feature without geometry": {"type": "Feature", "geometry": None, "properties": {}},
    "feature collection": {"type": "FeatureCollection", "features": []},
    "empty object": {},
    "WKT": "POINT (9.18 48.78)",
    "bare coordinates": [9.18, 48.78],
    "number": 5,
}


def _named(entity_set: str, key: str, values: dict[str, Any]) -> list[Any]:
    return [pytest.param(entity_set, key, v, id=f"{entity_set}.{key}: {name}")
            for name, v in values.items()]


def _plain(entity_set: str, key: str, *values: Any) -> list[Any]:
    return [pytest.param(entity_set, key, v, id=f"{entity_set}.{key}={v!r}") for v in values]


WRONG_TYPES = [
    # text
    *_plain("Things", "name", 5, True, ["Pegel"], {"de": "Pegel"}),
    *_plain("Things", "description", 1.5),
    *_plain("Locations", "encodingType", 5, "text/plain"),
    *_plain("FeaturesOfInterest", "encodingType", "application/json"),
    *_plain("Sensors", "encodingType", []),
    *_plain("ObservedProperties", "definition", {}),
    *_plain("Datastreams", "observationType", 3),
    # JSON objects
    *_plain("Things", "properties", "district=Nord", [1, 2], 5),
    *_plain("Sensors", "properties", True),
    *_plain("Observations", "parameters", "radar"),
    # a JSON value that may not be null
    *_plain("Sensors", "metadata", None),
    # unitOfMeasurement
    *_plain("Datastreams", "unitOfMeasurement", "cm", ["cm"], 5,
            {"name": 5, "symbol": "cm", "definition": "x"},
            {"name": "cm", "symbol": ["cm"], "definition": "x"},
            {"name": "cm", "symbol": "cm", "definition": {}}),
    # to-many relations that are not arrays of entities
    *_plain("Things", "Locations", location_body(), "Brücke", [5]),
    *_plain("Things", "Datastreams", [None]),
    *_plain("Locations", "Things", {"@iot.id": 1}),
    # to-one relations that are not objects
    *_plain("Observations", "Datastream", 1, "1", [link(1)]),
    *_plain("HistoricalLocations", "Thing", True),
    # GeoJSON and times
    *_named("Locations", "location", BAD_GEOMETRIES),
    *_named("FeaturesOfInterest", "feature", BAD_GEOMETRIES),
    *_named("HistoricalLocations", "time", BAD_INSTANTS),
    *_named("Observations", "resultTime", BAD_INSTANTS),
    *_named("Observations", "phenomenonTime", BAD_INSTANTS_OR_INTERVALS),
    *_named("Observations", "validTime", BAD_INTERVALS),
]


@pytest.mark.parametrize(("entity_set", "key", "value"), WRONG_TYPES)
def test_wrong_type_or_invalid_value(api: Api, ids: Ids, entity_set: str, key: str,
                                     value: Any) -> None:
    refused(api, 400, "POST", entity_set, with_value(entity_set, ids, key, value),
            mentions=(key,))


@pytest.mark.parametrize(
    ("entity_set", "key", "value"),
    [
        pytest.param("Things", "name", "Pegel\u0000Nord", id="text"),
        pytest.param("Things", "properties", {"district\u0000": "Nord"}, id="JSON key"),
        pytest.param("Things", "properties", {"district": "\u0000"}, id="JSON string"),
        pytest.param("Sensors", "metadata", "radar\u0000.pdf", id="JSON value"),
        pytest.param("Observations", "result", "high\u0000", id="result string"),
        pytest.param("Observations", "result", {"level": "\u0000"}, id="result object"),
    ],
)
def test_text_with_nul_character(api: Api, ids: Ids, entity_set: str, key: str,
                                 value: Any) -> None:
    """U+0000 is valid JSON: stored exactly as sent or refused cleanly, never a 5xx."""
    before = snapshot(api)
    response = api.post(entity_set, with_value(entity_set, ids, key, value))
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert_error(response, 400, key)
        assert_unchanged(api, before)
    else:
        assert api.client.get(response.headers["location"]).json()[key] == value


# -- links: malformed ids, ids that do not exist, links the path already gives ----------------

LINK_SLOTS = [
    ("Datastreams", "Thing", False), ("Datastreams", "Sensor", False),
    ("Datastreams", "ObservedProperty", False), ("Observations", "Datastream", False),
    ("Observations", "FeatureOfInterest", False), ("HistoricalLocations", "Thing", False),
    ("HistoricalLocations", "Locations", True), ("Things", "Locations", True),
    ("Locations", "Things", True), ("Things", "Datastreams", True),
    ("Sensors", "Datastreams", True), ("FeaturesOfInterest", "Observations", True),
]
BAD_IDS = {
    "word": "abc", "empty string": "", "fraction": 1.5, "negative": -1, "boolean": True,
    "array": [1], "object": {"id": 1}, "beyond 64 bits": 2**64, "beyond bigint": 2**63,
    "exponent string": "1e3",
}


def _linked(entity_set: str, key: str, many: bool, ids: Ids, target: Any) -> dict[str, Any]:
    value = [link(target)] if many else link(target)
    return with_value(entity_set, ids, key, value)


@pytest.mark.parametrize(("entity_set", "key", "many"), LINK_SLOTS)
@pytest.mark.parametrize("bad", BAD_IDS)
def test_link_with_malformed_id(api: Api, ids: Ids, entity_set: str, key: str, many: bool,
                                bad: str) -> None:
    refused(api, 400, "POST", entity_set, _linked(entity_set, key, many, ids, BAD_IDS[bad]),
            mentions=("@iot.id",))


@pytest.mark.parametrize(("entity_set", "key", "many"), LINK_SLOTS)
@pytest.mark.parametrize("target", [MISSING_ID, 2**63 - 1])
def test_link_to_missing_entity(api: Api, ids: Ids, entity_set: str, key: str, many: bool,
                                target: int) -> None:
    refused(api, 400, "POST", entity_set, _linked(entity_set, key, many, ids, target),
            mentions=(str(target),))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("Things({Thing})/Datastreams", lambda ids: valid_body("Datastreams", ids)),
        ("Datastreams({Datastream})/Observations", lambda ids: valid_body("Observations", ids)),
        ("Things({Thing})/HistoricalLocations",
         lambda ids: valid_body("HistoricalLocations", ids)),
    ],
    ids=["Datastream.Thing", "Observation.Datastream", "HistoricalLocation.Thing"],
)
def test_link_that_the_path_already_gives(api: Api, ids: Ids, path: str,
                                          body: Callable[[Ids], Any]) -> None:
    refused(api, 400, "POST", path.format(**ids), body(ids))


def test_id_chosen_by_the_client(api: Api, ids: Ids) -> None:
    refused(api, 400, "POST", "Things", with_value("Things", ids, "@iot.id", 77),
            mentions=("@iot.id",))


def test_observation_without_any_feature_of_interest(api: Api, ids: Ids) -> None:
    """No FeatureOfInterest given and none can be made: the Thing has no Location."""
    body = thing_body("Nowhere", with_location=False)
    body["Datastreams"] = [datastream_body(Sensor=link(ids["Sensor"]),
                                           ObservedProperty=link(ids["ObservedProperty"]))]
    thing = api.create("Things", body)
    datastream = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    refused(api, 400, "POST", f"Datastreams({datastream})/Observations", {"result": 1},
            mentions=("FeatureOfInterest",))


# Characters that str.isdigit() accepts but that are not the ASCII digits of a JSON or
# OData number: superscript two, full-width one, Arabic-Indic one.
NON_ASCII_DIGITS = {"superscript": "\u00b2", "full-width": "\uff11", "arabic-indic": "\u0661"}


@pytest.mark.parametrize("digit", NON_ASCII_DIGITS)
@pytest.mark.parametrize("place", ["path key", "link id", "$top", "$skip"])
def test_non_ascii_digits_are_not_ids_or_counts(api: Api, ids: Ids, place: str,
                                                digit: str) -> None:
    char = NON_ASCII_DIGITS[digit]
    if place == "path key":
        refused(api, 404, "GET", f"Things({char})")
    elif place == "link id":
        body = with_value("Datastreams", ids, "Thing", link(char))
        refused(api, 400, "POST", "Datastreams", body, mentions=("@iot.id",))
    else:
        assert_error(api.get("Things", **{place: char}), 400, place)


# -- unknown ids and paths --------------------------------------------------------------------

MISSING_PATHS = [
    "Things(999)", "Things(9223372036854775807)", "Things(9223372036854775808)",
    "Things(99999999999999999999)", "Things(abc)", "Things(-1)", "Things(1.5)", "Things()",
    "Things(0)", "Things(1", "Things(1)//Datastreams", "Foo", "Foo(1)", "things", "Things(1)/Bar",
    "Things(1)/Datastreams(999)", "Things(999)/Datastreams", "Things(999)/Locations",
    "Things(999)/name", "Things(999)/Datastreams(1)/Sensor", "Datastreams(999)/Thing",
    "Things/Datastreams", "Things(1)/name/Bar", "Things(1)/$value", "Things(1)/name/$value/x",
    "Things(1)/$ref/name", "Things(1)/name(1)", "Datastreams(1)/Thing(1)",
    "Things(1)/Datastreams(1)/Foo",
]


@pytest.mark.parametrize("path", MISSING_PATHS)
def test_unknown_path_or_id(api: Api, ids: Ids, path: str) -> None:
    assert ids["Thing"] == 1 and ids["Datastream"] == 1  # the paths above assume this
    _, error = refused(api, 404, "GET", path)
    assert "internal" not in error["message"].lower()


@pytest.mark.parametrize(
    "url", ["/v2.0/Things", "/v1.1x/Things", "/t/nowhere/v1.1/Things", "/Things",
            "/t/nowhere/v1.1/Things(1)", "/t/%00/v1.1/Things", "/t/a%00b/v1.1/Things(1)"],
)
def test_unknown_root_or_tenant(api: Api, ids: Ids, url: str) -> None:
    assert_error(api.client.get(url), 404)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "Things(999)", {"name": "x"}),
        ("PUT", "Things(999)", {"name": "x", "description": "y"}),
        ("DELETE", "Things(999)", NO_BODY),
        ("DELETE", "Things(9223372036854775807)", NO_BODY),
        ("PATCH", "Things(99999999999999999999)", {"name": "x"}),
        ("DELETE", "Things(abc)", NO_BODY),
        ("POST", "Things(999)/Datastreams",
         datastream_body(Sensor=link(1), ObservedProperty=link(1))),
        ("POST", "Things(999)/Locations", location_body()),
        ("POST", "Datastreams(999)/Observations", {"result": 1}),
        ("POST", "Foo", {"name": "x"}),
        ("PATCH", "Things(1)/Datastreams(999)", {"name": "x"}),
        ("DELETE", "Things(999)/Datastreams(1)", NO_BODY),
    ],
)
def test_write_to_unknown_path_or_id(api: Api, ids: Ids, method: str, path: str,
                                     body: Any) -> None:
    assert ids["Thing"] == 1 and ids["Sensor"] == 1  # the paths above assume this
    refused(api, 404, method, path, body)


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_write_to_unknown_tenant(api: Api, ids: Ids, method: str) -> None:
    path = "/t/nowhere/v1.1/Things" + ("" if method == "POST" else "(1)")
    before = snapshot(api)
    body = None if method == "DELETE" else {"name": "x", "description": "y"}
    assert_error(api.client.request(method, path, json=body), 404)
    assert_unchanged(api, before)


CROSSED = [
    ("Things({Thing})/Datastreams({other_Datastream})", {"name": "taken"}),
    ("Things({Thing})/Locations({other_Location})", {"name": "taken"}),
    ("Things({Thing})/HistoricalLocations({other_HistoricalLocation})",
     {"time": "2026-11-22T10:00:00Z"}),
    ("Datastreams({Datastream})/Observations({other_Observation})", {"result": 99}),
    ("Sensors({Sensor})/Datastreams({other_Datastream})", {"name": "taken"}),
    ("Things({Thing})/Datastreams({other_Datastream})/Observations({other_Observation})",
     {"result": 99}),
]


@pytest.mark.parametrize(("template", "patch"), CROSSED)
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_child_of_another_parent(api: Api, ids: Ids, other: Ids, template: str,
                                 patch: dict[str, Any], method: str) -> None:
    names = {**ids, **{f"other_{k}": v for k, v in other.items()}}
    path = template.format(**names)
    # The entity exists under its own parent, so only the crossing can cause the 404; the
    # body is complete and valid, so it cannot cause a 400 either.
    current = api.ok(path.rsplit("/", 1)[-1])
    body = {k: v for k, v in current.items() if "@iot" not in k}
    body.update(patch)
    refused(api, 404, method, path, NO_BODY if method in ("GET", "DELETE") else body)


# -- methods ----------------------------------------------------------------------------------

NOT_ALLOWED = [
    ("POST", "Things({Thing})", {"GET", "PATCH", "DELETE"}),
    ("PATCH", "Things", {"GET", "POST"}),
    ("DELETE", "Things", {"GET", "POST"}),
    ("PUT", "Things", {"GET", "POST"}),
    ("PUT", "Things({Thing})/name", {"GET"}),
    ("PATCH", "Things({Thing})/name", {"GET"}),
    ("DELETE", "Things({Thing})/name", {"GET"}),
    ("POST", "Things({Thing})/name", {"GET"}),
    ("PUT", "Things({Thing})/name/$value", {"GET"}),
    ("PATCH", "Things({Thing})/Locations/$ref", {"GET"}),
    ("POST", "Datastreams({Datastream})/Thing", {"GET"}),
    ("POST", "Things({Thing})/Datastreams({Datastream})", {"GET"}),
]


@pytest.mark.parametrize(("method", "template", "allowed"), NOT_ALLOWED)
def test_method_not_allowed(api: Api, ids: Ids, method: str, template: str,
                            allowed: set[str]) -> None:
    body = NO_BODY if method == "DELETE" else {"name": "x", "description": "y"}
    response, _ = refused(api, 405, method, template.format(**ids), body)
    assert "allow" in response.headers, response.headers
    advertised = {m.strip().upper() for m in response.headers["allow"].split(",")}
    assert method not in advertised
    assert allowed <= advertised, advertised


def test_method_not_allowed_on_the_root(api: Api, ids: Ids) -> None:
    before = snapshot(api)
    response = api.client.post("/v1.1", json={"name": "x", "description": "y"})
    assert_error(response, 405)
    assert "POST" not in response.headers.get("allow", "POST")
    assert_unchanged(api, before)


# -- updates ----------------------------------------------------------------------------------

BAD_PATCHES = [
    ("Things({Thing})", {"name": 5}, "name"),
    ("Things({Thing})", {"name": None}, "name"),
    ("Things({Thing})", {"nmae": "x"}, "nmae"),
    ("Things({Thing})", {"name": "renamed", "properties": "x"}, "properties"),
    ("Things({Thing})", {"name": "renamed", "Locations": [location_body()]}, "Locations"),
    ("Things({Thing})", {"Datastreams": [datastream_body()]}, "Datastreams"),
    ("Things({Thing})", {"Locations": link(1)}, "Locations"),
    ("Things({Thing})", {"Locations": [link("one")]}, "@iot.id"),
    ("Things({Thing})", {"name": "renamed", "Locations": [link(1), link(MISSING_ID)]},
     str(MISSING_ID)),
    ("Things({Thing})", {"name": "renamed", "Datastreams": [link(MISSING_ID)]},
     str(MISSING_ID)),
    ("Things({Thing})", {"@iot.id": 5, "name": 7}, "name"),
    ("Datastreams({Datastream})", {"Sensor": sensor_body()}, "Sensor"),
    ("Datastreams({Datastream})", {"name": "renamed", "Sensor": link(MISSING_ID)},
     str(MISSING_ID)),
    ("Datastreams({Datastream})", {"Thing": link("abc")}, "@iot.id"),
    ("Datastreams({Datastream})", {"Thing": None}, "Thing"),
    ("Datastreams({Datastream})", {"unitOfMeasurement": "cm"}, "unitOfMeasurement"),
    ("Datastreams({Datastream})", {"unitOfMeasurement": None}, "unitOfMeasurement"),
    ("Datastreams({Datastream})", {"Observations": [{"result": 3}]}, "Observations"),
    ("Locations({Location})", {"location": {"type": "Point", "coordinates": []}}, "location"),
    ("Locations({Location})", {"location": None}, "location"),
    ("Locations({Location})", {"encodingType": "text/plain"}, "encodingType"),
    ("Locations({Location})", {"Things": [link(MISSING_ID)]}, str(MISSING_ID)),
    ("Sensors({Sensor})", {"metadata": None}, "metadata"),
    ("ObservedProperties({ObservedProperty})", {"definition": 5}, "definition"),
    ("Observations({Observation})",
     {"phenomenonTime": "2026-11-22T11:00:00Z/2026-11-22T10:00:00Z"}, "phenomenonTime"),
    ("Observations({Observation})", {"resultTime": "2026-11-22T10:00:00"}, "resultTime"),
    ("Observations({Observation})", {"result": 2, "Datastream": link(MISSING_ID)},
     str(MISSING_ID)),
    ("Observations({Observation})", {"FeatureOfInterest": link(MISSING_ID)},
     str(MISSING_ID)),
    ("HistoricalLocations({HistoricalLocation})", {"time": "soon"}, "time"),
    ("HistoricalLocations({HistoricalLocation})", {"Thing": link(MISSING_ID)},
     str(MISSING_ID)),
    ("FeaturesOfInterest({FeatureOfInterest})", {"feature": {"type": "Feature"}}, "feature"),
]


@pytest.mark.parametrize(("template", "body", "mention"), BAD_PATCHES)
def test_bad_patch(api: Api, ids: Ids, template: str, body: Any, mention: str) -> None:
    refused(api, 400, "PATCH", template.format(**ids), body, mentions=(mention,))


@pytest.mark.parametrize(
    ("template", "drop"),
    [("Things({Thing})", "description"), ("Datastreams({Datastream})", "unitOfMeasurement"),
     ("Locations({Location})", "location"), ("Sensors({Sensor})", "metadata")],
)
def test_put_without_mandatory_property(api: Api, ids: Ids, template: str, drop: str) -> None:
    path = template.format(**ids)
    body = {k: v for k, v in api.ok(path).items() if "@iot" not in k and k != drop}
    refused(api, 400, "PUT", path, body, mentions=(drop,))


JSON_PATCH_TYPE = {"content-type": "application/json-patch+json"}
BAD_JSON_PATCHES = {
    "object instead of array": {"op": "replace", "path": "/name", "value": "x"},
    "operation not an object": [1],
    "unknown op": [{"op": "rename", "path": "/name", "value": "x"}],
    "no op": [{"path": "/name", "value": "x"}],
    "no path": [{"op": "replace", "value": "x"}],
    "path without slash": [{"op": "replace", "path": "name", "value": "x"}],
    "replace a missing member": [{"op": "replace", "path": "/nosuch", "value": 1}],
    "add an unknown member": [{"op": "add", "path": "/nosuch", "value": 1}],
    "wrong type": [{"op": "replace", "path": "/name", "value": 5}],
    "remove a mandatory property": [{"op": "remove", "path": "/name"}],
    "move a mandatory property away": [{"op": "move", "from": "/name", "path": "/nickname"}],
    "failed test": [{"op": "test", "path": "/name", "value": "not the name"}],
    "failed test after a valid op": [
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "test", "path": "/description", "value": "not the description"},
    ],
    "valid op then an invalid one": [
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "replace", "path": "/description", "value": None},
    ],
    "replace the whole document": [{"op": "add", "path": "", "value": []}],
    "into a null member": [{"op": "add", "path": "/properties/x/y", "value": 1}],
    "navigation link": [{"op": "add", "path": "/Datastreams", "value": [link(MISSING_ID)]}],
}


@pytest.mark.parametrize("case", BAD_JSON_PATCHES)
def test_bad_json_patch(api: Api, case: str) -> None:
    thing = api.create("Things", {"name": "Pegel", "description": "gauge"})
    refused(api, 400, "PATCH", f"Things({thing})", content=orjson.dumps(BAD_JSON_PATCHES[case]),
            headers=JSON_PATCH_TYPE)


def test_json_patch_is_applied(api: Api, ids: Ids) -> None:
    """The control for the cases above: a valid JSON Patch is accepted."""
    patch = [{"op": "replace", "path": "/name", "value": "renamed"}]
    response = send(api, "PATCH", f"Things({ids['Thing']})", content=orjson.dumps(patch),
                    headers=JSON_PATCH_TYPE)
    assert response.status_code == 200, response.text
    assert api.ok(f"Things({ids['Thing']})")["name"] == "renamed"


# -- atomicity of deep inserts ----------------------------------------------------------------


def _deep_thing() -> dict[str, Any]:
    """A Thing with a Location and two Datastreams, each with a new Sensor and
    ObservedProperty and one Observation; every part valid."""
    body = thing_body("Pegel Feuerbach")
    body["Datastreams"] = [
        datastream_body(
            f"Level {n}", Sensor=sensor_body(f"Gauge {n}"),
            ObservedProperty=observed_property_body(f"Level {n}"),
            Observations=[{"result": n, "phenomenonTime": "2026-11-22T10:00:00Z"}],
        )
        for n in (1, 2)
    ]
    return body


def _second(body: dict[str, Any]) -> dict[str, Any]:
    return body["Datastreams"][1]


DEFECTS: dict[str, Callable[[dict[str, Any], Ids], None]] = {
    "Sensor without metadata": lambda b, ids: _second(b)["Sensor"].pop("metadata"),
    "Sensor name a number": lambda b, ids: _second(b)["Sensor"].update(name=5),
    "Sensor with an unknown property": lambda b, ids: _second(b)["Sensor"].update(colour=1),
    "Observation with a bad time": lambda b, ids: _second(b)["Observations"].append(
        {"result": 3, "phenomenonTime": "2026-11-22T10:00:00"}),
    "Observation naming its Datastream": lambda b, ids: _second(b)["Observations"][0].update(
        Datastream=link(ids["Datastream"])),
    "Location with bad GeoJSON": lambda b, ids: b["Locations"].append(
        location_body("second", {"type": "Point", "coordinates": []})),
    # Only the database can tell these apart from valid links.
    "ObservedProperty that does not exist": lambda b, ids: _second(b).update(
        ObservedProperty=link(MISSING_ID)),
    "Sensor that does not exist": lambda b, ids: _second(b).update(Sensor=link(MISSING_ID)),
    "FeatureOfInterest that does not exist": lambda b, ids: _second(b)["Observations"][0]
    .update(FeatureOfInterest=link(MISSING_ID)),
    "second Location that does not exist": lambda b, ids: b["Locations"].append(
        link(MISSING_ID)),
    "existing Location, then a missing ObservedProperty": lambda b, ids: (
        b.update(Locations=[link(ids["Location"])]),
        _second(b).update(ObservedProperty=link(MISSING_ID)),
    ),
    "existing Datastream moved, then a missing Sensor": lambda b, ids: (
        b["Datastreams"].insert(0, link(ids["Datastream"])),
        _second(b).update(Sensor=link(MISSING_ID)),
    ),
    "no Location to make a FeatureOfInterest from": lambda b, ids: b.pop("Locations"),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_deep_insert_is_all_or_nothing(api: Api, ids: Ids, defect: str) -> None:
    body = _deep_thing()
    control = api.post("Things", copy.deepcopy(body))  # the body without its defect is valid
    assert control.status_code == 201, control.text
    DEFECTS[defect](body, ids)
    refused(api, 400, "POST", "Things", body)


@pytest.mark.parametrize("locations_first", [True, False])
def test_deep_insert_does_not_depend_on_member_order(api: Api, locations_first: bool) -> None:
    """JSON object members have no order (RFC 8259): a Thing whose Datastreams come before
    its Locations is the same request, so its Observations get the same FeatureOfInterest."""
    body = _deep_thing()
    locations = body.pop("Locations")
    body = {"Locations": locations, **body} if locations_first else {**body,
                                                                      "Locations": locations}
    response = api.post("Things", body)
    assert response.status_code == 201, response.text
    for observation in api.ok("Observations")["value"]:
        api.ok(f"Observations({observation['@iot.id']})/FeatureOfInterest")


def test_link_body_to_existing_things_is_all_or_nothing(api: Api, ids: Ids) -> None:
    body = location_body("Shared")
    body["Things"] = [link(ids["Thing"]), link(MISSING_ID)]
    refused(api, 400, "POST", "Locations", body, mentions=(str(MISSING_ID),))


# -- query options ----------------------------------------------------------------------------

NOT_SUPPORTED = [("$search", "Pegel"), ("$format", "xml"), ("$apply", "groupby((name))")]
BAD_OPTIONS = [
    ("$top", "-1"), ("$top", "abc"), ("$top", "1.5"), ("$top", ""), ("$top", "1e3"),
    ("$skip", "-5"), ("$skip", "x"), ("$skip", ""), ("$skip", "99999999999999999999"),
    ("$count", "yes"), ("$count", "1"), ("$count", ""),
    ("$orderby", "name sideways"), ("$orderby", "nosuch"), ("$orderby", "properties"),
    ("$orderby", ""), ("$orderby", "name asc desc"), ("$orderby", "name,"),
    ("$select", "nosuch"), ("$select", "name,,description"), ("$select", ""),
    ("$foo", "1"),
]


@pytest.mark.parametrize("path", ["Things", "Things({Thing})", "Things({Thing})/Datastreams"])
@pytest.mark.parametrize(("option", "value"), NOT_SUPPORTED)
def test_query_option_not_supported(api: Api, ids: Ids, path: str, option: str,
                                        value: str) -> None:
    response = api.get(path.format(**ids), **{option: value})
    assert_error(response, 400, option, "not supported")


@pytest.mark.parametrize(("option", "value"), BAD_OPTIONS)
def test_bad_query_option_value(api: Api, ids: Ids, option: str, value: str) -> None:
    message = assert_error(api.get("Things", **{option: value}), 400)["message"]
    # The message names the option, or the very name in it that cannot be used.
    named = value.split()[0].strip(",") if value.strip() else option
    assert option in message or named in message, message


def test_query_option_given_twice(api: Api, ids: Ids) -> None:
    response = api.client.get(api.url("Things"), params=[("$top", "1"), ("$top", "2")])
    assert_error(response, 400, "$top")
