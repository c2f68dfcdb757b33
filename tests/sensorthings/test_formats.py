"""$resultFormat=dataArray, GeoJSON and CSV, and POST CreateObservations (the data-array
extension of SensorThings 1.1, §14)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import (
    POINT,
    Api,
    TestClient,
    datastream_body,
    location_body,
    make_app,
    observed_property_body,
    sensor_body,
    thing_body,
)
from quartier.settings import Settings

HOST = "http://testserver"
OTHER_POINT = {"type": "Point", "coordinates": [9.2, 48.8]}
POLYGON = {"type": "Polygon", "coordinates": [[[9.0, 48.0], [9.1, 48.0], [9.1, 48.1], [9.0, 48.0]]]}


@dataclass
class World:
    """Thing A (Location POINT) with D1 (results 1, 2, 3) and D2 (results 10, 20);
    Thing B (Location OTHER_POINT) without Datastreams; a FeatureOfInterest POLYGON."""

    a: int
    b: int
    la: int
    lb: int
    d1: int
    d2: int
    foi: int


def _hour(h: int) -> str:
    return f"2026-11-01T{h:02d}:00:00Z"


def _seed(api: Api) -> World:
    sensor = api.create("Sensors", sensor_body())
    prop = api.create("ObservedProperties", observed_property_body())

    def ds(name: str, results: list[tuple[int, int]]) -> dict[str, Any]:
        body = datastream_body(name, Sensor={"@iot.id": sensor}, ObservedProperty={"@iot.id": prop})
        body["Observations"] = [{"result": r, "phenomenonTime": _hour(h)} for h, r in results]
        return body

    a = api.create("Things", {**thing_body("A"), "Datastreams": [
        ds("D1", [(0, 1), (2, 2), (4, 3)]), ds("D2", [(1, 10), (3, 20)]),
    ]})
    b = api.create("Things", {**thing_body("B", with_location=False),
                              "Locations": [location_body("Hafen", OTHER_POINT)]})
    streams = {d["name"]: d["@iot.id"] for d in api.ok("Datastreams")["value"]}
    foi = api.create("FeaturesOfInterest", {
        "name": "Weir", "description": "the weir basin", "encodingType": "application/geo+json",
        "feature": POLYGON,
    })
    return World(
        a, b,
        api.ok(f"Things({a})/Locations")["value"][0]["@iot.id"],
        api.ok(f"Things({b})/Locations")["value"][0]["@iot.id"],
        streams["D1"], streams["D2"], foi,
    )


@pytest.fixture
def world(api: Api) -> World:
    return _seed(api)


def _relative(link: str) -> str:
    assert link.startswith(HOST + "/v1.1/"), link
    return link[len(HOST):]


def _bad_request(response: Any) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad_request"
    assert body["message"]


def _observation_count(api: Api) -> int:
    return int(api.ok("Observations", **{"$count": "true", "$top": 0})["@iot.count"])


# -- dataArray out -----------------------------------------------------------------------------


def test_data_array_groups_per_datastream(api: Api, world: World) -> None:
    body = api.ok("Observations", **{"$resultFormat": "dataArray"})
    groups = {g["Datastream@iot.navigationLink"]: g for g in body["value"]}
    assert set(groups) == {f"{HOST}/v1.1/Datastreams({world.d1})", f"{HOST}/v1.1/Datastreams({world.d2})"}
    for link, results in ((f"{HOST}/v1.1/Datastreams({world.d1})", [1, 2, 3]),
                          (f"{HOST}/v1.1/Datastreams({world.d2})", [10, 20])):
        group = groups[link]
        assert set(group) == {"Datastream@iot.navigationLink", "components", "dataArray@iot.count",
                              "dataArray"}
        components = group["components"]
        assert {"id", "phenomenonTime", "result"} <= set(components)
        assert group["dataArray@iot.count"] == len(results)
        assert all(len(row) == len(components) for row in group["dataArray"])
        assert [row[components.index("result")] for row in group["dataArray"]] == results
    d1_rows = groups[f"{HOST}/v1.1/Datastreams({world.d1})"]
    ids = [row[d1_rows["components"].index("id")] for row in d1_rows["dataArray"]]
    assert ids == [o["@iot.id"] for o in api.ok(f"Datastreams({world.d1})/Observations")["value"]]


def test_data_array_select_gives_components_in_order(api: Api, world: World) -> None:
    body = api.ok(f"Datastreams({world.d1})/Observations", **{
        "$resultFormat": "dataArray", "$select": "result,phenomenonTime",
    })
    assert len(body["value"]) == 1
    group = body["value"][0]
    assert group["Datastream@iot.navigationLink"] == f"{HOST}/v1.1/Datastreams({world.d1})"
    assert group["components"] == ["result", "phenomenonTime"]
    assert group["dataArray"] == [[1, _hour(0)], [2, _hour(2)], [3, _hour(4)]]
    assert group["dataArray@iot.count"] == 3

    reversed_order = api.ok("Observations", **{
        "$resultFormat": "dataArray", "$select": "phenomenonTime,result", "$filter": "result ge 10",
    })
    assert [g["components"] for g in reversed_order["value"]] == [["phenomenonTime", "result"]]
    assert reversed_order["value"][0]["dataArray"] == [[_hour(1), 10], [_hour(3), 20]]


def test_data_array_paging_and_count(api: Api, world: World) -> None:
    params = {"$resultFormat": "dataArray", "$count": "true", "$top": 2, "$orderby": "phenomenonTime",
              "$select": "result"}
    body = api.ok("Observations", **params)
    assert body["@iot.count"] == 5
    assert [g["dataArray"] for g in body["value"]] == [[[1]], [[10]]]  # two Datastreams, two groups
    results: list[Any] = []
    pages = 0
    while True:
        results.extend(row[0] for g in body["value"] for row in g["dataArray"])
        pages += 1
        if "@iot.nextLink" not in body or pages > 5:
            break
        link = body["@iot.nextLink"]
        assert "$resultFormat=dataArray" in link
        response = api.client.get(_relative(link))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["@iot.count"] == 5
    assert pages == 3
    assert results == [1, 10, 2, 20, 3]


@pytest.mark.parametrize("path", ["Things", "Datastreams", "Observations(1)"])
def test_data_array_only_for_observation_collections(api: Api, world: World, path: str) -> None:
    _bad_request(api.get(path, **{"$resultFormat": "dataArray"}))


# -- dataArray in: CreateObservations --------------------------------------------------------


def _spec_body(d1: int, d2: int, foi: int) -> list[dict[str, Any]]:
    """The example of SensorThings 1.1 §14.2, with this database's ids."""
    return [
        {
            "Datastream": {"@iot.id": d1},
            "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArray@iot.count": 2,
            "dataArray": [
                ["2010-12-23T10:20:00-07:00", 20, foi],
                ["2010-12-23T10:21:00-07:00", 30, foi],
            ],
        },
        {
            "Datastream": {"@iot.id": d2},
            "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArray@iot.count": 2,
            "dataArray": [
                ["2010-12-23T10:20:00-07:00", 65, foi],
                ["2010-12-23T10:21:00-07:00", 60, foi],
            ],
        },
    ]


def _created(api: Api, link: str) -> dict[str, Any]:
    body = api.client.get(_relative(link), params={"$expand": "Datastream,FeatureOfInterest"})
    assert body.status_code == 200, body.text
    return dict(body.json())


def test_create_observations_spec_example(api: Api, world: World) -> None:
    before = _observation_count(api)
    response = api.post("CreateObservations", _spec_body(world.d1, world.d2, world.foi))
    assert response.status_code == 201, response.text
    links = response.json()
    assert isinstance(links, list)
    assert len(links) == 4
    assert all(link.startswith(f"{HOST}/v1.1/Observations(") for link in links)
    assert len(set(links)) == 4
    created = [_created(api, link) for link in links]
    assert [o["result"] for o in created] == [20, 30, 65, 60]
    assert [o["phenomenonTime"] for o in created] == ["2010-12-23T17:20:00Z", "2010-12-23T17:21:00Z"] * 2
    assert [o["Datastream"]["@iot.id"] for o in created] == [world.d1, world.d1, world.d2, world.d2]
    assert all(o["FeatureOfInterest"]["@iot.id"] == world.foi for o in created)
    assert [o["@iot.selfLink"] for o in created] == links
    assert _observation_count(api) == before + 4


def test_create_observations_more_components(api: Api, world: World) -> None:
    response = api.post("CreateObservations", [{
        "Datastream": {"@iot.id": world.d2},
        "components": ["result", "resultTime", "parameters", "phenomenonTime"],
        "dataArray": [
            [{"level": 5}, "2026-01-01T01:00:00+01:00", {"source": "radar"}, "2026-01-01T00:00:00Z"],
            ["high", None, None, "2026-01-01T00:10:00Z/2026-01-01T00:20:00Z"],
        ],
    }])
    assert response.status_code == 201, response.text
    first, second = (_created(api, link) for link in response.json())
    assert first["result"] == {"level": 5}
    assert first["resultTime"] == "2026-01-01T00:00:00Z"
    assert first["parameters"] == {"source": "radar"}
    assert first["phenomenonTime"] == "2026-01-01T00:00:00Z"
    assert second["result"] == "high"
    assert second["resultTime"] is None
    assert second["phenomenonTime"] == "2026-01-01T00:10:00Z/2026-01-01T00:20:00Z"


def test_create_observations_generated_feature(api: Api, world: World) -> None:
    existing = api.ok(f"Datastreams({world.d1})/Observations", **{"$expand": "FeatureOfInterest",
                                                                    "$top": 1})
    generated = existing["value"][0]["FeatureOfInterest"]
    assert generated["feature"] == POINT
    response = api.post("CreateObservations", [{
        "Datastream": {"@iot.id": world.d1},
        "components": ["phenomenonTime", "result"],
        "dataArray": [["2026-02-01T00:00:00Z", 7], ["2026-02-01T00:01:00Z", 8]],
    }])
    assert response.status_code == 201, response.text
    for link in response.json():
        feature = _created(api, link)["FeatureOfInterest"]
        assert feature["@iot.id"] == generated["@iot.id"]
        assert feature["feature"] == POINT


def test_create_observations_errors_per_row(api: Api, world: World) -> None:
    before = _observation_count(api)
    response = api.post("CreateObservations", [
        {
            "Datastream": {"@iot.id": world.d1},
            "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArray": [
                ["2026-03-01T00:00:00Z", 1, world.foi],
                ["not a time", 2, world.foi],
                ["2026-03-01T00:02:00Z", 3, 999_999],
                ["2026-03-01T00:03:00Z", 4],  # one value short
                ["2026-03-01T00:04:00Z", 5, world.foi],
            ],
        },
        {
            "Datastream": {"@iot.id": 999_999},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-03-01T00:05:00Z", 6]],
        },
        {
            "Datastream": {"@iot.id": world.d2},
            "components": ["result"],
            "dataArray": [[7]],
        },
    ])
    assert response.status_code == 201, response.text
    entries = response.json()
    assert len(entries) == 7
    is_error = [e.startswith("error") for e in entries]
    assert is_error == [False, True, True, True, False, True, False]
    links = [e for e in entries if not e.startswith("error")]
    assert all(link.startswith(f"{HOST}/v1.1/Observations(") for link in links)
    assert [_created(api, link)["result"] for link in links] == [1, 5, 7]
    assert _observation_count(api) == before + 3
    # a row without phenomenonTime gets the current time
    assert _created(api, links[2])["phenomenonTime"].startswith("20")


def test_create_observations_row_without_feature_is_an_error_entry(api: Api, world: World) -> None:
    """A row whose Observation cannot be made (no FeatureOfInterest given, and the Thing has
    no Location to make one from) gets "error" at its position; the other rows are written
    (SensorThings 1.1 §14.2: "In the case the service fails to create an Observation
    entity, the service SHALL use the keyword 'error' in the corresponding position")."""
    bare = api.create("Things", thing_body("Bare", with_location=False))
    lost = api.create("Datastreams", datastream_body(
        "Lost", Thing={"@iot.id": bare}, Sensor=sensor_body("Other"),
        ObservedProperty=observed_property_body("Other"),
    ))
    before = _observation_count(api)
    response = api.post("CreateObservations", [
        {"Datastream": {"@iot.id": world.d1}, "components": ["result"], "dataArray": [[41]]},
        {"Datastream": {"@iot.id": lost}, "components": ["result"], "dataArray": [[42]]},
        {"Datastream": {"@iot.id": lost}, "components": ["result", "FeatureOfInterest/id"],
         "dataArray": [[43, world.foi]]},
    ])
    assert response.status_code == 201, response.text
    entries = response.json()
    assert [e.startswith("error") for e in entries] == [False, True, False]
    assert [_created(api, entries[i])["result"] for i in (0, 2)] == [41, 43]
    assert _observation_count(api) == before + 2


_GOOD_GROUP = {
    "Datastream": {"@iot.id": 1},
    "components": ["phenomenonTime", "result"],
    "dataArray": [["2026-04-01T00:00:00Z", 1]],
}


@pytest.mark.parametrize("body", [
    {"Datastream": {"@iot.id": 1}, "components": ["result"], "dataArray": [[1]]},  # not an array
    "text",
    [_GOOD_GROUP, "not an object"],
    [_GOOD_GROUP, {"components": ["result"], "dataArray": [[1]]}],  # no Datastream
    [_GOOD_GROUP, {"Datastream": {"@iot.id": 1}, "dataArray": [[1]]}],  # no components
    [_GOOD_GROUP, {"Datastream": {"@iot.id": 1}, "components": "result", "dataArray": [[1]]}],
    [_GOOD_GROUP, {"Datastream": {"@iot.id": 1}, "components": ["result", "colour"],
                   "dataArray": [[1, "red"]]}],
    [_GOOD_GROUP, {"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime"],
                   "dataArray": [["2026-04-01T00:00:00Z"]]}],  # no result
    [_GOOD_GROUP, {"Datastream": {"@iot.id": 1}, "components": ["result", "result"],
                   "dataArray": [[1, 2]]}],
    [_GOOD_GROUP, {"Datastream": {"@iot.id": 1}, "components": ["result"], "dataArray": {"0": [1]}}],
    [_GOOD_GROUP, {"Datastream": {"@iot.id": 1}, "components": ["result"]}],  # no dataArray
], ids=["object", "string", "item-not-object", "no-datastream", "no-components", "components-string",
        "unknown-component", "no-result", "duplicate-component", "dataarray-object", "no-dataarray"])
def test_create_observations_malformed_body(api: Api, world: World, body: Any) -> None:
    assert world.d1 == 1
    before = _observation_count(api)
    _bad_request(api.post("CreateObservations", body))
    assert _observation_count(api) == before


def test_create_observations_only_post(api: Api, world: World) -> None:
    response = api.get("CreateObservations")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# -- GeoJSON ----------------------------------------------------------------------------------


def _features(api: Api, path: str, **params: Any) -> dict[int, dict[str, Any]]:
    body = api.ok(path, **{"$resultFormat": "GeoJSON", **params})
    assert body["type"] == "FeatureCollection"
    assert all(f["type"] == "Feature" for f in body["features"])
    return {f["id"]: f for f in body["features"]}


def test_geojson_locations_and_features(api: Api, world: World) -> None:
    locations = _features(api, "Locations")
    assert set(locations) == {world.la, world.lb}
    assert locations[world.la]["geometry"] == POINT
    assert locations[world.lb]["geometry"] == OTHER_POINT
    props = locations[world.lb]["properties"]
    assert props["name"] == "Hafen"
    assert props["encodingType"] == "application/geo+json"
    assert props["@iot.id"] == world.lb
    assert "location" not in props

    features = _features(api, "FeaturesOfInterest")
    assert features[world.foi]["geometry"] == POLYGON
    assert features[world.foi]["properties"]["name"] == "Weir"
    generated = [f for i, f in features.items() if i != world.foi]
    assert [f["geometry"] for f in generated] == [POINT]

    wrapped = api.create("Locations", location_body("Wrapped", {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [1.5, 2.5]}, "properties": {},
    }))
    as_feature = api.ok(f"Locations({wrapped})", **{"$resultFormat": "GeoJSON"})
    assert as_feature["geometry"] == {"type": "Point", "coordinates": [1.5, 2.5]}

    single = api.ok(f"Locations({world.lb})", **{"$resultFormat": "GeoJSON"})
    assert single["type"] == "Feature"
    assert single["id"] == world.lb
    assert single["geometry"] == OTHER_POINT
    assert single["properties"]["name"] == "Hafen"


def test_geojson_things_datastreams_observations(api: Api, world: World) -> None:
    bare = api.create("Things", thing_body("Bare", with_location=False))
    things = _features(api, "Things")
    assert things[world.a]["geometry"] == POINT
    assert things[world.b]["geometry"] == OTHER_POINT
    assert things[bare]["geometry"] is None
    assert things[world.b]["properties"]["name"] == "B"
    assert things[world.a]["properties"]["properties"] == {"district": "Nord"}
    # Locations were read only for the geometry: not among the properties, unless asked for.
    assert "Locations" not in things[world.a]["properties"]
    asked = _features(api, "Things", **{"$expand": "Locations($select=name,location)"})
    assert [set(loc) for loc in asked[world.a]["properties"]["Locations"]] == [{"name", "location"}]
    assert asked[world.a]["geometry"] == POINT
    # An expand that selects no geometry still gives the Feature its geometry.
    named = _features(api, "Things", **{"$expand": "Locations($select=name)"})
    assert named[world.a]["geometry"] == POINT
    assert [loc["name"] for loc in named[world.a]["properties"]["Locations"]] != []
    two = api.create("Things", {**thing_body("Two", with_location=False), "Locations": [
        {"@iot.id": world.la}, {"@iot.id": world.lb},
    ]})
    collection = _features(api, "Things", **{"$filter": "name eq 'Two'"})[two]["geometry"]
    assert collection["type"] == "GeometryCollection"
    assert sorted(g["coordinates"] for g in collection["geometries"]) == sorted(
        [POINT["coordinates"], OTHER_POINT["coordinates"]]
    )

    d3 = api.create("Datastreams", datastream_body(
        "D3", Thing={"@iot.id": world.b}, Sensor=sensor_body("Other"),
        ObservedProperty=observed_property_body("Other"),
    ))
    streams = _features(api, "Datastreams")
    assert streams[world.d1]["geometry"] == POINT
    assert streams[world.d1]["properties"]["name"] == "D1"
    assert "observedArea" not in streams[world.d1]["properties"]
    assert streams[d3]["geometry"] is None

    api.create(f"Datastreams({world.d2})/Observations", {
        "result": 99, "phenomenonTime": _hour(9), "FeatureOfInterest": {"@iot.id": world.foi},
    })
    observations = _features(api, "Observations", **{"$orderby": "result"})
    by_result = {f["properties"]["result"]: f for f in observations.values()}
    assert by_result[99]["geometry"] == POLYGON
    assert by_result[1]["geometry"] == POINT
    assert len(by_result) == 6


def test_geojson_paging_keeps_count_and_next_link(api: Api, world: World) -> None:
    body = api.ok("Locations", **{"$resultFormat": "GeoJSON", "$top": 1, "$count": "true"})
    assert body["type"] == "FeatureCollection"
    assert body["@iot.count"] == 2
    assert len(body["features"]) == 1
    following = api.client.get(_relative(body["@iot.nextLink"])).json()
    assert following["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"] + following["features"]] == [world.la, world.lb]


@pytest.mark.parametrize("path", ["Sensors", "ObservedProperties", "HistoricalLocations", "Sensors(1)"])
def test_geojson_not_for_entities_without_geometry(api: Api, world: World, path: str) -> None:
    _bad_request(api.get(path, **{"$resultFormat": "GeoJSON"}))


# -- CSV ----------------------------------------------------------------------------------------


def _csv(api: Api, path: str, **params: Any) -> list[list[str]]:
    response = api.get(path, **{"$resultFormat": "CSV", **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def test_csv_streams_more_rows_than_one_chunk(api: Api, world: World) -> None:
    """2,500 rows come in order through several cursor chunks (1,000 rows each)."""
    rows = [[f"2027-01-01T{m // 60:02d}:{m % 60:02d}:00Z", m] for m in range(1440)]
    rows += [[f"2027-01-02T{m // 60:02d}:{m % 60:02d}:00Z", 1440 + m] for m in range(1060)]
    links = api.post("CreateObservations", [{
        "Datastream": {"@iot.id": world.d1}, "components": ["phenomenonTime", "result"],
        "dataArray": rows,
    }]).json()
    assert len(links) == 2500 and all(link.startswith("http") for link in links)
    mine = {"$orderby": "phenomenonTime", "$filter": "phenomenonTime ge 2027-01-01T00:00:00Z"}
    header, *data = _csv(api, f"Datastreams({world.d1})/Observations", **mine)
    assert [int(r[header.index("result")]) for r in data] == list(range(2500))
    _, *page = _csv(api, f"Datastreams({world.d1})/Observations", **mine, **{"$top": 1500, "$skip": 3})
    assert [int(r[header.index("result")]) for r in page] == list(range(3, 1503))


def test_csv_things(api: Api, world: World) -> None:
    bare = api.create("Things", {"name": "Bare, \"quoted\"", "description": "no properties"})
    rows = _csv(api, "Things")
    header, *data = rows
    assert header == ["@iot.id", "name", "description", "properties"]
    assert [r[0] for r in data] == [str(world.a), str(world.b), str(bare)]
    first = dict(zip(header, data[0], strict=True))
    assert first["name"] == "A"
    assert first["properties"] == '{"district":"Nord"}'
    last = dict(zip(header, data[2], strict=True))
    assert last["name"] == "Bare, \"quoted\""
    assert last["properties"] == ""


def test_csv_observations_values(api: Api, world: World) -> None:
    api.create(f"Datastreams({world.d2})/Observations", {
        "result": {"level": 3}, "phenomenonTime": _hour(9), "parameters": {"q": True},
    })
    header, *data = _csv(api, "Observations", **{"$orderby": "phenomenonTime"})
    assert header[0] == "@iot.id"
    assert {"phenomenonTime", "result", "resultTime", "parameters"} <= set(header)
    rows = [dict(zip(header, r, strict=True)) for r in data]
    assert [r["result"] for r in rows] == ["1", "10", "2", "20", "3", '{"level":3}']
    assert rows[0]["phenomenonTime"] == _hour(0)
    assert rows[0]["resultTime"] == ""
    assert rows[-1]["parameters"] == '{"q":true}'


def test_csv_select_and_expand(api: Api, world: World) -> None:
    header, *data = _csv(api, "Things", **{"$select": "id,name"})
    assert header == ["@iot.id", "name"]
    assert data == [[str(world.a), "A"], [str(world.b), "B"]]

    header, *data = _csv(api, f"Datastreams({world.d2})/Observations", **{
        "$select": "id,result", "$expand": "Datastream($select=name)",
    })
    assert header == ["@iot.id", "result", "Datastream/id", "Datastream/name"]
    assert [r[1:] for r in data] == [["10", str(world.d2), "D2"], ["20", str(world.d2), "D2"]]


@pytest.mark.parametrize("path, expand", [
    ("Things", "Datastreams"),
    ("Things", "Locations"),
    ("Things", "Datastreams($select=name)"),
    ("Datastreams", "Observations($top=1)"),
    ("Observations", "Datastream($expand=Observations)"),  # a collection one level down
])
def test_csv_cannot_expand_collections(api: Api, world: World, path: str, expand: str) -> None:
    _bad_request(api.get(path, **{"$resultFormat": "CSV", "$expand": expand}))


@pytest.fixture
def small_pages(settings: Settings) -> Iterator[Api]:
    tuned = Settings.validated({
        "database": settings.database, "data_dir": settings.data_dir, "default_top": 2,
    })
    with TestClient(make_app(tuned), raise_server_exceptions=False) as test_client:
        yield Api(test_client)


def test_csv_returns_every_row_without_top(small_pages: Api) -> None:
    api = small_pages
    for i in range(5):
        api.create("Things", {"name": f"t{i}", "description": "even" if i % 2 == 0 else "odd"})
    assert len(api.ok("Things")["value"]) == 2  # JSON pages as usual
    _, *data = _csv(api, "Things")
    assert [r[1] for r in data] == ["t0", "t1", "t2", "t3", "t4"]
    _, *data = _csv(api, "Things", **{"$top": 2})
    assert [r[1] for r in data] == ["t0", "t1"]
    _, *data = _csv(api, "Things", **{"$top": 2, "$skip": 2, "$orderby": "name desc"})
    assert [r[1] for r in data] == ["t2", "t1"]
    _, *data = _csv(api, "Things", **{"$filter": "description eq 'even'"})
    assert [r[1] for r in data] == ["t0", "t2", "t4"]


# -- $resultFormat errors -------------------------------------------------------------------------


@pytest.mark.parametrize("path, value", [
    ("Things", "xml"),
    ("Observations", "json"),
    ("Observations", ""),
    ("Things(1)", "CSV"),
])
def test_unknown_or_misplaced_result_format(api: Api, world: World, path: str, value: str) -> None:
    _bad_request(api.get(path, **{"$resultFormat": value}))
