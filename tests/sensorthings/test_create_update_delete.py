"""Conformance class: create, update, delete (OGC 18-088 A.3), with deep insert and links."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import (
    Api,
    datastream_body,
    full_thing_body,
    location_body,
    observed_property_body,
    sensor_body,
    thing_body,
)


def _count(api: Api, entity_set: str) -> int:
    return int(api.ok(entity_set, **{"$count": "true", "$top": "0"})["@iot.count"])


def test_post_returns_201_location_and_entity(api: Api) -> None:
    response = api.post("Things", thing_body(with_location=False))
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == body["@iot.selfLink"]
    assert body["name"] == thing_body()["name"]


def test_deep_insert_creates_everything(api: Api) -> None:
    body = full_thing_body()
    body["Datastreams"].append(
        datastream_body("Temperature", Sensor=sensor_body("Thermometer"),
                        ObservedProperty=observed_property_body("Water temperature"))
    )
    thing = api.create("Things", body)
    assert _count(api, f"Things({thing})/Datastreams") == 2
    assert _count(api, f"Things({thing})/Locations") == 1
    assert _count(api, "Sensors") == 2
    assert _count(api, "ObservedProperties") == 2
    names = {d["name"] for d in api.ok(f"Things({thing})/Datastreams")["value"]}
    assert names == {"Level", "Temperature"}


def test_deep_insert_observation_with_new_datastream_and_feature(api: Api) -> None:
    thing = api.create("Things", thing_body())
    sensor = api.create("Sensors", sensor_body())
    prop = api.create("ObservedProperties", observed_property_body())
    obs = api.create("Observations", {
        "result": 5,
        "Datastream": datastream_body(Thing={"@iot.id": thing}, Sensor={"@iot.id": sensor},
                                      ObservedProperty={"@iot.id": prop}),
        "FeatureOfInterest": {
            "name": "Creek", "description": "the creek", "encodingType": "application/geo+json",
            "feature": {"type": "Point", "coordinates": [9.0, 48.0]},
        },
    })
    assert api.ok(f"Observations({obs})/Datastream/Thing")["@iot.id"] == thing
    assert api.ok(f"Observations({obs})/FeatureOfInterest")["name"] == "Creek"


def test_link_to_existing_entities(api: Api) -> None:
    thing = api.create("Things", thing_body())
    sensor = api.create("Sensors", sensor_body())
    prop = api.create("ObservedProperties", observed_property_body())
    ds = api.create("Datastreams", datastream_body(
        Thing={"@iot.id": thing}, Sensor={"@iot.id": sensor}, ObservedProperty={"@iot.id": prop}))
    assert api.ok(f"Datastreams({ds})/Sensor")["@iot.id"] == sensor
    assert _count(api, "Sensors") == 1


def test_nested_link_with_other_fields_is_only_a_link(api: Api) -> None:
    """frost-sta-client sends the whole Datastream, @iot.id included."""
    thing = api.create("Things", full_thing_body())
    ds = api.ok(f"Things({thing})/Datastreams")["value"][0]
    obs = api.create("Observations", {"result": 1, "Datastream": ds})
    assert api.ok(f"Observations({obs})/Datastream")["@iot.id"] == ds["@iot.id"]
    assert _count(api, "Datastreams") == 1


def test_post_to_navigation_collection(api: Api) -> None:
    thing = api.create("Things", thing_body(with_location=False))
    sensor = api.create("Sensors", sensor_body())
    prop = api.create("ObservedProperties", observed_property_body())
    ds = api.create(f"Things({thing})/Datastreams", datastream_body(
        Sensor={"@iot.id": sensor}, ObservedProperty={"@iot.id": prop}))
    assert api.ok(f"Datastreams({ds})/Thing")["@iot.id"] == thing


def test_posting_location_to_thing_moves_it(api: Api) -> None:
    thing = api.create("Things", thing_body())
    new_loc = api.create(f"Things({thing})/Locations", location_body("Depot"))
    assert [loc["@iot.id"] for loc in api.ok(f"Things({thing})/Locations")["value"]] == [new_loc]
    history = api.ok(f"Things({thing})/HistoricalLocations")["value"]
    assert len(history) == 2


def test_positions_with_altitude_are_kept_and_queried(api: Api) -> None:
    point = {"type": "Point", "coordinates": [7.1004, 50.7312, 61.5]}
    location = api.create("Locations", location_body("Hochbehälter", point))
    assert api.ok(f"Locations({location})")["location"] == point
    near = api.ok("Locations", **{"$filter": "geo.distance(location, geography'POINT(7.1 50.73)') lt 0.01"})
    assert [loc["@iot.id"] for loc in near["value"]] == [location]
    feature = api.create("FeaturesOfInterest", {"name": "Turm", "description": "3D",
                                                "encodingType": "application/geo+json",
                                                "feature": point})
    assert api.ok(f"FeaturesOfInterest({feature})")["feature"] == point


def test_patch_thing_locations_replaces_them_and_records_history(api: Api) -> None:
    thing = api.create("Things", thing_body())
    other = api.create("Locations", location_body("Market square"))
    response = api.client.patch(api.url(f"Things({thing})"),
                                json={"Locations": [{"@iot.id": other}]})
    assert response.status_code == 200
    assert [loc["@iot.id"] for loc in api.ok(f"Things({thing})/Locations")["value"]] == [other]
    history = api.ok(f"Things({thing})/HistoricalLocations", **{"$orderby": "time desc"})
    latest = history["value"][0]["@iot.id"]
    assert [x["@iot.id"] for x in api.ok(f"HistoricalLocations({latest})/Locations")["value"]] == [
        other
    ]


def test_patch_merges_and_returns_200(api: Api) -> None:
    thing = api.create("Things", thing_body(with_location=False))
    response = api.client.patch(api.url(f"Things({thing})"), json={"name": "Renamed"})
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    stored = api.ok(f"Things({thing})")
    assert stored["name"] == "Renamed"
    assert stored["description"] == thing_body()["description"]


def test_json_patch(api: Api) -> None:
    thing = api.create("Things", thing_body(with_location=False))
    ops = [
        {"op": "replace", "path": "/name", "value": "Patched"},
        {"op": "add", "path": "/properties/pump", "value": "P1"},
    ]
    response = api.client.patch(
        api.url(f"Things({thing})"), content=__import__("json").dumps(ops),
        headers={"content-type": "application/json-patch+json"},
    )
    assert response.status_code == 200, response.text
    stored = api.ok(f"Things({thing})")
    assert stored["name"] == "Patched"
    assert stored["properties"] == {"district": "Nord", "pump": "P1"}


def test_put_replaces_and_clears_optional(api: Api) -> None:
    thing = api.create("Things", thing_body(with_location=False))
    response = api.client.put(api.url(f"Things({thing})"),
                              json={"name": "Replaced", "description": "new"})
    assert response.status_code == 200
    stored = api.ok(f"Things({thing})")
    assert (stored["name"], stored["description"]) == ("Replaced", "new")
    assert "properties" not in stored
    missing = api.client.put(api.url(f"Things({thing})"), json={"name": "x"})
    assert missing.status_code == 400


def test_patch_datastream_relinks_sensor(api: Api) -> None:
    thing = api.create("Things", full_thing_body())
    ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    sensor = api.create("Sensors", sensor_body("Replacement"))
    response = api.client.patch(api.url(f"Datastreams({ds})"), json={"Sensor": {"@iot.id": sensor}})
    assert response.status_code == 200
    assert api.ok(f"Datastreams({ds})/Sensor")["name"] == "Replacement"


def test_patch_observation_updates_datastream_times(api: Api) -> None:
    thing = api.create("Things", full_thing_body())
    ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    obs = api.create(f"Datastreams({ds})/Observations",
                     {"result": 1, "phenomenonTime": "2026-01-01T00:00:00Z"})
    api.client.patch(api.url(f"Observations({obs})"), json={"phenomenonTime": "2026-02-01T00:00:00Z"})
    assert api.ok(f"Datastreams({ds})")["phenomenonTime"] == (
        "2026-02-01T00:00:00Z/2026-02-01T00:00:00Z"
    )


def _ids(api: Api, entity_set: str) -> list[int]:
    return [e["@iot.id"] for e in api.ok(entity_set)["value"]]


def test_delete_thing_cascades(api: Api) -> None:
    thing = api.create("Things", full_thing_body())
    ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    api.create(f"Datastreams({ds})/Observations", {"result": 1})
    keep = api.create("Things", full_thing_body("Other"))
    response = api.client.delete(api.url(f"Things({thing})"))
    assert response.status_code == 200
    assert api.get(f"Things({thing})").status_code == 404
    assert api.get(f"Datastreams({ds})").status_code == 404
    assert _count(api, "Observations") == 0
    assert _count(api, "HistoricalLocations") == 1  # the other Thing's
    assert _count(api, "Locations") == 2  # Locations are shared entities and stay
    assert _count(api, "Sensors") == 2
    assert _ids(api, "Things") == [keep]


@pytest.mark.parametrize("entity_set", ["Sensors", "ObservedProperties"])
def test_delete_sensor_or_property_removes_datastreams(api: Api, entity_set: str) -> None:
    thing = api.create("Things", full_thing_body())
    ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    api.create(f"Datastreams({ds})/Observations", {"result": 1})
    target = api.ok(f"Datastreams({ds})/{'Sensor' if entity_set == 'Sensors' else 'ObservedProperty'}")
    assert api.client.delete(target["@iot.selfLink"]).status_code == 200
    assert _count(api, "Datastreams") == 0
    assert _count(api, "Observations") == 0
    assert _count(api, "Things") == 1


def test_delete_datastream_removes_observations(api: Api) -> None:
    thing = api.create("Things", full_thing_body())
    ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    api.create(f"Datastreams({ds})/Observations", {"result": 1})
    assert api.client.delete(api.url(f"Datastreams({ds})")).status_code == 200
    assert _count(api, "Observations") == 0


def test_delete_feature_removes_its_observations(api: Api) -> None:
    thing = api.create("Things", full_thing_body())
    ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    api.create(f"Datastreams({ds})/Observations", {"result": 1})
    feature = api.ok("FeaturesOfInterest")["value"][0]["@iot.id"]
    assert api.client.delete(api.url(f"FeaturesOfInterest({feature})")).status_code == 200
    assert _count(api, "Observations") == 0
    assert "phenomenonTime" not in api.ok(f"Datastreams({ds})")
    # A new Observation gets a new FeatureOfInterest from the Location.
    api.create(f"Datastreams({ds})/Observations", {"result": 2})
    assert _count(api, "FeaturesOfInterest") == 1


def test_delete_location_removes_its_history(api: Api) -> None:
    thing = api.create("Things", thing_body())
    loc = api.ok(f"Things({thing})/Locations")["value"][0]["@iot.id"]
    assert api.client.delete(api.url(f"Locations({loc})")).status_code == 200
    assert _count(api, f"Things({thing})/Locations") == 0
    assert _count(api, "HistoricalLocations") == 0
    assert _count(api, "Things") == 1


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_write_to_unknown_entity_is_404(api: Api, method: str) -> None:
    kwargs: dict[str, Any] = {} if method == "delete" else {"json": {"name": "x", "description": "y"}}
    response = getattr(api.client, method)(api.url("Things(424242)"), **kwargs)
    assert response.status_code == 404
    assert _count(api, "Things") == 0


def test_writes_through_paths(api: Api) -> None:
    thing = api.create("Things", full_thing_body())
    ds = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    response = api.client.patch(api.url(f"Things({thing})/Datastreams({ds})"), json={"name": "Lvl"})
    assert response.status_code == 200
    assert api.ok(f"Datastreams({ds})")["name"] == "Lvl"
    response = api.client.patch(api.url(f"Datastreams({ds})/Sensor"), json={"name": "Radar 2"})
    assert response.status_code == 200
    assert api.ok(f"Datastreams({ds})/Sensor")["name"] == "Radar 2"


def test_observation_moved_to_another_datastream_updates_both(api: Api) -> None:
    body = full_thing_body()
    body["Datastreams"].append(datastream_body("Second", Sensor=sensor_body("Other"),
                                               ObservedProperty=observed_property_body("Other")))
    thing = api.create("Things", body)
    first, second = (d["@iot.id"] for d in api.ok(f"Things({thing})/Datastreams")["value"])
    obs = api.create(f"Datastreams({first})/Observations",
                     {"result": 1, "phenomenonTime": "2026-03-01T00:00:00Z"})
    response = api.client.patch(api.url(f"Observations({obs})"),
                                json={"Datastream": {"@iot.id": second}})
    assert response.status_code == 200
    assert "phenomenonTime" not in api.ok(f"Datastreams({first})")
    assert api.ok(f"Datastreams({second})")["phenomenonTime"] == (
        "2026-03-01T00:00:00Z/2026-03-01T00:00:00Z"
    )
